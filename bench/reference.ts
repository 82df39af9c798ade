/**
 * What the benches share: running a bench worker (a subprocess that prints
 * its figures as JSON last), and the reference tool, tshark, timed on the
 * same file in the same run.
 *
 * @module
 */

/** Run a bench worker with Deno (`args`: its flags, file and arguments); its figures, the JSON it printed last. */
export async function runJson(args: string[]): Promise<Record<string, number>> {
  const o = await new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "inherit" }).output();
  if (!o.success) throw new Error(`bench worker failed: ${args.join(" ")}`);
  const lines = new TextDecoder().decode(o.stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]);
}

/** Whether tshark runs here (installed with apt-get when missing). */
export function ensureTshark(): boolean {
  const ok = () => {
    try {
      return new Deno.Command("tshark", { args: ["--version"], stdout: "null", stderr: "null" }).outputSync().success;
    } catch {
      return false;
    }
  };
  if (ok()) return true;
  console.error("tshark missing: installing it with apt-get …");
  new Deno.Command("sh", {
    args: ["-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tshark"],
    stdout: "null",
    stderr: "inherit",
  }).outputSync();
  return ok();
}

/** tshark's field extraction of `file`: seconds, and peak RSS (GNU time's, 0 without it); null without tshark. */
export async function timeTshark(file: string): Promise<{ secs: number; peak_rss: number } | null> {
  if (!ensureTshark()) return null;
  const t0 = performance.now();
  // GNU time reports tshark's peak RSS when it is installed.
  const hasTime = (() => {
    try {
      return Deno.statSync("/usr/bin/time").isFile;
    } catch {
      return false;
    }
  })();
  const args = ["-r", file, "-T", "fields", "-e", "dns.qry.name", "-e", "dns.qry.type", "-e", "dns.txt"];
  const cmd = hasTime
    ? new Deno.Command("/usr/bin/time", { args: ["-f", "%M", "tshark", ...args], stdout: "null", stderr: "piped" })
    : new Deno.Command("tshark", { args, stdout: "null", stderr: "piped" });
  const o = await cmd.output();
  const secs = (performance.now() - t0) / 1000;
  const lines = new TextDecoder().decode(o.stderr).trim().split("\n");
  const kb = hasTime ? Number(lines[lines.length - 1]) : NaN;
  return { secs, peak_rss: Number.isFinite(kb) ? kb * 1024 : 0 };
}
