// The CarbonSignal port: grid carbon intensity (gCO2eq/kWh) of a region at a time, and the
// emissions of an attempt as Σ energy × intensity over its metered intervals
// (research/scheduling.md §4–§5). Implementations: a constant, and a CSV time series replayed by
// time of year, so a past year's hourly series (Electricity Maps 2023, Let's Wait Awhile 2020)
// answers for any date. Provider APIs (Electricity Maps, WattTime) fit the same port later.
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { badRequest } from '../kernel/index.ts';
import type { CarbonSignalSpec } from './regions.ts';

/** Grid carbon intensity over time for one region. */
export interface CarbonSignal {
  /** Intensity in force at `timeMs` (ms since the Unix epoch) and a label saying where it came from. */
  intensityAt(timeMs: number): { gCO2PerKWh: number; source: string };
  /**
   * Length of the signal's steps when they are aligned to multiples of it (ms since the epoch);
   * intensity is constant within each step. {@link integrateEmissions} splits intervals there.
   * Absent for signals that never change or have no fixed grid.
   */
  readonly resolutionMs?: number;
}

/** One metered interval of an attempt: energy used between two instants. */
export interface EnergySample {
  readonly startMs: number;
  readonly endMs: number;
  readonly kWh: number;
}

/** A signal that is the same at every time. */
export class ConstantCarbonSignal implements CarbonSignal {
  private readonly reading: { gCO2PerKWh: number; source: string };
  constructor(gCO2PerKWh: number, source = `constant ${gCO2PerKWh} gCO2eq/kWh`) {
    if (!Number.isFinite(gCO2PerKWh) || gCO2PerKWh < 0) throw badRequest(`carbon intensity must be a number ≥ 0 (got ${gCO2PerKWh})`);
    this.reading = { gCO2PerKWh, source };
  }
  intensityAt(_timeMs: number): { gCO2PerKWh: number; source: string } {
    return { ...this.reading };
  }
}

/** How a CSV series answers for times outside the span it covers. */
export type CarbonReplay =
  /** Map the query onto the series' year by month, day and time of day (Feb 29 → Feb 28). */
  | 'time-of-year'
  /** Use the series' own timestamps; before the first point the first value holds, after the last the last. */
  | 'exact';

/** Options for {@link CsvCarbonSignal}. */
export interface CsvCarbonOptions {
  /** Header of the time column (auto-detected for the two known formats). */
  readonly timeColumn?: string;
  /** Header of the intensity column (auto-detected; Electricity Maps defaults to the direct figure). */
  readonly valueColumn?: string;
  /** Default `time-of-year`. */
  readonly replay?: CarbonReplay;
  /** Overrides the generated source label (provider, zone, year, basis). */
  readonly label?: string;
}

const DAY_MS = 86_400_000;

/**
 * A carbon-intensity time series from a CSV file. Formats detected from the header:
 * - Electricity Maps data-portal export: `Datetime (UTC)`, `Zone Id`, `Carbon Intensity gCO₂eq/kWh (direct)`
 *   (and `(LCA)`; pick it with `valueColumn`);
 * - Let's Wait Awhile (Wiesner et al., Middleware'21): `Time`, `Carbon Intensity`;
 * - anything else with `timeColumn` and `valueColumn` given.
 * Times without an offset are UTC. A value holds until the next timestamp (step interpolation);
 * lookups are binary searches. Rows with an empty intensity are gaps: the previous value holds.
 */
export class CsvCarbonSignal implements CarbonSignal {
  readonly resolutionMs?: number;
  /** Label stating provider, zone, year and how times are mapped, e.g. `electricitymaps ES 2023 direct (replayed by time of year)`. */
  readonly source: string;
  private readonly times: Float64Array;
  private readonly values: Float64Array;
  private readonly replayYear: number | undefined;

  private constructor(times: Float64Array, values: Float64Array, replayYear: number | undefined, source: string, resolutionMs: number | undefined) {
    this.times = times;
    this.values = values;
    this.replayYear = replayYear;
    this.source = source;
    if (resolutionMs !== undefined) this.resolutionMs = resolutionMs;
  }

  /** Reads and parses a series file. Errors name the file and line. */
  static fromFile(path: string, options: CsvCarbonOptions = {}): CsvCarbonSignal {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw badRequest(`cannot read carbon series ${path}: ${(e as Error).message}`, { file: path });
    }
    return CsvCarbonSignal.parse(text, path, options);
  }

  /** Parses series text; `file` names it in errors and in the source label. */
  static parse(text: string, file: string, options: CsvCarbonOptions = {}): CsvCarbonSignal {
    const series = parseCarbonCsv(text, file, options);
    const replay = options.replay ?? 'time-of-year';
    let times = series.times;
    let values = series.values;
    let replayYear: number | undefined;
    let yearLabel: string;
    if (replay === 'time-of-year') {
      // A series may straddle years (Let's Wait Awhile runs 2019-12-20..2021-01-09): replay the
      // calendar year it covers best and drop the rest, so each time of year has one value.
      const counts = new Map<number, number>();
      for (const t of times) {
        const y = new Date(t).getUTCFullYear();
        counts.set(y, (counts.get(y) ?? 0) + 1);
      }
      let best = 0;
      let bestCount = -1;
      for (const [y, c] of counts) {
        if (c > bestCount) [best, bestCount] = [y, c];
      }
      replayYear = best;
      const lo = Date.UTC(best, 0, 1);
      const hi = Date.UTC(best + 1, 0, 1);
      const keep: number[] = [];
      times.forEach((t, i) => {
        if (t >= lo && t < hi) keep.push(i);
      });
      times = Float64Array.from(keep, (i) => series.times[i] ?? 0);
      values = Float64Array.from(keep, (i) => series.values[i] ?? 0);
      yearLabel = String(best);
    } else {
      const first = new Date(times[0] ?? 0).getUTCFullYear();
      const last = new Date(times[times.length - 1] ?? 0).getUTCFullYear();
      yearLabel = first === last ? String(first) : `${first}–${last}`;
    }
    const how = replay === 'time-of-year' ? 'replayed by time of year' : 'exact times';
    const source = options.label ?? `${series.provider} ${series.zone} ${yearLabel}${series.basis === undefined ? '' : ` ${series.basis}`} (${how})`;
    return new CsvCarbonSignal(times, values, replayYear, source, stepResolution(times, replay));
  }

  /** Number of points in force (after keeping only the replayed year). */
  get length(): number {
    return this.times.length;
  }

  intensityAt(timeMs: number): { gCO2PerKWh: number; source: string } {
    const t = this.replayYear === undefined ? timeMs : mapToYear(timeMs, this.replayYear);
    const i = upperBound(this.times, t) - 1;
    // Before the first point: in replay mode the year wraps (the value in force at New Year is the
    // last one of the year); in exact mode the first value holds.
    const idx = i >= 0 ? i : this.replayYear === undefined ? 0 : this.values.length - 1;
    return { gCO2PerKWh: this.values[idx] ?? 0, source: this.source };
  }
}

/** Builds the signal a region's config names. */
export function createCarbonSignal(spec: CarbonSignalSpec): CarbonSignal {
  switch (spec.kind) {
    case 'constant':
      return new ConstantCarbonSignal(spec.gCO2PerKWh);
    case 'csv':
      return CsvCarbonSignal.fromFile(spec.path, {
        ...(spec.timeColumn === undefined ? {} : { timeColumn: spec.timeColumn }),
        ...(spec.valueColumn === undefined ? {} : { valueColumn: spec.valueColumn }),
      });
  }
}

/**
 * Emissions in gCO2eq of metered energy: Σ kWh × intensity. When the signal has a step grid, each
 * interval is split at step boundaries and its energy shared pro rata by time (power assumed
 * constant within an interval), so an interval spanning an hour change is charged both hours;
 * otherwise the intensity at the interval's midpoint applies.
 */
export function integrateEmissions(signal: CarbonSignal, samples: readonly EnergySample[]): number {
  let grams = 0;
  samples.forEach((s, i) => {
    if (!Number.isFinite(s.startMs) || !Number.isFinite(s.endMs) || s.endMs < s.startMs) throw badRequest(`energy sample ${i}: endMs must be ≥ startMs`, { sample: i });
    if (!Number.isFinite(s.kWh) || s.kWh < 0) throw badRequest(`energy sample ${i}: kWh must be a number ≥ 0 (got ${s.kWh})`, { sample: i });
    if (s.kWh === 0) return;
    const duration = s.endMs - s.startMs;
    const step = signal.resolutionMs;
    if (duration === 0 || step === undefined) {
      grams += s.kWh * signal.intensityAt(s.startMs + duration / 2).gCO2PerKWh;
      return;
    }
    let t = s.startMs;
    while (t < s.endMs) {
      const next = Math.min(s.endMs, (Math.floor(t / step) + 1) * step);
      grams += ((s.kWh * (next - t)) / duration) * signal.intensityAt(t).gCO2PerKWh;
      t = next;
    }
  });
  return grams;
}

// ---------------------------------------------------------------------------------------------
// CSV parsing

interface ParsedSeries {
  readonly times: Float64Array;
  readonly values: Float64Array;
  readonly provider: string;
  readonly zone: string;
  readonly basis: string | undefined;
}

/** Header text compared loosely: case, spacing and the subscript ₂ (`gCO₂eq` = `gCO2eq`) do not matter. */
const norm = (h: string): string => h.replace(/₂/g, '2').replace(/\s+/g, ' ').trim().toLowerCase();

const EM_TIME = 'datetime (utc)';
const EM_DIRECT = 'carbon intensity gco2eq/kwh (direct)';

function parseCarbonCsv(text: string, file: string, options: CsvCarbonOptions): ParsedSeries {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const fail = (line: number, message: string): never => {
    throw badRequest(`carbon series ${file} line ${line}: ${message}`, { file, line });
  };
  const headerLine = lines[0] ?? '';
  if (headerLine.trim() === '') fail(1, 'empty file: expected a header row');
  const header = splitCsvLine(headerLine, () => fail(1, 'unterminated quoted field'));
  const names = header.map(norm);
  const isEm = names.includes(EM_TIME) && names.includes('zone id');
  const isLwa = !isEm && names.length === 2 && names[0] === 'time' && (names[1] ?? '').startsWith('carbon intensity');
  const find = (wanted: string | undefined, fallback: string | undefined, what: string): number => {
    const target = wanted === undefined ? fallback : norm(wanted);
    const i = target === undefined ? -1 : names.indexOf(target);
    if (i < 0) {
      fail(1, `no ${what} column${target === undefined ? '' : ` '${wanted ?? target}'`}; the header has ${header.map((h) => JSON.stringify(h)).join(', ')}: name it with ${what === 'time' ? 'timeColumn' : 'valueColumn'}`);
    }
    return i;
  };
  const timeCol = find(options.timeColumn, isEm ? EM_TIME : isLwa ? 'time' : undefined, 'time');
  const valueCol = find(options.valueColumn, isEm ? EM_DIRECT : isLwa ? names[1] : undefined, 'intensity');
  const zoneCol = isEm ? names.indexOf('zone id') : -1;
  const basisMatch = /\((direct|lca)\)\s*$/.exec(names[valueCol] ?? '');
  const basis = basisMatch?.[1] === 'lca' ? 'LCA' : basisMatch?.[1];

  const times: number[] = [];
  const values: number[] = [];
  let zone: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    if (raw.trim() === '') continue;
    const lineNo = i + 1;
    const cells = splitCsvLine(raw, () => fail(lineNo, 'unterminated quoted field'));
    const timeText = cells[timeCol];
    const valueText = cells[valueCol];
    if (timeText === undefined || valueText === undefined) fail(lineNo, `expected at least ${Math.max(timeCol, valueCol) + 1} columns, found ${cells.length}`);
    const t = parseUtcTime((timeText ?? '').trim());
    if (t === undefined) fail(lineNo, `time ${JSON.stringify(timeText)} is not a date-time like 2023-01-01 00:00:00 (UTC unless an offset is given)`);
    const prev = times[times.length - 1];
    if (prev !== undefined && (t ?? 0) <= prev) fail(lineNo, `time ${timeText ?? ''} is not after the previous row's; rows must be in increasing time order without duplicates`);
    const vText = (valueText ?? '').trim();
    if (vText === '') continue; // a gap: the previous value stays in force
    const v = Number(vText);
    if (!Number.isFinite(v) || v < 0) fail(lineNo, `carbon intensity ${JSON.stringify(valueText)} is not a number ≥ 0`);
    if (zone === undefined && zoneCol >= 0) zone = cells[zoneCol]?.trim();
    times.push(t ?? 0);
    values.push(v);
  }
  if (times.length === 0) fail(lines.length, 'no data rows with a carbon intensity');
  const stem = basename(file, extname(file));
  return {
    times: Float64Array.from(times),
    values: Float64Array.from(values),
    provider: isEm ? 'electricitymaps' : isLwa ? 'lets-wait-awhile' : 'csv',
    zone: zone !== undefined && zone !== '' ? zone : isLwa ? stem.replace(/_ci$/, '') : stem,
    basis,
  };
}

/** Splits one CSV record (RFC 4180 quoting, no embedded newlines). */
function splitCsvLine(line: string, onUnterminated: () => never): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let cell = '';
      i++;
      for (;;) {
        if (i >= line.length) onUnterminated();
        const c = line[i];
        if (c === '"') {
          if (line[i + 1] === '"') {
            cell += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        cell += c;
        i++;
      }
      const comma = line.indexOf(',', i);
      out.push(cell);
      if (comma < 0) return out;
      i = comma + 1;
    } else {
      const comma = line.indexOf(',', i);
      if (comma < 0) {
        out.push(line.slice(i));
        return out;
      }
      out.push(line.slice(i, comma));
      i = comma + 1;
    }
  }
}

const TIME_RE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;

/** `YYYY-MM-DD HH:MM[:SS[.fff]]` with an optional `Z` or `±HH:MM`; no offset means UTC. */
function parseUtcTime(s: string): number | undefined {
  const m = TIME_RE.exec(s);
  if (m === null) return undefined;
  const [y, mo, d, h, mi, sec] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number) as [number, number, number, number, number, number];
  const ms = m[7] === undefined ? 0 : Number(m[7].padEnd(3, '0'));
  const t = Date.UTC(y, mo - 1, d, h, mi, sec, ms);
  const back = new Date(t);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || sec > 59) return undefined;
  const off = m[8];
  if (off === undefined || off.toUpperCase() === 'Z') return t;
  const sign = off.startsWith('-') ? -1 : 1;
  const digits = off.slice(1).replace(':', '');
  const offsetMin = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2));
  return t - sign * offsetMin * 60_000;
}

const isLeap = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/** The same month, day and time of day in `year` (29 February → 28 February when `year` has none). */
function mapToYear(timeMs: number, year: number): number {
  const d = new Date(timeMs);
  const month = d.getUTCMonth();
  const day = month === 1 && d.getUTCDate() === 29 && !isLeap(year) ? 28 : d.getUTCDate();
  return Date.UTC(year, month, day, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds());
}

/** Index of the first element > x (sorted ascending). */
function upperBound(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((a[mid] ?? 0) <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const gcd = (a: number, b: number): number => {
  let [x, y] = [Math.abs(a), Math.abs(b)];
  while (y !== 0) [x, y] = [y, x % y];
  return x;
};

/**
 * The grid every timestamp lies on (their GCD) when it is at least a minute; in replay mode it must
 * also divide a day, so that mapping a time onto the series' year keeps it on the grid.
 */
function stepResolution(times: Float64Array, replay: CarbonReplay): number | undefined {
  let g = 0;
  for (const t of times) g = gcd(g, t);
  if (g < 60_000) return undefined;
  if (replay === 'time-of-year' && DAY_MS % g !== 0) return undefined;
  return g;
}
