// One autocannon run through its programmatic API, for the load generators that run as child
// processes of a benchmark (load.ts, and the workers of tracking.ts). autocannon ships no types and
// is CommonJS: it is loaded through require with the shape used here.
import { createRequire } from 'node:module';
import type { LoadResult } from './load.ts';

/** A request of autocannon's `requests` list: per-request bodies and chained requests. */
export interface AutocannonRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Builds the next request; `undefined` skips the rest of the list and starts it again. */
  setupRequest?: (req: AutocannonRequest, context: Record<string, unknown>) => AutocannonRequest | undefined;
  /** Sees the answer (status and body text) and may leave values in `context` for the next request. */
  onResponse?: (status: number, body: string, context: Record<string, unknown>) => void;
}

export interface AutocannonRun {
  readonly url: string;
  readonly connections: number;
  /** Seconds; ignored when `amount` is set. */
  readonly duration?: number;
  /** Exactly this many requests, all answered before the run ends. */
  readonly amount?: number;
  readonly requests: readonly AutocannonRequest[];
}

type Autocannon = (opts: Record<string, unknown>, done: (err: unknown, result: Omit<LoadResult, 'wallSeconds'>) => void) => { on(event: 'response', fn: () => void): void };

/**
 * Runs autocannon (one request in flight per connection, 30 s timeout) and adds `wallSeconds`:
 * autocannon's own run time ends on its one-second sampling tick, so the run is timed here, from the
 * start to the last answer.
 */
export async function runAutocannon(run: AutocannonRun): Promise<LoadResult> {
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
  const started = performance.now();
  let last = started;
  const result = await new Promise<Omit<LoadResult, 'wallSeconds'>>((resolve, reject) => {
    const instance = autocannon(
      {
        url: run.url,
        connections: run.connections,
        pipelining: 1,
        ...(run.amount === undefined ? { duration: run.duration } : { amount: run.amount }),
        requests: run.requests,
        timeout: 30,
      },
      (err, r) => (err === null || err === undefined ? resolve(r) : reject(err instanceof Error ? err : new Error(JSON.stringify(err)))),
    );
    instance.on('response', () => {
      last = performance.now();
    });
  });
  return { ...result, wallSeconds: (last - started) / 1000 };
}
