// CarbonSignal against the real saved series (read-only, in ../shared/data): known values read from
// the files, time-of-year replay, step interpolation, emissions integration and CSV errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConstantCarbonSignal, CsvCarbonSignal, createCarbonSignal, integrateEmissions } from './index.ts';
import type { CarbonSignal } from './index.ts';
import { isStrataError } from '../kernel/index.ts';

const CARBON = resolve(import.meta.dirname, '../../../shared/data/scheduling/carbon');
const EM = (zone: string, year: number): string => resolve(CARBON, 'electricitymaps_hourly', `${zone}_${year}_hourly.csv`);
const LWA = (name: string): string => resolve(CARBON, 'lets_wait_awhile_2020', `${name}_ci.csv`);
const at = (iso: string): number => Date.parse(iso);

test('the real series are where the tests expect them', () => {
  for (const f of [EM('ES', 2023), EM('US-CAL-CISO', 2023), LWA('ger'), LWA('fr')]) assert.ok(existsSync(f), f);
});

const es = CsvCarbonSignal.fromFile(EM('ES', 2023));

test('Electricity Maps export: direct intensity, replayed by time of year, with the source saying so', () => {
  assert.equal(es.source, 'electricitymaps ES 2023 direct (replayed by time of year)');
  assert.equal(es.length, 8760);
  assert.equal(es.resolutionMs, 3_600_000);
  // Values read from ES_2023_hourly.csv (CRLF line endings, header with the subscript ₂).
  assert.deepEqual(es.intensityAt(at('2026-01-01T00:00:00Z')), { gCO2PerKWh: 82.99, source: es.source });
  assert.equal(es.intensityAt(at('2026-01-01T00:59:59.999Z')).gCO2PerKWh, 82.99, 'step: the 00:00 value holds until 01:00');
  assert.equal(es.intensityAt(at('2026-01-01T01:00:00Z')).gCO2PerKWh, 85.96);
  assert.equal(es.intensityAt(at('2026-06-15T12:34:00Z')).gCO2PerKWh, 102.23);
  assert.equal(es.intensityAt(at('2023-06-15T12:00:00Z')).gCO2PerKWh, 102.23, 'the series year itself');
  assert.equal(es.intensityAt(at('2026-12-31T23:59:59Z')).gCO2PerKWh, 99.34);
  assert.equal(es.intensityAt(at('1999-06-15T12:00:00Z')).gCO2PerKWh, 102.23, 'years before the series too');
});

test('29 February in a leap year replays 28 February of a non-leap series', () => {
  assert.equal(es.intensityAt(at('2028-02-29T23:10:00Z')).gCO2PerKWh, 148.12);
  assert.equal(es.intensityAt(at('2028-02-28T22:00:00Z')).gCO2PerKWh, 141.92);
  assert.equal(es.intensityAt(at('2028-03-01T00:00:00Z')).gCO2PerKWh, 155.06);
});

test('the LCA column is chosen by name, with or without the subscript ₂', () => {
  for (const valueColumn of ['Carbon Intensity gCO₂eq/kWh (LCA)', 'carbon intensity gCO2eq/kWh (LCA)']) {
    const lca = CsvCarbonSignal.fromFile(EM('ES', 2023), { valueColumn });
    assert.equal(lca.intensityAt(at('2026-01-01T00:00:00Z')).gCO2PerKWh, 114.42);
    assert.equal(lca.source, 'electricitymaps ES 2023 LCA (replayed by time of year)');
  }
});

test("Let's Wait Awhile format (Time, Carbon Intensity; 15-min DE) is detected and its main year replayed", () => {
  const de = CsvCarbonSignal.fromFile(LWA('ger'));
  assert.equal(de.source, 'lets-wait-awhile ger 2020 (replayed by time of year)');
  assert.equal(de.resolutionMs, 900_000);
  // The file runs 2019-12-20..2021-01-09; only 2020 is kept, so 1 January maps to 2020-01-01, not 2021.
  assert.equal(de.intensityAt(at('2026-01-01T00:00:00Z')).gCO2PerKWh, 353.3198751441949);
  assert.equal(de.intensityAt(at('2026-01-01T00:15:00Z')).gCO2PerKWh, 353.5484876655179);
  assert.equal(de.intensityAt(at('2026-07-01T00:00:00Z')).gCO2PerKWh, 268.25251997155885);
  assert.equal(de.intensityAt(at('2028-02-29T12:40:00Z')).gCO2PerKWh, 129.61333774901186, '2020 is a leap year: 29 Feb exists');
  assert.equal(de.intensityAt(at('2026-12-31T23:50:00Z')).gCO2PerKWh, 425.72279042332445);
  // A gap in the file (23:15 missing on 19 Dec 2020): the 23:00 value stays in force.
  assert.equal(de.intensityAt(at('2026-12-19T23:20:00Z')).gCO2PerKWh, 280.3718054720385);
  const fr = CsvCarbonSignal.fromFile(LWA('fr'));
  assert.equal(fr.resolutionMs, 1_800_000);
  assert.equal(fr.intensityAt(at('2027-02-28T12:00:00Z')).gCO2PerKWh, fr.intensityAt(at('2020-02-28T12:00:00Z')).gCO2PerKWh);
  assert.equal(fr.intensityAt(at('2026-12-31T23:59:00Z')).gCO2PerKWh, 63.288589037899364);
});

test('exact replay uses the file’s own times and clamps outside them', () => {
  const de = CsvCarbonSignal.fromFile(LWA('ger'), { replay: 'exact' });
  assert.equal(de.source, 'lets-wait-awhile ger 2019–2021 (exact times)');
  assert.equal(de.length, 37147);
  assert.equal(de.intensityAt(at('2019-12-20T00:00:00Z')).gCO2PerKWh, 218.29003068829462);
  assert.equal(de.intensityAt(at('2019-01-01T00:00:00Z')).gCO2PerKWh, 218.29003068829462);
  assert.equal(de.intensityAt(at('2030-01-01T00:00:00Z')).gCO2PerKWh, 508.090651507907);
});

test('lookup agrees with a linear scan at many times (binary search, step interpolation)', () => {
  const text = ['Time,Carbon Intensity', '2020-01-01 00:00:00,10', '2020-01-01 00:30:00,20', '2020-01-01 02:00:00,30', '2020-06-01 00:00:00,40'].join('\n');
  const s = CsvCarbonSignal.parse(text, 'tiny.csv', { replay: 'exact' });
  const pts: [number, number][] = [
    [at('2020-01-01T00:00:00Z'), 10],
    [at('2020-01-01T00:30:00Z'), 20],
    [at('2020-01-01T02:00:00Z'), 30],
    [at('2020-06-01T00:00:00Z'), 40],
  ];
  const linear = (t: number): number => {
    let v = pts[0]?.[1] ?? 0;
    for (const [pt, pv] of pts) if (pt <= t) v = pv;
    return v;
  };
  for (let t = at('2019-12-31T23:00:00Z'); t < at('2020-06-02T00:00:00Z'); t += 7 * 60_000 + 13_000) {
    assert.equal(s.intensityAt(t).gCO2PerKWh, linear(t), new Date(t).toISOString());
  }
});

test('replay wraps around New Year: before the first point of the year, the year-end value holds', () => {
  const s = CsvCarbonSignal.parse('Time,Carbon Intensity\n2023-01-01 01:00:00,5\n2023-12-31 23:00:00,9\n', 'wrap.csv');
  assert.equal(s.intensityAt(at('2026-01-01T00:30:00Z')).gCO2PerKWh, 9);
  assert.equal(s.intensityAt(at('2026-01-01T01:30:00Z')).gCO2PerKWh, 5);
});

test('times are UTC unless an offset is given; quoted fields, BOM and CRLF are handled', () => {
  const text = '\uFEFF"When","Zone, quoted","gCO2"\r\n"2023-01-01T01:00:00+01:00","a,b",7\r\n2023-01-01 01:00:00Z,"x ""y""",8\r\n';
  const s = CsvCarbonSignal.parse(text, '/tmp/custom.csv', { timeColumn: 'When', valueColumn: 'gCO2', replay: 'exact' });
  assert.equal(s.intensityAt(at('2023-01-01T00:00:00Z')).gCO2PerKWh, 7);
  assert.equal(s.intensityAt(at('2023-01-01T01:00:00Z')).gCO2PerKWh, 8);
  assert.equal(s.source, 'csv custom 2023 (exact times)');
  assert.equal(CsvCarbonSignal.parse(text, 'x.csv', { timeColumn: 'When', valueColumn: 'gCO2', label: 'my grid' }).source, 'my grid');
});

/** Asserts a 400 whose message names the file and line. */
function badCsv(text: string, line: number, why: RegExp, options: { timeColumn?: string; valueColumn?: string } = {}): void {
  assert.throws(
    () => CsvCarbonSignal.parse(text, '/data/bad.csv', options),
    (e: unknown) => {
      assert.ok(isStrataError(e) && e.code === 'bad_request', String(e));
      assert.ok(e.message.includes(`/data/bad.csv line ${line}:`), e.message);
      assert.match(e.message, why);
      assert.deepEqual(e.details, { file: '/data/bad.csv', line });
      return true;
    },
  );
}

test('bad CSV: a clear error naming the file and line', () => {
  const h = 'Time,Carbon Intensity\n';
  badCsv(`${h}2023-01-01 00:00:00,1\n2023-01-01 01:00:00,abc\n`, 3, /"abc" is not a number/);
  badCsv(`${h}2023-01-01 00:00:00,-4\n`, 2, /not a number ≥ 0/);
  badCsv(`${h}01/01/2023 00:00,1\n`, 2, /is not a date-time/);
  badCsv(`${h}2023-02-30 00:00:00,1\n`, 2, /is not a date-time/);
  badCsv(`${h}2023-01-01 01:00:00,1\n2023-01-01 00:00:00,2\n`, 3, /increasing time order/);
  badCsv(`${h}2023-01-01 01:00:00,1\n2023-01-01 01:00:00,2\n`, 3, /without duplicates/);
  badCsv(`${h}"2023-01-01 01:00:00,1\n`, 2, /unterminated/);
  badCsv(`${h}2023-01-01 01:00:00\n`, 2, /expected at least 2 columns/);
  badCsv('', 1, /empty file/);
  badCsv(h, 2, /no data rows/);
  badCsv('ts,ci\n2023-01-01 00:00:00,1\n', 1, /no time column.*"ts", "ci".*timeColumn/);
  badCsv('ts,ci\n2023-01-01 00:00:00,1\n', 1, /no intensity column 'gCO2'/, { timeColumn: 'ts', valueColumn: 'gCO2' });
  assert.throws(() => CsvCarbonSignal.fromFile('/nonexistent/x.csv'), /cannot read carbon series \/nonexistent\/x\.csv/);
});

test('empty intensity cells are gaps: the previous value holds', () => {
  const s = CsvCarbonSignal.parse('Time,Carbon Intensity\n2023-01-01 00:00:00,3\n2023-01-01 01:00:00,\n2023-01-01 02:00:00,5\n', 'g.csv', { replay: 'exact' });
  assert.equal(s.intensityAt(at('2023-01-01T01:30:00Z')).gCO2PerKWh, 3);
  assert.equal(s.intensityAt(at('2023-01-01T02:00:00Z')).gCO2PerKWh, 5);
});

test('constant signal and createCarbonSignal from a region spec', () => {
  const c = new ConstantCarbonSignal(300);
  assert.deepEqual(c.intensityAt(0), { gCO2PerKWh: 300, source: 'constant 300 gCO2eq/kWh' });
  assert.throws(() => new ConstantCarbonSignal(-1), /≥ 0/);
  assert.equal(createCarbonSignal({ kind: 'constant', gCO2PerKWh: 12 }).intensityAt(5).gCO2PerKWh, 12);
  const csv = createCarbonSignal({ kind: 'csv', path: EM('US-CAL-CISO', 2023) });
  assert.equal(csv.intensityAt(at('2026-07-04T14:30:00Z')).gCO2PerKWh, 112.79);
  assert.equal(csv.intensityAt(0).source, 'electricitymaps US-CAL-CISO 2023 direct (replayed by time of year)');
});

test('integrateEmissions: Σ kWh × intensity, splitting intervals at the signal’s steps', () => {
  const c = new ConstantCarbonSignal(100);
  assert.equal(integrateEmissions(c, [{ startMs: 0, endMs: 1000, kWh: 0.5 }, { startMs: 1000, endMs: 5000, kWh: 1.5 }]), 200);
  assert.equal(integrateEmissions(c, []), 0);
  // One kWh spread evenly over 00:30–01:30 is charged half to each hour.
  const g = integrateEmissions(es, [{ startMs: at('2026-01-01T00:30:00Z'), endMs: at('2026-01-01T01:30:00Z'), kWh: 1 }]);
  assert.ok(Math.abs(g - (0.5 * 82.99 + 0.5 * 85.96)) < 1e-9, String(g));
  // Two samples inside one hour each use that hour; a zero-length sample uses its instant.
  const two = integrateEmissions(es, [
    { startMs: at('2026-01-01T00:00:00Z'), endMs: at('2026-01-01T00:15:00Z'), kWh: 2 },
    { startMs: at('2026-01-01T01:00:00Z'), endMs: at('2026-01-01T01:00:00Z'), kWh: 1 },
  ]);
  assert.ok(Math.abs(two - (2 * 82.99 + 85.96)) < 1e-9);
  // A signal without a step grid is read at each interval's midpoint.
  const ramp: CarbonSignal = { intensityAt: (t) => ({ gCO2PerKWh: t, source: 'ramp' }) };
  assert.equal(integrateEmissions(ramp, [{ startMs: 100, endMs: 300, kWh: 2 }]), 400);
  assert.throws(() => integrateEmissions(c, [{ startMs: 10, endMs: 5, kWh: 1 }]), /sample 0: endMs must be ≥ startMs/);
  assert.throws(() => integrateEmissions(c, [{ startMs: 0, endMs: 5, kWh: -1 }]), /kWh must be a number ≥ 0/);
});
