// Energy metering with fake RAPL counters, CPU times and GPU power (no hardware needed), the
// machine readers against fake sysfs/procfs trees and this machine, and the carbon report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EnergyMeter, carbonReport, parseGpuPowerDraw, procCpuSeconds, raplDeltaJoules, readRaplSysfs, systemEnergyReaders } from './index.ts';
import type { EnergyReaders, RaplZone } from './index.ts';
import { ConstantCarbonSignal, CsvCarbonSignal } from '../compute/index.ts';
import { ManualClock, systemClock } from '../kernel/index.ts';

const J = 1 / 3_600_000; // kWh per joule
const near = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) <= 1e-12 + 1e-9 * Math.abs(b), `${what}: ${a} ≠ ${b}`);

/** Readers that replay scripted readings, one per call. */
function scripted(steps: { rapl?: RaplZone[] | null; cpu?: number | null; gpu?: (number | null)[] | null }[]): EnergyReaders {
  let i = 0;
  let j = 0;
  let k = 0;
  return {
    readRapl: () => Promise.resolve(steps[i++]?.rapl ?? null),
    readCpuSeconds: () => Promise.resolve(steps[j++]?.cpu ?? null),
    readGpuWatts: () => Promise.resolve(steps[k++]?.gpu ?? null),
  };
}

const MAX = 262_143_328_850; // a typical max_energy_range_uj
const pkg = (uj0: number, uj1: number): RaplZone[] => [
  { name: 'intel-rapl:0/package-0', energyUj: uj0, maxEnergyRangeUj: MAX },
  { name: 'intel-rapl:1/package-1', energyUj: uj1, maxEnergyRangeUj: MAX },
];

test('TDP estimate without RAPL: 4 W per core-second of CPU time, 3 W per 8 GiB, × PUE', async () => {
  const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
  const meter = new EnergyMeter({ clock, readers: scripted([{ cpu: 0 }, { cpu: 30 }]), cores: 2, memoryBytes: 8 * 2 ** 30, pue: 1.5 });
  await meter.start();
  clock.advance(60_000);
  const r = await meter.stop();
  assert.equal(r.method, 'tdp-estimate');
  near(r.cpuKWh, 4 * 30 * J, 'cpu');
  near(r.memoryKWh, 3 * 60 * J, 'memory');
  assert.equal(r.gpuKWh, 0);
  near(r.totalKWh, (120 + 180) * 1.5 * J, 'total');
  assert.deepEqual(r.samples.map((s) => [s.startMs, s.endMs]), [[clock.now() - 60_000, clock.now()]]);
  near(r.samples[0]?.kWh ?? 0, r.totalKWh, 'samples include PUE');
});

test('TDP estimate with unknown CPU time assumes 50% load on every core (CodeCarbon)', async () => {
  const clock = new ManualClock();
  const meter = new EnergyMeter({ clock, readers: scripted([{}, {}]), cores: 4, memoryBytes: 0, pue: 1, tdpWattsPerCore: 10 });
  await meter.start();
  clock.advance(10_000);
  near((await meter.stop()).cpuKWh, 10 * 4 * 0.5 * 10 * J, 'cpu');
});

test('RAPL: package energy × the attempt’s share of CPU time (Kepler); samples add up to the total', async () => {
  const clock = new ManualClock();
  const readers = scripted([
    { rapl: pkg(1_000_000, 5_000_000), cpu: 10 },
    { rapl: pkg(61_000_000, 25_000_000), cpu: 40 }, // +80 J over 60 s; 30 CPU-s of 2 × 60 → 25%
    { rapl: pkg(121_000_000, 45_000_000), cpu: 40 }, // +80 J, idle attempt → 0
  ]);
  const meter = new EnergyMeter({ clock, readers, cores: 2, memoryBytes: 0, pue: 1.2 });
  await meter.start();
  clock.advance(60_000);
  const s1 = await meter.sample();
  clock.advance(60_000);
  const r = await meter.stop();
  assert.equal(r.method, 'rapl');
  near(s1.kWh, 80 * 0.25 * 1.2 * J, 'first interval');
  near(r.cpuKWh, 20 * J, 'cpu');
  assert.equal(r.samples.length, 2);
  near(
    r.samples.reduce((a, s) => a + s.kWh, 0),
    r.totalKWh,
    'Σ samples',
  );
});

test('RAPL counter wraparound uses max_energy_range_uj', () => {
  const prev = [{ name: 'p0', energyUj: MAX - 328_850, maxEnergyRangeUj: MAX }];
  const cur = [{ name: 'p0', energyUj: 1_000_000, maxEnergyRangeUj: MAX }];
  near(raplDeltaJoules(prev, cur) ?? NaN, (328_850 + 1_000_000) / 1e6, 'wrapped delta');
  assert.equal(raplDeltaJoules(prev, [{ name: 'other', energyUj: 5, maxEnergyRangeUj: MAX }]), null, 'no common zone');
});

test('RAPL with unknown CPU time charges the whole package; losing RAPL mid-attempt downgrades the method', async () => {
  const clock = new ManualClock();
  const whole = new EnergyMeter({ clock, readers: scripted([{ rapl: pkg(0, 0) }, { rapl: pkg(36_000_000, 0) }]), cores: 8, memoryBytes: 0, pue: 1 });
  await whole.start();
  clock.advance(1000);
  const w = await whole.stop();
  near(w.cpuKWh, 36 * J, 'whole package');
  assert.equal(w.method, 'rapl');

  const lost = new EnergyMeter({ clock, readers: scripted([{ rapl: pkg(0, 0), cpu: 0 }, { rapl: null, cpu: 5 }]), cores: 1, memoryBytes: 0, pue: 1 });
  await lost.start();
  clock.advance(5000);
  const l = await lost.stop();
  assert.equal(l.method, 'tdp-estimate');
  near(l.cpuKWh, 4 * 5 * J, 'estimated interval');
});

test('GPU: trapezoid of power readings per GPU, restricted to the attempt’s GPUs', async () => {
  const clock = new ManualClock();
  const steps = [{ gpu: [100, 300, 50] }, { gpu: [300, null, 50] }];
  const all = new EnergyMeter({ clock, readers: scripted(steps), cores: 1, memoryBytes: 0, pue: 1 });
  await all.start();
  clock.advance(10_000);
  near((await all.stop()).gpuKWh, (200 + 300 + 50) * 10 * J, 'all GPUs');
  const mine = new EnergyMeter({ clock, readers: scripted(steps), cores: 1, memoryBytes: 0, pue: 1, gpuIndices: [0] });
  await mine.start();
  clock.advance(10_000);
  near((await mine.stop()).gpuKWh, 200 * 10 * J, 'GPU 0 only');
});

test('stop() takes the executor’s final CPU time; the meter refuses out-of-order calls', async () => {
  const clock = new ManualClock();
  const meter = new EnergyMeter({ clock, readers: scripted([{ cpu: 1 }, { cpu: null }]), cores: 1, memoryBytes: 0, pue: 1 });
  await assert.rejects(meter.sample(), /not started/);
  await meter.start();
  await assert.rejects(meter.start(), /already started/);
  clock.advance(20_000);
  near((await meter.stop({ cpuSeconds: 11 })).cpuKWh, 4 * 10 * J, 'final cpu');
  await assert.rejects(meter.stop(), /already stopped/);
  assert.throws(() => new EnergyMeter({ clock, readers: scripted([]), cores: 1, memoryBytes: 0, pue: 0.9 }), /pue must be ≥ 1/);
});

test('a zero-length attempt still yields one sample', async () => {
  const clock = new ManualClock();
  const meter = new EnergyMeter({ clock, readers: scripted([{ cpu: 0 }, { cpu: 0 }]), cores: 1, memoryBytes: 2 ** 30, pue: 1 });
  await meter.start();
  const r = await meter.stop();
  assert.deepEqual(r.samples, [{ startMs: clock.now(), endMs: clock.now(), kWh: 0 }]);
  assert.equal(r.totalKWh, 0);
});

// Shaped like `nvidia-smi --query-gpu=power.draw --format=csv,noheader,nounits` on a 4-GPU node
// where one board cannot report power (written for the test; no GPU on this machine).
const POWER_DRAW = '72.35\n68.91\n[N/A]\n312.47\n';

test('parses nvidia-smi power.draw output', () => {
  assert.deepEqual(parseGpuPowerDraw(POWER_DRAW), [72.35, 68.91, null, 312.47]);
  assert.deepEqual(parseGpuPowerDraw('[Not Supported]\r\n'), [null]);
  assert.deepEqual(parseGpuPowerDraw(''), []);
});

test('readRaplSysfs reads package zones only, skipping sub-zones and psys', () => {
  const root = mkdtempSync(join(tmpdir(), 'strata-rapl-'));
  try {
    const zone = (dir: string, name: string, uj: string): void => {
      mkdirSync(join(root, dir), { recursive: true });
      writeFileSync(join(root, dir, 'name'), `${name}\n`);
      writeFileSync(join(root, dir, 'energy_uj'), `${uj}\n`);
      writeFileSync(join(root, dir, 'max_energy_range_uj'), `${MAX}\n`);
    };
    zone('intel-rapl:0', 'package-0', '123456789');
    zone('intel-rapl:0:0', 'core', '1000');
    zone('intel-rapl:1', 'psys', '999999999');
    zone('intel-rapl:2', 'package-1', '42');
    mkdirSync(join(root, 'intel-rapl:3'));
    writeFileSync(join(root, 'intel-rapl:3', 'name'), 'package-2\n'); // energy_uj missing: skipped
    assert.deepEqual(readRaplSysfs(root), [
      { name: 'intel-rapl:0/package-0', energyUj: 123_456_789, maxEnergyRangeUj: MAX },
      { name: 'intel-rapl:2/package-1', energyUj: 42, maxEnergyRangeUj: MAX },
    ]);
    assert.equal(readRaplSysfs(join(root, 'absent')), null);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('procCpuSeconds parses /proc/<pid>/stat, even with spaces and parentheses in the command', () => {
  const root = mkdtempSync(join(tmpdir(), 'strata-proc-'));
  try {
    mkdirSync(join(root, '1234'));
    writeFileSync(join(root, '1234', 'stat'), '1234 (my (weird) cmd) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 10 5 20 0 1 0 12345 1000000 200 18446744073709551615\n');
    assert.equal(procCpuSeconds(1234, root), 3.15);
    assert.equal(procCpuSeconds(99999, root), null);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  if (process.platform === 'linux') assert.ok((procCpuSeconds(process.pid) ?? -1) >= 0);
});

test('this machine: whether RAPL is readable, and an end-to-end meter over real readers', async (t) => {
  const rapl = readRaplSysfs();
  t.diagnostic(`RAPL readable here: ${rapl === null ? 'no' : `yes (${rapl.map((z) => z.name).join(', ')})`}`);
  const meter = new EnergyMeter({ clock: systemClock, readers: systemEnergyReaders({ gpu: false }), cores: 2, memoryBytes: 2 ** 30, pue: 1.2 });
  await meter.start();
  let x = 0;
  for (let i = 0; i < 2_000_000; i++) x += Math.sqrt(i);
  assert.ok(x > 0);
  const r = await meter.stop();
  assert.equal(r.method, rapl === null ? 'tdp-estimate' : 'rapl');
  assert.ok(r.cpuKWh > 0, 'burned some CPU');
  near(r.totalKWh, (r.cpuKWh + r.gpuKWh + r.memoryKWh) * 1.2, 'total');
});

test('carbonReport: exactly the five contract fields, CO2 from the region signal', async () => {
  const es = CsvCarbonSignal.fromFile(resolve(import.meta.dirname, '../../../shared/data/scheduling/carbon/electricitymaps_hourly/ES_2023_hourly.csv'));
  const start = Date.parse('2026-01-01T00:30:00Z');
  const energy = { totalKWh: 3, samples: [{ startMs: start, endMs: start + 1_800_000, kWh: 1 }, { startMs: start + 1_800_000, endMs: start + 3_600_000, kWh: 2 }] };
  const report = carbonReport('job_123/att_1', 'east', energy, es);
  assert.deepEqual(Object.keys(report), ['workload', 'location', 'energy_consumed_kWh', 'carbon_gCO2eq', 'intensity_source']);
  assert.equal(report.workload, 'job_123/att_1');
  assert.equal(report.location, 'east');
  assert.equal(report.energy_consumed_kWh, 3);
  near(report.carbon_gCO2eq, 1 * 82.99 + 2 * 85.96, 'gCO2eq');
  assert.equal(report.intensity_source, 'electricitymaps ES 2023 direct (replayed by time of year)');

  const clock = new ManualClock(start);
  const meter = new EnergyMeter({ clock, readers: scripted([{ cpu: 0 }, { cpu: 90 }]), cores: 1, memoryBytes: 0, pue: 1 });
  await meter.start();
  clock.advance(90_000);
  const measured = carbonReport('w', 'local', await meter.stop(), new ConstantCarbonSignal(475));
  near(measured.carbon_gCO2eq, 4 * 90 * J * 475, 'from a meter');
  assert.equal(measured.intensity_source, 'constant 475 gCO2eq/kWh');
});
