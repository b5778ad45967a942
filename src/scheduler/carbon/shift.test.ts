// Temporal shifting: hand-computed best windows and interruptible selections, missing data,
// errors, and properties against brute force and against running now.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { StrataError } from '../../kernel/index.ts';
import { bestSlots, bestWindow, meanOver, prepareTimeline, totalOverRuns } from './index.ts';

const T0 = Date.UTC(2024, 0, 1);
const H = 3_600_000;
const M = 60_000;
const hourly = (values: number[]) => prepareTimeline({ points: values.map((value, i) => ({ timeMs: T0 + i * H, value })) }, { label: 'test' });
const badRequest = (pattern: RegExp) => (e: unknown) => e instanceof StrataError && e.code === 'bad_request' && pattern.test(e.message);

// 300 200 100 50 400 250 (hourly): 2 h windows average 250 150 75 225 325.
const SIX = [300, 200, 100, 50, 400, 250];

test('best window: the lowest 2 h average, with the run-now comparison', () => {
  const s = bestWindow(hourly(SIX), { startMs: T0, deadlineMs: T0 + 6 * H, durationMs: 2 * H, powerKW: 2 });
  assert.equal(s.kind, 'contiguous');
  assert.equal(s.startMs, T0 + 2 * H);
  assert.equal(s.finishMs, T0 + 4 * H);
  assert.deepEqual(s.runs, [{ startMs: T0 + 2 * H, endMs: T0 + 4 * H }]);
  assert.equal(s.meanValue, 75);
  assert.equal(s.total, 2 * 75 * 2, 'grams = kW × g/kWh × h');
  assert.deepEqual(s.runNow, { startMs: T0, finishMs: T0 + 2 * H, meanValue: 250, total: 1000 });
  assert.equal(s.savedFraction, 0.7);
  assert.equal(s.delayMs, 2 * H);
});

test('the deadline bounds the window end; ties go to the earliest start', () => {
  assert.equal(bestWindow(hourly(SIX), { startMs: T0, deadlineMs: T0 + 3 * H, durationMs: 2 * H }).startMs, T0 + H);
  const flat = bestWindow(hourly([5, 5, 5, 5]), { startMs: T0, deadlineMs: T0 + 4 * H, durationMs: H });
  assert.equal(flat.startMs, T0);
  assert.equal(flat.savedFraction, 0);
  assert.equal(flat.delayMs, 0);
});

test('the optimum may start off the grid: where the window end meets a bound', () => {
  // 100 until 1:00, 0 until 1:20, 100 until 3:00: a 30 min window holding all 20 zero minutes
  // starts anywhere in [0:50, 1:00]; the earliest is 1:20 − 30 min.
  const tl = prepareTimeline({
    points: [
      { timeMs: T0, value: 100 },
      { timeMs: T0 + 60 * M, value: 0 },
      { timeMs: T0 + 80 * M, value: 100 },
    ],
    endMs: T0 + 180 * M,
    maxGapMs: 2 * H,
  });
  const s = bestWindow(tl, { startMs: T0, deadlineMs: T0 + 3 * H, durationMs: 30 * M });
  assert.equal(s.startMs, T0 + 50 * M);
  assert.equal(s.meanValue, (10 * 100) / 30);
});

test('windows touching missing data are skipped; none left → precise error', () => {
  const tl = prepareTimeline({ points: [{ timeMs: T0, value: 100 }, { timeMs: T0 + H, value: 10 }, { timeMs: T0 + 5 * H, value: 100 }], maxGapMs: 2 * H }, { label: 'gappy' });
  const s = bestWindow(tl, { startMs: T0, deadlineMs: T0 + 6 * H, durationMs: 2 * H });
  assert.equal(s.startMs, T0);
  assert.equal(s.meanValue, 55);
  assert.throws(() => bestWindow(tl, { startMs: T0 + H, deadlineMs: T0 + 6 * H, durationMs: 3 * H }), badRequest(/^gappy: no 180 min window between .* has complete data/));
  // Run-now is reported as unknown when its window lacks data, while a later window is fine.
  const late = bestWindow(tl, { startMs: T0 + 3 * H, deadlineMs: T0 + 6 * H, durationMs: H });
  assert.equal(late.runNow, null);
  assert.equal(late.savedFraction, null);
  assert.equal(late.startMs, T0 + 5 * H);
});

test('bad requests are refused with a precise message', () => {
  const tl = hourly(SIX);
  assert.throws(() => bestWindow(tl, { startMs: T0, deadlineMs: T0 + 2 * H, durationMs: 3 * H }), badRequest(/a 180 min window does not fit between .* and the deadline .* \(120 min\)/));
  assert.throws(() => bestWindow(tl, { startMs: T0 + 2 * H, deadlineMs: T0, durationMs: H }), badRequest(/deadline .* is before the earliest start/));
  assert.throws(() => bestWindow(tl, { startMs: Number.NaN, deadlineMs: T0, durationMs: H }), badRequest(/startMs must be a finite number/));
  assert.throws(() => bestWindow(tl, { startMs: T0, deadlineMs: T0 + H, durationMs: 0 }), badRequest(/durationMs must be > 0/));
  assert.throws(() => bestWindow(tl, { startMs: T0, deadlineMs: T0 + H, durationMs: H, powerKW: -1 }), badRequest(/powerKW must be a number ≥ 0/));
  assert.throws(() => bestWindow(tl, { startMs: T0 + 10 * H, deadlineMs: T0 + 12 * H, durationMs: H }), badRequest(/^test has data for .* which does not overlap/));
  assert.throws(() => bestSlots(tl, { startMs: T0, deadlineMs: T0 + H, durationMs: 2 * H }), badRequest(/does not fit/));
  assert.throws(() => bestSlots(tl, { startMs: T0, deadlineMs: T0 + 2 * H, durationMs: H }, { slotMs: 0 }), badRequest(/slotMs must be > 0/));
  assert.throws(() => bestSlots(tl, { startMs: T0 + 5 * H, deadlineMs: T0 + 8 * H, durationMs: 2 * H }), badRequest(/only 60 min of data between .* the job needs 120 min/));
});

test('interruptible: the lowest slots before the deadline, possibly non-contiguous', () => {
  // 2.5 h in 300 200 100 50 400 250: 50 (3–4 h), 100 (2–3 h), then the first half of 200 (1–1:30).
  const s = bestSlots(hourly(SIX), { startMs: T0, deadlineMs: T0 + 6 * H, durationMs: 150 * M }, { slotMs: 30 * M });
  assert.equal(s.kind, 'interruptible');
  assert.deepEqual(s.runs, [
    { startMs: T0 + H, endMs: T0 + 90 * M },
    { startMs: T0 + 2 * H, endMs: T0 + 4 * H },
  ]);
  assert.equal(s.meanValue, (0.5 * 200 + 100 + 50) / 2.5);
  assert.equal(s.startMs, T0 + H);
  assert.equal(s.finishMs, T0 + 4 * H);
  assert.equal(s.candidates, 12);
  assert.equal(s.runNow?.meanValue, (300 + 200 + 0.5 * 100) / 2.5);
  assert.equal(totalOverRuns(hourly(SIX), s.runs), s.total);
  // Never worse than the best contiguous window with the same horizon.
  assert.ok(s.meanValue <= bestWindow(hourly(SIX), { startMs: T0, deadlineMs: T0 + 6 * H, durationMs: 150 * M }).meanValue);
});

test('interruptible: slots are cut from the earliest start; adjacent slots merge into one run', () => {
  const s = bestSlots(hourly(SIX), { startMs: T0 + 10 * M, deadlineMs: T0 + 6 * H, durationMs: H }, { slotMs: 30 * M });
  assert.deepEqual(s.runs, [{ startMs: T0 + 3 * H, endMs: T0 + 4 * H }]);
  assert.equal(s.meanValue, 50);
  // Without slots only the series' steps cut: 6 pieces instead of 12.
  assert.equal(bestSlots(hourly(SIX), { startMs: T0, deadlineMs: T0 + 6 * H, durationMs: H }).candidates, 6);
});

test('interruptible: missing stretches are never used', () => {
  const tl = prepareTimeline({ points: [{ timeMs: T0, value: 100 }, { timeMs: T0 + H, value: 10 }, { timeMs: T0 + 5 * H, value: 100 }], maxGapMs: 2 * H });
  const s = bestSlots(tl, { startMs: T0, deadlineMs: T0 + 6 * H, durationMs: 2 * H });
  assert.deepEqual(s.runs, [{ startMs: T0, endMs: T0 + 2 * H }]);
  const t = bestSlots(tl, { startMs: T0, deadlineMs: T0 + 6 * H, durationMs: 150 * M });
  assert.deepEqual(t.runs, [
    { startMs: T0, endMs: T0 + 2 * H },
    { startMs: T0 + 5 * H, endMs: T0 + 5 * H + 30 * M },
  ]);
});

// A random step series on a 5-minute grid (irregular spacing, 15/30/60-minute steps mixed).
const arbSeries = fc
  .array(fc.record({ gap: fc.constantFrom(5, 15, 30, 60), value: fc.integer({ min: 0, max: 500 }) }), { minLength: 2, maxLength: 40 })
  .map((steps) => {
    let t = T0;
    const points = steps.map((s) => {
      const p = { timeMs: t, value: s.value };
      t += s.gap * M;
      return p;
    });
    return { points, endMs: t, maxGapMs: 2 * H };
  });

test('property: the chosen window is never worse than running now, and matches brute force', () => {
  fc.assert(
    fc.property(arbSeries, fc.nat(), fc.nat(), fc.nat(), (series, a, b, c) => {
      const tl = prepareTimeline(series);
      const span = (tl.toMs - tl.fromMs) / (5 * M);
      const start = T0 + (a % span) * 5 * M;
      const room = (tl.toMs - start) / (5 * M);
      const d = (1 + (b % room)) * 5 * M;
      const deadline = start + d + (c % (room - d / (5 * M) + 1)) * 5 * M;
      const s = bestWindow(tl, { startMs: start, deadlineMs: deadline, durationMs: d });
      const now = meanOver(tl, start, start + d);
      assert.ok(now !== null);
      assert.ok(s.meanValue <= now + 1e-9, `window ${s.meanValue} worse than now ${now}`);
      assert.ok(s.startMs >= start && s.finishMs <= deadline);
      // All bounds lie on the 5-minute grid, so the optimum does too: brute force every start.
      let brute = Number.POSITIVE_INFINITY;
      for (let t = start; t + d <= deadline; t += 5 * M) brute = Math.min(brute, meanOver(tl, t, t + d) ?? Number.POSITIVE_INFINITY);
      assert.ok(Math.abs(s.meanValue - brute) <= 1e-9 * Math.max(1, brute), `window ${s.meanValue} vs brute force ${brute}`);
      const slots = bestSlots(tl, { startMs: start, deadlineMs: deadline, durationMs: d });
      assert.ok(slots.meanValue <= s.meanValue + 1e-9, 'interruptible is never worse than contiguous');
      assert.equal(slots.runs.reduce((x, r) => x + r.endMs - r.startMs, 0), d);
    }),
    { numRuns: 300, seed: 42 },
  );
});
