// Series preparation: validation errors, step semantics, gaps, irregular spacing, combination.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StrataError } from '../../kernel/index.ts';
import { combineTimelines, constantTimeline, integralOver, meanOver, prepareTimeline, seriesFromSignal } from './index.ts';

const T0 = Date.UTC(2024, 0, 1);
const H = 3_600_000;
const M = 60_000;
const hourly = (values: number[], from = T0) => ({ points: values.map((value, i) => ({ timeMs: from + i * H, value })) });

const badRequest = (pattern: RegExp) => (e: unknown) => e instanceof StrataError && e.code === 'bad_request' && pattern.test(e.message);

test('a regular series is a step function ending one step after its last point', () => {
  const tl = prepareTimeline(hourly([300, 200, 100]));
  assert.equal(tl.stepMs, H);
  assert.equal(tl.fromMs, T0);
  assert.equal(tl.toMs, T0 + 3 * H);
  assert.equal(meanOver(tl, T0, T0 + 2 * H), 250);
  assert.equal(meanOver(tl, T0 + 30 * M, T0 + 90 * M), 250); // half of 300, half of 200
  assert.equal(integralOver(tl, T0 + 2 * H, T0 + 3 * H), 100 * H);
  assert.equal(meanOver(tl, T0 + 2 * H, T0 + 4 * H), null, 'beyond the data is missing');
  assert.equal(meanOver(tl, T0 - 1, T0 + H), null, 'before the data is missing');
});

test('irregular spacing and a change of resolution (60 → 15 → 30 min) need no resampling', () => {
  const pts = [
    { timeMs: T0, value: 100 }, // 60 min
    { timeMs: T0 + 60 * M, value: 40 }, // 15 min
    { timeMs: T0 + 75 * M, value: 80 }, // 15 min
    { timeMs: T0 + 90 * M, value: 20 }, // 30 min
    { timeMs: T0 + 120 * M, value: 60 },
  ];
  const tl = prepareTimeline({ points: pts, endMs: T0 + 150 * M });
  assert.equal(tl.stepMs, 15 * M, 'lower median of the spacings 60, 15, 15, 30');
  // ∫ over [0:30, 2:00): 30·100 + 15·40 + 15·80 + 30·20 = 5400 value·min over 90 min.
  assert.equal(meanOver(tl, T0 + 30 * M, T0 + 120 * M), 5400 / 90);
});

test('a gap longer than maxGapMs is missing data: the earlier point holds one typical step', () => {
  const tl = prepareTimeline({ points: [{ timeMs: T0, value: 100 }, { timeMs: T0 + H, value: 10 }, { timeMs: T0 + 5 * H, value: 100 }], maxGapMs: 2 * H });
  assert.equal(tl.stepMs, H);
  assert.equal(meanOver(tl, T0 + H, T0 + 2 * H), 10);
  assert.equal(meanOver(tl, T0 + H, T0 + 3 * H), null);
  assert.equal(meanOver(tl, T0 + 5 * H, T0 + 6 * H), 100);
  // The default limit (3 × 1 h) still makes the 4 h gap missing; with a limit of 4 h the value holds.
  const pts = [{ timeMs: T0, value: 100 }, { timeMs: T0 + H, value: 10 }, { timeMs: T0 + 5 * H, value: 100 }];
  assert.equal(meanOver(prepareTimeline({ points: pts }), T0 + H, T0 + 3 * H), null);
  assert.equal(meanOver(prepareTimeline({ points: pts, maxGapMs: 4 * H }), T0 + H, T0 + 5 * H), 10);
});

test('bad series are refused with a precise message', () => {
  assert.throws(() => prepareTimeline({ points: [] }, { label: 'DE' }), badRequest(/^DE: the series is empty/));
  assert.throws(() => prepareTimeline(hourly([1, Number.NaN, 3])), badRequest(/point 1 .* has value NaN/));
  assert.throws(() => prepareTimeline(hourly([1, Number.POSITIVE_INFINITY])), badRequest(/point 1 .* has value Infinity/));
  assert.throws(() => prepareTimeline({ points: [{ timeMs: Number.NaN, value: 1 }] }), badRequest(/point 0 has time NaN/));
  assert.throws(() => prepareTimeline(hourly([1, -5])), badRequest(/carbon intensity -5 < 0/));
  assert.doesNotThrow(() => prepareTimeline(hourly([1, -5]), { allowNegative: true }), 'prices may be negative');
  assert.throws(
    () => prepareTimeline({ points: [{ timeMs: T0 + H, value: 1 }, { timeMs: T0, value: 2 }] }),
    badRequest(/point 1 .* is not after point 0; points must be in strictly increasing time order/),
  );
  assert.throws(() => prepareTimeline({ points: [{ timeMs: T0, value: 1 }] }), badRequest(/single-point series needs endMs/));
  assert.equal(meanOver(prepareTimeline({ points: [{ timeMs: T0, value: 7 }], endMs: T0 + H }), T0, T0 + H), 7);
  assert.throws(() => prepareTimeline({ ...hourly([1, 2]), endMs: T0 }), badRequest(/endMs .* must be after the last point/));
});

test('combineTimelines sums weighted terms on the union of bounds, missing where any term is', () => {
  const carbon = prepareTimeline(hourly([100, 200, 300]));
  const price = prepareTimeline({ points: [{ timeMs: T0 + 30 * M, value: 10 }, { timeMs: T0 + 90 * M, value: 20 }], endMs: T0 + 150 * M });
  const c = combineTimelines([
    { timeline: carbon, weight: 1 },
    { timeline: price, weight: 2 },
  ]);
  assert.equal(c.fromMs, T0 + 30 * M);
  assert.equal(c.toMs, T0 + 150 * M);
  assert.deepEqual([...c.bounds].map((b) => (b - T0) / M), [30, 60, 90, 120, 150]);
  assert.deepEqual([...c.values], [120, 220, 240, 340]);
  assert.throws(() => combineTimelines([{ timeline: carbon, weight: 1 }, { timeline: prepareTimeline(hourly([1, 2], T0 + 10 * H)), weight: 1 }]), badRequest(/do not overlap/));
  assert.equal(meanOver(constantTimeline(0.2, T0, T0 + H), T0, T0 + H), 0.2);
});

test('seriesFromSignal samples a CarbonSignal-shaped source at its resolution', () => {
  const source = { intensityAt: (t: number) => ({ gCO2PerKWh: Math.floor((t - T0) / (30 * M)) * 10 }) };
  const s = seriesFromSignal(source, T0, T0 + 2 * H, 30 * M);
  assert.deepEqual(
    s.points.map((p) => p.value),
    [0, 10, 20, 30],
  );
  assert.equal(s.endMs, T0 + 2 * H);
  assert.equal(meanOver(prepareTimeline(s), T0, T0 + 2 * H), 15);
  assert.throws(() => seriesFromSignal(source, T0, T0, 30 * M), badRequest(/sampling range .* is empty/));
  assert.throws(() => seriesFromSignal(source, T0, T0 + H, 0), badRequest(/sampling step must be ≥ 1 s/));
});
