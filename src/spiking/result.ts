// The result of a `spiking-network` job as it lands in tracking: the full SimulationResult is the
// result artifact (JSON), `spikingMetrics` gives the summary numbers logged as run metrics, and
// `summarise` drops the monitor recordings for a compact report (the CLI's --json).
import type { Network } from './network.ts';
import type { SimulationResult } from './engine.ts';

export { SPIKING_RESULT_VERSION } from './network.ts';

/** The result without monitor recordings: what `strata spiking run --json` prints. */
export type SimulationSummary = Omit<SimulationResult, 'monitors'>;

/** Drops the monitor recordings (which may hold millions of values). */
export function summarise(result: SimulationResult): SimulationSummary {
  const { monitors: _monitors, ...rest } = result;
  return rest;
}

/**
 * Summary numbers for a run's metrics: `rate_hz`, `wall_seconds`, `run_seconds`,
 * `realtime_factor`, `synapses`, and per population `rate_hz.<name>`, `cv_isi.<name>` (when
 * defined) and `active_fraction.<name>`; per plastic projection `mean_weight.<name>`.
 */
export function spikingMetrics(result: SimulationResult): Record<string, number> {
  const m: Record<string, number> = {
    rate_hz: result.rate_hz,
    wall_seconds: result.wall_seconds,
    run_seconds: result.run_seconds,
    realtime_factor: result.realtime_factor,
    synapses: result.synapses,
  };
  for (const p of result.populations) {
    m[`rate_hz.${p.name}`] = p.rate_hz;
    if (p.cv_isi !== null) m[`cv_isi.${p.name}`] = p.cv_isi;
    m[`active_fraction.${p.name}`] = p.active_fraction;
  }
  for (const p of result.plasticity) m[`mean_weight.${p.projection}`] = p.mean_weight;
  return m;
}

/**
 * Memory a network needs while it runs, in bytes (an upper estimate for admission against an
 * agent's capacity): per neuron the state, statistics and spike list (≈ 64 B + 8 B per receptor),
 * per synapse a 4 B target plus 8 B weight and 2 B delay when they vary, and 16 B more with STDP;
 * the ring buffers are counted from the longest constant or uniform delay.
 */
export function estimateMemoryBytes(network: Network): number {
  let bytes = 0;
  const longest = new Array<number>(network.populations.length).fill(0);
  for (const p of network.projections) {
    const d = p.delay.kind === 'constant' ? p.delay.value : p.delay.kind === 'uniform' ? p.delay.high : 0;
    longest[p.to] = Math.max(longest[p.to] ?? 0, Math.round(d / network.dt));
  }
  network.populations.forEach((pop, i) => {
    const receptors = pop.model.type === 'poisson' ? 0 : pop.model.receptors.length;
    bytes += pop.size * (64 + 8 * receptors);
    bytes += ((longest[i] ?? 0) + 1) * receptors * pop.size * 8;
  });
  for (const p of network.projections) {
    const pre = network.populations[p.from]?.size ?? 0;
    const post = network.populations[p.to]?.size ?? 0;
    let synapses: number;
    switch (p.connect.rule) {
      case 'all_to_all':
        synapses = pre * post;
        break;
      case 'one_to_one':
        synapses = pre;
        break;
      case 'fixed_probability':
        synapses = p.connect.p * pre * post * 1.01 + 100;
        break;
      case 'fixed_indegree':
        synapses = p.connect.k * post * 2; // the (pre, post) list is held while the rows are built
        break;
      case 'fixed_outdegree':
        synapses = p.connect.k * pre;
        break;
    }
    const perSynapse = 4 + (p.weight.kind === 'constant' && p.stdp === null ? 0 : 8) + (p.delay.kind === 'constant' ? 0 : 2) + (p.stdp === null ? 0 : 16);
    bytes += synapses * perSynapse + (pre + 1) * 4;
  }
  return Math.ceil(bytes);
}
