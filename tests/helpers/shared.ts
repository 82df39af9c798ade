/**
 * Locate `../shared/` (evaluation and conformance data). Tests that need it
 * skip with a message when it is absent.
 */
import { fileURLToPath as fromFileUrl } from "node:url";

const root = new URL("../../../shared/", import.meta.url);

/** Absolute path of a folder inside shared/, or null (with a note) when absent. */
export function sharedDir(sub: string): string | null {
  const p = fromFileUrl(new URL(sub, root)).replace(/\/$/, "");
  try {
    if (Deno.statSync(p).isDirectory) return p;
  } catch {
    // fall through
  }
  console.warn(`SKIP: ${p} is absent; tests that read shared data are skipped`);
  return null;
}
