// Connectivity: a projection's connection rule, drawn from its own random stream, as a compressed
// sparse row (CSR) matrix indexed by presynaptic neuron — `targets[rowPtr[i] .. rowPtr[i+1])` are
// the postsynaptic neurons of neuron i, in ascending order, so that delivering a spike is one
// sequential scan. Weights and delays are stored per synapse only when they vary (a distribution,
// or STDP); otherwise one constant serves the whole projection, which halves the memory of the
// reproductions and keeps the delivery loop to one load and one add per synapse.
import type { ConnectRule, Distribution, Projection } from './network.ts';
import { toSteps } from './network.ts';
import { Rng } from './rng.ts';

export interface Csr {
  readonly nPre: number;
  readonly nPost: number;
  readonly rowPtr: Uint32Array;
  /** 16-bit when the target population has at most 65,536 neurons: half the memory traffic per spike. */
  readonly targets: Uint32Array | Uint16Array;
  /** Per-synapse weights, or null when every synapse has `weight`. */
  readonly weights: Float64Array | null;
  readonly weight: number;
  /** Per-synapse delays in steps, or null when every synapse has `delay`. */
  readonly delays: Uint16Array | null;
  readonly delay: number;
}

/**
 * Draws `k` indices from [0, n) into `out[0..k)`, never `exclude` (−1 for none): distinct ones by a
 * partial Fisher–Yates shuffle of `pool` (the identity 0..n−1 on entry, restored on return by
 * undoing the swaps recorded in `swaps`), or independent ones when repetition is allowed.
 */
function drawIndices(rng: Rng, n: number, k: number, exclude: number, pool: Uint32Array | null, swaps: Uint32Array, out: Uint32Array): void {
  if (pool === null) {
    for (let j = 0; j < k; j++) {
      let x = rng.below(n);
      while (x === exclude) x = rng.below(n);
      out[j] = x;
    }
    return;
  }
  const swap = (a: number, b: number): void => {
    const t = pool[a] as number;
    pool[a] = pool[b] as number;
    pool[b] = t;
  };
  let m = n;
  if (exclude >= 0) {
    swap(exclude, n - 1); // out of reach of the shuffle below
    m = n - 1;
  }
  for (let j = 0; j < k; j++) {
    const r = j + rng.below(m - j);
    swaps[j] = r;
    swap(j, r);
    out[j] = pool[j] as number;
  }
  for (let j = k - 1; j >= 0; j--) swap(j, swaps[j] as number);
  if (exclude >= 0) swap(exclude, n - 1);
}

/** Rows of a matrix given as (pre, post) pairs in post order: a counting sort by pre. */
function rowsFromColumns(nPre: number, nPost: number, k: number, pres: Uint32Array): { rowPtr: Uint32Array; targets: Uint32Array } {
  const rowPtr = new Uint32Array(nPre + 1);
  for (let s = 0; s < pres.length; s++) {
    const r = (pres[s] as number) + 1;
    rowPtr[r] = (rowPtr[r] as number) + 1;
  }
  for (let i = 0; i < nPre; i++) rowPtr[i + 1] = (rowPtr[i + 1] as number) + (rowPtr[i] as number);
  const fill = rowPtr.slice(0, nPre);
  const targets = new Uint32Array(pres.length);
  for (let j = 0; j < nPost; j++) {
    for (let q = j * k; q < (j + 1) * k; q++) {
      const i = pres[q] as number;
      const at = fill[i] as number;
      fill[i] = at + 1;
      targets[at] = j;
    }
  }
  return { rowPtr, targets };
}

/** The (rowPtr, targets) structure of a rule; `same` when pre and post are one population. */
export function drawStructure(rule: ConnectRule, nPre: number, nPost: number, same: boolean, rng: Rng): { rowPtr: Uint32Array; targets: Uint32Array } {
  switch (rule.rule) {
    case 'one_to_one': {
      const rowPtr = new Uint32Array(nPre + 1);
      const targets = new Uint32Array(nPre);
      for (let i = 0; i < nPre; i++) {
        rowPtr[i + 1] = i + 1;
        targets[i] = i;
      }
      return { rowPtr, targets };
    }
    case 'all_to_all': {
      const self = same && !rule.autapses;
      const rowPtr = new Uint32Array(nPre + 1);
      const targets = new Uint32Array(nPre * nPost - (self ? nPre : 0));
      let s = 0;
      for (let i = 0; i < nPre; i++) {
        for (let j = 0; j < nPost; j++) if (!(self && i === j)) targets[s++] = j;
        rowPtr[i + 1] = s;
      }
      return { rowPtr, targets };
    }
    case 'fixed_probability': {
      const self = same && !rule.autapses;
      const rowPtr = new Uint32Array(nPre + 1);
      const p = rule.p;
      // The expected count plus 6 standard deviations; grown by half if ever exceeded.
      const mean = p * nPre * nPost;
      let buf = new Uint32Array(Math.ceil(mean + 6 * Math.sqrt(mean) + 64));
      let len = 0;
      const grow = (): void => {
        const bigger = new Uint32Array(Math.ceil(buf.length * 1.5));
        bigger.set(buf);
        buf = bigger;
      };
      if (p >= 1) {
        for (let i = 0; i < nPre; i++) {
          for (let j = 0; j < nPost; j++) {
            if (self && i === j) continue;
            if (len === buf.length) grow();
            buf[len++] = j;
          }
          rowPtr[i + 1] = len;
        }
      } else if (p > 0) {
        // Geometric skips between successive targets: one draw per synapse, not per pair.
        const logQ = Math.log1p(-p);
        for (let i = 0; i < nPre; i++) {
          let j = rng.geometric(p, logQ);
          while (j < nPost) {
            if (!(self && i === j)) {
              if (len === buf.length) grow();
              buf[len++] = j;
            }
            j += 1 + rng.geometric(p, logQ);
          }
          rowPtr[i + 1] = len;
        }
      }
      return { rowPtr, targets: len === buf.length ? buf : buf.slice(0, len) };
    }
    case 'fixed_indegree': {
      const k = rule.k;
      const pres = new Uint32Array(nPost * k);
      const pool = rule.multapses ? null : Uint32Array.from({ length: nPre }, (_, i) => i);
      const row = new Uint32Array(k);
      const swaps = new Uint32Array(k);
      for (let j = 0; j < nPost; j++) {
        drawIndices(rng, nPre, k, same && !rule.autapses ? j : -1, pool, swaps, row);
        pres.set(row, j * k);
      }
      return rowsFromColumns(nPre, nPost, k, pres);
    }
    case 'fixed_outdegree': {
      const k = rule.k;
      const rowPtr = new Uint32Array(nPre + 1);
      const targets = new Uint32Array(nPre * k);
      const pool = rule.multapses ? null : Uint32Array.from({ length: nPost }, (_, i) => i);
      const row = new Uint32Array(k);
      const swaps = new Uint32Array(k);
      for (let i = 0; i < nPre; i++) {
        drawIndices(rng, nPost, k, same && !rule.autapses ? i : -1, pool, swaps, row);
        row.sort();
        targets.set(row, i * k);
        rowPtr[i + 1] = (i + 1) * k;
      }
      return { rowPtr, targets };
    }
  }
}

/** One draw from a distribution. */
export function draw(d: Distribution, rng: Rng): number {
  switch (d.kind) {
    case 'constant':
      return d.value;
    case 'uniform':
      return d.low + (d.high - d.low) * rng.uniform53();
    case 'normal':
      return d.mean + d.sd * rng.normal();
  }
}

/**
 * Builds a projection's CSR matrix. The structure comes from stream `connect/<name>`, weights from
 * `weight/<name>` and delays from `delay/<name>`, all seeded by the projection's own seed when it
 * has one, else by the run seed: the same seed gives the same synapses, in the same order.
 */
export function buildCsr(proj: Projection, nPre: number, nPost: number, runSeed: number, dt: number, perSynapseWeights: boolean): Csr {
  const seed = proj.seed ?? runSeed;
  const drawn = drawStructure(proj.connect, nPre, nPost, proj.from === proj.to, new Rng(seed, `connect/${proj.name}`));
  const rowPtr = drawn.rowPtr;
  const targets = nPost <= 65_536 ? new Uint16Array(drawn.targets) : drawn.targets;
  const n = targets.length;
  let weights: Float64Array | null = null;
  let weight = 0;
  if (proj.weight.kind === 'constant' && !perSynapseWeights) weight = proj.weight.value;
  else {
    weights = new Float64Array(n);
    const rng = new Rng(seed, `weight/${proj.name}`);
    for (let s = 0; s < n; s++) weights[s] = draw(proj.weight, rng);
  }
  let delays: Uint16Array | null = null;
  let delay = 0;
  if (proj.delay.kind === 'constant') delay = toSteps(proj.delay.value, dt);
  else {
    delays = new Uint16Array(n);
    const rng = new Rng(seed, `delay/${proj.name}`);
    for (let s = 0; s < n; s++) delays[s] = toSteps(draw(proj.delay, rng), dt);
  }
  return { nPre, nPost, rowPtr, targets, weights, weight, delays, delay };
}

/** Longest delay of a matrix, in steps. */
export function maxDelay(c: Csr): number {
  if (c.delays === null) return c.delay;
  let m = 0;
  for (let s = 0; s < c.delays.length; s++) if ((c.delays[s] as number) > m) m = c.delays[s] as number;
  return m;
}
