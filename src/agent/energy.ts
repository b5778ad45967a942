// Energy per attempt, measured the way CodeCarbon and Kepler do it (research/scheduling.md §5):
//   CPU   — RAPL package counters (/sys/class/powercap/intel-rapl:N/energy_uj, wraparound handled
//           with max_energy_range_uj) attributed to the attempt by its share of CPU time (Kepler);
//           without RAPL, TDP per core × CPU seconds (CodeCarbon's TDP × load);
//   GPU   — whole-device power from `nvidia-smi --query-gpu=power.draw` (CodeCarbon, Kepler exclusive mode);
//   RAM   — CodeCarbon's heuristic of 3 W per 8 GB;
//   total — (CPU + GPU + RAM) × the region's PUE.
// The meter is passive: the executor calls start(), sample() on its own interval and stop(); all
// readings come through injected readers, so tests feed fake counters without hardware.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { integrateEmissions } from '../compute/index.ts';
import type { CarbonSignal, EnergySample } from '../compute/index.ts';
import { StrataError } from '../kernel/index.ts';
import type { Clock } from '../kernel/index.ts';
import { runNvidiaSmi } from './capacity.ts';

/**
 * Default CPU power per core when the model's TDP is unknown: CodeCarbon's
 * `DEFAULT_POWER_PER_CORE = 4` W (codecarbon/core/cpu.py). Energy = this × CPU seconds.
 */
export const DEFAULT_TDP_WATTS_PER_CORE = 4;
/** CodeCarbon's RAM heuristic: 3 W per 8 GB (CodeCarbon methodology, "RAM"); GB taken as GiB. */
export const DEFAULT_MEMORY_WATTS_PER_GIB = 3 / 8;
/** CodeCarbon samples power every 15 s (`measure_power_secs`); a sensible interval for sample(). */
export const DEFAULT_SAMPLE_INTERVAL_MS = 15_000;
/** CodeCarbon's assumption when load is unknown: the CPU draws 50% of its TDP on average. */
const UNKNOWN_LOAD_FRACTION = 0.5;
const J_PER_KWH = 3_600_000;

/** One RAPL zone's counter. */
export interface RaplZone {
  readonly name: string;
  readonly energyUj: number;
  /** The counter wraps to 0 after this value. */
  readonly maxEnergyRangeUj: number;
}

/** Where the meter's readings come from. Each resolves to null when its source is unavailable. */
export interface EnergyReaders {
  /** RAPL package counters (whole machine), or null when not readable. */
  readRapl(): Promise<readonly RaplZone[] | null>;
  /** CPU seconds (user + system) the attempt has used so far, or null when unknown. */
  readCpuSeconds(): Promise<number | null>;
  /** Instantaneous power per GPU in watts (null entries for `[N/A]`), or null without GPUs. */
  readGpuWatts(): Promise<readonly (number | null)[] | null>;
}

/** How CPU energy was obtained: measured counters, or an estimate from TDP and load. */
export type EnergyMethod = 'rapl' | 'tdp-estimate';

/** Energy of one attempt. `cpuKWh`, `gpuKWh` and `memoryKWh` are IT energy; `totalKWh` and `samples` include PUE. */
export interface EnergyReport {
  readonly cpuKWh: number;
  readonly gpuKWh: number;
  readonly memoryKWh: number;
  readonly totalKWh: number;
  /** `rapl` only when every interval's CPU energy came from RAPL. */
  readonly method: EnergyMethod;
  /** Per-interval energy after PUE; Σ kWh = totalKWh. Feed to integrateEmissions(). */
  readonly samples: readonly EnergySample[];
}

/** Options for {@link EnergyMeter}. */
export interface EnergyMeterOptions {
  readonly clock: Clock;
  readonly readers: EnergyReaders;
  /** Logical CPUs of the machine (RAPL covers all of them). */
  readonly cores: number;
  /** Memory allocated to the attempt, in bytes (its request, or its peak RSS when known). */
  readonly memoryBytes: number;
  /** Region PUE (≥ 1). */
  readonly pue: number;
  readonly tdpWattsPerCore?: number;
  readonly memoryWattsPerGiB?: number;
  /** GPUs assigned to the attempt, by nvidia-smi index; default all GPUs reported. */
  readonly gpuIndices?: readonly number[];
}

interface Reading {
  readonly timeMs: number;
  readonly rapl: readonly RaplZone[] | null;
  readonly cpuSeconds: number | null;
  readonly gpuWatts: readonly (number | null)[] | null;
}

/**
 * Meters one attempt: `start()` before it runs, `sample()` every {@link DEFAULT_SAMPLE_INTERVAL_MS}
 * or so while it runs (often enough that a RAPL counter wraps at most once between samples), and
 * `stop()` when it ends. Calls are serialised; each one closes an interval.
 *
 * CPU attribution with RAPL follows Kepler: active energy = ΔE × node CPU-usage ratio, and the
 * attempt's share of it = its CPU-time Δ / node CPU-time Δ; the node terms cancel, so the attempt
 * gets ΔE × its CPU seconds / (wall seconds × cores). Idle power is not attributed to attempts.
 * When CPU time is unknown, RAPL's whole package energy is charged (a dedicated machine), and the
 * TDP estimate assumes 50% load (CodeCarbon).
 */
export class EnergyMeter {
  private readonly o: EnergyMeterOptions;
  private readonly tdpPerCore: number;
  private readonly memWatts: number;
  private state: 'new' | 'running' | 'stopped' = 'new';
  private last: Reading | undefined;
  private cpuJ = 0;
  private gpuJ = 0;
  private memJ = 0;
  private allRapl = true;
  private readonly samples: EnergySample[] = [];
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: EnergyMeterOptions) {
    if (!(options.cores >= 1)) throw new StrataError('internal', `energy meter: cores must be ≥ 1 (got ${options.cores})`);
    if (!(options.pue >= 1)) throw new StrataError('internal', `energy meter: pue must be ≥ 1 (got ${options.pue})`);
    this.o = options;
    this.tdpPerCore = options.tdpWattsPerCore ?? DEFAULT_TDP_WATTS_PER_CORE;
    this.memWatts = (options.memoryWattsPerGiB ?? DEFAULT_MEMORY_WATTS_PER_GIB) * (Math.max(0, options.memoryBytes) / 2 ** 30);
  }

  /** Takes the first reading. */
  start(): Promise<void> {
    return this.serial(async () => {
      if (this.state !== 'new') throw new StrataError('internal', 'energy meter already started');
      this.state = 'running';
      this.last = await this.read();
    });
  }

  /** Closes the current interval and returns it (kWh after PUE). */
  sample(): Promise<EnergySample> {
    return this.serial(async () => {
      if (this.state !== 'running') throw new StrataError('internal', `energy meter is ${this.state === 'new' ? 'not started' : 'stopped'}`);
      return this.close(await this.read());
    });
  }

  /**
   * Closes the last interval and returns the attempt's energy. `final.cpuSeconds` replaces the last
   * CPU-time reading when the executor knows the exact total (the process has exited and /proc no
   * longer has it).
   */
  stop(final: { readonly cpuSeconds?: number } = {}): Promise<EnergyReport> {
    return this.serial(async () => {
      if (this.state !== 'running') throw new StrataError('internal', `energy meter is ${this.state === 'new' ? 'not started' : 'already stopped'}`);
      const r = await this.read();
      this.close(final.cpuSeconds === undefined ? r : { ...r, cpuSeconds: final.cpuSeconds });
      this.state = 'stopped';
      const pue = this.o.pue;
      return {
        cpuKWh: this.cpuJ / J_PER_KWH,
        gpuKWh: this.gpuJ / J_PER_KWH,
        memoryKWh: this.memJ / J_PER_KWH,
        totalKWh: ((this.cpuJ + this.gpuJ + this.memJ) * pue) / J_PER_KWH,
        method: this.allRapl ? 'rapl' : 'tdp-estimate',
        samples: [...this.samples],
      };
    });
  }

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const run = this.queue.then(f, f);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async read(): Promise<Reading> {
    const [rapl, cpuSeconds, gpuWatts] = await Promise.all([this.o.readers.readRapl(), this.o.readers.readCpuSeconds(), this.o.readers.readGpuWatts()]);
    return { timeMs: this.o.clock.now(), rapl, cpuSeconds, gpuWatts };
  }

  private close(cur: Reading): EnergySample {
    const prev = this.last ?? cur;
    this.last = cur;
    const wallS = Math.max(0, cur.timeMs - prev.timeMs) / 1000;
    const cpuDelta = cur.cpuSeconds !== null && prev.cpuSeconds !== null ? Math.max(0, cur.cpuSeconds - prev.cpuSeconds) : null;

    let cpuJ: number;
    const raplJ = prev.rapl !== null && cur.rapl !== null ? raplDeltaJoules(prev.rapl, cur.rapl) : null;
    if (raplJ !== null) {
      const share = cpuDelta === null ? 1 : wallS > 0 ? Math.min(1, cpuDelta / (wallS * this.o.cores)) : 0;
      cpuJ = raplJ * share;
    } else {
      this.allRapl = false;
      cpuJ = cpuDelta !== null ? this.tdpPerCore * cpuDelta : this.tdpPerCore * this.o.cores * UNKNOWN_LOAD_FRACTION * wallS;
    }
    const gpuJ = gpuJoules(prev.gpuWatts, cur.gpuWatts, wallS, this.o.gpuIndices);
    const memJ = this.memWatts * wallS;
    this.cpuJ += cpuJ;
    this.gpuJ += gpuJ;
    this.memJ += memJ;
    const sample = { startMs: prev.timeMs, endMs: cur.timeMs, kWh: ((cpuJ + gpuJ + memJ) * this.o.pue) / J_PER_KWH };
    this.samples.push(sample);
    return sample;
  }
}

/**
 * Joules between two readings of the same zones, matched by name. A counter lower than before has
 * wrapped once: Δ = (max − prev) + cur. Null when no zone appears in both readings.
 */
export function raplDeltaJoules(prev: readonly RaplZone[], cur: readonly RaplZone[]): number | null {
  let uj = 0;
  let matched = false;
  for (const c of cur) {
    const p = prev.find((z) => z.name === c.name);
    if (p === undefined) continue;
    matched = true;
    uj += c.energyUj >= p.energyUj ? c.energyUj - p.energyUj : c.maxEnergyRangeUj - p.energyUj + c.energyUj;
  }
  return matched ? uj / 1e6 : null;
}

/** Trapezoid energy per GPU over an interval (one reading when the other is missing). */
function gpuJoules(prev: readonly (number | null)[] | null, cur: readonly (number | null)[] | null, wallS: number, indices: readonly number[] | undefined): number {
  if (prev === null && cur === null) return 0;
  const n = Math.max(prev?.length ?? 0, cur?.length ?? 0);
  const which = indices ?? Array.from({ length: n }, (_, i) => i);
  let j = 0;
  for (const i of which) {
    const ws = [prev?.[i], cur?.[i]].filter((w): w is number => typeof w === 'number');
    if (ws.length > 0) j += (ws.reduce((a, b) => a + b, 0) / ws.length) * wallS;
  }
  return j;
}

// ---------------------------------------------------------------------------------------------
// Readers for this machine

/**
 * RAPL package zones under `root` (`intel-rapl:N` directories whose `name` starts with `package`;
 * AMD CPUs appear there too since Linux 5.8). Sub-zones (core, uncore, dram) are inside a package,
 * and `psys` covers the whole platform including the packages, so both are skipped to avoid double
 * counting; memory is charged by the RAM heuristic instead. Returns null when no package counter is
 * readable — since CVE-2020-8694 (PLATYPUS) `energy_uj` is readable by root only, and VMs and
 * containers often have no powercap at all.
 */
export function readRaplSysfs(root = '/sys/class/powercap'): RaplZone[] | null {
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch {
    return null;
  }
  const zones: RaplZone[] = [];
  for (const dir of entries.filter((e) => /^intel-rapl:\d+$/.test(e)).sort()) {
    try {
      const name = readFileSync(join(root, dir, 'name'), 'utf8').trim();
      if (!name.startsWith('package')) continue;
      const energyUj = Number(readFileSync(join(root, dir, 'energy_uj'), 'utf8').trim());
      const maxEnergyRangeUj = Number(readFileSync(join(root, dir, 'max_energy_range_uj'), 'utf8').trim());
      if (Number.isFinite(energyUj) && Number.isFinite(maxEnergyRangeUj)) zones.push({ name: `${dir}/${name}`, energyUj, maxEnergyRangeUj });
    } catch {
      // unreadable zone (permissions): skip it
    }
  }
  return zones.length > 0 ? zones : null;
}

/**
 * Clock ticks per second for /proc/<pid>/stat times. Node cannot call sysconf(_SC_CLK_TCK); Linux
 * fixes USER_HZ at 100 on every mainstream architecture.
 */
const CLK_TCK = 100;

/**
 * CPU seconds of a process from /proc/<pid>/stat: utime + stime + cutime + cstime (the last two
 * cover children it has waited for). Null when the process is gone or /proc is absent.
 */
export function procCpuSeconds(pid: number, procRoot = '/proc'): number | null {
  let stat: string;
  try {
    stat = readFileSync(join(procRoot, String(pid), 'stat'), 'utf8');
  } catch {
    return null;
  }
  // Fields after the command name, which is in parentheses and may itself contain spaces or ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime..cstime are fields 14..17.
  const ticks = [11, 12, 13, 14].map((i) => Number(rest[i]));
  if (ticks.some((t) => !Number.isFinite(t))) return null;
  return ticks.reduce((a, b) => a + b, 0) / CLK_TCK;
}

/** The query the GPU reader sends to `nvidia-smi`. */
export const NVIDIA_SMI_POWER_QUERY = ['--query-gpu=power.draw', '--format=csv,noheader,nounits'] as const;

/** Parses `nvidia-smi --query-gpu=power.draw --format=csv,noheader,nounits`: one wattage per GPU line; `[N/A]` → null. */
export function parseGpuPowerDraw(text: string): (number | null)[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map((l) => {
      const w = Number(l);
      return /^\[.*\]$/.test(l) || !Number.isFinite(w) || w < 0 ? null : w;
    });
}

/** Options for {@link systemEnergyReaders}. */
export interface SystemEnergyReaderOptions {
  /** Process whose CPU time is charged; default this process (for in-process engines). */
  readonly pid?: number;
  readonly raplRoot?: string;
  /** Query nvidia-smi for GPU power (default true; it resolves to null when absent). */
  readonly gpu?: boolean;
}

/** Readers for this machine: sysfs RAPL, /proc or process.cpuUsage(), and nvidia-smi. */
export function systemEnergyReaders(options: SystemEnergyReaderOptions = {}): EnergyReaders {
  const pid = options.pid;
  return {
    readRapl: () => Promise.resolve(readRaplSysfs(options.raplRoot)),
    readCpuSeconds: () => {
      if (pid === undefined) {
        const u = process.cpuUsage();
        return Promise.resolve((u.user + u.system) / 1e6);
      }
      return Promise.resolve(procCpuSeconds(pid));
    },
    readGpuWatts: async () => {
      if (options.gpu === false) return null;
      const out = await runNvidiaSmi(NVIDIA_SMI_POWER_QUERY);
      return out === null ? null : parseGpuPowerDraw(out);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Carbon report

/** The record stored on an attempt and in its audit event. Field names follow the contract. */
export interface CarbonReport {
  readonly workload: string;
  readonly location: string;
  readonly energy_consumed_kWh: number;
  readonly carbon_gCO2eq: number;
  readonly intensity_source: string;
}

/**
 * Emissions of an attempt: Σ sample kWh × intensity(region, t) from the region's signal. Returns
 * exactly the five contract fields and nothing else.
 */
export function carbonReport(workload: string, location: string, energy: Pick<EnergyReport, 'totalKWh' | 'samples'>, signal: CarbonSignal): CarbonReport {
  const at = energy.samples[0]?.startMs ?? 0;
  return {
    workload,
    location,
    energy_consumed_kWh: energy.totalKWh,
    carbon_gCO2eq: integrateEmissions(signal, energy.samples),
    intensity_source: signal.intensityAt(at).source,
  };
}
