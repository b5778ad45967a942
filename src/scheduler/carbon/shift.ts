// Temporal shifting on one region's timeline: the best contiguous window of a given duration
// within [start, deadline] (Carbon Aware SDK's "best time": the lowest sliding-window average),
// and the interruptible variant that runs in the lowest-valued slots, possibly non-contiguous,
// before the deadline (Wiesner et al., "Let's Wait Awhile", Middleware'21). Both return the
// explanation the scheduler shows: the chosen runs, expected vs run-now emissions, the delay.
// Pure: a Timeline and a request in, a Schedule out.
import { badRequest } from '../../kernel/index.ts';
import type { Timeline } from './series.ts';
import { Cursor, HOUR_MS, segmentAt } from './series.ts';

/** When and how long a job may run. */
export interface ShiftRequest {
  /** Earliest start (submission or now), ms since the epoch. */
  readonly startMs: number;
  /** The job must have finished by then. */
  readonly deadlineMs: number;
  /** Run time the job needs. */
  readonly durationMs: number;
  /** Constant power draw in kW used for grams (or cost); default 1 kW, i.e. figures per kW. */
  readonly powerKW?: number;
}

/** Options of the interruptible variant. */
export interface SlotOptions {
  /**
   * Cut the horizon into slots of this length from startMs (e.g. 30 min) in addition to the
   * series' own steps, so the job is paused and resumed only on slot boundaries. Default: only
   * the series' steps.
   */
  readonly slotMs?: number;
}

/** One uninterrupted stretch of running. */
export interface Run {
  readonly startMs: number;
  readonly endMs: number;
}

/** The chosen schedule and why: what it costs and what running now would have cost. */
export interface Schedule {
  readonly kind: 'contiguous' | 'interruptible';
  /** Ordered, non-overlapping; exactly one for a contiguous schedule. */
  readonly runs: readonly Run[];
  readonly startMs: number;
  readonly finishMs: number;
  readonly durationMs: number;
  /** Time-weighted mean value (gCO2eq/kWh for carbon) over the runs. */
  readonly meanValue: number;
  /** powerKW × ∫ value dt in hours: grams of CO2eq for carbon (currency for price). */
  readonly total: number;
  /** Running immediately for durationMs from startMs; null when the data does not cover it. */
  readonly runNow: { readonly startMs: number; readonly finishMs: number; readonly meanValue: number; readonly total: number } | null;
  /** 1 − total / runNow.total; null without a run-now figure or when it is 0. */
  readonly savedFraction: number | null;
  /** Start of the first run minus the earliest start. */
  readonly delayMs: number;
  /** Candidate starts (contiguous) or slots (interruptible) evaluated. */
  readonly candidates: number;
}

const fmt = (ms: number): string => (Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? new Date(ms).toISOString() : String(ms));

/**
 * Validates a request on its own (finite times, positive duration, deadline after start, window
 * fits the horizon) and returns the power in kW; the messages say what to change.
 * @throws StrataError bad_request.
 */
export function checkShiftRequest(r: ShiftRequest): number {
  const fields: [string, number][] = [
    ['startMs', r.startMs],
    ['deadlineMs', r.deadlineMs],
    ['durationMs', r.durationMs],
  ];
  for (const [name, v] of fields) if (!Number.isFinite(v)) throw badRequest(`${name} must be a finite number of ms (got ${String(v)})`, { field: name });
  const power = r.powerKW ?? 1;
  if (!Number.isFinite(power) || power < 0) throw badRequest(`powerKW must be a number ≥ 0 (got ${String(r.powerKW)})`, { field: 'powerKW' });
  if (!(r.durationMs > 0)) throw badRequest(`durationMs must be > 0 (got ${r.durationMs})`, { field: 'durationMs' });
  if (r.deadlineMs < r.startMs) throw badRequest(`deadline ${fmt(r.deadlineMs)} is before the earliest start ${fmt(r.startMs)}`, { field: 'deadlineMs' });
  if (r.durationMs > r.deadlineMs - r.startMs) {
    throw badRequest(`a ${r.durationMs / 60_000} min window does not fit between ${fmt(r.startMs)} and the deadline ${fmt(r.deadlineMs)} (${(r.deadlineMs - r.startMs) / 60_000} min); move the deadline or shorten the job`, {
      field: 'durationMs',
    });
  }
  return power;
}

/** {@link checkShiftRequest} plus: the horizon overlaps the timeline's data. */
export function checkRequest(tl: Timeline, r: ShiftRequest): number {
  const power = checkShiftRequest(r);
  if (r.deadlineMs <= tl.fromMs || r.startMs >= tl.toMs) {
    throw badRequest(`${tl.label} has data for ${fmt(tl.fromMs)}..${fmt(tl.toMs)}, which does not overlap ${fmt(r.startMs)}..${fmt(r.deadlineMs)}`, { series: tl.label });
  }
  return power;
}

function runNowOf(tl: Timeline, r: ShiftRequest, power: number): Schedule['runNow'] {
  const a = new Cursor(tl, r.startMs).at(r.startMs);
  const [fa, ga] = [a.area, a.gap];
  const b = new Cursor(tl, r.startMs + r.durationMs).at(r.startMs + r.durationMs);
  if (b.gap - ga > 0) return null;
  const area = b.area - fa;
  return { startMs: r.startMs, finishMs: r.startMs + r.durationMs, meanValue: area / r.durationMs, total: (power * area) / HOUR_MS };
}

const saved = (total: number, runNow: Schedule['runNow']): number | null => (runNow === null || runNow.total === 0 ? null : 1 - total / runNow.total);

/**
 * The contiguous window of `durationMs` within [startMs, deadlineMs] with the lowest mean value
 * (the Carbon Aware SDK's optimal forecast data point). Exact over all real start times: the
 * window integral is piecewise linear in the start, with kinks where the start or the end crosses
 * a segment bound, so only those starts (and the two ends of the range) are evaluated — a merged
 * walk over the bounds, O(k + log n) for k segments in the horizon. Windows touching missing data
 * are skipped. Ties go to the earliest start (less waiting).
 * @throws StrataError bad_request for invalid requests, or when no window has complete data.
 */
export function bestWindow(tl: Timeline, r: ShiftRequest): Schedule {
  const power = checkRequest(tl, r);
  const d = r.durationMs;
  const lo = r.startMs;
  const hi = r.deadlineMs - d; // latest start
  const b = tl.bounds;
  const nb = b.length;
  // Two sorted candidate streams: bounds themselves (window start on a bound) and bounds − d
  // (window end on a bound), restricted to (lo, hi); plus lo and hi.
  let ia = Math.max(0, segmentAt(tl, lo) + 1);
  let ib = Math.max(0, segmentAt(tl, lo + d) + 1);
  const startCur = new Cursor(tl, lo);
  const endCur = new Cursor(tl, lo + d);
  let best = Number.POSITIVE_INFINITY;
  let bestStart = Number.NaN;
  let evaluated = 0;
  let prev = Number.NaN;
  const consider = (s: number): void => {
    if (s === prev) return;
    prev = s;
    evaluated++;
    startCur.at(s);
    endCur.at(s + d);
    if (endCur.gap - startCur.gap > 0) return;
    const cost = endCur.area - startCur.area;
    if (Number.isNaN(bestStart) || cost < best - 1e-12 * Math.abs(best)) {
      best = cost;
      bestStart = s;
    }
  };
  consider(lo);
  for (;;) {
    const a = ia < nb ? (b[ia] as number) : Number.POSITIVE_INFINITY;
    const e = ib < nb ? (b[ib] as number) - d : Number.POSITIVE_INFINITY;
    const s = Math.min(a, e);
    if (!(s < hi)) break;
    if (s > lo) consider(s);
    if (a === s) ia++;
    if (e === s) ib++;
  }
  if (hi > lo) consider(hi);
  if (Number.isNaN(bestStart)) {
    throw badRequest(`${tl.label}: no ${d / 60_000} min window between ${fmt(lo)} and ${fmt(r.deadlineMs)} has complete data (data covers ${fmt(tl.fromMs)}..${fmt(tl.toMs)} with gaps); widen the range or fill the series`, {
      series: tl.label,
    });
  }
  const runNow = runNowOf(tl, r, power);
  const total = (power * best) / HOUR_MS;
  return {
    kind: 'contiguous',
    runs: [{ startMs: bestStart, endMs: bestStart + d }],
    startMs: bestStart,
    finishMs: bestStart + d,
    durationMs: d,
    meanValue: best / d,
    total,
    runNow,
    savedFraction: saved(total, runNow),
    delayMs: bestStart - lo,
    candidates: evaluated,
  };
}

interface Piece {
  start: number;
  end: number;
  value: number;
}

/**
 * The interruptible variant: runs in the lowest-valued pieces of [startMs, deadlineMs) until
 * `durationMs` is covered — non-contiguous in general. Pieces are the series' segments, cut
 * further at `slotMs` boundaries from startMs when given; the last piece taken may be used in
 * part (its beginning). Ties go to the earlier piece. Adjacent pieces merge into one run.
 * O(k log k) for k pieces in the horizon.
 * @throws StrataError bad_request for invalid requests, or when the horizon holds less than
 * durationMs of data.
 */
export function bestSlots(tl: Timeline, r: ShiftRequest, options: SlotOptions = {}): Schedule {
  const power = checkRequest(tl, r);
  const slot = options.slotMs;
  if (slot !== undefined && (!Number.isFinite(slot) || slot <= 0)) throw badRequest(`slotMs must be > 0 (got ${String(slot)})`, { field: 'slotMs' });
  const lo = Math.max(r.startMs, tl.fromMs);
  const hi = Math.min(r.deadlineMs, tl.toMs);
  const pieces: Piece[] = [];
  let i = Math.max(0, segmentAt(tl, lo));
  let t = lo;
  let nextSlot = slot === undefined ? Number.POSITIVE_INFINITY : r.startMs + Math.floor((lo - r.startMs) / slot + 1) * slot;
  while (t < hi) {
    while ((tl.bounds[i + 1] as number) <= t) i++;
    const end = Math.min(hi, tl.bounds[i + 1] as number, nextSlot);
    const v = tl.values[i] as number;
    if (!Number.isNaN(v)) pieces.push({ start: t, end, value: v });
    if (end === nextSlot) nextSlot += slot ?? 0;
    t = end;
  }
  let available = 0;
  for (const p of pieces) available += p.end - p.start;
  if (available < r.durationMs) {
    throw badRequest(`${tl.label}: only ${Math.round(available / 60_000)} min of data between ${fmt(r.startMs)} and ${fmt(r.deadlineMs)}; the job needs ${r.durationMs / 60_000} min`, { series: tl.label });
  }
  const order = pieces.map((_, k) => k).sort((x, y) => (pieces[x] as Piece).value - (pieces[y] as Piece).value || x - y);
  const chosen: Piece[] = [];
  let remaining = r.durationMs;
  for (const k of order) {
    if (remaining <= 0) break;
    const p = pieces[k] as Piece;
    const len = Math.min(remaining, p.end - p.start);
    chosen.push({ start: p.start, end: p.start + len, value: p.value });
    remaining -= len;
  }
  chosen.sort((x, y) => x.start - y.start);
  const runs: Run[] = [];
  let area = 0;
  for (const p of chosen) {
    area += p.value * (p.end - p.start);
    const last = runs[runs.length - 1];
    if (last !== undefined && last.endMs === p.start) runs[runs.length - 1] = { startMs: last.startMs, endMs: p.end };
    else runs.push({ startMs: p.start, endMs: p.end });
  }
  const first = runs[0] as Run;
  const lastRun = runs[runs.length - 1] as Run;
  const runNow = runNowOf(tl, r, power);
  const total = (power * area) / HOUR_MS;
  return {
    kind: 'interruptible',
    runs,
    startMs: first.startMs,
    finishMs: lastRun.endMs,
    durationMs: r.durationMs,
    meanValue: area / r.durationMs,
    total,
    runNow,
    savedFraction: saved(total, runNow),
    delayMs: first.startMs - r.startMs,
    candidates: pieces.length,
  };
}

/**
 * powerKW × ∫ value dt (hours) over given runs on another timeline (the carbon or the price of a
 * schedule chosen on a combined score), or null when the data does not cover every run.
 */
export function totalOverRuns(tl: Timeline, runs: readonly Run[], powerKW = 1): number | null {
  let area = 0;
  for (const run of runs) {
    const a = new Cursor(tl, run.startMs).at(run.startMs);
    const [fa, ga] = [a.area, a.gap];
    const b = new Cursor(tl, run.endMs).at(run.endMs);
    if (b.gap - ga > 0) return null;
    area += b.area - fa;
  }
  return (powerKW * area) / HOUR_MS;
}
