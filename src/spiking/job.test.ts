// The `spiking-network` job payload: validated with `network.`-prefixed field paths, duration and
// seed defaulted from the description, and a run returning the result document and the metrics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStrataError } from '../kernel/index.ts';
import { SPIKING_RESULT_VERSION, parseSpikingJob, runSpikingJob } from './index.ts';

const network = {
  name: 'job',
  duration: 200,
  seed: 4,
  populations: [
    { name: 'src', size: 40, neuron: { type: 'poisson', rate: 30 } },
    { name: 'n', size: 20, neuron: { type: 'lif', tau_m: 10, e_l: -65, v_th: -50, v_reset: -65, t_ref: 2, receptors: { syn: { tau: 2 } } } },
  ],
  projections: [{ from: 'src', to: 'n', weight: 30, connect: { rule: 'fixed_indegree', k: 10 } }],
};

test('a job defaults duration and seed from the description, and runs to a result and metrics', () => {
  const job = parseSpikingJob({ network });
  assert.equal(job.durationMs, 200);
  assert.equal(job.seed, 4);
  assert.equal(parseSpikingJob({ network, duration_ms: 50, seed: 9 }).durationMs, 50);
  const { result, metrics } = runSpikingJob(job);
  assert.equal(result.kind, 'spiking-network');
  assert.equal(result.version, SPIKING_RESULT_VERSION);
  assert.equal(result.duration_ms, 200);
  assert.equal(result.seed, 4);
  assert.ok((result.populations[1]?.spike_count ?? 0) > 0, 'the driven population fires');
  assert.equal(metrics['rate_hz.n'], result.populations[1]?.rate_hz);
  assert.equal(metrics['synapses'], 200);
  assert.ok('wall_seconds' in metrics && 'rate_hz.src' in metrics && 'active_fraction.n' in metrics);
  assert.deepEqual(runSpikingJob(job).result.populations, result.populations, 'deterministic');
});

test('job errors name the field inside the job spec', () => {
  const fails = (input: unknown, field: string, message: RegExp): void => {
    try {
      parseSpikingJob(input);
    } catch (e) {
      assert.ok(isStrataError(e) && e.code === 'bad_request');
      assert.equal(e.details['field'], field);
      assert.match(e.message, message);
      return;
    }
    assert.fail('accepted');
  };
  fails({ network: { ...network, populations: [{ name: 'n', size: -1, neuron: 'x' }] } }, 'network.populations[0].size', /network\.populations\[0\]\.size: must be at least 1/);
  fails({ network: { ...network, duraton: 5 } }, 'network.duraton', /did you mean "duration"/);
  fails({ network: 'not a mapping' }, 'network', /expected a mapping/);
  fails({ network, duration_ms: -5 }, 'duration_ms', /greater than 0/);
  fails({ network, duration_ms: Number.NaN }, 'duration_ms', /got NaN/);
  fails({ network: { ...network, duration: undefined } }, 'duration_ms', /is required/);
  fails({ network, seed: 1.5 }, 'seed', /whole number/);
  fails({ network, shots: 3 }, 'shots', /unknown field shots/);
  fails({}, 'network', /is required/);
});
