// Time series the carbon- and cost-aware placement works on: a minimal, dependency-free series
// type (points of time and value — gCO2eq/kWh for carbon, currency/kWh for price) and the
// prepared `Timeline` every query runs on. A timeline is the series as a step function (a value
// holds until the next point) cut into contiguous segments, with prefix sums of the integral and
// of the missing time, so the integral and data coverage of any interval cost O(1) once its ends
// are located. Irregular spacing and changes of resolution (15/30/60 min) need no resampling;
// gaps longer than `maxGapMs` become explicit missing segments that no window may use.
// Pure: no I/O, no clock. compute/'s CarbonSignal converts through seriesFromSignal.
import { badRequest } from '../../kernel/index.ts';

/** One observation or forecast: the value in force from `timeMs` (ms since the Unix epoch). */
export interface SeriesPoint {
  readonly timeMs: number;
  /** gCO2eq/kWh for carbon intensity; price per kWh for price series. */
  readonly value: number;
}

/** A series as it arrives from a signal, a file or a provider. */
export interface Series {
  /** In strictly increasing time order. */
  readonly points: readonly SeriesPoint[];
  /** Where the last point stops holding. Default: the last time plus the series' typical step. */
  readonly endMs?: number;
  /**
   * A spacing between consecutive points above this is missing data: the earlier point holds for
   * one typical step, the rest is unknown. Default: 3 × the typical (median) step, at least 2 h,
   * so that a change of resolution (60 → 15 min) is not mistaken for a gap.
   */
  readonly maxGapMs?: number;
}

/** Options for {@link prepareTimeline}. */
export interface PrepareOptions {
  /** Names the series in error messages (region, file). */
  readonly label?: string;
  /** Prices may be negative; carbon intensities may not (default false). */
  readonly allowNegative?: boolean;
}

/**
 * A series prepared for queries. Segment i covers [bounds[i], bounds[i+1]) with values[i]
 * (NaN: missing). `area[i]` is the integral of the value (value·ms, missing counts as 0) from
 * bounds[0] to bounds[i]; `gap[i]` the missing time (ms) over the same span.
 */
export interface Timeline {
  readonly label: string;
  readonly bounds: Float64Array;
  readonly values: Float64Array;
  readonly area: Float64Array;
  readonly gap: Float64Array;
  /** Typical (median) spacing of the source points, ms. */
  readonly stepMs: number;
  /** Coverage: [fromMs, toMs). Outside it everything is missing. */
  readonly fromMs: number;
  readonly toMs: number;
}

export const HOUR_MS = 3_600_000;

const fmt = (ms: number): string => (Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? new Date(ms).toISOString() : String(ms));

/**
 * Validates a series and prepares it for queries in O(n).
 * @throws StrataError bad_request for an empty series, non-finite or (for carbon) negative values,
 * times out of order, or a single point without `endMs`.
 */
export function prepareTimeline(series: Series, options: PrepareOptions = {}): Timeline {
  const label = options.label ?? 'series';
  const pts = series.points;
  if (pts.length === 0) throw badRequest(`${label}: the series is empty; give at least one point (and endMs) to place work on it`, { series: label });
  for (let i = 0; i < pts.length; i++) {
    const p = pts[i] as SeriesPoint;
    if (!Number.isFinite(p.timeMs)) throw badRequest(`${label}: point ${i} has time ${String(p.timeMs)}; times must be finite ms since the epoch`, { series: label, point: i });
    if (!Number.isFinite(p.value)) throw badRequest(`${label}: point ${i} (${fmt(p.timeMs)}) has value ${String(p.value)}; values must be finite numbers (leave a gap instead of NaN)`, { series: label, point: i });
    if (p.value < 0 && options.allowNegative !== true) throw badRequest(`${label}: point ${i} (${fmt(p.timeMs)}) has carbon intensity ${p.value} < 0`, { series: label, point: i });
    if (i > 0 && p.timeMs <= (pts[i - 1] as SeriesPoint).timeMs) {
      throw badRequest(`${label}: point ${i} (${fmt(p.timeMs)}) is not after point ${i - 1}; points must be in strictly increasing time order`, { series: label, point: i });
    }
  }
  const first = (pts[0] as SeriesPoint).timeMs;
  const last = (pts[pts.length - 1] as SeriesPoint).timeMs;
  let stepMs: number;
  if (pts.length >= 2) {
    const diffs = new Float64Array(pts.length - 1);
    for (let i = 1; i < pts.length; i++) diffs[i - 1] = (pts[i] as SeriesPoint).timeMs - (pts[i - 1] as SeriesPoint).timeMs;
    diffs.sort();
    stepMs = diffs[(diffs.length - 1) >> 1] as number;
  } else {
    if (series.endMs === undefined) throw badRequest(`${label}: a single-point series needs endMs (how long the value holds)`, { series: label });
    stepMs = series.endMs - first;
  }
  const endMs = series.endMs ?? last + stepMs;
  if (!Number.isFinite(endMs) || endMs <= last) throw badRequest(`${label}: endMs ${fmt(endMs)} must be after the last point ${fmt(last)}`, { series: label });
  const maxGapMs = series.maxGapMs ?? Math.max(3 * stepMs, 2 * HOUR_MS);
  if (!(maxGapMs > 0)) throw badRequest(`${label}: maxGapMs must be > 0 (got ${String(maxGapMs)})`, { series: label });

  const bounds: number[] = [];
  const values: number[] = [];
  for (let i = 0; i < pts.length; i++) {
    const p = pts[i] as SeriesPoint;
    const next = i + 1 < pts.length ? (pts[i + 1] as SeriesPoint).timeMs : endMs;
    bounds.push(p.timeMs);
    values.push(p.value);
    if (next - p.timeMs > maxGapMs) {
      // The point holds for one typical step; the rest up to the next point is unknown.
      bounds.push(p.timeMs + Math.min(stepMs, next - p.timeMs));
      values.push(Number.NaN);
    }
  }
  bounds.push(endMs);
  return buildTimeline(label, Float64Array.from(bounds), Float64Array.from(values), stepMs);
}

/** Builds the prefix arrays over contiguous segments (bounds.length = values.length + 1). */
export function buildTimeline(label: string, bounds: Float64Array, values: Float64Array, stepMs: number): Timeline {
  const n = values.length;
  const area = new Float64Array(n + 1);
  const gap = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) {
    const len = (bounds[i + 1] as number) - (bounds[i] as number);
    const v = values[i] as number;
    const missing = Number.isNaN(v);
    area[i + 1] = (area[i] as number) + (missing ? 0 : v * len);
    gap[i + 1] = (gap[i] as number) + (missing ? len : 0);
  }
  return { label, bounds, values, area, gap, stepMs, fromMs: bounds[0] as number, toMs: bounds[n] as number };
}

/** Index of the segment containing t (bounds[i] ≤ t < bounds[i+1]); -1 before, n after the coverage. */
export function segmentAt(tl: Timeline, t: number): number {
  const b = tl.bounds;
  const n = tl.values.length;
  if (t < (b[0] as number)) return -1;
  if (t >= (b[n] as number)) return n;
  let lo = 0;
  let hi = n; // invariant: b[lo] ≤ t < b[hi]
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if ((b[mid] as number) <= t) lo = mid;
    else hi = mid;
  }
  return lo;
}

/**
 * Evaluates the cumulative integral F(t) and cumulative missing time M(t) at non-decreasing times,
 * amortised O(1) per call. Outside the coverage everything counts as missing, so
 * M(b) − M(a) > 0 exactly when [a, b) is not fully covered by data.
 */
export class Cursor {
  private i: number;
  private readonly tl: Timeline;
  /** F(t) of the last {@link at} call. */
  area = 0;
  /** M(t) of the last {@link at} call. */
  gap = 0;

  constructor(tl: Timeline, startAt: number) {
    this.tl = tl;
    this.i = Math.max(0, Math.min(segmentAt(tl, startAt), tl.values.length - 1));
  }

  /** Moves to t (must not be before the previous t, except on the first call) and sets area/gap. */
  at(t: number): this {
    const { bounds, values, area, gap, fromMs, toMs } = this.tl;
    const n = values.length;
    if (t <= fromMs) {
      this.area = 0;
      this.gap = t - fromMs;
      return this;
    }
    if (t >= toMs) {
      this.area = area[n] as number;
      this.gap = (gap[n] as number) + (t - toMs);
      return this;
    }
    while (this.i + 1 < n && (bounds[this.i + 1] as number) <= t) this.i++;
    const i = this.i;
    const v = values[i] as number;
    const dt = t - (bounds[i] as number);
    if (Number.isNaN(v)) {
      this.area = area[i] as number;
      this.gap = (gap[i] as number) + dt;
    } else {
      this.area = (area[i] as number) + v * dt;
      this.gap = gap[i] as number;
    }
    return this;
  }
}

/** Integral (value·ms) over [fromMs, toMs), or null when any part of it has no data. O(log n). */
export function integralOver(tl: Timeline, fromMs: number, toMs: number): number | null {
  if (!(toMs > fromMs)) return 0;
  const a = new Cursor(tl, fromMs).at(fromMs);
  const [fa, ga] = [a.area, a.gap];
  const b = new Cursor(tl, toMs).at(toMs);
  if (b.gap - ga > 0) return null;
  return b.area - fa;
}

/** Time-weighted mean value over [fromMs, toMs), or null when any part of it has no data. */
export function meanOver(tl: Timeline, fromMs: number, toMs: number): number | null {
  const area = integralOver(tl, fromMs, toMs);
  return area === null ? null : area / (toMs - fromMs);
}

/** A timeline holding one value over [fromMs, toMs) — a flat price, or a constant intensity. */
export function constantTimeline(value: number, fromMs: number, toMs: number, label = `constant ${value}`): Timeline {
  if (!Number.isFinite(value)) throw badRequest(`${label}: value must be a finite number (got ${String(value)})`);
  if (!Number.isFinite(fromMs) || !Number.isFinite(toMs) || !(toMs > fromMs)) throw badRequest(`${label}: coverage [${fmt(fromMs)}, ${fmt(toMs)}) is empty`);
  return buildTimeline(label, Float64Array.of(fromMs, toMs), Float64Array.of(value), toMs - fromMs);
}

/** One term of a {@link combineTimelines} sum. */
export interface WeightedTimeline {
  readonly timeline: Timeline;
  readonly weight: number;
}

/**
 * Σ weight × timeline, on the union of the terms' segment bounds, over the intersection of their
 * coverage (and of `range`, when given: pass a request's horizon to combine only what it needs);
 * missing wherever any term is missing. O(segments in range + log n). Used to score a window by a
 * weighted mix of carbon and price with the same sliding-window machinery.
 */
export function combineTimelines(terms: readonly WeightedTimeline[], label = 'combined', range?: { readonly fromMs: number; readonly toMs: number }): Timeline {
  if (terms.length === 0) throw badRequest(`${label}: nothing to combine`);
  for (const t of terms) if (!Number.isFinite(t.weight)) throw badRequest(`${label}: weight of ${t.timeline.label} must be finite (got ${String(t.weight)})`);
  const from = Math.max(range?.fromMs ?? Number.NEGATIVE_INFINITY, ...terms.map((t) => t.timeline.fromMs));
  const to = Math.min(range?.toMs ?? Number.POSITIVE_INFINITY, ...terms.map((t) => t.timeline.toMs));
  if (!(to > from)) {
    const what = terms.map((t) => `${t.timeline.label} ${fmt(t.timeline.fromMs)}..${fmt(t.timeline.toMs)}`).join(', ');
    throw badRequest(`${label}: the series do not overlap in time${range === undefined ? '' : ` within ${fmt(range.fromMs)}..${fmt(range.toMs)}`} (${what})`);
  }
  const idx = terms.map((t) => Math.max(0, segmentAt(t.timeline, from)));
  const bounds: number[] = [from];
  const values: number[] = [];
  let t = from;
  while (t < to) {
    let next = to;
    let v = 0;
    terms.forEach((term, k) => {
      const tl = term.timeline;
      let i = idx[k] as number;
      while ((tl.bounds[i + 1] as number) <= t) i++;
      idx[k] = i;
      v += term.weight * (tl.values[i] as number);
      next = Math.min(next, tl.bounds[i + 1] as number);
    });
    values.push(v);
    bounds.push(next);
    t = next;
  }
  const stepMs = Math.min(...terms.map((x) => x.timeline.stepMs));
  return buildTimeline(label, Float64Array.from(bounds), Float64Array.from(values), stepMs);
}

/** What compute/'s CarbonSignal offers (structurally): the intensity in force at a time. */
export interface IntensitySource {
  intensityAt(timeMs: number): { gCO2PerKWh: number };
}

/**
 * Samples a signal every `stepMs` over [fromMs, toMs) into a {@link Series} (the adapter from
 * compute/'s CarbonSignal: a CSV series sampled at its own resolution reproduces its steps exactly).
 */
export function seriesFromSignal(source: IntensitySource, fromMs: number, toMs: number, stepMs: number): Series {
  if (!Number.isFinite(fromMs) || !Number.isFinite(toMs) || !(toMs > fromMs)) throw badRequest(`sampling range [${fmt(fromMs)}, ${fmt(toMs)}) is empty`);
  if (!Number.isFinite(stepMs) || stepMs < 1000) throw badRequest(`sampling step must be ≥ 1 s (got ${String(stepMs)} ms)`);
  if ((toMs - fromMs) / stepMs > 10_000_000) throw badRequest(`sampling [${fmt(fromMs)}, ${fmt(toMs)}) every ${stepMs} ms gives more than 10,000,000 points; use a coarser step`);
  const points: SeriesPoint[] = [];
  for (let t = fromMs; t < toMs; t += stepMs) points.push({ timeMs: t, value: source.intensityAt(t).gCO2PerKWh });
  return { points, endMs: toMs };
}
