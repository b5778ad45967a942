// Carbon Aware SDK shapes: forecasts/current (optimal window) and bylocations/best.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StrataError } from '../../kernel/index.ts';
import { caBestByLocations, caForecastCurrent, prepareTimeline, timeSpan } from './index.ts';

const T0 = Date.UTC(2022, 6, 19, 14);
const M = 60_000;
const every10 = (label: string, values: number[]) => prepareTimeline({ points: values.map((value, i) => ({ timeMs: T0 + i * 10 * M, value })) }, { label });
const IE = every10('IE', [532, 500, 448, 470, 520, 535]);
const badRequest = (pattern: RegExp) => (e: unknown) => e instanceof StrataError && e.code === 'bad_request' && pattern.test(e.message);

test('forecasts/current: optimal window of windowSize minutes within dataStartAt..dataEndAt', () => {
  const f = caForecastCurrent('northeurope', IE, { dataStartAt: T0 + 10 * M, dataEndAt: T0 + 60 * M, windowSize: 20, requestedAt: T0 - 5 * M, generatedAt: T0 - 7 * M });
  assert.deepEqual(Object.keys(f), ['requestedAt', 'generatedAt', 'location', 'dataStartAt', 'dataEndAt', 'windowSize', 'optimalDataPoints', 'forecastData']);
  assert.equal(f.requestedAt, '2022-07-19T13:55:00.000Z');
  assert.equal(f.generatedAt, '2022-07-19T13:53:00.000Z');
  assert.equal(f.dataStartAt, '2022-07-19T14:10:00.000Z');
  assert.equal(f.windowSize, 20);
  // 20 min windows from 14:10: (500+448)/2 = 474, (448+470)/2 = 459, (470+520)/2 = 495, (520+535)/2.
  assert.deepEqual(f.optimalDataPoints, [{ location: 'northeurope', timestamp: '2022-07-19T14:20:00.000Z', duration: 20, value: 459 }]);
  assert.equal(f.forecastData.length, 5);
  assert.deepEqual(f.forecastData[0], { location: 'northeurope', timestamp: '2022-07-19T14:10:00.000Z', duration: 10, value: 500 });
  // Defaults: the whole series, one step.
  const all = caForecastCurrent('northeurope', IE, { requestedAt: T0 });
  assert.equal(all.windowSize, 10);
  assert.equal(all.optimalDataPoints[0]?.value, 448);
  assert.throws(() => caForecastCurrent('northeurope', IE, { windowSize: 0, requestedAt: T0 }), badRequest(/windowSize must be a number of minutes > 0/));
  assert.throws(() => caForecastCurrent('northeurope', IE, { windowSize: 90, requestedAt: T0 }), badRequest(/does not fit/));
});

test('bylocations/best: the lowest (location, time) as EmissionsData', () => {
  const GB = every10('GB', [300, 200, 440, 440, 440, 440]);
  const best = caBestByLocations(
    [
      { region: 'IE', timeline: IE },
      { region: 'GB', timeline: GB },
    ],
    { time: T0, toTime: T0 + 60 * M, windowSize: 10 },
  );
  assert.deepEqual(best, [{ location: 'GB', time: '2022-07-19T14:10:00.000Z', rating: 200, duration: '00:10:00' }]);
  const window = caBestByLocations([{ region: 'IE', timeline: IE }], { time: T0, toTime: T0 + 60 * M, windowSize: 30 });
  assert.equal(window[0]?.time, '2022-07-19T14:10:00.000Z');
  assert.equal(window[0]?.duration, '00:30:00');
  assert.throws(() => caBestByLocations([], { time: T0, toTime: T0 + H }), badRequest(/at least one location/));
  assert.throws(() => caBestByLocations([{ region: 'IE', timeline: IE }], { time: T0 + 60 * M, toTime: T0, windowSize: 10 }), badRequest(/is before the earliest start/));
  assert.throws(() => caBestByLocations([{ region: 'IE', timeline: IE }], { time: T0 + 10 * 60 * M, toTime: T0 + 11 * 60 * M, windowSize: 10 }), badRequest(/no location has data .*IE: IE has data for/));
});

const H = 3_600_000;

test('timeSpan renders .NET TimeSpan text', () => {
  assert.equal(timeSpan(90 * M), '01:30:00');
  assert.equal(timeSpan(26 * H + 5000), '1.02:00:05');
});
