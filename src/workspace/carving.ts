/**
 * A carving kept with its run, where explain, export, the report, the MCP
 * server and the dashboard find it.
 *
 * @module
 */

import { type Carving, payloadSummary } from "../evidence/carve.ts";
import { Store } from "../store/store.ts";

/** Keep what carving `c` found in the workspace database at `dbPath` (replacing an earlier carving of the domain). */
export function keepCarving(dbPath: string, c: Carving): void {
  const store = Store.open(dbPath);
  try {
    store.saveCarving(c.run, c.domain, payloadSummary(c));
  } finally {
    store.close();
  }
}
