// Connection rules: exact degrees where the rule fixes them, the expected count and independence for
// fixed_probability, autapses and multapses as asked, rows sorted, and the same seed giving the
// same synapses. Plus the random streams underneath (determinism, uniform and Poisson moments).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { drawStructure } from './connect.ts';
import type { ConnectRule } from './network.ts';
import { PoissonTable, Rng } from './rng.ts';

function rows(rule: ConnectRule, nPre: number, nPost: number, same: boolean, seed = 1): number[][] {
  const { rowPtr, targets } = drawStructure(rule, nPre, nPost, same, new Rng(seed, 'test'));
  assert.equal(rowPtr.length, nPre + 1);
  assert.equal(rowPtr[nPre], targets.length);
  const out: number[][] = [];
  for (let i = 0; i < nPre; i++) {
    const row = Array.from(targets.subarray(rowPtr[i] as number, rowPtr[i + 1] as number));
    for (let q = 1; q < row.length; q++) assert.ok((row[q] as number) >= (row[q - 1] as number), `row ${i} sorted`);
    for (const j of row) assert.ok(j >= 0 && j < nPost);
    out.push(row);
  }
  return out;
}

test('all_to_all and one_to_one', () => {
  assert.deepEqual(rows({ rule: 'all_to_all', autapses: true }, 2, 3, false), [[0, 1, 2], [0, 1, 2]]);
  assert.deepEqual(rows({ rule: 'all_to_all', autapses: false }, 3, 3, true), [[1, 2], [0, 2], [0, 1]]);
  assert.deepEqual(rows({ rule: 'one_to_one' }, 3, 3, true), [[0], [1], [2]]);
});

test('fixed_probability: about p·N·M synapses, each pair independently, no autapses when excluded', () => {
  const n = 1000;
  const p = 0.05;
  const r = rows({ rule: 'fixed_probability', p, autapses: false }, n, n, true);
  const total = r.reduce((a, row) => a + row.length, 0);
  const mean = p * n * (n - 1);
  assert.ok(Math.abs(total - mean) < 6 * Math.sqrt(mean * (1 - p)), `${total} synapses, expected ≈ ${mean}`);
  r.forEach((row, i) => assert.ok(!row.includes(i), `no autapse on ${i}`));
  r.forEach((row) => assert.equal(new Set(row).size, row.length, 'no multapses'));
  // In-degrees are binomial: variance ≈ n·p·(1 − p).
  const indeg = new Array<number>(n).fill(0);
  for (const row of r) for (const j of row) indeg[j] = (indeg[j] ?? 0) + 1;
  const m = indeg.reduce((a, b) => a + b, 0) / n;
  const v = indeg.reduce((a, b) => a + (b - m) ** 2, 0) / (n - 1);
  assert.ok(Math.abs(v / (n * p * (1 - p)) - 1) < 0.2, `in-degree variance ${v}`);
  assert.equal(rows({ rule: 'fixed_probability', p: 0, autapses: true }, 10, 10, false).flat().length, 0);
  assert.equal(rows({ rule: 'fixed_probability', p: 1, autapses: false }, 10, 10, true).flat().length, 90);
});

test('fixed_indegree and fixed_outdegree: exact degrees, distinct when multapses are off', () => {
  const k = 30;
  const r = rows({ rule: 'fixed_indegree', k, autapses: false, multapses: false }, 40, 40, true);
  const incoming = Array.from({ length: 40 }, () => [] as number[]);
  r.forEach((row, i) => row.forEach((j) => incoming[j]?.push(i)));
  incoming.forEach((srcs, j) => {
    assert.equal(srcs.length, k, `in-degree of ${j}`);
    assert.equal(new Set(srcs).size, k, `distinct sources of ${j}`);
    assert.ok(!srcs.includes(j), `no autapse on ${j}`);
  });
  const out = rows({ rule: 'fixed_outdegree', k: 39, autapses: false, multapses: false }, 40, 40, true);
  out.forEach((row, i) => assert.deepEqual(row, Array.from({ length: 40 }, (_, j) => j).filter((j) => j !== i)));
  const multi = rows({ rule: 'fixed_outdegree', k: 50, autapses: true, multapses: true }, 5, 10, false);
  multi.forEach((row) => assert.equal(row.length, 50));
  assert.ok(multi.some((row) => new Set(row).size < row.length), 'repeats happen with multapses');
});

test('the same seed gives the same synapses; another seed others', () => {
  const rule: ConnectRule = { rule: 'fixed_probability', p: 0.1, autapses: true };
  assert.deepEqual(rows(rule, 200, 200, true, 7), rows(rule, 200, 200, true, 7));
  assert.notDeepEqual(rows(rule, 200, 200, true, 7), rows(rule, 200, 200, true, 8));
});

test('random streams: deterministic per (seed, stream), distinct across both, moments right', () => {
  const seq = (seed: number, stream: string): number[] => {
    const r = new Rng(seed, stream);
    return Array.from({ length: 5 }, () => r.nextU32());
  };
  assert.deepEqual(seq(1, 'a'), seq(1, 'a'));
  assert.notDeepEqual(seq(1, 'a'), seq(1, 'b'));
  assert.notDeepEqual(seq(1, 'a'), seq(2, 'a'));
  assert.notDeepEqual(seq(2 ** 40, 'a'), seq(0, 'a'));
  const r = new Rng(3, 'moments');
  const n = 200_000;
  let s = 0;
  let s2 = 0;
  const bulk = new Float64Array(n);
  r.fillUniform(bulk, n);
  for (const u of bulk) {
    assert.ok(u > 0 && u < 1);
    s += u;
    s2 += u * u;
  }
  assert.ok(Math.abs(s / n - 0.5) < 0.005 && Math.abs(s2 / n - 1 / 3) < 0.005);
  let z = 0;
  let z2 = 0;
  for (let i = 0; i < n; i++) {
    const x = r.normal();
    z += x;
    z2 += x * x;
  }
  assert.ok(Math.abs(z / n) < 0.015 && Math.abs(z2 / n - 1) < 0.02, `normal moments ${z / n}, ${z2 / n}`);
  // fillUniform continues the same sequence as uniform().
  const a = new Rng(5, 'x');
  const b = new Rng(5, 'x');
  const block = new Float64Array(4);
  a.fillUniform(block, 4);
  assert.deepEqual(Array.from(block), [b.uniform(), b.uniform(), b.uniform(), b.uniform()]);
  for (const lambda of [0.3, 2, 40, 5000]) {
    const t = new PoissonTable(lambda);
    let m = 0;
    let m2 = 0;
    const k = 50_000;
    for (let i = 0; i < k; i++) {
      const x = t.sample(r);
      m += x;
      m2 += x * x;
    }
    const mean = m / k;
    const variance = m2 / k - mean * mean;
    assert.ok(Math.abs(mean - lambda) < 6 * Math.sqrt(lambda / k), `Poisson(${lambda}) mean ${mean}`);
    assert.ok(Math.abs(variance / lambda - 1) < 0.05, `Poisson(${lambda}) variance ${variance}`);
  }
});
