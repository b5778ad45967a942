// Random numbers for the spiking engine: deterministic per (seed, stream name), fast enough for the
// step loop, and with a period that does not wrap in a long run. kernel/random.ts's mulberry32 has
// a period of 2^32, which a 10 s Brunel run (≈ 2.5·10^9 draws) would nearly exhaust, so the engine
// draws from xoshiro128** (Blackman & Vigna 2018; period 2^128 − 1, 32-bit operations only) and uses
// the kernel's generator only to expand a seed into the 128-bit state. Each use (initial state of a
// population, connectivity of a projection, one Poisson input...) gets its own named stream, so
// adding a population does not change the connectivity of the others.
import { seededRandom } from '../kernel/index.ts';

const TWO32 = 4294967296;
const TWO53 = 9007199254740992;
const INV32 = 1 / TWO32;

/** FNV-1a over the UTF-16 code units of `s`, 32 bits. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** A 32-bit avalanche mix (the murmur3 finaliser). */
function mix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** xoshiro128**: uniform 32-bit words, and the distributions the engine needs built on them. */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareNormal = Number.NaN;

  /**
   * A generator for `seed` (any non-negative safe integer) and a stream name. The same pair gives
   * the same sequence on every platform.
   */
  constructor(seed: number, stream: string) {
    const lo = seed % TWO32 >>> 0;
    const hi = Math.floor(seed / TWO32) >>> 0;
    const expand = seededRandom(mix32(lo ^ mix32(hi ^ 0x9e3779b9) ^ mix32(fnv1a(stream) + 0x7f4a7c15)));
    this.s0 = (expand() * TWO32) >>> 0;
    this.s1 = (expand() * TWO32) >>> 0;
    this.s2 = (expand() * TWO32) >>> 0;
    this.s3 = (expand() * TWO32) >>> 0;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the one forbidden state
  }

  /** The next 32-bit word, as an unsigned integer. */
  nextU32(): number {
    const s1 = this.s1;
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result;
  }

  /** Uniform in the open interval (0, 1) with 32 bits of resolution (safe to take the log of). */
  uniform(): number {
    return (this.nextU32() + 0.5) * INV32;
  }

  /**
   * Fills `out[0..n)` with uniforms in (0, 1), as `uniform()` would one by one; the state stays in
   * locals for the whole loop, which is what makes per-neuron sampling in the step loop cheap.
   */
  fillUniform(out: Float64Array, n: number): void {
    let s0 = this.s0;
    let s1 = this.s1;
    let s2 = this.s2;
    let s3 = this.s3;
    for (let i = 0; i < n; i++) {
      const m = Math.imul(s1, 5);
      const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      out[i] = (result + 0.5) * INV32; // exact, as the division by 2^32 in uniform()
    }
    this.s0 = s0;
    this.s1 = s1;
    this.s2 = s2;
    this.s3 = s3;
  }

  /** Uniform in (0, 1) with 53 bits of resolution, for rare events where 2^-32 would bias the tail. */
  uniform53(): number {
    const a = this.nextU32() >>> 5; // 27 bits
    const b = this.nextU32() >>> 6; // 26 bits
    return (a * 67108864 + b + 0.5) / TWO53;
  }

  /** Uniform integer in [0, n) for 1 ≤ n ≤ 2^32, without modulo bias (rejection of the top partial block). */
  below(n: number): number {
    if (n <= 1) return 0;
    const limit = TWO32 - (TWO32 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** Standard normal (Marsaglia's polar method; the second value is kept for the next call). */
  normal(): number {
    if (!Number.isNaN(this.spareNormal)) {
      const z = this.spareNormal;
      this.spareNormal = Number.NaN;
      return z;
    }
    for (;;) {
      const u = 2 * this.uniform53() - 1;
      const v = 2 * this.uniform53() - 1;
      const s = u * u + v * v;
      if (s >= 1 || s === 0) continue;
      const f = Math.sqrt((-2 * Math.log(s)) / s);
      this.spareNormal = v * f;
      return u * f;
    }
  }

  /**
   * Failures before the first success of Bernoulli(p) trials, 0 < p < 1 (geometric on {0, 1, ...}),
   * by inversion: the skip length used to draw sparse connectivity and sparse spike trains.
   */
  geometric(p: number, logOneMinusP: number = Math.log1p(-p)): number {
    return Math.floor(Math.log(this.uniform53()) / logOneMinusP);
  }
}

/** Natural log of Γ(x) for x > 0 (Lanczos, g = 7, n = 9; relative error ≈ 1e-15). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  const xm = x - 1;
  let a = c[0] as number;
  const t = xm + 7.5;
  for (let i = 1; i < 9; i++) a += (c[i] as number) / (xm + i);
  return 0.5 * Math.log(2 * Math.PI) + (xm + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * Exact Poisson(λ) sampling by inversion against a precomputed cumulative table, for the many
 * draws with one fixed λ that a Poisson input makes every step (one per target neuron). The table
 * spans λ ± (12√λ + 12), outside which the probability mass is below 1e-30. A guide table (Chen &
 * Asau 1974) maps the leading bits of u to the first candidate count, so a draw is one lookup and
 * usually no further comparison: no data-dependent loop for the branch predictor to miss.
 */
export class PoissonTable {
  readonly lambda: number;
  /** Smallest count in the table. */
  readonly lo: number;
  /** cdf[k] = P(X ≤ lo + k); the last entry is exactly 1. */
  readonly cdf: Float64Array;
  /** guide[j] = the smallest k with cdf[k] ≥ j / guideSize. */
  readonly guide: Int32Array;
  readonly guideSize: number;

  constructor(lambda: number) {
    if (!(lambda >= 0) || !Number.isFinite(lambda)) throw new RangeError(`Poisson mean must be finite and ≥ 0, got ${lambda}`);
    this.lambda = lambda;
    const spread = 12 * Math.sqrt(lambda) + 12;
    this.lo = Math.max(0, Math.floor(lambda - spread));
    const hi = Math.ceil(lambda + spread);
    const cdf = new Float64Array(hi - this.lo + 1);
    if (lambda === 0) {
      cdf.fill(1);
    } else {
      const logL = Math.log(lambda);
      let total = 0;
      for (let k = this.lo; k <= hi; k++) {
        total += Math.exp(k * logL - lambda - logGamma(k + 1));
        cdf[k - this.lo] = total;
      }
      for (let i = 0; i < cdf.length; i++) cdf[i] = (cdf[i] as number) / total;
    }
    cdf[cdf.length - 1] = 1;
    this.cdf = cdf;
    let size = 64;
    while (size < 4 * cdf.length && size < 65_536) size *= 2;
    this.guideSize = size;
    this.guide = new Int32Array(size);
    let k = 0;
    for (let j = 0; j < size; j++) {
      while ((cdf[k] as number) < j / size) k++;
      this.guide[j] = k;
    }
  }

  /** The Poisson(λ) count for a uniform u in (0, 1). */
  quantile(u: number): number {
    const cdf = this.cdf;
    let k = this.guide[Math.floor(u * this.guideSize)] as number;
    while (u > (cdf[k] as number)) k++;
    return this.lo + k;
  }

  /** One Poisson(λ) draw. */
  sample(rng: Rng): number {
    return this.quantile(rng.uniform());
  }
}
