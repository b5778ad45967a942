// Answers shaped like the Green Software Foundation Carbon Aware SDK's WebAPI, so clients written
// for it work against Strata's `GET /api/v1/carbon/best-window` and `/best-location`:
// - `/emissions/forecasts/current?location=&dataStartAt=&dataEndAt=&windowSize=` →
//   EmissionsForecast { requestedAt, generatedAt, location, dataStartAt, dataEndAt, windowSize,
//   optimalDataPoints[{ location, timestamp, duration, value }], forecastData[...] };
// - `/emissions/bylocations/best?location=…&time=&toTime=` → EmissionsData[{ location, time,
//   rating, duration }].
// Times are ISO-8601 UTC strings; windowSize and data-point durations are minutes as in the SDK;
// EmissionsData.duration is a .NET TimeSpan string ("hh:mm:ss"). Pure: the caller passes "now".
import { badRequest, isStrataError } from '../../kernel/index.ts';
import type { Timeline } from './series.ts';
import { segmentAt } from './series.ts';
import type { RegionTimeline } from './placement.ts';
import { bestWindow, checkShiftRequest } from './shift.ts';

/** The SDK's EmissionsData. */
export interface CaEmissionsData {
  readonly location: string;
  readonly time: string;
  /** gCO2eq/kWh. */
  readonly rating: number;
  /** TimeSpan, "hh:mm:ss" (days as "d.hh:mm:ss"). */
  readonly duration: string;
}

/** The SDK's EmissionsDataPoint in forecasts. */
export interface CaForecastDataPoint {
  readonly location: string;
  readonly timestamp: string;
  /** Minutes. */
  readonly duration: number;
  /** gCO2eq/kWh; for the optimal point, the mean over the window. */
  readonly value: number;
}

/** The SDK's EmissionsForecast. */
export interface CaEmissionsForecast {
  readonly requestedAt: string;
  readonly generatedAt: string;
  readonly location: string;
  readonly dataStartAt: string;
  readonly dataEndAt: string;
  /** Minutes. */
  readonly windowSize: number;
  readonly optimalDataPoints: readonly CaForecastDataPoint[];
  readonly forecastData: readonly CaForecastDataPoint[];
}

/** Query of {@link caForecastCurrent}; times in ms since the epoch. */
export interface CaForecastQuery {
  /** Default: the start of the data. */
  readonly dataStartAt?: number;
  /** Default: the end of the data. The window must end by then. */
  readonly dataEndAt?: number;
  /** Minutes; default one step of the series. */
  readonly windowSize?: number;
  /** When the request was made (the caller's clock). */
  readonly requestedAt: number;
  /** When the forecast was produced; default requestedAt. */
  readonly generatedAt?: number;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** .NET TimeSpan text for a whole number of seconds. */
export function timeSpan(ms: number): string {
  const total = Math.round(ms / 1000);
  const d = Math.floor(total / 86_400);
  const h = Math.floor((total % 86_400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const hms = [h, m, s].map((x) => String(x).padStart(2, '0')).join(':');
  return d > 0 ? `${d}.${hms}` : hms;
}

function checkWindowSize(minutes: number): number {
  if (!Number.isFinite(minutes) || minutes <= 0) throw badRequest(`windowSize must be a number of minutes > 0 (got ${String(minutes)})`, { field: 'windowSize' });
  return minutes * 60_000;
}

/** The series' data points overlapping [from, to), clipped to it, as forecast data points. */
function dataPoints(location: string, tl: Timeline, from: number, to: number): CaForecastDataPoint[] {
  const out: CaForecastDataPoint[] = [];
  for (let i = Math.max(0, segmentAt(tl, from)); i < tl.values.length && (tl.bounds[i] as number) < to; i++) {
    const a = Math.max(from, tl.bounds[i] as number);
    const b = Math.min(to, tl.bounds[i + 1] as number);
    const v = tl.values[i] as number;
    if (b <= a || Number.isNaN(v)) continue;
    out.push({ location, timestamp: iso(a), duration: (b - a) / 60_000, value: v });
  }
  return out;
}

/**
 * `/emissions/forecasts/current` for one location: the optimal window of `windowSize` minutes
 * within [dataStartAt, dataEndAt] and the data points in that range.
 * @throws StrataError bad_request for a bad window size or range (see {@link bestWindow}).
 */
export function caForecastCurrent(location: string, tl: Timeline, q: CaForecastQuery): CaEmissionsForecast {
  const from = q.dataStartAt ?? tl.fromMs;
  const to = q.dataEndAt ?? tl.toMs;
  const windowMs = q.windowSize === undefined ? tl.stepMs : checkWindowSize(q.windowSize);
  const best = bestWindow(tl, { startMs: from, deadlineMs: to, durationMs: windowMs });
  return {
    requestedAt: iso(q.requestedAt),
    generatedAt: iso(q.generatedAt ?? q.requestedAt),
    location,
    dataStartAt: iso(from),
    dataEndAt: iso(to),
    windowSize: windowMs / 60_000,
    optimalDataPoints: [{ location, timestamp: iso(best.startMs), duration: windowMs / 60_000, value: best.meanValue }],
    forecastData: dataPoints(location, tl, from, to),
  };
}

/** Query of {@link caBestByLocations}. */
export interface CaBestQuery {
  readonly time: number;
  readonly toTime: number;
  /** Minutes; default one step of the first region's series. */
  readonly windowSize?: number;
}

/**
 * `/emissions/bylocations/best`: the lowest-intensity (location, time) over the locations within
 * [time, toTime], as a one-element EmissionsData array (several when exactly tied). With a
 * windowSize the rating is the mean over a window of that length, so this is the spatio-temporal
 * "best place and time" for a job of that duration. Locations whose data does not cover any
 * window are skipped.
 * @throws StrataError bad_request when no location has a window with data.
 */
export function caBestByLocations(regions: readonly RegionTimeline[], q: CaBestQuery): CaEmissionsData[] {
  if (regions.length === 0) throw badRequest('give at least one location', { field: 'location' });
  const windowMs = q.windowSize === undefined ? (regions[0] as RegionTimeline).timeline.stepMs : checkWindowSize(q.windowSize);
  const request = { startMs: q.time, deadlineMs: q.toTime, durationMs: windowMs };
  checkShiftRequest(request);
  const found: { location: string; startMs: number; mean: number }[] = [];
  const reasons: string[] = [];
  for (const { region, timeline } of regions) {
    try {
      const w = bestWindow(timeline, request);
      found.push({ location: region, startMs: w.startMs, mean: w.meanValue });
    } catch (e) {
      // The request was checked above: what fails here is this location's data.
      if (!isStrataError(e)) throw e;
      reasons.push(`${region}: ${e.message}`);
    }
  }
  if (found.length === 0) throw badRequest(`no location has data for a ${windowMs / 60_000} min window in ${iso(q.time)}..${iso(q.toTime)}: ${reasons.join('; ')}`);
  const min = Math.min(...found.map((f) => f.mean));
  return found.filter((f) => f.mean <= min * (1 + 1e-12)).map((f) => ({ location: f.location, time: iso(f.startMs), rating: f.mean, duration: timeSpan(windowMs) }));
}
