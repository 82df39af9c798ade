/** Path helpers for tests. */
import { fileURLToPath } from "node:url";

/** A file URL as a path (keeps a trailing slash). */
export function fromFileUrl(u: URL): string {
  return fileURLToPath(u) + (u.pathname.endsWith("/") && !fileURLToPath(u).endsWith("/") ? "/" : "");
}
