/**
 * `plumbum report`: the page is self-contained, escapes every name, and runs
 * in a real browser (headless Chromium over the DevTools protocol; skipped
 * with a note when no Chromium is installed — CI installs it) without a
 * console error, a request or a script of the traffic's.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { runCli } from "./helpers/cli.ts";
import { fromFileUrl } from "./helpers/paths.ts";
import { dnsMessage, ether, ipv4, pcapFile, tempFile, txtRdata, udp } from "./helpers/build.ts";
import { Browser, chromiumPath } from "./helpers/chromium.ts";
import { escapeHtml, scriptJson } from "../src/present/report.ts";

const sample = fromFileUrl(new URL("../fixtures/sample.pcap", import.meta.url));
const sanitize = { sanitizeOps: false, sanitizeResources: false };
const chromium = chromiumPath();

/** Names a page must show as text and never run. */
const HOSTILE = [
  "<script>pwned=1</script>",
  '"><img src=x onerror=pwned=2>',
  "javascript:pwned=3",
  "\x1b]52;c;QUFBQQ==\x07osc",
  "</style><b>bold</b>",
];

/** A capture of TXT queries under a tunnel-like domain whose names hold `HOSTILE`, and a domain made of one. */
function hostileCapture(): string {
  const packets: { ts: number; data: Uint8Array }[] = [];
  const t = 1_700_000_000;
  let id = 1;
  const add = (name: string, k: number) => {
    const q = dnsMessage({ id, questions: [{ name, type: 16 }] });
    const r = dnsMessage({
      id,
      qr: true,
      questions: [{ name, type: 16 }],
      answers: [{ name, type: 16, rdata: txtRdata(`${HOSTILE[k % HOSTILE.length]}${k.toString(36)}`) }],
    });
    packets.push({ ts: t + k, data: ether(0x0800, ipv4("10.0.0.9", "10.0.0.1", 17, udp(40000 + (id % 999), 53, q))) });
    packets.push({
      ts: t + k + 0.01,
      data: ether(0x0800, ipv4("10.0.0.1", "10.0.0.9", 17, udp(53, 40000 + (id % 999), r))),
    });
    id++;
  };
  for (let k = 0; k < 60; k++) {
    const label = (k * 2654435761 >>> 0).toString(32).padStart(7, "a") + (k * 40503).toString(32);
    add(`${HOSTILE[k % HOSTILE.length]}.${label}.evil-lab.com`, k);
  }
  for (let k = 0; k < 5; k++) add(`www.${HOSTILE[k]}.com`, 100 + k);
  return tempFile(pcapFile(packets), ".pcap");
}

async function workspaceOf(capture: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "plumbum-report-" });
  const r = await runCli(["apply", capture, "--dir", dir]);
  assert.equal(r.code, 0, r.stderr);
  return dir;
}

Deno.test("report: HTML and script-JSON escaping", () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), "&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;");
  const j = scriptJson({ s: "</script><!--\u2028&" });
  assert.doesNotMatch(j, /[<>&\u2028]/);
  assert.deepEqual(JSON.parse(j), { s: "</script><!--\u2028&" });
});

Deno.test("report: one self-contained page, its scripts the CSP's hashes, hostile names inert in the markup", async () => {
  const capture = hostileCapture();
  const dir = await workspaceOf(capture);
  try {
    const r = await runCli(["report", "--min-severity", "LOW", "-o", `${dir}/r.html`, "--dir", dir]);
    assert.equal(r.code, 0, r.stderr);
    const html = await Deno.readTextFile(`${dir}/r.html`);
    // Three script elements: the data block, uPlot, the page's; nothing of the traffic's.
    const scripts = [...html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)];
    assert.equal(scripts.length, 3);
    assert.equal((html.match(/<script/g) ?? []).length, 3);
    assert.doesNotMatch(html, /<img|<b>bold/);
    assert.doesNotMatch(html, /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/);
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)![1].replaceAll("&#39;", "'");
    assert.match(csp, /default-src 'none'/);
    const hash = (s: string) => `'sha256-${createHash("sha256").update(s, "utf8").digest("base64")}'`;
    for (const [, body] of scripts.slice(1)) assert.ok(csp.includes(hash(body)), "every running script is hashed");
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1];
    assert.ok(csp.includes(hash(style)));
    assert.doesNotMatch(html, /\b(src|href)=["']?(https?:|\/\/)/i, "nothing is fetched");
    // Usage: no -o, the workspace's own files, a bad floor.
    assert.match((await runCli(["report", "--dir", dir])).stderr, /give -o FILE\.html/);
    const own = await runCli(["report", "-o", `${dir}/plumbum.db`, "--dir", dir]);
    assert.equal(own.code, 1);
    assert.match(own.stderr, /is the workspace's own plumbum\.db; writing the report there would destroy it/);
    assert.equal((await runCli(["report", "--min-severity", "SEVERE", "-o", `${dir}/x.html`, "--dir", dir])).code, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(capture);
  }
});

Deno.test({
  name:
    `report in headless Chromium: no console error, no request, findings and charts in the DOM, hostile names as text${
      chromium === null ? " (skipped: no chromium; apt-get install chromium)" : ""
    }`,
  ignore: chromium === null,
  ...sanitize,
  fn: async () => {
    const capture = hostileCapture();
    const dirs = [await workspaceOf(sample), await workspaceOf(capture)];
    const shots = await Deno.makeTempDir({ prefix: "plumbum-report-shots-" });
    const browser = await Browser.start(chromium!);
    try {
      // The sample: two CRITICAL findings written out, 50 domains in the table.
      const page = `${dirs[0]}/report.html`;
      assert.equal((await runCli(["report", "-o", page, "--dir", dirs[0]])).code, 0);
      const log = await browser.open(`file://${page}`, { width: 1200, height: 1400 });
      assert.deepEqual(log.errors, []);
      assert.deepEqual(log.requests, [`file://${page}`], "the page asks for nothing but itself");
      const dom = await browser.evaluate<
        { rows: number; findings: number; canvases: number; first: string; info: string }
      >(
        `({ rows: document.querySelectorAll("#rows tbody tr").length,
            findings: document.querySelectorAll("section.finding").length,
            canvases: document.querySelectorAll(".chart canvas").length,
            first: document.querySelector("#rows tbody tr td").textContent,
            info: document.getElementById("table-info").textContent })`,
      );
      assert.equal(dom.rows, 50);
      assert.equal(dom.findings, 2);
      assert.equal(dom.canvases, 4, "a timeline and a names chart per finding");
      assert.equal(dom.first, "lime-hollow.test");
      assert.equal(dom.info, "50 of 50 domains, page 1 of 1");
      // The table filters and sorts.
      const filtered = await browser.evaluate<number>(
        `(() => { const f = document.getElementById("filter"); f.value = "vale"; f.dispatchEvent(new Event("input"));
           return document.querySelectorAll("#rows tbody tr").length; })()`,
      );
      assert.equal(filtered, 1);
      await Deno.writeFile(`${shots}/summary.png`, await browser.screenshot({ x: 0, y: 0, width: 1200, height: 700 }));
      const y = await browser.evaluate<number>(`document.getElementById("d0").getBoundingClientRect().top + scrollY`);
      await Deno.writeFile(`${shots}/finding.png`, await browser.screenshot({ x: 0, y, width: 1200, height: 1100 }));
      for (const f of ["summary.png", "finding.png"]) assert.ok(Deno.statSync(`${shots}/${f}`).size > 20_000, f);
      // Printed on A4: the summary and run, then each finding on a page of its own, then the table.
      const printed = await browser.pdf();
      await Deno.writeFile(`${shots}/report.pdf`, printed.bytes);
      assert.ok(printed.pages >= 4, `${printed.pages} pages`);

      // The hostile capture: every name is text; nothing of the traffic's ran.
      const bad = `${dirs[1]}/report.html`;
      assert.equal((await runCli(["report", "--min-severity", "LOW", "-o", bad, "--dir", dirs[1]])).code, 0);
      const hl = await browser.open(`file://${bad}`);
      assert.deepEqual(hl.errors, []);
      assert.deepEqual(hl.requests, [`file://${bad}`]);
      const h = await browser.evaluate<{ pwned: unknown; text: string; imgs: number; scripts: number }>(
        `({ pwned: window.pwned ?? null, text: document.body.innerText, imgs: document.images.length,
            scripts: document.scripts.length })`,
      );
      assert.equal(h.pwned, null);
      assert.equal(h.imgs, 0);
      assert.equal(h.scripts, 3);
      assert.ok(h.text.includes("<script>pwned=1</script>"), "the script name shows as text");
      assert.ok(h.text.includes('"><img src=x onerror=pwned=2>'), "the img name shows as text");
      assert.ok(h.text.includes("javascript:pwned=3"), "the javascript: name shows as text");
      assert.ok(h.text.includes("\\x1b]52;c;"), "a terminal escape is shown escaped");
      console.log(`screenshots: ${shots}/summary.png, ${shots}/finding.png`);
    } finally {
      await browser.close();
      for (const d of dirs) await Deno.remove(d, { recursive: true });
      await Deno.remove(capture);
      if (Deno.env.get("PLUMBUM_KEEP_SHOTS") === undefined) await Deno.remove(shots, { recursive: true });
    }
  },
});
