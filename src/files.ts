/**
 * What a file is, beyond its name: its device and inode, compared to tell
 * whether two names (or a name now and then) are one file.
 *
 * @module
 */

/** The device and inode of the file at `path` (symlinks followed), or null when it cannot be seen. */
export function fileIdentity(path: string): { dev: number; ino: number } | null {
  try {
    const s = Deno.statSync(path);
    return s.ino === null ? null : { dev: s.dev, ino: s.ino };
  } catch {
    return null;
  }
}

/** `path` with its folder's real path (the file itself may not exist yet); `path` as given when the folder cannot be seen. */
export function realPathIn(path: string): string {
  const slash = path.lastIndexOf("/");
  const folder = slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
  try {
    return `${Deno.realPathSync(folder).replace(/\/$/, "")}/${path.slice(slash + 1)}`;
  } catch {
    return path;
  }
}

/** Whether the real path `path` is `folder` (a real path too) or inside it. */
export function isWithin(path: string, folder: string): boolean {
  return path === folder || path.startsWith(folder.endsWith("/") ? folder : `${folder}/`);
}

/** Write all of `b` (a write may take only part of it). */
export function writeAll(w: { writeSync(b: Uint8Array): number }, b: Uint8Array): void {
  let off = 0;
  while (off < b.length) off += w.writeSync(b.subarray(off));
}
