/**
 * The lab's own programs: channels Plumbum must find that no packaged tool
 * makes (a polling shell, a beacon, address-record stagers, an implant
 * rotating among sibling zones, a short burst) and the benign look-alikes it
 * must not flag (DNSBL, antivirus hash lookups, a CDN, per-event telemetry,
 * NTP and update pollers, DNS-SD, mail authentication TXT, reverse lookups,
 * ordinary browsing). Every query is a real one, asked of the lab's resolver
 * (bind9) from one of the client namespace's addresses, waiting for its
 * answer as a stub resolver does.
 *
 * Time runs `--scale` times faster than the lab's clock: a beacon "every 5 s"
 * sleeps 5/scale s. lab/record.ts stretches the capture's timestamps back by
 * the same factor, so the capture shows the cadence the programs describe.
 *
 *   deno run --allow-net --unstable-net lab/traffic.ts --resolver IP --scale S --duration SECS SCENARIO…
 *
 * @module
 */
import { parseArgs } from "node:util";
import { dnsMessage } from "../tests/helpers/build.ts";
import { prng } from "../src/eval/tune.ts";
import { LAB_ZONES, zoneFor } from "./zones.ts";

const A = 1, PTR = 12, MX = 15, TXT = 16, AAAA = 28, SRV = 33;

/** The address tunnels ask from; benign clients are .11 to .18 of the same /24. */
export const TUNNEL_CLIENT = "10.77.0.10";
/** Benign clients' addresses. */
export const BENIGN_CLIENTS = [11, 12, 13, 14, 15, 16, 17, 18].map((n) => `10.77.0.${n}`);

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

/** The lab's clock and a stub resolver for each client address. */
class Lab {
  readonly #resolver: string;
  readonly #scale: number;
  readonly #end: number;
  readonly #socks = new Map<string, Deno.DatagramConn>();
  readonly #pending = new Map<string, (b: Uint8Array | null) => void>();
  #id = 1;
  asked = 0;
  answered = 0;
  readonly random: () => number;

  constructor(resolver: string, scale: number, durationSecs: number, seed: number) {
    this.#resolver = resolver;
    this.#scale = scale;
    this.#end = Date.now() + (durationSecs * 1000) / scale;
    this.random = prng(seed);
  }

  /** Whether the lab's time is up. */
  get over(): boolean {
    return Date.now() >= this.#end;
  }

  /** Sleep `secs` of lab time (stops early at the end). */
  async sleep(secs: number): Promise<void> {
    const ms = Math.min((secs * 1000) / this.#scale, this.#end - Date.now());
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
  }

  /** An exponential gap of mean `mean` lab seconds (Poisson arrivals). */
  poisson(mean: number): number {
    return -Math.log(1 - this.random()) * mean;
  }

  /** `n` random base32 characters. */
  base32(n: number): string {
    let s = "";
    for (let i = 0; i < n; i++) s += BASE32[Math.floor(this.random() * 32)];
    return s;
  }

  /** `n` random hex characters. */
  hex(n: number): string {
    let s = "";
    for (let i = 0; i < n; i++) s += Math.floor(this.random() * 16).toString(16);
    return s;
  }

  #sock(client: string): Deno.DatagramConn {
    let s = this.#socks.get(client);
    if (s === undefined) {
      s = Deno.listenDatagram({ transport: "udp", hostname: client, port: 0 });
      this.#socks.set(client, s);
      const sock = s;
      (async () => {
        try {
          for await (const [msg] of sock) {
            const done = this.#pending.get(`${client}/${(msg[0] << 8) | msg[1]}`);
            if (done !== undefined) done(msg);
          }
        } catch { /* closed */ }
      })();
    }
    return s;
  }

  /** Ask `name`/`type` from `client`; resolves with the answer, or null after 2 s (lab time does not apply). */
  async ask(client: string, name: string, type: number): Promise<Uint8Array | null> {
    const id = this.#id = (this.#id % 65535) + 1;
    const key = `${client}/${id}`;
    const got = new Promise<Uint8Array | null>((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(key);
        resolve(null);
      }, 2000);
      this.#pending.set(key, (b) => {
        clearTimeout(timer);
        this.#pending.delete(key);
        resolve(b);
      });
    });
    this.asked++;
    await this.#sock(client).send(dnsMessage({ id, questions: [{ name, type }] }), {
      transport: "udp",
      hostname: this.#resolver,
      port: 53,
    });
    const b = await got;
    if (b !== null) this.answered++;
    return b;
  }

  close(): void {
    for (const s of this.#socks.values()) s.close();
  }
}

type Scenario = (lab: Lab) => Promise<void>;

/** Repeat `step` until the lab's time is up, `gap()` lab seconds apart. */
async function every(lab: Lab, gap: () => number, step: () => Promise<void>): Promise<void> {
  while (!lab.over) {
    await step();
    await lab.sleep(gap());
  }
}

const SCENARIOS: Record<string, Scenario> = {
  /** A shell polling for commands every 5 s: a counter and a session number as labels, "nop" as the answer. */
  "polling-shell": async (lab) => {
    const zone = zoneFor("tunnel:polling-shell");
    const session = 1000 + Math.floor(lab.random() * 9000);
    let n = 0;
    await every(lab, () => 5 * (0.9 + 0.2 * lab.random()), async () => {
      await lab.ask(TUNNEL_CLIENT, `${n++}.${session}.${zone}`, TXT);
    });
  },
  /** A beacon checking in every 5 s (± 20 %) under a new 10-character name, answered with one address. */
  beacon: async (lab) => {
    const zone = zoneFor("tunnel:beacon");
    await every(lab, () => 5 * (0.8 + 0.4 * lab.random()), async () => {
      await lab.ask(TUNNEL_CLIENT, `${lab.base32(10)}.${zone}`, A);
    });
  },
  /** Stagers pulling a payload down in addresses: 48 names answered with 6 A each, 64 with 4 AAAA each. */
  stagers: async (lab) => {
    const a = zoneFor("tunnel:a-stager"), aaaa = zoneFor("tunnel:aaaa-stager");
    for (let i = 0; i < 48 && !lab.over; i++) {
      await lab.ask(TUNNEL_CLIENT, `${i.toString(36)}${lab.base32(14)}.${a}`, A);
      await lab.sleep(0.3);
    }
    for (let i = 0; i < 64 && !lab.over; i++) {
      await lab.ask(TUNNEL_CLIENT, `${i.toString(36)}${lab.base32(14)}.${aaaa}`, AAAA);
      await lab.sleep(0.3);
    }
  },
  /** An implant rotating among three zones: a few dozen A queries each, encoded labels, over the whole recording. */
  siblings: async (lab) => {
    const zones = LAB_ZONES.filter((z) => z.kind === "sibling").map((z) => z.zone);
    await every(lab, () => lab.poisson(90), async () => {
      const zone = zones[Math.floor(lab.random() * zones.length)];
      await lab.ask(TUNNEL_CLIENT, `${lab.base32(24)}.${zone}`, A);
    });
  },
  /** A file in eight names of three 60-character labels, then silence. */
  burst: async (lab) => {
    const zone = zoneFor("tunnel:burst");
    await lab.sleep(30);
    for (let i = 0; i < 8 && !lab.over; i++) {
      await lab.ask(TUNNEL_CLIENT, `${lab.base32(60)}.${lab.base32(60)}.${lab.base32(60)}.${i}.${zone}`, A);
      await lab.sleep(0.5);
    }
  },
  /** Every benign look-alike at once, from the benign clients. */
  benign: async (lab) => {
    const c = BENIGN_CLIENTS;
    const pick = <T>(xs: T[]) => xs[Math.floor(lab.random() * xs.length)];
    const senders = LAB_ZONES.filter((z) => z.kind === "mailauth").map((z) => z.zone);
    const webZones = LAB_ZONES.filter((z) => z.kind === "web").map((z) => z.zone);
    const ip = () => Array.from({ length: 4 }, () => 1 + Math.floor(lab.random() * 254));
    const jobs: Promise<void>[] = [
      // A mail server: for each message, a DNSBL lookup of the sender's address and the sender's SPF/DKIM/DMARC.
      every(lab, () => lab.poisson(15), async () => {
        const name = `${ip().join(".")}.${zoneFor("benign:dnsbl")}`;
        const r = await lab.ask(c[0], name, A);
        if (r !== null && (r[3] & 0x0f) === 0) await lab.ask(c[0], name, TXT);
        const s = pick(senders);
        await lab.ask(c[0], s, TXT);
        await lab.ask(c[0], `sel1._domainkey.${s}`, TXT);
        await lab.ask(c[0], `_dmarc.${s}`, TXT);
        if (lab.random() < 0.3) await lab.ask(c[0], s, MX);
      }),
      // Log server: reverse lookups of the lab's addresses.
      every(lab, () => lab.poisson(20), async () => {
        await lab.ask(
          c[7],
          `${1 + Math.floor(lab.random() * 40)}.${Math.floor(lab.random() * 5)}.77.10.in-addr.arpa`,
          PTR,
        );
      }),
      // Pollers: NTP every 64 s and an updater every 300 s, from every client.
      ...c.map((client, i) =>
        lab.sleep(i * 7).then(() =>
          every(lab, () => 64, async () => {
            await lab.ask(client, `time.${zoneFor("benign:poller")}`, A);
          })
        )
      ),
      ...c.map((client, i) =>
        lab.sleep(i * 31).then(() =>
          every(lab, () => 300, async () => {
            await lab.ask(client, "dl.update-lab.lab", A);
          })
        )
      ),
      // DNS-SD browsing for printers.
      ...[c[4], c[5]].map((client) =>
        every(lab, () => 60 + 60 * lab.random(), async () => {
          const zone = zoneFor("benign:dnssd");
          await lab.ask(client, `_services._dns-sd._udp.${zone}`, PTR);
          await lab.ask(client, `_ipp._tcp.${zone}`, PTR);
          await lab.ask(client, `printer-2f._ipp._tcp.${zone}`, SRV);
          await lab.ask(client, `printer-2f._ipp._tcp.${zone}`, TXT);
        })
      ),
      // Browsing, CDN images and per-event telemetry, from six clients.
      ...c.slice(1, 7).map((client) =>
        every(lab, () => lab.poisson(12), async () => {
          const r = lab.random();
          if (r < 0.4) await lab.ask(client, `img${Math.floor(400 * lab.random() ** 2)}.${zoneFor("benign:cdn")}`, A);
          else if (r < 0.75) await lab.ask(client, `${pick(["www", "api", "static", "m"])}.${pick(webZones)}`, A);
          else {
            const uuid = `${lab.hex(8)}-${lab.hex(4)}-4${lab.hex(3)}-a${lab.hex(3)}-${lab.hex(12)}`;
            const events = lab.random() < 0.3 ? 3 : 1;
            for (let i = 0; i < events; i++) {
              await lab.ask(client, `${i === 0 ? uuid : uuid.slice(0, -1) + i}.${zoneFor("benign:telemetry")}`, A);
            }
          }
        })
      ),
      // Antivirus hash lookups: now and then a client scans a few dozen files.
      ...c.slice(1, 4).map((client) =>
        every(lab, () => lab.poisson(150), async () => {
          const files = 5 + Math.floor(lab.random() * 25);
          for (let i = 0; i < files && !lab.over; i++) {
            await lab.ask(client, `${lab.hex(40)}.${zoneFor("benign:av-hash")}`, A);
            await lab.sleep(0.2 + lab.random() * 0.5);
          }
        })
      ),
    ];
    await Promise.all(jobs);
  },
  /** Ordinary lookups only (for captures of the real tools, whose time cannot be scaled). */
  browse: async (lab) => {
    const webZones = LAB_ZONES.filter((z) => z.kind === "web").map((z) => z.zone);
    await Promise.all(
      BENIGN_CLIENTS.slice(1, 5).map((client) =>
        every(lab, () => lab.poisson(4), async () => {
          const zone = webZones[Math.floor(lab.random() * webZones.length)];
          await lab.ask(client, `${["www", "api", "static"][Math.floor(lab.random() * 3)]}.${zone}`, A);
          if (lab.random() < 0.3) await lab.ask(client, `img${Math.floor(100 * lab.random())}.cdn-lab.lab`, A);
        })
      ),
    );
  },
};

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: {
      resolver: { type: "string" },
      scale: { type: "string", default: "1" },
      duration: { type: "string", default: "300" },
      seed: { type: "string", default: "1" },
    },
    allowPositionals: true,
  });
  const unknown = positionals.filter((p) => !(p in SCENARIOS));
  if (values.resolver === undefined || positionals.length === 0 || unknown.length > 0) {
    console.error(
      `usage: traffic.ts --resolver IP [--scale S] [--duration SECS] [--seed N] SCENARIO… (${
        Object.keys(SCENARIOS).join(", ")
      })`,
    );
    Deno.exit(1);
  }
  const lab = new Lab(values.resolver, Number(values.scale), Number(values.duration), Number(values.seed));
  await Promise.all(positionals.map((p) => SCENARIOS[p](lab)));
  lab.close();
  console.log(JSON.stringify({ asked: lab.asked, answered: lab.answered }));
}
