/** A transaction for analysis tests: a TXT query answered NOERROR, with any field overridden. */
import type { Transaction } from "../../src/ingest/types.ts";

/** A transaction with sensible defaults. */
export function tx(o: Partial<Transaction> & { query: string; ts: number }): Transaction {
  return {
    rtt: 0.01,
    transport: "udp",
    service: "dns",
    client: "10.0.0.2",
    clientPort: 40000,
    server: "10.0.0.1",
    serverPort: 53,
    id: 1,
    opcode: 0,
    queryKey: o.query.toLowerCase(),
    qtype: 16,
    qclass: 1,
    rcode: 0,
    aa: false,
    tc: false,
    rd: true,
    ra: true,
    z: 0,
    answers: [],
    hasQuery: true,
    hasResponse: true,
    querySize: 0,
    responseSize: 0,
    ...o,
  };
}

/** A TXT answer record with these strings. */
