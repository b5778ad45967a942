// Benchmark: the spiking-network engine (issue 6). Two parts:
//   1. speed — the Vogels–Abbott COBA network (examples/spiking/coba.yaml; 4,000 neurons, ≈ 320,000
//      synapses), 10 s of biological time, wall and CPU time of the build and of the step loop.
//      Anchor: Brian2 C++ standalone, one thread, 1.65 s on this machine class (research note §2.2);
//      target < 3.5 s.
//   2. reproductions — COBA, CUBA and Brunel-AI over several seeds, 1 s each: per-population rates
//      and CV(ISI) against the bands measured with Brian2 (COBA 15–25 Hz, CV > 1; CUBA 4–8 Hz,
//      CV 0.5–0.8; Brunel AI 30–40 Hz, CV 0.3–0.6). Exits 1 if any run falls outside its band.
//
//   npm run bench -- spiking [--quick] [--json]
//
// The speed run is repeated 3 times (the machine is shared): the median is compared with the target,
// and CPU time (user + system) is printed beside wall time because it moves less with contention.
// --quick: one COBA run of 2 s and fewer seeds (the speed target applies to 10 s only).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parse as parseYaml } from 'yaml';
import { parseNetwork, simulate } from '../src/spiking/index.ts';
import type { Network, SimulationResult } from '../src/spiking/index.ts';
import { describeMachine, machine } from './support/machine.ts';
import { benchFlags, fix, humanWriter, int, repoRoot } from './support/report.ts';

const ANCHOR_SECONDS = 1.65; // Brian2 2.5.1 C++ standalone, 1 thread, COBA 10 s
const TARGET_SECONDS = 3.5;
const flags = benchFlags();
const say = humanWriter(flags);
const SPEED_MS = flags.quick ? 2000 : 10_000;
const SPEED_RUNS = flags.quick ? 1 : 3;

interface Band {
  readonly rate: readonly [number, number];
  readonly cv: readonly [number, number];
}
const NETWORKS: readonly { readonly name: string; readonly file: string; readonly band: Band; readonly seeds: readonly number[] }[] = [
  { name: 'COBA', file: 'coba.yaml', band: { rate: [15, 25], cv: [1, Number.POSITIVE_INFINITY] }, seeds: flags.quick ? [1, 2] : [1, 2, 3, 4, 5] },
  { name: 'CUBA', file: 'cuba.yaml', band: { rate: [4, 8], cv: [0.5, 0.8] }, seeds: flags.quick ? [1, 2] : [1, 2, 3, 4, 5] },
  { name: 'Brunel AI', file: 'brunel-ai.yaml', band: { rate: [30, 40], cv: [0.3, 0.6] }, seeds: flags.quick ? [1] : [1, 2, 3] },
];

const load = (file: string): Network => parseNetwork(parseYaml(readFileSync(join(repoRoot, 'examples', 'spiking', file), 'utf8')) as unknown);
const clock = { now: () => performance.now() };

/** One run with its CPU time (user + system, all threads of this process) split like the wall time. */
function timedRun(net: Network, durationMs: number, seed: number): { r: SimulationResult; cpuSeconds: number } {
  const c0 = process.cpuUsage();
  const r = simulate(net, { durationMs, seed, clock });
  const c = process.cpuUsage(c0);
  return { r, cpuSeconds: (c.user + c.system) / 1e6 };
}

const m = machine();
say(`spiking benchmark${flags.quick ? ' (--quick)' : ''}: the built-in LIF engine on the Vogels–Abbott and Brunel networks`);
say(describeMachine(m));
say(`anchor: Brian2 C++ standalone, 1 thread, COBA 10 s biological time in ${ANCHOR_SECONDS} s; target < ${TARGET_SECONDS} s`);
say('');

// 1. Speed.
const median = (xs: readonly number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};
const coba = load('coba.yaml');
const speedRuns = Array.from({ length: SPEED_RUNS }, () => timedRun(coba, SPEED_MS, 1));
const s = speedRuns[0]?.r;
if (s === undefined) throw new Error('no speed run');
const walls = speedRuns.map((x) => x.r.wall_seconds);
const cpus = speedRuns.map((x) => x.cpuSeconds);
const wall = median(walls);
const cpu = median(cpus);
const runSeconds = median(speedRuns.map((x) => x.r.run_seconds));
const full = SPEED_MS === 10_000;
say(`COBA ${SPEED_MS / 1000} s biological, seed 1: ${int(s.neurons)} neurons, ${int(s.synapses)} synapses, ${int(s.steps)} steps of ${s.dt_ms} ms; ${SPEED_RUNS} run${SPEED_RUNS === 1 ? '' : 's'}`);
speedRuns.forEach((x, k) => say(`  run ${k + 1}: wall ${fix(x.r.wall_seconds)} s = build ${fix(x.r.build_seconds)} s + run ${fix(x.r.run_seconds)} s;  CPU ${fix(x.cpuSeconds)} s`));
say(`  median: wall ${fix(wall)} s (${fix(runSeconds / (SPEED_MS / 1000), 3)} × real time), CPU ${fix(cpu)} s;  best wall ${fix(Math.min(...walls))} s`);
say(`  ${int(s.populations.reduce((a, p) => a + p.spike_count, 0))} spikes, ${fix(s.rate_hz)} Hz;  ${fix((runSeconds * 1e9) / (s.steps * s.neurons), 1)} ns per neuron-step all in`);
say(
  full
    ? `  vs target ${TARGET_SECONDS} s: measured/target ${fix(wall / TARGET_SECONDS)} — ${wall < TARGET_SECONDS ? 'MET' : 'MISSED'} (CPU/target ${fix(cpu / TARGET_SECONDS)});  vs Brian2 anchor ${ANCHOR_SECONDS} s: ${fix(wall / ANCHOR_SECONDS)}× wall, ${fix(cpu / ANCHOR_SECONDS)}× CPU`
    : `  the target (< ${TARGET_SECONDS} s) is for 10 s of biological time: run without --quick to compare`,
);
say('');

// 2. Reproductions.
interface RunRow {
  readonly network: string;
  readonly seed: number;
  readonly populations: readonly { name: string; rate_hz: number; cv_isi: number | null }[];
  readonly wallSeconds: number;
  readonly cpuSeconds: number;
  readonly inBand: boolean;
}
const rows: RunRow[] = [];
const inBand = (band: Band, rate: number, cv: number | null): boolean => rate >= band.rate[0] && rate <= band.rate[1] && cv !== null && cv > band.cv[0] && cv <= band.cv[1];
const showBand = (b: Band): string => `${b.rate[0]}–${b.rate[1]} Hz, CV ${Number.isFinite(b.cv[1]) ? `${b.cv[0]}–${b.cv[1]}` : `> ${b.cv[0]}`}`;
for (const spec of NETWORKS) {
  const net = load(spec.file);
  say(`${spec.name} (${spec.file}, ${int(net.neuronCount)} neurons), 1 s per seed; band ${showBand(spec.band)}`);
  for (const seed of spec.seeds) {
    const { r, cpuSeconds } = timedRun(net, 1000, seed);
    const ok = r.populations.every((p) => inBand(spec.band, p.rate_hz, p.cv_isi));
    rows.push({ network: spec.name, seed, populations: r.populations.map((p) => ({ name: p.name, rate_hz: p.rate_hz, cv_isi: p.cv_isi })), wallSeconds: r.wall_seconds, cpuSeconds, inBand: ok });
    const pops = r.populations.map((p) => `${p.name} ${fix(p.rate_hz)} Hz CV ${p.cv_isi === null ? '-' : fix(p.cv_isi, 3)}`).join('   ');
    say(`  seed ${seed}: ${pops}   ${int(r.synapses)} syn   wall ${fix(r.wall_seconds)} s (build ${fix(r.build_seconds)}), CPU ${fix(cpuSeconds)} s   ${ok ? 'in band' : 'OUT OF BAND'}`);
  }
}
const allIn = rows.every((r) => r.inBand);
say('');
say(`reproductions: ${rows.filter((r) => r.inBand).length}/${rows.length} runs in their bands — ${allIn ? 'PASS' : 'FAIL'}`);

if (flags.json) {
  process.stdout.write(
    `${JSON.stringify({
      benchmark: 'spiking',
      quick: flags.quick,
      machine: m,
      anchor: { seconds: ANCHOR_SECONDS, what: 'Brian2 C++ standalone, 1 thread, COBA 10 s' },
      target: { seconds: TARGET_SECONDS },
      coba: {
        biologicalSeconds: SPEED_MS / 1000,
        neurons: s.neurons,
        synapses: s.synapses,
        steps: s.steps,
        runs: speedRuns.map((x) => ({ wallSeconds: x.r.wall_seconds, buildSeconds: x.r.build_seconds, runSeconds: x.r.run_seconds, cpuSeconds: x.cpuSeconds })),
        wallSecondsMedian: wall,
        cpuSecondsMedian: cpu,
        realtimeFactor: runSeconds / (SPEED_MS / 1000),
        rateHz: s.rate_hz,
        ratioToTarget: full ? wall / TARGET_SECONDS : null,
        cpuRatioToTarget: full ? cpu / TARGET_SECONDS : null,
        ratioToAnchor: full ? wall / ANCHOR_SECONDS : null,
        met: full ? wall < TARGET_SECONDS : null,
      },
      reproductions: rows,
      allInBand: allIn,
    })}\n`,
  );
}
process.exitCode = allIn ? 0 : 1;
