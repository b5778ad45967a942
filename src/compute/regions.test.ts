// Compute config: the default, the shipped example against the real carbon series, and the errors
// (each must name the field path).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_COMPUTE_CONFIG, DEFAULT_PUE, loadComputeConfig, parseComputeConfig } from './index.ts';
import { isStrataError } from '../kernel/index.ts';

const EXAMPLE = resolve(import.meta.dirname, '../../examples/regions.yaml');

/** Asserts that `f` throws a 400 whose message names `field`. */
function throwsField(f: () => unknown, field: string, also?: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(isStrataError(e), `expected a StrataError, got ${String(e)}`);
    assert.equal(e.code, 'bad_request');
    assert.ok(e.message.includes(field), `message should name ${field}: ${e.message}`);
    if (also !== undefined) assert.match(e.message, also);
    return true;
  });
}

test('no file: one general region `local` with one on-demand CPU pool', () => {
  const c = loadComputeConfig(undefined);
  assert.equal(c, DEFAULT_COMPUTE_CONFIG);
  assert.deepEqual(c.regions.map((r) => [r.name, r.roles]), [['local', ['general']]]);
  assert.deepEqual(c.pools.map((p) => [p.name, p.region, p.kind, p.capacityType]), [['local-cpu', 'local', 'cpu', 'on-demand']]);
  assert.equal(c.regions[0]?.pue, DEFAULT_PUE);
});

test('the example config loads, and its carbon paths resolve to the real series', () => {
  const c = loadComputeConfig(EXAMPLE);
  assert.deepEqual(
    c.regions.map((r) => [r.name, r.roles]),
    [
      ['east', ['training']],
      ['west', ['inference', 'backup']],
      ['null-island', ['experimental']],
    ],
  );
  for (const r of c.regions) {
    assert.equal(r.carbon.kind, 'csv');
    if (r.carbon.kind === 'csv') {
      assert.ok(r.carbon.path.startsWith('/'), 'resolved to an absolute path');
      assert.ok(existsSync(r.carbon.path), r.carbon.path);
    }
  }
  const west = c.regions.find((r) => r.name === 'west');
  assert.ok(west?.carbon.kind === 'csv' && west.carbon.path.endsWith('/shared/data/scheduling/carbon/electricitymaps_hourly/US-CAL-CISO_2023_hourly.csv'));
  assert.ok(c.pools.some((p) => p.region === 'west' && p.capacityType === 'spot'), 'a spot pool in west');
  const island = c.pools.filter((p) => p.region === 'null-island').map((p) => [p.kind, p.flavor]);
  assert.deepEqual(island, [
    ['quantum-sim', 'statevector'],
    ['neuromorphic', 'lif'],
  ]);
  const h100 = c.pools.find((p) => p.flavor === 'nvidia-h100');
  assert.equal(h100?.powerWattsPerDevice, 700);
  assert.equal(h100?.labels['gpus-per-node'], '8', 'scalar label values become strings');
  assert.equal(c.pools.find((p) => p.flavor === 'nvidia-t4')?.powerWattsPerDevice, 70);
});

test('JSON works as well as YAML; defaults fill optional fields', () => {
  const c = parseComputeConfig(
    JSON.stringify({
      regions: [{ name: 'r1', role: 'inference' }],
      pools: [{ name: 'p1', region: 'r1', kind: 'gpu', flavor: 'nvidia-t4', powerWattsPerDevice: 70 }],
    }),
  );
  assert.deepEqual(c.regions[0], { name: 'r1', roles: ['inference'], carbon: { kind: 'constant', gCO2PerKWh: 475 }, pue: DEFAULT_PUE, priceMultiplier: 1, dataResidency: [] });
  assert.deepEqual(c.pools[0], { name: 'p1', region: 'r1', kind: 'gpu', flavor: 'nvidia-t4', capacityType: 'on-demand', pricePerDeviceHour: 0, powerWattsPerDevice: 70, labels: {}, placement: 'binpack' });
});

test('relative CSV paths resolve against baseDir; absolute ones and those without a baseDir stay', () => {
  const yaml = (p: string): string => `regions:\n  - name: a\n    carbon: {kind: csv, path: ${p}, valueColumn: "Carbon Intensity gCO₂eq/kWh (LCA)"}\n`;
  const rel = parseComputeConfig(yaml('data/x.csv'), { baseDir: '/etc/strata' }).regions[0]?.carbon;
  assert.deepEqual(rel, { kind: 'csv', path: '/etc/strata/data/x.csv', valueColumn: 'Carbon Intensity gCO₂eq/kWh (LCA)' });
  assert.equal((parseComputeConfig(yaml('/abs/x.csv'), { baseDir: '/etc/strata' }).regions[0]?.carbon as { path: string }).path, '/abs/x.csv');
  assert.equal((parseComputeConfig(yaml('data/x.csv')).regions[0]?.carbon as { path: string }).path, 'data/x.csv');
});

test('validation errors name the field path', () => {
  const region = (extra: string): string => `regions:\n  - name: a\n${extra}`;
  throwsField(() => parseComputeConfig(region('    roles: [training, gaming]\n')), 'regions[0].roles[1]', /training, inference, backup, experimental, general/);
  throwsField(() => parseComputeConfig(region('    prise: 3\n')), 'regions[0].prise', /unknown field/);
  throwsField(() => parseComputeConfig(region('    pue: 0.9\n')), 'regions[0].pue', /≥ 1/);
  throwsField(() => parseComputeConfig(region('    pue: "1.2"\n')), 'regions[0].pue');
  throwsField(() => parseComputeConfig(region('    priceMultiplier: -1\n')), 'regions[0].priceMultiplier');
  throwsField(() => parseComputeConfig(region('    role: training\n    roles: [inference]\n')), 'regions[0].roles', /either/);
  throwsField(() => parseComputeConfig(region('    carbon: {kind: api}\n')), 'regions[0].carbon.kind', /csv, constant/);
  throwsField(() => parseComputeConfig(region('    carbon: {kind: constant, gCO2PerKWh: -5}\n')), 'regions[0].carbon.gCO2PerKWh');
  throwsField(() => parseComputeConfig(region('    carbon: {kind: csv}\n')), 'regions[0].carbon.path');
  throwsField(() => parseComputeConfig(region('    dataResidency: [EU]\n')), 'regions[0].dataResidency[0]');
  throwsField(() => parseComputeConfig('regions:\n  - name: Bad_Name!\n'), 'regions[0].name');
  throwsField(() => parseComputeConfig('regions:\n  - name: a\n  - name: a\n'), 'regions[1].name', /duplicate/);
  throwsField(() => parseComputeConfig('regions: []\n'), 'regions');
  throwsField(() => parseComputeConfig(''), 'regions', /empty/);
  throwsField(() => parseComputeConfig('zones: []\n'), 'zones', /unknown field/);
  const pool = (over: Record<string, unknown>): string =>
    JSON.stringify({ regions: [{ name: 'a' }], pools: [{ name: 'p', region: 'a', kind: 'gpu', flavor: 'nvidia-t4', powerWattsPerDevice: 70, ...over }] });
  assert.equal(parseComputeConfig(pool({})).pools.length, 1);
  throwsField(() => parseComputeConfig(pool({ kind: 'asic' })), 'pools[0].kind', /quantum-sim, neuromorphic/);
  throwsField(() => parseComputeConfig(pool({ region: 'b' })), 'pools[0].region', /unknown region 'b'/);
  throwsField(() => parseComputeConfig(pool({ capacityType: 'reserved' })), 'pools[0].capacityType', /on-demand, spot/);
  throwsField(() => parseComputeConfig(pool({ pricePerDeviceHour: -1 })), 'pools[0].pricePerDeviceHour');
  throwsField(() => parseComputeConfig(pool({ labels: { rack: [1, 2] } })), 'pools[0].labels.rack');
  throwsField(() => parseComputeConfig('regions: [{name: a}]\npools:\n  - {name: p, region: a, kind: cpu, flavor: x}\n'), 'pools[0].powerWattsPerDevice');
  throwsField(() => parseComputeConfig('regions: [{name: a}]\npools:\n  - {name: p, region: a, kind: cpu, flavor: x, powerWattsPerDevice: 1}\n  - {name: p, region: a, kind: cpu, flavor: x, powerWattsPerDevice: 1}\n'), 'pools[1].name', /duplicate/);
});

test('YAML syntax errors give the source and line', () => {
  throwsField(() => parseComputeConfig('regions:\n  - name: a\n  - name: a\n    name: b\n', { source: 'my.yaml' }), 'my.yaml line 4', /not valid YAML/);
});

test('loadComputeConfig refuses a carbon path that does not exist, naming the field', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-compute-'));
  try {
    const file = join(dir, 'regions.yaml');
    writeFileSync(file, 'regions:\n  - name: a\n    carbon: {kind: csv, path: missing.csv}\n');
    throwsField(() => loadComputeConfig(file), 'regions[0].carbon.path', /missing\.csv/);
    throwsField(() => loadComputeConfig(join(dir, 'nope.yaml')), 'nope.yaml', /cannot read/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('quotas and pool placement in the regions file: parsed with units, bad values named by path', () => {
  const c = parseComputeConfig(`
regions: [{name: a}]
pools:
  - {name: g, region: a, kind: gpu, flavor: nvidia-h100, powerWattsPerDevice: 700, placement: spread}
quotas:
  - team: vision
    cohort: research
    weight: 2
    flavors:
      nvidia-h100: {nominal: {cpu: 64, memoryGiB: 512, devices: 8}, borrowingLimit: {devices: 4}}
      "spot:nvidia-h100": {nominal: {devices: 2}}
`);
  assert.equal(c.pools[0]?.placement, 'spread');
  assert.deepEqual(c.quotas, [
    {
      team: 'vision',
      cohort: 'research',
      weight: 2,
      flavors: {
        'nvidia-h100': { nominal: { cpuMillis: 64000, memoryBytes: 512 * 2 ** 30, devices: 8 }, borrowingLimit: { cpuMillis: 0, memoryBytes: 0, devices: 4 } },
        'spot:nvidia-h100': { nominal: { cpuMillis: 0, memoryBytes: 0, devices: 2 } },
      },
    },
  ]);
  throwsField(() => parseComputeConfig('regions: [{name: a}]\npools: [{name: p, region: a, kind: cpu, flavor: x, powerWattsPerDevice: 1, placement: random}]'), 'pools[0].placement', /binpack, spread/);
  throwsField(() => parseComputeConfig('regions: [{name: a}]\nquotas: [{team: t, flavors: {x: {nominal: {cpu: -1}}}}]'), 'quotas[0].flavors.x.nominal.cpu', /≥ 0/);
  throwsField(() => parseComputeConfig('regions: [{name: a}]\nquotas: [{team: t, flavors: {x: {}}}]'), 'quotas[0].flavors.x.nominal', /required/);
  throwsField(() => parseComputeConfig('regions: [{name: a}]\nquotas: [{team: t, flavors: {}}, {team: t, flavors: {}}]'), 'quotas[1].team', /two entries/);
});
