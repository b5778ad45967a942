// One reproduction in the unit suite (the multi-seed COBA/CUBA/Brunel sweep is in bench/spiking.ts):
// the shipped Vogels–Abbott COBA network, 1 s of biological time, must land in the band measured
// with Brian2 (research note §2.2): mean rate 15–25 Hz in both populations and CV(ISI) > 1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseNetwork, simulate } from './index.ts';

test('COBA (Vogels & Abbott 2005), 1 s, seed 1: 15–25 Hz and CV(ISI) > 1', () => {
  const file = join(import.meta.dirname, '..', '..', 'examples', 'spiking', 'coba.yaml');
  const net = parseNetwork(parseYaml(readFileSync(file, 'utf8')) as unknown);
  const r = simulate(net, { durationMs: 1000, seed: 1 });
  assert.equal(r.neurons, 4000);
  assert.ok(Math.abs(r.synapses - 320_000) < 6 * Math.sqrt(320_000), `${r.synapses} synapses`);
  for (const p of r.populations) {
    assert.ok(p.rate_hz >= 15 && p.rate_hz <= 25, `${p.name}: ${p.rate_hz.toFixed(2)} Hz outside 15–25 Hz`);
    assert.ok(p.cv_isi !== null && p.cv_isi > 1, `${p.name}: CV(ISI) ${String(p.cv_isi)} not > 1`);
    assert.ok(p.cv_neurons > p.size / 2, `${p.name}: CV from ${p.cv_neurons} neurons only`);
  }
  assert.ok(r.rate_hz >= 15 && r.rate_hz <= 25);
});
