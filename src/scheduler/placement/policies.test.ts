// Each scorer's choice on small crafted clusters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../../kernel/index.ts';
import { workloadFromShapes } from './fragmentation.ts';
import { gpuShapeTag } from './model.ts';
import type { GpuNodeView, PlacementRequest } from './model.ts';
import { POLICY_NAMES, createPolicy } from './policies.ts';
import type { PlacementPolicy } from './policies.ts';

const node = (id: string, gpuFree: number[], cpuFree = 32_000, extra: Partial<GpuNodeView> = {}): GpuNodeView => ({
  id,
  gpuModel: 'G2',
  cpuMilli: 64_000,
  memoryMiB: 256_000,
  cpuFree,
  memoryFree: 256_000,
  gpuFree,
  ...extra,
});
const share = (milli: number, cpuMilli = 4000): PlacementRequest => ({ cpuMilli, memoryMiB: 1024, gpuCount: 1, gpuMilli: milli });
const whole = (count: number, cpuMilli = 4000): PlacementRequest => ({ cpuMilli, memoryMiB: 1024, gpuCount: count, gpuMilli: 1000 });

/** The node (and GPUs) a policy picks: lowest score, first on ties. */
function pick(p: PlacementPolicy, nodes: readonly GpuNodeView[], r: PlacementRequest): { id: string; gpus: readonly number[] } | undefined {
  let best: { id: string; gpus: readonly number[]; score: number } | undefined;
  for (const n of nodes) {
    const c = p.choose(n, r);
    if (c !== undefined && (best === undefined || c.score < best.score)) best = { id: n.id, gpus: c.gpus, score: c.score };
  }
  return best === undefined ? undefined : { id: best.id, gpus: best.gpus };
}

const workload = workloadFromShapes([
  { cpuMilli: 4000, gpuCount: 1, gpuMilli: 1000, weight: 3 },
  { cpuMilli: 4000, gpuCount: 1, gpuMilli: 500, weight: 1 },
]);
const all = (name: (typeof POLICY_NAMES)[number]): PlacementPolicy => createPolicy(name, { workload, random: seededRandom(1), maxCpuMilli: 64_000, maxGpuMilli: 8000 });

test('every policy returns undefined where the request does not fit (CPU, memory, GPUs, model)', () => {
  for (const name of POLICY_NAMES) {
    const p = all(name);
    assert.equal(p.score(node('a', [1000, 1000], 1000), share(500)), undefined, name);
    assert.equal(p.score(node('a', [1000], 32_000, { memoryFree: 10 }), share(500)), undefined, name);
    assert.equal(p.score(node('a', [400, 1000]), whole(2)), undefined, name);
    assert.equal(p.score(node('a', [1000]), { ...share(500), gpuModels: ['T4'] }), undefined, name);
    assert.equal(typeof p.score(node('a', [1000, 1000]), share(500)), 'number', name);
  }
});

test('FGD fills a half-used GPU rather than cutting into a whole one', () => {
  // Most tasks want a whole GPU: splitting node b's GPU would strand 500 milli; node a's GPU0 is already split.
  const nodes = [node('b', [1000, 1000]), node('a', [500, 1000])];
  assert.deepEqual(pick(all('fgd'), nodes, share(500)), { id: 'a', gpus: [0] });
  // On one node it picks the split GPU too.
  assert.deepEqual(all('fgd').choose(node('c', [1000, 500]), share(500))?.gpus, [1]);
  // Placing there removes the fragment entirely: fragmentation does not grow.
  assert.ok((all('fgd').score(node('a', [500, 1000]), share(500)) ?? 1) <= 0);
});

test('FGD keeps CPU for GPU tasks: a CPU-only task goes where it strands no GPU', () => {
  // Node x has 2 free GPUs and 8 cores; taking 6 cores leaves 2 < 4 needed by every GPU task, stranding both GPUs.
  const nodes = [node('x', [1000, 1000], 8000), node('y', [0, 0], 8000)];
  const cpuTask: PlacementRequest = { cpuMilli: 6000, memoryMiB: 1024, gpuCount: 0, gpuMilli: 0 };
  assert.equal(pick(all('fgd'), nodes, cpuTask)?.id, 'y');
});

test('Best-fit takes the node left with the least CPU and GPU', () => {
  const nodes = [node('roomy', [1000, 1000, 1000, 1000], 60_000), node('tight', [1000, 200], 6000)];
  assert.equal(pick(all('best-fit'), nodes, whole(1))?.id, 'tight');
  // Inside a node it shares the GPU with the least room that still fits.
  assert.deepEqual(all('best-fit').choose(node('n', [1000, 600, 300]), share(250))?.gpus, [2]);
});

test('Dot-product prefers the node whose free vector aligns least with the request', () => {
  const nodes = [node('big', [1000, 1000, 1000, 1000], 60_000), node('small', [1000], 8000)];
  assert.equal(pick(all('dot-product'), nodes, whole(1))?.id, 'small');
});

test('GPU-packing: shared GPUs first, then used nodes, then the smallest idle node', () => {
  const used = node('used', [1000, 0]);
  const shared = node('shared', [400, 0]);
  const idleSmall = node('idle2', [1000, 1000]);
  const idleBig = node('idle8', [1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000]);
  const p = all('gpu-packing');
  assert.equal(pick(p, [idleBig, idleSmall, used, shared], share(300))?.id, 'shared');
  assert.equal(pick(p, [idleBig, idleSmall, used], share(300))?.id, 'used');
  assert.equal(pick(p, [idleBig, idleSmall], whole(1))?.id, 'idle2');
});

test('GPU-clustering puts a task with its own kind, then on an empty node, then elsewhere', () => {
  const tags = (entries: [string, number][]): ReadonlyMap<string, number> => new Map(entries);
  // Every shared-GPU task is one kind ('share'), whatever its share; whole-GPU tasks one kind per count.
  assert.equal(gpuShapeTag(share(500)), gpuShapeTag(share(250)));
  assert.notEqual(gpuShapeTag(whole(1)), gpuShapeTag(whole(2)));
  const same = node('same', [1000, 500], 32_000, { gpuTags: tags([['share', 1]]) });
  const mixed = node('mixed', [1000, 500], 32_000, { gpuTags: tags([['share', 1], ['1-gpu', 1]]) });
  const empty = node('empty', [1000, 1000], 32_000, { gpuTags: tags([]) });
  const other = node('other', [1000, 0], 32_000, { gpuTags: tags([['1-gpu', 1]]) });
  const p = all('gpu-clustering');
  assert.equal(p.usesGpuTags, true);
  assert.equal(pick(p, [other, empty, mixed, same], share(250))?.id, 'same');
  assert.equal(pick(p, [other, empty, mixed], share(500))?.id, 'mixed');
  assert.equal(pick(p, [other, empty], share(500))?.id, 'empty');
  // The authors' integer score: 75 + ⌊25·(8 GPUs − free)/8 GPUs⌋ for a node running only this kind (1.5 free → 20).
  assert.equal(p.score(same, share(250)), -95);
});

test('scores are the authors\' integers: choices they cannot tell apart tie', () => {
  // GPU-packing counts the free share of the GPUs used in 10 % steps: 430 and 470 free are alike, 530 is worse.
  const packing = all('gpu-packing');
  assert.equal(packing.score(node('a', [430, 0]), share(300)), packing.score(node('b', [470, 0]), share(300)));
  assert.ok((packing.score(node('c', [530, 0]), share(300)) ?? 0) > (packing.score(node('a', [430, 0]), share(300)) ?? 0));
  // Best-fit truncates 100·(1 − leftover) to an integer: half a core more or less left does not matter here.
  const bf = all('best-fit');
  assert.equal(bf.score(node('a', [1000], 20_000), whole(1)), bf.score(node('b', [1000], 20_500), whole(1)));
  // FGD scores ⌊100·sigmoid(−growth in GPUs)⌋: no growth is 50; −50 in our lower-is-better scale.
  assert.equal(all('fgd').score(node('a', [1000, 1000]), whole(1)), -50);
});

test('FGD shares the first GPU (by index) among those scoring best', () => {
  // GPUs 0 and 2 have the same share free: either is as good, GPU 0 is taken.
  assert.deepEqual(all('fgd').choose(node('n', [500, 1000, 500]), share(500))?.gpus, [0]);
  // Best-fit inside the node (other policies) also takes the first of equally tight GPUs.
  assert.deepEqual(all('best-fit').choose(node('n', [1000, 500, 500]), share(500))?.gpus, [1]);
});

test('Random-fit scores every fitting node alike and shares a random fitting GPU', () => {
  const p = all('random');
  assert.equal(p.score(node('a', [1000]), whole(1)), p.score(node('b', [1000, 1000, 1000]), whole(1)));
  const seen = new Set<number>();
  for (let i = 0; i < 50; i++) seen.add(p.choose(node('n', [1000, 1000, 100]), share(500))?.gpus[0] ?? -1);
  assert.deepEqual([...seen].sort(), [0, 1]);
});

test('Strata breaks FGD ties by best fit', () => {
  // Whole-GPU task on two idle nodes: no fragmentation either way; the smaller node is the tighter fit.
  const nodes = [node('big', [1000, 1000, 1000, 1000], 60_000), node('small', [1000, 1000], 16_000)];
  assert.equal(all('fgd').score(nodes[0] as GpuNodeView, whole(1)), all('fgd').score(nodes[1] as GpuNodeView, whole(1)));
  assert.equal(pick(all('strata'), nodes, whole(1))?.id, 'small');
});

test('createPolicy refuses FGD without a workload and Random without a seed', () => {
  assert.throws(() => createPolicy('fgd'), /needs a target workload/);
  assert.throws(() => createPolicy('random'), /seeded random source/);
});
