// Spatial and spatio-temporal placement: best location, carbon / cost / weighted objectives,
// price multipliers, interruptible across regions, infeasible regions and errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StrataError } from '../../kernel/index.ts';
import { bestLocation, bestPlacement, prepareTimeline } from './index.ts';
import type { RegionOption } from './index.ts';

const T0 = Date.UTC(2024, 0, 1);
const H = 3_600_000;
const hourly = (label: string, values: number[], from = T0) => prepareTimeline({ points: values.map((value, i) => ({ timeMs: from + i * H, value })) }, { label });
const badRequest = (pattern: RegExp) => (e: unknown) => e instanceof StrataError && e.code === 'bad_request' && pattern.test(e.message);

// DE dirty but with a dip, FR clean and flat, GB in between; ES covers only later hours.
const DE = hourly('DE', [400, 300, 100, 350, 400, 400]);
const FR = hourly('FR', [60, 60, 60, 60, 60, 60]);
const GB = hourly('GB', [200, 150, 250, 90, 100, 300]);
const ES = hourly('ES', [100, 100], T0 + 4 * H);

test('best location for a fixed window ranks regions by mean intensity', () => {
  const c = bestLocation(
    [
      { region: 'DE', timeline: DE },
      { region: 'GB', timeline: GB },
      { region: 'FR', timeline: FR },
      { region: 'ES', timeline: ES },
    ],
    { startMs: T0, durationMs: 2 * H, powerKW: 3 },
  );
  assert.equal(c.best.region, 'FR');
  assert.deepEqual(
    c.ranking.map((x) => [x.region, x.meanIntensity]),
    [
      ['FR', 60],
      ['GB', 175],
      ['DE', 350],
    ],
  );
  assert.equal(c.best.emissionsG, 3 * 60 * 2);
  assert.deepEqual(c.unavailable, ['ES']);
  assert.throws(() => bestLocation([{ region: 'ES', timeline: ES }], { startMs: T0, durationMs: H }), badRequest(/no region has carbon data for .* \(ES\)/));
  assert.throws(() => bestLocation([], { startMs: T0, durationMs: H }), badRequest(/at least one region/));
  assert.throws(() => bestLocation([{ region: 'DE', timeline: DE }, { region: 'DE', timeline: FR }], { startMs: T0, durationMs: H }), badRequest(/region 'DE' is listed twice/));
  assert.throws(() => bestLocation([{ region: 'DE', timeline: DE }], { startMs: T0, durationMs: Number.NaN }), badRequest(/durationMs must be > 0/));
});

test('carbon objective: region and time chosen together, explained against running now at home', () => {
  const opts: RegionOption[] = [
    { region: 'DE', carbon: DE },
    { region: 'GB', carbon: GB },
  ];
  const c = bestPlacement(opts, { startMs: T0, deadlineMs: T0 + 6 * H, durationMs: 2 * H, objective: { kind: 'carbon' } });
  // DE best 2 h: 200 (1–3 h) or 225 (2–4 h); GB best: 95 (3–5 h).
  assert.equal(c.region, 'GB');
  assert.equal(c.schedule.startMs, T0 + 3 * H);
  assert.equal(c.emissionsG, 190);
  assert.deepEqual(c.runNow, { region: 'DE', startMs: T0, finishMs: T0 + 2 * H, emissionsG: 700, cost: null });
  assert.equal(c.savedEmissionsFraction, 1 - 190 / 700);
  assert.deepEqual(
    c.plans.map((p) => [p.region, p.schedule.startMs - T0, p.emissionsG]),
    [
      ['GB', 3 * H, 190],
      ['DE', H, 400],
    ],
  );
  // Temporal only (one region) and spatial only (no slack) are special cases.
  assert.equal(bestPlacement([{ region: 'DE', carbon: DE }], { startMs: T0, deadlineMs: T0 + 6 * H, durationMs: 2 * H, objective: { kind: 'carbon' } }).schedule.startMs, T0 + H);
  const now = bestPlacement(opts, { startMs: T0, deadlineMs: T0 + 2 * H, durationMs: 2 * H, objective: { kind: 'carbon' } });
  assert.equal(now.region, 'GB');
  assert.equal(now.schedule.startMs, T0);
});

test('cost objective: region multiplier × price decides; carbon is still reported', () => {
  const opts: RegionOption[] = [
    { region: 'DE', carbon: DE, price: 0.3 },
    { region: 'FR', carbon: FR, price: 0.2, priceMultiplier: 2 }, // 0.4/kWh: dearer
    { region: 'GB', carbon: GB, price: hourly('GB price', [0.5, 0.5, 0.1, 0.5, 0.5, 0.5]) },
  ];
  const c = bestPlacement(opts, { startMs: T0, deadlineMs: T0 + 6 * H, durationMs: H, powerKW: 10, objective: { kind: 'cost' } });
  assert.equal(c.region, 'GB');
  assert.equal(c.schedule.startMs, T0 + 2 * H);
  assert.ok(Math.abs((c.cost ?? 0) - 10 * 0.1) < 1e-12);
  assert.equal(c.emissionsG, 10 * 250);
  assert.ok(Math.abs((c.runNow.cost ?? 0) - 3) < 1e-12);
  assert.ok(Math.abs((c.savedCostFraction ?? 0) - (1 - 1 / 3)) < 1e-12);
  assert.equal(c.savedEmissionsFraction, 1 - 2500 / 4000, 'cheaper but here also cleaner than DE now');
  // Flat equal prices everywhere: everything ties → run now, at home.
  const flat = bestPlacement(
    [
      { region: 'GB', carbon: GB, price: 0.3 },
      { region: 'DE', carbon: DE, price: 0.3 },
    ],
    { startMs: T0, deadlineMs: T0 + 6 * H, durationMs: H, objective: { kind: 'cost' }, homeRegion: 'DE' },
  );
  assert.equal(flat.region, 'DE');
  assert.equal(flat.schedule.startMs, T0);
});

test('weighted objective trades carbon against cost relative to the home run-now figures', () => {
  const opts: RegionOption[] = [
    { region: 'DE', carbon: DE, price: 0.2 },
    { region: 'FR', carbon: FR, price: 0.2, priceMultiplier: 3 },
  ];
  const req = { startMs: T0, deadlineMs: T0 + H, durationMs: H };
  // Run now, 1 h: DE 400 g/kWh at 0.2; FR 60 at 0.6. Score = wC·c/400 + wP·p/0.2.
  const carbonHeavy = bestPlacement(opts, { ...req, objective: { kind: 'weighted', carbonWeight: 0.9, costWeight: 0.1 } });
  assert.equal(carbonHeavy.region, 'FR'); // 0.9·0.15 + 0.1·3 = 0.435 < 1
  assert.ok(Math.abs(carbonHeavy.score - 0.435) < 1e-12);
  const costHeavy = bestPlacement(opts, { ...req, objective: { kind: 'weighted', carbonWeight: 0.3, costWeight: 0.7 } });
  assert.equal(costHeavy.region, 'DE'); // FR: 0.045 + 2.1 > 1
  assert.throws(() => bestPlacement(opts, { ...req, objective: { kind: 'weighted', carbonWeight: 0, costWeight: 0 } }), badRequest(/not both 0/));
  assert.throws(() => bestPlacement(opts, { ...req, objective: { kind: 'weighted', carbonWeight: -1, costWeight: 1 } }), badRequest(/weights must be numbers ≥ 0/));
});

test('interruptible placement may use slots of one region only, and beats the contiguous plan', () => {
  const opts: RegionOption[] = [
    { region: 'DE', carbon: DE },
    { region: 'GB', carbon: GB },
  ];
  const req = { startMs: T0, deadlineMs: T0 + 6 * H, durationMs: 3 * H, objective: { kind: 'carbon' as const } };
  const i = bestPlacement(opts, { ...req, interruptible: true, slotMs: H });
  assert.equal(i.region, 'GB');
  assert.deepEqual(i.schedule.runs, [
    { startMs: T0 + H, endMs: T0 + 2 * H },
    { startMs: T0 + 3 * H, endMs: T0 + 5 * H },
  ]);
  assert.equal(i.emissionsG, 150 + 90 + 100);
  assert.ok(i.emissionsG < bestPlacement(opts, req).emissionsG);
});

test('regions without data for the horizon are infeasible, not fatal; bad input is refused', () => {
  const opts: RegionOption[] = [
    { region: 'DE', carbon: DE },
    { region: 'ES', carbon: ES },
  ];
  const c = bestPlacement(opts, { startMs: T0, deadlineMs: T0 + 3 * H, durationMs: H, objective: { kind: 'carbon' } });
  assert.equal(c.region, 'DE');
  assert.equal(c.infeasible.length, 1);
  assert.match(c.infeasible[0]?.reason ?? '', /^ES has data for/);
  assert.throws(
    () => bestPlacement([{ region: 'ES', carbon: ES }], { startMs: T0, deadlineMs: T0 + 3 * H, durationMs: H, objective: { kind: 'carbon' } }),
    badRequest(/no region can run the job between .*: ES: ES has data for/),
  );
  assert.throws(() => bestPlacement(opts, { startMs: T0, deadlineMs: T0 + H, durationMs: 2 * H, objective: { kind: 'carbon' } }), badRequest(/does not fit/));
  assert.throws(() => bestPlacement(opts, { startMs: T0, deadlineMs: T0 + 3 * H, durationMs: H, objective: { kind: 'cost' } }), badRequest(/counts cost but no price was given for DE, ES/));
  assert.throws(() => bestPlacement(opts, { startMs: T0, deadlineMs: T0 + 3 * H, durationMs: H, objective: { kind: 'carbon' }, homeRegion: 'FR' }), badRequest(/homeRegion 'FR' is not among the options \(DE, ES\)/));
  assert.throws(() => bestPlacement([], { startMs: T0, deadlineMs: T0 + 3 * H, durationMs: H, objective: { kind: 'carbon' } }), badRequest(/at least one region/));
  assert.throws(
    () => bestPlacement([{ region: 'DE', carbon: DE, price: 0.1, priceMultiplier: -1 }], { startMs: T0, deadlineMs: T0 + 3 * H, durationMs: H, objective: { kind: 'cost' } }),
    badRequest(/priceMultiplier must be a number ≥ 0/),
  );
});
