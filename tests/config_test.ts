/**
 * The config that `plumbum init` writes is known without the HCL parser:
 * what the parser makes of it must be exactly that.
 */
import assert from "node:assert/strict";
import { defaultConfigText, defaultDocument, parseConfig, parseHcl } from "../src/config/config.ts";

Deno.test("config: the HCL parser reads init's config.hcl as defaultDocument(), and both paths give one config", async () => {
  const text = defaultConfigText();
  assert.deepEqual(await parseHcl(text, "config.hcl"), defaultDocument());
  // Any edit (here a trailing newline) goes through the parser; the unedited text does not.
  assert.deepEqual(await parseConfig(text, "config.hcl"), await parseConfig(text + "\n", "config.hcl"));
  // An edited value is read from the edit, not from the known text.
  const edited = text.replace(/critical = \d+/, "critical = 90");
  assert.equal((await parseConfig(edited, "config.hcl")).thresholds.critical, 90);
});

Deno.test("config: invalid HCL names the file", async () => {
  await assert.rejects(parseHcl("analysis {", "x/config.hcl"), /^ConfigError: x\/config\.hcl: not valid HCL: /);
});
