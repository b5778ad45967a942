// Fragmentation measure on hand-computed small cases.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterFragmentation, nodeFragmentation, targetWorkload, taskFragmentation, workloadFromShapes } from './fragmentation.ts';
import type { GpuNodeView } from './model.ts';

const node = (gpuFree: number[], cpuFree = 10_000, gpuModel = 'G2', memoryFree = 100_000): GpuNodeView => ({
  id: 'n',
  gpuModel,
  cpuMilli: 64_000,
  memoryMiB: 100_000,
  cpuFree,
  memoryFree,
  gpuFree,
});

test('a task that fits counts only the GPUs too small for it as fragments', () => {
  // GPU0 has a whole GPU free, GPU1 only 300 milli: a 500-milli task can run (on GPU0) and GPU1's 300 are unusable to it.
  assert.equal(taskFragmentation(node([1000, 300]), { cpuMilli: 1000, gpuCount: 1, gpuMilli: 500, gpuModels: [] }), 300);
  // A 200-milli task can use both GPUs: nothing is a fragment.
  assert.equal(taskFragmentation(node([1000, 300]), { cpuMilli: 1000, gpuCount: 1, gpuMilli: 200, gpuModels: [] }), 0);
});

test('a task that cannot run makes every free GPU share a fragment (GPU count, CPU, model)', () => {
  const two = { cpuMilli: 1000, gpuCount: 2, gpuMilli: 1000, gpuModels: [] };
  assert.equal(taskFragmentation(node([1000, 300]), two), 1300);
  assert.equal(taskFragmentation(node([1000, 1000], 500), { cpuMilli: 1000, gpuCount: 1, gpuMilli: 500, gpuModels: [] }), 2000);
  assert.equal(taskFragmentation(node([1000, 1000]), { cpuMilli: 1000, gpuCount: 1, gpuMilli: 500, gpuModels: ['T4'] }), 2000);
  assert.equal(taskFragmentation(node([1000, 1000], 10_000, 'T4'), { cpuMilli: 1000, gpuCount: 1, gpuMilli: 500, gpuModels: ['T4'] }), 0);
  // CPU-only tasks can use none of the GPUs.
  assert.equal(taskFragmentation(node([1000, 250]), { cpuMilli: 1000, gpuCount: 0, gpuMilli: 0, gpuModels: [] }), 1250);
});

test('node fragmentation is the probability-weighted sum over task shapes', () => {
  const w = workloadFromShapes([
    { cpuMilli: 1000, gpuCount: 1, gpuMilli: 500, weight: 1 },
    { cpuMilli: 1000, gpuCount: 2, gpuMilli: 1000, weight: 1 },
  ]);
  // ½·300 (the 0.5 task fits, GPU1 is a fragment) + ½·1300 (the 2-GPU task does not fit).
  assert.equal(nodeFragmentation(node([1000, 300]), w), 800);
  // With too little CPU neither fits: all 1300 are fragments.
  assert.equal(nodeFragmentation(node([1000, 300], 900), w), 1300);
  // A full node has nothing to fragment; an idle one nothing either for these shapes.
  assert.equal(nodeFragmentation(node([0, 0]), w), 0);
  assert.equal(nodeFragmentation(node([1000, 1000]), w), 0);
  assert.equal(clusterFragmentation([node([1000, 300]), node([1000, 300], 900)], w), 2100);
});

test('CPU thresholds inside a group use the cumulative weights of shapes that fit', () => {
  const w = workloadFromShapes([
    { cpuMilli: 1000, gpuCount: 1, gpuMilli: 1000, weight: 3 },
    { cpuMilli: 8000, gpuCount: 1, gpuMilli: 1000, weight: 1 },
  ]);
  // GPUs [1000, 400]; CPU 5000 fits only the 1-core shape (¾): ¾·400 + ¼·1400 = 650.
  assert.equal(nodeFragmentation(node([1000, 400], 5000), w), 650);
});

test('a memory-aware workload counts GPUs as fragments to tasks lacking memory', () => {
  const shapes = [{ cpuMilli: 1000, memoryMiB: 4096, gpuCount: 1, gpuMilli: 1000, weight: 1 }];
  assert.equal(nodeFragmentation(node([1000, 1000], 10_000, 'G2', 2048), workloadFromShapes(shapes)), 2000);
  assert.equal(nodeFragmentation(node([1000, 1000], 10_000, 'G2', 8192), workloadFromShapes(shapes)), 0);
});

test('targetWorkload counts shapes, leaves CPU-only tasks out, and can keep only the popular ones', () => {
  const a = { cpuMilli: 1000, memoryMiB: 10, gpuCount: 1, gpuMilli: 500 };
  const b = { cpuMilli: 2000, memoryMiB: 10, gpuCount: 1, gpuMilli: 1000 };
  const c = { cpuMilli: 500, memoryMiB: 10, gpuCount: 0, gpuMilli: 0 };
  const w = targetWorkload([a, a, a, b, c]);
  assert.deepEqual(
    w.shapes.map((s) => [s.gpuMilli, s.weight]),
    [
      [500, 0.75],
      [1000, 0.25],
    ],
  );
  assert.equal(targetWorkload([a, b, c], { includeCpuOnly: true }).shapes.length, 3);
  assert.deepEqual(targetWorkload([a, a, a, b], { popularity: 0.75 }).shapes.map((s) => s.gpuMilli), [500]);
  // GPU-weighted: an 8-GPU task weighs √8 times a 1-GPU one.
  const big = { cpuMilli: 1000, memoryMiB: 10, gpuCount: 8, gpuMilli: 1000 };
  const g = targetWorkload([b, big], { gpuWeighted: true });
  assert.ok(Math.abs((g.shapes.find((s) => s.gpuCount === 8)?.weight ?? 0) - Math.sqrt(8) / (1 + Math.sqrt(8))) < 1e-12);
  assert.throws(() => targetWorkload([c]), /target workload is empty/);
});
