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
