// The carbon-aware API, shaped like the Green Software Foundation Carbon Aware SDK's WebAPI so its
// clients work against Strata (issue 4, item 5):
//   GET /api/v1/carbon/best-location?location=east&location=west&time=…&toTime=…&windowSize=60
//       ≙ /emissions/bylocations/best — the region and start time with the lowest mean intensity
//   GET /api/v1/carbon/best-window?location=east&dataStartAt=…&dataEndAt=…&windowSize=240
//       ≙ /emissions/forecasts/current — the best window of a duration in one region
// Intensities come from each region's configured signal (compute/): CSV series are sampled at
// their own resolution over the requested range. Times are ISO-8601; windowSize is minutes.
import { Type } from '@sinclair/typebox';
import type { Resource } from '../access/index.ts';
import { defineRoute } from '../access/index.ts';
import type { RouteSpec } from '../access/index.ts';
import { badRequest, notFound } from '../kernel/index.ts';
import { caBestByLocations, caForecastCurrent, prepareTimeline, seriesFromSignal } from '../scheduler/index.ts';
import type { RegionTimeline, Timeline } from '../scheduler/index.ts';
import type { JobService } from './job-service.ts';

const PLATFORM: Resource = { kind: 'platform' };
const HOUR_MS = 3_600_000;
/** Default look-ahead when the caller gives no end: one day, like a day-ahead forecast. */
const DEFAULT_HORIZON_MS = 24 * HOUR_MS;
/** Longest range one request may scan (a year of 15-minute points is 35,000 points per region). */
const MAX_RANGE_MS = 366 * 24 * HOUR_MS;

const IsoTime = Type.String({ minLength: 1, maxLength: 64, description: 'ISO-8601 date-time, e.g. 2026-11-22T12:00:00Z' });

function parseTime(value: string | undefined, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw badRequest(`${field} must be an ISO-8601 date-time such as 2026-11-22T12:00:00Z (got '${value}')`, { field });
  return ms;
}

function range(jobs: JobService, from: string | undefined, to: string | undefined, fromField: string, toField: string): { fromMs: number; toMs: number } {
  const fromMs = parseTime(from, fromField, jobs.now());
  const toMs = parseTime(to, toField, fromMs + DEFAULT_HORIZON_MS);
  if (!(toMs > fromMs)) throw badRequest(`${toField} (${new Date(toMs).toISOString()}) must be after ${fromField} (${new Date(fromMs).toISOString()})`, { field: toField });
  if (toMs - fromMs > MAX_RANGE_MS) throw badRequest(`the range ${fromField}..${toField} spans more than 366 days; ask for a shorter one`, { field: toField });
  return { fromMs, toMs };
}

function timeline(jobs: JobService, region: string, fromMs: number, toMs: number): Timeline {
  const signal = jobs.carbonSignal(region);
  if (signal === undefined) throw notFound('region', region);
  const step = signal.resolutionMs ?? HOUR_MS;
  // Sample from the step boundary at or before the start so the windows line up with the data.
  const start = Math.floor(fromMs / step) * step;
  return prepareTimeline(seriesFromSignal(signal, start, toMs, step), { label: `region ${region}` });
}

export function carbonRoutes(deps: { readonly jobs: JobService }): RouteSpec[] {
  const { jobs } = deps;
  const locations = (given: readonly string[] | undefined): string[] => {
    const names = given === undefined || given.length === 0 ? jobs.compute.regions.map((r) => r.name) : [...new Set(given)];
    for (const n of names) if (jobs.carbonSignal(n) === undefined) throw notFound('region', n);
    return names;
  };
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/carbon/best-location',
      summary: 'Best region and start time by carbon intensity (Carbon Aware SDK /emissions/bylocations/best)',
      tags: ['carbon'],
      schema: {
        querystring: Type.Object(
          {
            location: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 63 }), { maxItems: 64, description: 'region names; default all regions' })),
            time: Type.Optional(IsoTime),
            toTime: Type.Optional(IsoTime),
            windowSize: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 366 * 24 * 60, description: 'minutes the work runs; default one step of the series' })),
          },
          { additionalProperties: false },
        ),
      },
      authz: { action: 'carbon.read', resource: () => PLATFORM },
      handler: ({ query }) => {
        const { fromMs, toMs } = range(jobs, query.time, query.toTime, 'time', 'toTime');
        const regions: RegionTimeline[] = locations(query.location).map((region) => ({ region, timeline: timeline(jobs, region, fromMs, toMs) }));
        return Promise.resolve(caBestByLocations(regions, { time: fromMs, toTime: toMs, ...(query.windowSize === undefined ? {} : { windowSize: query.windowSize }) }));
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/carbon/best-window',
      summary: 'Best time window of a duration in one region (Carbon Aware SDK /emissions/forecasts/current)',
      tags: ['carbon'],
      schema: {
        querystring: Type.Object(
          {
            location: Type.String({ minLength: 1, maxLength: 63, description: 'region name' }),
            dataStartAt: Type.Optional(IsoTime),
            dataEndAt: Type.Optional(IsoTime),
            windowSize: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 366 * 24 * 60, description: 'minutes the work runs; default one step of the series' })),
          },
          { additionalProperties: false },
        ),
      },
      authz: { action: 'carbon.read', resource: () => PLATFORM },
      handler: ({ query }) => {
        const [region] = locations([query.location]);
        const { fromMs, toMs } = range(jobs, query.dataStartAt, query.dataEndAt, 'dataStartAt', 'dataEndAt');
        const tl = timeline(jobs, region as string, fromMs, toMs);
        const forecast = caForecastCurrent(region as string, tl, {
          dataStartAt: fromMs,
          dataEndAt: toMs,
          requestedAt: jobs.now(),
          ...(query.windowSize === undefined ? {} : { windowSize: query.windowSize }),
        });
        // The SDK answers an array of forecasts (one per location).
        return Promise.resolve([forecast]);
      },
    }),
  ];
}
