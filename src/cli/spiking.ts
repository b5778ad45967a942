// `strata spiking`: run the built-in spiking-network engine locally on a network description
// (YAML or JSON, the format in src/spiking/parse.ts), without a server — the same engine the
// `spiking-network` job kind runs on a neuromorphic pool.
//
//   strata spiking run examples/spiking/coba.yaml --duration 1s --seed 3 --json
//   strata spiking validate net.yaml
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Command } from 'commander';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { estimateMemoryBytes, parseNetwork, simulate, summarise } from '../spiking/index.ts';
import type { Network } from '../spiking/index.ts';
import { makeOut } from './output.ts';

/** Largest description file read (descriptions are small; connectivity is generated, not listed). */
const MAX_FILE_BYTES = 16 * 2 ** 20;

/** YAML 1.2 core schema; duplicate keys and alias bombs refused (as for job specs). */
const YAML_OPTIONS = { version: '1.2', schema: 'core', merge: false, uniqueKeys: true, maxAliasCount: 100, strict: true, logLevel: 'error' } as const;

/**
 * Parses a biological duration: a number with a unit, `ms`, `s` or `min` (`1s`, `250ms`, `0.5s`),
 * into milliseconds.
 */
export function parseBioDuration(s: string): number {
  const m = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|min)\s*$/.exec(s);
  if (m === null) throw new Error(`invalid duration '${s}': give a number and a unit, ms, s or min (e.g. 1s, 250ms)`);
  const ms = Number(m[1]) * { ms: 1, s: 1000, min: 60_000 }[m[2] as 'ms' | 's' | 'min'];
  if (!(ms > 0) || !Number.isFinite(ms)) throw new Error(`invalid duration '${s}': it must be greater than 0`);
  return ms;
}

function parseSeed(s: string): number {
  const n = Number(s);
  if (!/^\d+$/.test(s.trim()) || !Number.isSafeInteger(n)) throw new Error(`invalid seed '${s}': give a whole number from 0 to ${Number.MAX_SAFE_INTEGER}`);
  return n;
}

/** Reads and validates a description file; errors name the file (and the line for YAML syntax). */
export function loadNetworkFile(path: string): Network {
  const size = statSync(path).size;
  if (size > MAX_FILE_BYTES) throw new Error(`${path} is ${size} bytes; a network description may be at most ${MAX_FILE_BYTES} bytes`);
  const text = readFileSync(path, 'utf8');
  let doc: unknown;
  try {
    doc = parseYaml(text, YAML_OPTIONS);
  } catch (e) {
    if (e instanceof YAMLParseError) {
      const at = e.linePos?.[0];
      throw new Error(`${path}${at === undefined ? '' : `:${at.line}:${at.col}`}: not valid YAML or JSON: ${e.message.split('\n')[0] ?? ''}`);
    }
    throw e;
  }
  try {
    return parseNetwork(doc);
  } catch (e) {
    if (e instanceof Error) e.message = `${path}: ${e.message}`;
    throw e;
  }
}

const fmt = (x: number | null, digits: number): string => (x === null ? '-' : x.toFixed(digits));

export function registerSpiking(program: Command): void {
  const spiking = program.command('spiking').description('the built-in spiking-network engine (LIF neurons, CSR synapses, STDP), run locally');

  spiking
    .command('run <file>')
    .description('simulate a network description (YAML or JSON) and print each population\'s rate and CV(ISI)')
    .option('--duration <time>', 'biological time to simulate, e.g. 1s or 250ms (default: the file\'s duration)')
    .option('--seed <n>', 'seed for connectivity, initial state and inputs (default: the file\'s seed, else 0)')
    .option('--out <file>', 'also write the full result, with monitor recordings, as JSON to this file')
    .action((file: string, opts: { duration?: string; seed?: string; out?: string }, cmd: Command) => {
      const out = makeOut(cmd.optsWithGlobals<{ json?: boolean }>().json === true);
      const durationMs = opts.duration === undefined ? undefined : parseBioDuration(opts.duration);
      const seed = opts.seed === undefined ? undefined : parseSeed(opts.seed);
      const t0 = performance.now();
      const net = loadNetworkFile(file);
      const result = simulate(net, { ...(durationMs === undefined ? {} : { durationMs }), ...(seed === undefined ? {} : { seed }), clock: { now: () => performance.now() } });
      const wall = (performance.now() - t0) / 1000;
      if (opts.out !== undefined) writeFileSync(opts.out, `${JSON.stringify(result)}\n`);
      // wall_seconds here is the whole command's work (read, validate, build, run), not process start.
      const summary = { ...summarise(result), wall_seconds: wall };
      if (out.json) return out.record(summary);
      out.table(
        summary,
        result.populations.map((p) => ({ population: p.name, neurons: p.size, spikes: p.spike_count, rate_hz: fmt(p.rate_hz, 2), cv_isi: fmt(p.cv_isi, 3) })),
        ['population', 'neurons', 'spikes', 'rate_hz', 'cv_isi'],
      );
      out.line('');
      out.line(`${result.network}: ${result.neurons.toLocaleString('en-US')} neurons, ${result.synapses.toLocaleString('en-US')} synapses, ${result.duration_ms} ms at dt ${result.dt_ms} ms, seed ${result.seed}`);
      out.line(`wall ${wall.toFixed(2)} s (build ${result.build_seconds.toFixed(2)} s, run ${result.run_seconds.toFixed(2)} s = ${result.realtime_factor.toFixed(2)} × real time)`);
      if (opts.out !== undefined) out.line(`full result written to ${opts.out}`);
    });

  spiking
    .command('validate <file>')
    .description('check a network description without running it; print its size and memory estimate')
    .action((file: string, _opts: unknown, cmd: Command) => {
      const out = makeOut(cmd.optsWithGlobals<{ json?: boolean }>().json === true);
      const net = loadNetworkFile(file);
      const summary = {
        network: net.name,
        valid: true,
        neurons: net.neuronCount,
        expected_synapses: Math.round(net.expectedSynapses),
        populations: net.populations.length,
        projections: net.projections.length,
        inputs: net.inputs.length,
        dt_ms: net.dt,
        duration_ms: net.duration,
        memory_bytes: estimateMemoryBytes(net),
      };
      if (out.json) return out.record(summary);
      const mib = summary.memory_bytes / 2 ** 20;
      const memory = mib >= 10 ? `${mib.toFixed(0)} MiB` : mib >= 1 ? `${mib.toFixed(1)} MiB` : `${(summary.memory_bytes / 1024).toFixed(0)} KiB`;
      out.line(`${file}: valid — ${summary.neurons.toLocaleString('en-US')} neurons, about ${summary.expected_synapses.toLocaleString('en-US')} synapses, about ${memory} to run`);
    });
}
