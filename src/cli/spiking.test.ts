// `strata spiking run|validate`, in process: a small network file through the real command
// (commander, YAML reading, engine), its --json shape, and the refusals (bad file, bad duration).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { parseBioDuration, registerSpiking } from './spiking.ts';

const NET = `
name: tiny
dt: 0.1
duration: 100
populations:
  - name: src
    size: 50
    neuron: { type: poisson, rate: 40 }
  - name: exc
    size: 40
    neuron:
      type: lif
      tau_m: 20
      e_l: -60
      v_th: -50
      v_reset: -60
      t_ref: 2
      receptors: { ampa: { tau: 5 } }
projections:
  - { from: src, to: exc, weight: 4, delay: 1, connect: { rule: fixed_indegree, k: 10 } }
monitors:
  spikes: [{ population: exc }]
`;

/** Runs `strata <args>` with a fresh program; returns what it printed on stdout. */
async function strata(args: readonly string[]): Promise<string> {
  const program = new Command('strata').option('--json').exitOverride().configureOutput({ writeErr: () => {} });
  registerSpiking(program);
  let printed = '';
  const write = process.stdout.write.bind(process.stdout);
  const capture = (chunk: string | Uint8Array): boolean => {
    printed += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  };
  process.stdout.write = capture;
  try {
    await program.parseAsync(['node', 'strata', ...args]);
  } finally {
    process.stdout.write = write;
  }
  return printed;
}

test('strata spiking run --json: per-population rate_hz and cv_isi, and wall_seconds; --out writes the spikes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-spiking-'));
  try {
    const file = join(dir, 'net.yaml');
    writeFileSync(file, NET);
    const out = join(dir, 'result.json');
    const r = JSON.parse(await strata(['spiking', 'run', file, '--duration', '0.5s', '--seed', '3', '--json', '--out', out])) as Record<string, unknown>;
    assert.equal(r['duration_ms'], 500);
    assert.equal(r['seed'], 3);
    assert.equal(typeof r['wall_seconds'], 'number');
    assert.equal(r['monitors'], undefined, 'the summary leaves the recordings out');
    const pops = r['populations'] as { name: string; rate_hz: number; cv_isi: number | null }[];
    assert.deepEqual(pops.map((p) => p.name), ['src', 'exc']);
    assert.ok(Math.abs((pops[0]?.rate_hz ?? 0) - 40) < 6, `source rate ${pops[0]?.rate_hz}`);
    assert.ok((pops[1]?.rate_hz ?? 0) > 1, 'the driven population fires');
    const full = JSON.parse(readFileSync(out, 'utf8')) as { monitors: { spikes: { times_ms: number[] }[] }; populations: { spike_count: number }[] };
    assert.equal(full.monitors.spikes[0]?.times_ms.length, full.populations[1]?.spike_count);
    // Same seed, same numbers; the human table names every population.
    const again = JSON.parse(await strata(['spiking', 'run', file, '--duration', '500ms', '--seed', '3', '--json'])) as Record<string, unknown>;
    assert.deepEqual(again['populations'], r['populations']);
    const human = await strata(['spiking', 'run', file]);
    assert.match(human, /POPULATION\s+NEURONS\s+SPIKES\s+RATE_HZ\s+CV_ISI/);
    assert.match(human, /tiny: 90 neurons, 400 synapses, 100 ms at dt 0\.1 ms, seed 0/);
    const v = JSON.parse(await strata(['spiking', 'validate', file, '--json'])) as Record<string, unknown>;
    assert.equal(v['neurons'], 90);
    assert.equal(v['expected_synapses'], 400);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('strata spiking run refuses a bad description, bad YAML and a bad duration, naming the problem', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-spiking-'));
  try {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, NET.replace('delay: 1', 'delay: -1').replace('size: 40', 'size: 1e12'));
    await assert.rejects(strata(['spiking', 'run', bad]), (e: Error) => {
      assert.match(e.message, /bad\.yaml: invalid network: /);
      assert.match(e.message, /populations\[1\]\.size: must be at most 10,000,000; got 1000000000000/);
      assert.match(e.message, /projections\[0\]\.delay: a delay cannot be negative; got -1 ms/);
      return true;
    });
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'populations: [\n  { name: a\n');
    await assert.rejects(strata(['spiking', 'run', broken]), /broken\.yaml:\d+:\d+: not valid YAML or JSON/);
    const dup = join(dir, 'dup.yaml');
    writeFileSync(dup, 'dt: 0.1\ndt: 0.2\npopulations: []\n');
    await assert.rejects(strata(['spiking', 'validate', dup]), /not valid YAML or JSON: Map keys must be unique/);
    const good = join(dir, 'net.yaml');
    writeFileSync(good, NET);
    await assert.rejects(strata(['spiking', 'run', good, '--duration', '1000']), /invalid duration '1000': give a number and a unit/);
    await assert.rejects(strata(['spiking', 'run', good, '--seed', '-4']), /invalid seed '-4'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('durations: ms, s and min', () => {
  assert.equal(parseBioDuration('1s'), 1000);
  assert.equal(parseBioDuration('250ms'), 250);
  assert.equal(parseBioDuration('0.5 s'), 500);
  assert.equal(parseBioDuration('2min'), 120_000);
  assert.throws(() => parseBioDuration('0s'), /greater than 0/);
  assert.throws(() => parseBioDuration('1h'), /unit/);
});
