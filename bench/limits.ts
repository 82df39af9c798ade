/**
 * The slowest, smallest channel the `tunnel` model still flags. One client
 * asks a new name under one zone every T seconds for an hour, through the
 * same analyzer and model `apply` uses (transactions built directly, so any
 * pace can be tried): the quietest kind — A queries answered with the same
 * address, data only upstream in base32 labels of L characters — and a TXT
 * channel answering something new each time. Timing is regular (± 20 %
 * jitter) or random (Poisson, the pace of lookups driven by mail or files).
 *
 *   deno task bench:limits
 *
 * Prints, per kind, label length and timing, the slowest pace still HIGH
 * and still MEDIUM, as names and bytes per hour.
 *
 * @module
 */
import { Analyzer } from "../src/analysis/analyze.ts";
import { presetModel } from "../src/analysis/model.ts";
import type { Transaction } from "../src/ingest/types.ts";
import { prng } from "../src/eval/tune.ts";
import { tx } from "../tests/helpers/transaction.ts";

const HOUR = 3600;
const PACES = [0.5, 1, 2, 3, 5, 7, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 450, 600, 900];
const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

type Kind = "A, constant answer" | "TXT, new answers";
type Timing = "regular" | "random";

/** The score of one client's channel: a new name every `pace` s (mean) for an hour. */
function scoreChannel(kind: Kind, labelLength: number, pace: number, timing: Timing): number {
  const random = prng(labelLength * 1000 + pace * 10 + (timing === "random" ? 1 : 0));
  const a = new Analyzer({ model: presetModel("tunnel") });
  let t = 1_800_000_000;
  const end = t + HOUR;
  for (let n = 0; t < end; n++) {
    let label = "";
    for (let i = 0; i < labelLength; i++) label += BASE32[Math.floor(random() * 32)];
    const query = `${label}.quiet-zone.example`;
    const answers: Transaction["answers"] = kind === "A, constant answer"
      ? [{ name: query, type: 1, class: 1, ttl: 60, rdlength: 4, data: { kind: "address", address: "192.0.2.7" } }]
      : [{
        name: query,
        type: 16,
        class: 1,
        ttl: 0,
        rdlength: 17,
        data: { kind: "txt", strings: [`ok-${n.toString(36)}`] },
      }];
    a.add(tx({ query, ts: t, qtype: kind === "A, constant answer" ? 1 : 16, client: "10.0.0.9", answers }));
    t += timing === "regular" ? pace * (0.8 + 0.4 * random()) : -Math.log(1 - random()) * pace;
  }
  return a.findings()[0].score;
}

if (import.meta.main) {
  const rows: string[] = [
    "| channel (one client, one hour) | label | timing | slowest ≥ HIGH | names/h | bytes/h | slowest ≥ MEDIUM | names/h | bytes/h |",
    "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const kind of ["A, constant answer", "TXT, new answers"] as Kind[]) {
    for (const length of [8, 16, 32, 63]) {
      for (const timing of ["regular", "random"] as Timing[]) {
        const slowest = (line: number) => {
          let best: number | null = null;
          for (const pace of PACES) {
            if (scoreChannel(kind, length, pace, timing) < line) break;
            best = pace;
          }
          return best;
        };
        const cells = [60, 40].flatMap((line) => {
          const pace = slowest(line);
          if (pace === null) return ["never", "-", "-"];
          const names = Math.round(HOUR / pace);
          // Upstream payload: 5 bits per base32 character.
          return [`every ${pace} s`, String(names), String(Math.round(names * length * 5 / 8))];
        });
        rows.push(`| ${kind} | ${length} | ${timing} | ${cells.join(" | ")} |`);
      }
    }
  }
  console.log(rows.join("\n"));
}
