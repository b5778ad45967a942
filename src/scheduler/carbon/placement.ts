// Spatial and spatio-temporal choice across regions: the best location for a given time and
// duration (Carbon Aware SDK's "best location"), and the combined choice of region and start
// time (or interruptible slots) that minimises carbon, cost (region price multiplier × energy
// price) or a weighted mix of the two. Every answer carries its explanation: the chosen region
// and runs, expected emissions and cost against running now in the home region, and each
// region's best option. Pure: timelines in, decisions out.
import { badRequest, isStrataError } from '../../kernel/index.ts';
import type { Timeline } from './series.ts';
import { HOUR_MS, combineTimelines, constantTimeline, meanOver } from './series.ts';
import type { Run, Schedule, ShiftRequest, SlotOptions } from './shift.ts';
import { bestSlots, bestWindow, checkShiftRequest, totalOverRuns } from './shift.ts';

/** A region's carbon-intensity timeline under its name. */
export interface RegionTimeline {
  readonly region: string;
  readonly timeline: Timeline;
}

/** Request of {@link bestLocation}. */
export interface LocationRequest {
  readonly startMs: number;
  readonly durationMs: number;
  /** Constant draw in kW; default 1 (figures per kW). */
  readonly powerKW?: number;
}

/** One region's figure for a fixed window. */
export interface LocationOption {
  readonly region: string;
  /** Mean intensity over the window, gCO2eq/kWh. */
  readonly meanIntensity: number;
  /** powerKW × mean × hours. */
  readonly emissionsG: number;
}

/** Result of {@link bestLocation}: ranked best first; regions without data listed apart. */
export interface LocationChoice {
  readonly best: LocationOption;
  readonly ranking: readonly LocationOption[];
  readonly unavailable: readonly string[];
  readonly startMs: number;
  readonly endMs: number;
}

const fmt = (ms: number): string => (Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? new Date(ms).toISOString() : String(ms));

function checkRegions(names: readonly string[]): void {
  if (names.length === 0) throw badRequest('give at least one region to choose from', { field: 'regions' });
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw badRequest(`region '${n}' is listed twice`, { region: n });
    seen.add(n);
  }
}

/**
 * The region with the lowest mean carbon intensity over [startMs, startMs + durationMs).
 * Ties keep the given order. Regions whose data does not cover the window are reported as
 * unavailable.
 * @throws StrataError bad_request for an invalid request or when no region has data for it.
 */
export function bestLocation(regions: readonly RegionTimeline[], r: LocationRequest): LocationChoice {
  checkRegions(regions.map((x) => x.region));
  if (!Number.isFinite(r.startMs)) throw badRequest(`startMs must be a finite number of ms (got ${String(r.startMs)})`, { field: 'startMs' });
  if (!Number.isFinite(r.durationMs) || !(r.durationMs > 0)) throw badRequest(`durationMs must be > 0 (got ${String(r.durationMs)})`, { field: 'durationMs' });
  const power = r.powerKW ?? 1;
  if (!Number.isFinite(power) || power < 0) throw badRequest(`powerKW must be a number ≥ 0 (got ${String(r.powerKW)})`, { field: 'powerKW' });
  const end = r.startMs + r.durationMs;
  const ranking: LocationOption[] = [];
  const unavailable: string[] = [];
  for (const { region, timeline } of regions) {
    const mean = meanOver(timeline, r.startMs, end);
    if (mean === null) unavailable.push(region);
    else ranking.push({ region, meanIntensity: mean, emissionsG: (power * mean * r.durationMs) / HOUR_MS });
  }
  const best = ranking.slice().sort((a, b) => a.meanIntensity - b.meanIntensity)[0];
  if (best === undefined) throw badRequest(`no region has carbon data for ${fmt(r.startMs)}..${fmt(end)} (${unavailable.join(', ')})`, { regions: unavailable });
  return { best, ranking: ranking.slice().sort((a, b) => a.meanIntensity - b.meanIntensity), unavailable, startMs: r.startMs, endMs: end };
}

/** A region the job may run in, with what running there costs. */
export interface RegionOption {
  readonly region: string;
  /** Carbon intensity, gCO2eq/kWh. */
  readonly carbon: Timeline;
  /** Energy price per kWh: flat, or a timeline (e.g. day-ahead prices). Needed when cost counts. */
  readonly price?: number | Timeline;
  /** Region's price multiplier (cloud region premium, spot discount); default 1. */
  readonly priceMultiplier?: number;
}

/** What to minimise. Weighted: Σ weight × (value / home run-now value), so the units cancel. */
export type PlacementObjective =
  | { readonly kind: 'carbon' }
  | { readonly kind: 'cost' }
  | { readonly kind: 'weighted'; readonly carbonWeight: number; readonly costWeight: number };

/** A job that may wait and may move. */
export interface PlacementRequest extends ShiftRequest, SlotOptions {
  readonly objective: PlacementObjective;
  /** Run in the lowest-score pieces before the deadline instead of one window. */
  readonly interruptible?: boolean;
  /** The region the job would run in now (the baseline); default the first option. */
  readonly homeRegion?: string;
}

/** One region's best schedule under the objective. */
export interface RegionPlan {
  readonly region: string;
  readonly schedule: Schedule;
  readonly emissionsG: number;
  /** null when no price was given for the region. */
  readonly cost: number | null;
  /** The objective's value (grams, currency, or the normalised weighted score). */
  readonly score: number;
}

/** The decision with its explanation. */
export interface PlacementChoice {
  readonly region: string;
  readonly schedule: Schedule;
  readonly emissionsG: number;
  readonly cost: number | null;
  readonly score: number;
  /** Running now in the home region: the baseline every saving is measured against. */
  readonly runNow: { readonly region: string; readonly startMs: number; readonly finishMs: number; readonly emissionsG: number | null; readonly cost: number | null };
  readonly savedEmissionsFraction: number | null;
  readonly savedCostFraction: number | null;
  /** Each region's best plan, best first; regions without a feasible plan with the reason. */
  readonly plans: readonly RegionPlan[];
  readonly infeasible: readonly { readonly region: string; readonly reason: string }[];
}

function priceTimeline(o: RegionOption, horizon: { fromMs: number; toMs: number }): Timeline | null {
  if (o.price === undefined) return null;
  const mult = o.priceMultiplier ?? 1;
  if (!Number.isFinite(mult) || mult < 0) throw badRequest(`region '${o.region}': priceMultiplier must be a number ≥ 0 (got ${String(o.priceMultiplier)})`, { region: o.region });
  if (typeof o.price === 'number') {
    if (!Number.isFinite(o.price)) throw badRequest(`region '${o.region}': price must be a finite number (got ${String(o.price)})`, { region: o.region });
    return constantTimeline(o.price * mult, o.carbon.fromMs, o.carbon.toMs, `${o.region} price`);
  }
  if (mult === 1) return o.price;
  const from = Math.max(horizon.fromMs, o.price.fromMs);
  const to = Math.min(horizon.toMs, o.price.toMs);
  // A price series that misses the horizon stays as it is: the search then reports the region infeasible.
  return to > from ? combineTimelines([{ timeline: o.price, weight: mult }], `${o.region} price`, { fromMs: from, toMs: to }) : o.price;
}

/**
 * Chooses region and start time (or slots, when interruptible) minimising the objective, within
 * [startMs, deadlineMs]. For each region the objective is a step function — carbon intensity,
 * multiplier × price, or their normalised weighted sum — and the same sliding-window (or
 * lowest-slots) search runs on it; the region with the lowest score wins, ties going to the
 * earlier start, then to the home region, then to the given order.
 * Weighted scores divide carbon and cost by the home region's run-now mean intensity and price
 * (falling back to the mean over the regions that have one, then to 1), so the weights compare
 * relative changes.
 * @throws StrataError bad_request for invalid input, a cost objective without prices, or when
 * no region has a feasible plan.
 */
export function bestPlacement(options: readonly RegionOption[], r: PlacementRequest): PlacementChoice {
  checkRegions(options.map((o) => o.region));
  const home = r.homeRegion ?? (options[0] as RegionOption).region;
  const homeOpt = options.find((o) => o.region === home);
  if (homeOpt === undefined) throw badRequest(`homeRegion '${home}' is not among the options (${options.map((o) => o.region).join(', ')})`, { field: 'homeRegion' });
  const power = checkShiftRequest(r);
  if (r.slotMs !== undefined && (!Number.isFinite(r.slotMs) || r.slotMs <= 0)) throw badRequest(`slotMs must be > 0 (got ${String(r.slotMs)})`, { field: 'slotMs' });
  const obj = r.objective;
  let wC = 0;
  let wP = 0;
  switch (obj.kind) {
    case 'carbon':
      wC = 1;
      break;
    case 'cost':
      wP = 1;
      break;
    case 'weighted':
      wC = obj.carbonWeight;
      wP = obj.costWeight;
      if (!Number.isFinite(wC) || !Number.isFinite(wP) || wC < 0 || wP < 0 || wC + wP === 0) {
        throw badRequest(`weights must be numbers ≥ 0, not both 0 (got carbon ${String(wC)}, cost ${String(wP)})`, { field: 'objective' });
      }
      break;
  }
  const horizon = { fromMs: r.startMs, toMs: r.deadlineMs };
  const prices = new Map<string, Timeline | null>(options.map((o) => [o.region, priceTimeline(o, horizon)]));
  if (wP > 0) {
    const missing = options.filter((o) => prices.get(o.region) === null).map((o) => o.region);
    if (missing.length > 0) throw badRequest(`the objective counts cost but no price was given for ${missing.join(', ')}`, { regions: missing });
  }
  const nowEnd = r.startMs + r.durationMs;
  // Normalisers for the weighted score: home run-now means, else the regions' average.
  const norm = (get: (o: RegionOption) => number | null): number => {
    const h = get(homeOpt);
    if (h !== null && h > 0) return h;
    const xs = options.map(get).filter((x): x is number => x !== null && x > 0);
    return xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : 1;
  };
  const refC = obj.kind === 'weighted' ? norm((o) => meanOver(o.carbon, r.startMs, nowEnd)) : 1;
  const refP = obj.kind === 'weighted' && wP > 0 ? norm((o) => meanOver(prices.get(o.region) as Timeline, r.startMs, nowEnd)) : 1;

  const plans: RegionPlan[] = [];
  const infeasible: { region: string; reason: string }[] = [];
  for (const o of options) {
    const price = prices.get(o.region) ?? null;
    let schedule: Schedule;
    try {
      // Carbon or cost alone search the region's own timeline; a mix searches the weighted sum
      // over the horizon only. (A uniform scale does not change the choice, only the score.)
      let scoreTl: Timeline;
      if (wP === 0) scoreTl = o.carbon;
      else if (wC === 0) scoreTl = price as Timeline;
      else {
        const terms = [
          { timeline: o.carbon, weight: wC / refC },
          { timeline: price as Timeline, weight: wP / refP },
        ];
        scoreTl = combineTimelines(terms, `${o.region} score`, horizon);
      }
      const req: ShiftRequest = { startMs: r.startMs, deadlineMs: r.deadlineMs, durationMs: r.durationMs, powerKW: power };
      schedule = r.interruptible === true ? bestSlots(scoreTl, req, r.slotMs === undefined ? {} : { slotMs: r.slotMs }) : bestWindow(scoreTl, req);
    } catch (e) {
      // The request itself was checked above: what fails here is this region's data.
      if (!isStrataError(e)) throw e;
      infeasible.push({ region: o.region, reason: e.message });
      continue;
    }
    const emissionsG = totalOverRuns(o.carbon, schedule.runs, power);
    if (emissionsG === null) {
      infeasible.push({ region: o.region, reason: `${o.carbon.label} has no carbon data for the chosen runs` });
      continue;
    }
    const cost = price === null ? null : totalOverRuns(price, schedule.runs, power);
    const score = obj.kind !== 'weighted' ? schedule.total : wP === 0 ? (wC / refC) * schedule.total : wC === 0 ? (wP / refP) * schedule.total : schedule.total;
    plans.push({ region: o.region, schedule, emissionsG, cost, score });
  }
  const rank = new Map(options.map((o, i) => [o.region, o.region === home ? -1 : i]));
  plans.sort((a, b) => {
    const tol = 1e-12 * Math.max(Math.abs(a.score), Math.abs(b.score));
    if (Math.abs(a.score - b.score) > tol) return a.score - b.score;
    return a.schedule.startMs - b.schedule.startMs || (rank.get(a.region) ?? 0) - (rank.get(b.region) ?? 0);
  });
  const best = plans[0];
  if (best === undefined) {
    throw badRequest(`no region can run the job between ${fmt(r.startMs)} and ${fmt(r.deadlineMs)}: ${infeasible.map((x) => `${x.region}: ${x.reason}`).join('; ')}`, { regions: infeasible.map((x) => x.region) });
  }
  const nowRuns: Run[] = [{ startMs: r.startMs, endMs: nowEnd }];
  const homePrice = prices.get(home) ?? null;
  const nowEmissions = totalOverRuns(homeOpt.carbon, nowRuns, power);
  const nowCost = homePrice === null ? null : totalOverRuns(homePrice, nowRuns, power);
  const frac = (x: number | null, base: number | null): number | null => (x === null || base === null || base === 0 ? null : 1 - x / base);
  return {
    region: best.region,
    schedule: best.schedule,
    emissionsG: best.emissionsG,
    cost: best.cost,
    score: best.score,
    runNow: { region: home, startMs: r.startMs, finishMs: nowEnd, emissionsG: nowEmissions, cost: nowCost },
    savedEmissionsFraction: frac(best.emissionsG, nowEmissions),
    savedCostFraction: frac(best.cost, nowCost),
    plans,
    infeasible,
  };
}
