// The load generator, run as a child process of a benchmark so it never shares the server's event
// loop: `node --import tsx bench/support/load.ts '<LoadSpec as JSON>'`. It drives autocannon 8
// through its programmatic API (the CLI cannot vary the path per request) and prints autocannon's
// result object as one JSON line on stdout.
import { runAutocannon } from './autocannon.ts';
import type { AutocannonRequest } from './autocannon.ts';

/** What to send. `path` may contain `{n}`: replaced per request by a counter modulo `cycle`. */
export interface LoadSpec {
  readonly url: string;
  readonly method: 'GET' | 'PUT' | 'POST';
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly connections: number;
  /** Seconds; ignored when `amount` is set. */
  readonly duration: number;
  /** Exactly this many requests, all answered before the run ends (so counts can be reconciled). */
  readonly amount?: number;
  /** How many distinct values `{n}` takes (default: unbounded). */
  readonly cycle?: number;
}

/** The parts of autocannon's result object that the benchmarks read. */
export interface LoadResult {
  /** autocannon's run time in seconds: it ends on its one-second sampling tick, so short runs read ≥ 1 s. */
  readonly duration: number;
  /** Seconds from starting the run to the last response (measured here, not on autocannon's tick). */
  readonly wallSeconds: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  readonly '2xx': number;
  readonly latency: { readonly average: number; readonly p50: number; readonly p97_5: number; readonly p99: number; readonly max: number };
  /** Per-second samples of completed requests: `max` is the best second. */
  readonly requests: { readonly total: number; readonly sent: number; readonly average: number; readonly max: number };
  readonly throughput: { readonly average: number };
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as LoadSpec;
  let n = 0;
  const request: AutocannonRequest = {
    method: spec.method,
    path: spec.path.replace('{n}', '0'),
    ...(spec.headers === undefined ? {} : { headers: { ...spec.headers } }),
    ...(spec.body === undefined ? {} : { body: spec.body }),
  };
  if (spec.path.includes('{n}')) {
    request.setupRequest = (req) => {
      const i = spec.cycle === undefined ? n : n % spec.cycle;
      n += 1;
      return { ...req, path: spec.path.replace('{n}', String(i)) };
    };
  }
  const result = await runAutocannon({ url: spec.url, connections: spec.connections, ...(spec.amount === undefined ? { duration: spec.duration } : { amount: spec.amount }), requests: [request] });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
