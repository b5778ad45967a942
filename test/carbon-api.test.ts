// The carbon-aware API (issue 4 item 5) over the example regions' real carbon series: answers in
// the Carbon Aware SDK's shapes, checked against a brute-force scan of the same signals; bad input
// refused with the field named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { ManualClock } from '../src/kernel/index.ts';
import { createCarbonSignal, loadComputeConfig } from '../src/compute/index.ts';
import { startTestPlatform } from './support/platform.ts';

const REGIONS = resolve(import.meta.dirname, '..', 'examples', 'regions.yaml');
const NOW = Date.parse('2026-06-10T00:00:00Z');
const HOUR = 3_600_000;

/** Mean intensity of an hourly signal over [start, start + hours h). */
function meanOver(region: string, start: number, hours: number): number {
  const r = loadComputeConfig(REGIONS).regions.find((x) => x.name === region);
  assert.ok(r !== undefined);
  const s = createCarbonSignal(r.carbon);
  let sum = 0;
  for (let h = 0; h < hours; h++) sum += s.intensityAt(start + h * HOUR).gCO2PerKWh;
  return sum / hours;
}

test('best-window and best-location agree with a brute-force scan of the regions\' series', async () => {
  const tp = await startTestPlatform('sqlite', { clock: new ManualClock(NOW), computeConfigPath: REGIONS });
  try {
    const w = await tp.call('GET', '/api/v1/carbon/best-window?location=east&windowSize=240');
    assert.equal(w.status, 200, w.text);
    const [forecast] = w.body as { location: string; windowSize: number; dataStartAt: string; optimalDataPoints: { timestamp: string; value: number; duration: number }[]; forecastData: unknown[] }[];
    assert.ok(forecast !== undefined);
    assert.equal(forecast.location, 'east');
    assert.equal(forecast.windowSize, 240);
    assert.equal(forecast.dataStartAt, new Date(NOW).toISOString());
    assert.equal(forecast.forecastData.length, 24);
    const best = forecast.optimalDataPoints[0];
    assert.ok(best !== undefined);
    // Brute force over every hourly start in the next 24 h whose 4 h window ends by then.
    let min = Infinity;
    for (let h = 0; h <= 20; h++) min = Math.min(min, meanOver('east', NOW + h * HOUR, 4));
    assert.ok(Math.abs(best.value - min) < 1e-9, `best window mean ${best.value} vs brute force ${min}`);
    assert.ok(Math.abs(best.value - meanOver('east', Date.parse(best.timestamp), 4)) < 1e-9);

    const l = await tp.call('GET', '/api/v1/carbon/best-location?location=east&location=west&windowSize=60');
    assert.equal(l.status, 200, l.text);
    const answers = l.body as { location: string; time: string; rating: number; duration: string }[];
    assert.ok(answers.length >= 1);
    let bestAll = Infinity;
    for (const region of ['east', 'west']) for (let h = 0; h < 24; h++) bestAll = Math.min(bestAll, meanOver(region, NOW + h * HOUR, 1));
    for (const a of answers) {
      assert.ok(['east', 'west'].includes(a.location));
      assert.equal(a.duration, '01:00:00');
      assert.ok(Math.abs(a.rating - bestAll) < 1e-9, `${a.location} ${a.rating} vs ${bestAll}`);
    }

    // Every region when none is named.
    const all = await tp.call('GET', `/api/v1/carbon/best-location?time=${encodeURIComponent(new Date(NOW).toISOString())}&toTime=${encodeURIComponent(new Date(NOW + 48 * HOUR).toISOString())}&windowSize=120`);
    assert.equal(all.status, 200, all.text);
  } finally {
    await tp.close();
  }
});

test('carbon API refuses bad input with the field to fix', async () => {
  const tp = await startTestPlatform('sqlite', { clock: new ManualClock(NOW), computeConfigPath: REGIONS });
  try {
    const cases: [string, number, RegExp][] = [
      ['/api/v1/carbon/best-window?location=mars', 404, /mars/],
      ['/api/v1/carbon/best-window', 400, /location/],
      ['/api/v1/carbon/best-window?location=east&dataStartAt=yesterday', 400, /dataStartAt must be an ISO-8601/],
      ['/api/v1/carbon/best-window?location=east&dataStartAt=2026-06-10T00:00:00Z&dataEndAt=2026-06-09T00:00:00Z', 400, /dataEndAt .* must be after dataStartAt/],
      ['/api/v1/carbon/best-window?location=east&windowSize=0', 400, /windowSize/],
      ['/api/v1/carbon/best-window?location=east&windowSize=2000', 400, /longer|horizon|window/i],
      ['/api/v1/carbon/best-location?time=2020-01-01T00:00:00Z&toTime=2026-01-01T00:00:00Z', 400, /366 days/],
      ['/api/v1/carbon/best-location?location=east&location=..%2F..%2Fetc', 404, /region/],
    ];
    for (const [url, status, message] of cases) {
      const r = await tp.call('GET', url);
      assert.equal(r.status, status, `${url}: ${r.text}`);
      assert.match(r.text, message, url);
    }
    const anonymous = await tp.call('GET', '/api/v1/carbon/best-window?location=east', { token: null });
    assert.equal(anonymous.status, 401);
  } finally {
    await tp.close();
  }
});
