// The `spiking-network` job kind's payload and run, for the agent's built-in executor: a job spec
// carries `{ network: <description>, duration_ms?, seed? }`; `parseSpikingJob` validates it (field
// paths prefixed with `network.`), `runSpikingJob` simulates it and returns the result document
// (the run's artifact) and the summary metrics (the run's metrics). Pure, like the engine.
import { badRequest } from '../kernel/index.ts';
import { simulate } from './engine.ts';
import type { SimulateOptions, SimulationResult } from './engine.ts';
import type { Network } from './network.ts';
import { SPIKING_LIMITS } from './network.ts';
import { parseNetwork } from './parse.ts';
import type { ParseNetworkOptions } from './parse.ts';
import { spikingMetrics } from './result.ts';

export interface SpikingJob {
  readonly network: Network;
  readonly durationMs: number;
  readonly seed: number;
}

const FIELDS = ['network', 'duration_ms', 'seed'];

const shown = (v: unknown): string => (typeof v === 'number' || typeof v === 'string' ? String(v) : typeof v);

/**
 * Validates a `spiking-network` job payload. The duration defaults to the description's; one of
 * the two must be given. Throws one bad_request StrataError listing the problems with their paths.
 */
export function parseSpikingJob(input: unknown, options: Omit<ParseNetworkOptions, 'pathPrefix'> = {}): SpikingJob {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw badRequest('a spiking-network job needs { network, duration_ms?, seed? }', { field: '' });
  const o = input as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !FIELDS.includes(k));
  if (unknown.length > 0) throw badRequest(`unknown field${unknown.length === 1 ? '' : 's'} ${unknown.join(', ')}; a spiking-network job has ${FIELDS.join(', ')}`, { field: unknown[0] });
  if (o['network'] === undefined) throw badRequest('network: is required (a network description: populations, projections, ...)', { field: 'network' });
  const network = parseNetwork(o['network'], { ...options, pathPrefix: 'network' });
  const d = o['duration_ms'];
  const maxMs = options.limits?.maxDurationMs ?? SPIKING_LIMITS.maxDurationMs;
  if (d !== undefined && (typeof d !== 'number' || !Number.isFinite(d) || d <= 0 || d > maxMs)) {
    throw badRequest(`duration_ms: expected a number of milliseconds greater than 0 and at most ${maxMs.toLocaleString('en-US')}; got ${shown(d)}`, { field: 'duration_ms' });
  }
  const durationMs = d ?? network.duration;
  if (durationMs === null) throw badRequest('duration_ms: is required (the network description has no duration)', { field: 'duration_ms' });
  const seed = o['seed'];
  if (seed !== undefined && (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0)) throw badRequest(`seed: expected a whole number ≥ 0; got ${shown(seed)}`, { field: 'seed' });
  return { network, durationMs, seed: seed ?? network.seed ?? 0 };
}

/** Runs a validated job: the result document and the metrics to log on the job's run. */
export function runSpikingJob(job: SpikingJob, options: Omit<SimulateOptions, 'durationMs' | 'seed'> = {}): { result: SimulationResult; metrics: Record<string, number> } {
  const result = simulate(job.network, { ...options, durationMs: job.durationMs, seed: job.seed });
  return { result, metrics: spikingMetrics(result) };
}
