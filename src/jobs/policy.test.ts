// The job system's engine build (policy.ts): FGD pools steer a small GPU job away from the node
// whose free devices a typical larger job still needs; bin-packing pools fill the fullest node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseComputeConfig } from '../compute/index.ts';
import { ManualClock } from '../kernel/index.ts';
import { normaliseJobSpec } from './spec.ts';
import { buildEngine, fgdScorer } from './policy.ts';
import { placement } from '../scheduler/index.ts';

const config = (mode: string): ReturnType<typeof parseComputeConfig> =>
  parseComputeConfig(`
regions: [{name: east}]
pools:
  - {name: h100, region: east, kind: gpu, flavor: nvidia-h100, powerWattsPerDevice: 700, placement: ${mode}}
`);

const gpuJob = (name: string, gpus: number) => normaliseJobSpec({ name, command: ['train'], resources: { cpu: '4', memory: '16Gi', accelerators: { kind: 'gpu', count: gpus } } });
const node = (id: string) => ({ id, pool: 'h100', capacity: { cpuMillis: 64_000, memoryBytes: 512 * 2 ** 30, devices: 8 }, labels: {} });

function placeOneGpuJob(mode: string): string | undefined {
  const engine = buildEngine({
    compute: config(mode),
    clock: new ManualClock(0),
    teams: new Map([['t', 'team']]),
    nodes: [node('a'), node('b')],
    // a runs a 3-GPU job (5 free); b runs a 4-GPU job (4 free).
    active: [
      { id: 'x', teamId: 't', spec: gpuJob('x', 3), createdAt: '2026-01-01T00:00:00Z', assignments: [{ nodeId: 'a', replicas: 1 }], startedAt: 0 },
      { id: 'y', teamId: 't', spec: gpuJob('y', 4), createdAt: '2026-01-01T00:00:00Z', assignments: [{ nodeId: 'b', replicas: 1 }], startedAt: 0 },
    ],
    pending: [{ id: 'p', teamId: 't', spec: gpuJob('p', 1), createdAt: '2026-01-01T00:01:00Z' }],
  });
  const d = engine.schedule().decisions.find((x) => x.kind === 'admit');
  return d?.kind === 'admit' ? d.assignments[0]?.nodeId : undefined;
}

test('placement: fgd keeps the 4 free GPUs a 4-GPU job needs; binpack fills the fullest node', () => {
  assert.equal(placeOneGpuJob('binpack'), 'b');
  assert.equal(placeOneGpuJob('fgd'), 'a');
});

test('the FGD scorer is Strata\'s placement policy: FGD\'s integer score of the fragmentation growth, equal scores broken by best fit', () => {
  const workload = placement.workloadFromShapes([{ cpuMilli: 4000, gpuCount: 4, gpuMilli: 1000, weight: 1 }]);
  const score = fgdScorer(workload);
  const view = (free: number) => ({ id: 'n' as never, pool: 'p', flavor: 'nvidia-h100', region: 'east', block: '', rack: '', capacity: { cpuMillis: 64_000, memoryBytes: 2 ** 40, devices: 8 }, free: { cpuMillis: 64_000, memoryBytes: 2 ** 40, devices: free } });
  const req = { jobId: 'j' as never, flavor: 'nvidia-h100', perReplica: { cpuMillis: 1000, memoryBytes: 2 ** 30, devices: 1 } };
  // 5 free → 4 free: a 4-GPU job still fits before and after: nothing is stranded (⌊100·sigmoid(0)⌋).
  const at = (free: number): number => score(view(free), req) ?? Number.NaN;
  assert.equal(Math.round(at(5)), 50);
  // 4 free → 3 free: the only 4-GPU slot is broken; 3 devices become stranded (⌊100·sigmoid(−3)⌋).
  assert.equal(Math.round(at(4)), 4);
  // 7 free → 6 and 6 free → 5 both leave a 4-GPU slot: equal FGD score, and best fit prefers the fuller node.
  assert.equal(Math.round(at(7)), Math.round(at(6)));
  assert.ok(at(6) > at(7));
});
