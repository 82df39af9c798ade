/**
 * `deno task bundle`: `dist/plumbum.js` and `dist/plumbum-mcp.js`, single
 * files that run with `deno run` wherever they are copied (an empty Deno
 * cache and `--cached-only` will do: every module, npm package and worker
 * is inside; a worker is the file itself in another role).
 *
 * Two imports stay outside, as nothing reaches them: hcl2json's wasm bridge
 * require()s Node's `performance` (Deno has it), and ink loads React's
 * devtools only when DEV=true; the bundler hoists that import to the top of
 * the file, where it would stop the file loading, so it becomes a stand-in.
 * hcl2json reads its WebAssembly from a file beside its own (`__dirname`):
 * in the bundle the compressed module is carried inline instead.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const info = JSON.parse(
  new TextDecoder().decode(new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).outputSync().stdout),
);
const wasm = Deno.readFileSync(`${info.npmCache}/registry.npmjs.org/@cdktf/hcl2json/0.21.0/main.wasm.gz`);
/** Base64 of bytes, in pieces (a spread of 1.7 MB of arguments is too many). */
function base64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}
Deno.mkdirSync(`${root}dist`, { recursive: true });
for (const [entry, out] of [["cli.ts", "plumbum.js"], ["mcp.ts", "plumbum-mcp.js"]]) {
  const path = `${root}dist/${out}`;
  const r = new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--external=performance",
      "--external=react-devtools-core",
      "-o",
      path,
      `${root}${entry}`,
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).outputSync();
  if (!r.success) Deno.exit(1);
  const text = Deno.readTextFileSync(path);
  const hoisted = 'import devtools from "react-devtools-core";';
  const count = text.split(hoisted).length - 1;
  if (count > 1) throw new Error(`${out}: ${count} devtools imports`);
  const read = 'await fs5.readFile((0, path_1.join)(__dirname, "..", "main.wasm.gz"))';
  let out2 = text.replace(hoisted, "const devtools = { initialize() {}, connectToDevTools() {} }; // DEV=true only");
  if (out2.includes(read)) {
    out2 = out2.replace(
      read,
      `Uint8Array.from(atob(${JSON.stringify(base64(wasm))}), (c) => c.charCodeAt(0))`,
    );
  } else if (entry === "cli.ts") {
    throw new Error(`${out}: hcl2json's wasm read not found: the bundle would not parse config.hcl`);
  }
  Deno.writeTextFileSync(path, out2);
  console.log(`dist/${out}: ${(Deno.statSync(path).size / 1048576).toFixed(1)} MB`);
}
