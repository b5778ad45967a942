// The static half of the capability registry: regions and pools read from a config file (YAML or
// JSON; YAML 1.2 is a superset of JSON, so one parser serves both). Nodes are the dynamic half and
// are registered by agents at run time. Every validation error names the field path
// (`regions[1].carbon.path`) and what is allowed, so a typo in the file is fixed in one try.
import { accessSync, constants as fsConstants, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml, YAMLError } from 'yaml';
import { badRequest, isValidName } from '../kernel/index.ts';

/** What a region is for. A region may have several roles (e.g. inference and backup). */
export type RegionRole = 'training' | 'inference' | 'backup' | 'experimental' | 'general';
/** Every region role, in display order. */
export const REGION_ROLES: readonly RegionRole[] = ['training', 'inference', 'backup', 'experimental', 'general'];

/** Technology of a pool's devices. */
export type PoolKind = 'cpu' | 'gpu' | 'tpu' | 'fpga' | 'ipu' | 'quantum-sim' | 'neuromorphic';
/** Every pool kind, in display order. */
export const POOL_KINDS: readonly PoolKind[] = ['cpu', 'gpu', 'tpu', 'fpga', 'ipu', 'quantum-sim', 'neuromorphic'];

/** How capacity is bought: on-demand stays until released; spot can be reclaimed at short notice. */
export type CapacityType = 'on-demand' | 'spot';
/** Every capacity type. */
export const CAPACITY_TYPES: readonly CapacityType[] = ['on-demand', 'spot'];

/**
 * Where a region's grid carbon intensity comes from. `csv`: a time series file (Electricity Maps
 * hourly export or Let's-Wait-Awhile format are auto-detected; other layouts name their columns);
 * `constant`: one figure for all times.
 */
export type CarbonSignalSpec =
  | { readonly kind: 'csv'; readonly path: string; readonly timeColumn?: string; readonly valueColumn?: string }
  | { readonly kind: 'constant'; readonly gCO2PerKWh: number };

/** A region: a failure and carbon domain with a role, a price level and data-residency tags. */
export interface Region {
  readonly name: string;
  readonly roles: readonly RegionRole[];
  readonly carbon: CarbonSignalSpec;
  /** Power usage effectiveness: facility energy / IT energy (≥ 1). */
  readonly pue: number;
  /** Multiplies every pool price in the region (1 = list price). */
  readonly priceMultiplier: number;
  /** Tags a job's data-residency constraint must match, e.g. `eu`, `us`, `gdpr`. */
  readonly dataResidency: readonly string[];
}

/** A pool: devices of one kind and flavor, bought one way, in one region. */
export interface Pool {
  readonly name: string;
  readonly region: string;
  readonly kind: PoolKind;
  /** Device model, e.g. `nvidia-h100`, `nvidia-t4`, `statevector`, `lif`. */
  readonly flavor: string;
  readonly capacityType: CapacityType;
  /** USD per device-hour before the region's price multiplier. */
  readonly pricePerDeviceHour: number;
  /** Power draw per device at full load, in watts (TDP for chips). */
  readonly powerWattsPerDevice: number;
  readonly labels: Readonly<Record<string, string>>;
  /**
   * How the scheduler picks among nodes that fit: fill the fullest first (default), the emptiest,
   * or `fgd`: where fragmentation of the accelerators grows least against the current mix of job
   * shapes (fragmentation gradient descent, Weng et al., ATC'23), so large requests still fit later.
   */
  readonly placement: PoolPlacement;
}

export type PoolPlacement = 'binpack' | 'spread' | 'fgd';
export const POOL_PLACEMENTS: readonly PoolPlacement[] = ['binpack', 'spread', 'fgd'];

/** An amount of the resources quotas are written in. */
export interface QuotaAmount {
  readonly cpuMillis: number;
  readonly memoryBytes: number;
  readonly devices: number;
}

/** A team's quota for one resource flavor (`nvidia-h100`, `spot:nvidia-t4`, `cpu`, ...). */
export interface FlavorQuotaSpec {
  readonly nominal: QuotaAmount;
  /** How far above nominal the team may borrow its cohort's unused quota; absent = no limit. */
  readonly borrowingLimit?: QuotaAmount;
  /** How much of nominal others may borrow while unused; absent = all of it. */
  readonly lendingLimit?: QuotaAmount;
}

/** Quota, cohort and fair-share weight of one team (by name). Teams without an entry are not limited. */
export interface TeamQuota {
  readonly team: string;
  readonly cohort?: string;
  readonly weight: number;
  readonly flavors: Readonly<Record<string, FlavorQuotaSpec>>;
}

/** Regions and pools, validated: names unique, every pool in a known region. */
export interface ComputeConfig {
  readonly regions: readonly Region[];
  readonly pools: readonly Pool[];
  /** Team quotas (section `quotas`); default none: every team may use every flavor without limit. */
  readonly quotas?: readonly TeamQuota[];
}

/**
 * Default PUE when a region states none. The research notes (research/scheduling.md) give no PUE
 * figure; 1.2 sits between hyperscale fleets (≈1.1) and the industry-wide average of 1.58 reported
 * by the Uptime Institute Global Data Center Survey 2023. Set `pue` per region when it is known.
 */
export const DEFAULT_PUE = 1.2;

/**
 * Intensity used when a region names no carbon signal: the world average of 475 gCO2eq/kWh that
 * CodeCarbon falls back to (IEA Global Energy & CO2 Status Report 2019; CodeCarbon methodology).
 */
export const WORLD_AVERAGE_G_CO2_PER_KWH = 475;

/** One region `local` (role general) with one on-demand CPU pool `local-cpu`. */
export const DEFAULT_COMPUTE_CONFIG: ComputeConfig = {
  regions: [
    {
      name: 'local',
      roles: ['general'],
      carbon: { kind: 'constant', gCO2PerKWh: WORLD_AVERAGE_G_CO2_PER_KWH },
      pue: DEFAULT_PUE,
      priceMultiplier: 1,
      dataResidency: [],
    },
  ],
  pools: [
    {
      name: 'local-cpu',
      region: 'local',
      kind: 'cpu',
      flavor: 'generic',
      capacityType: 'on-demand',
      pricePerDeviceHour: 0,
      // CodeCarbon's default per-core power when the CPU model is unknown (codecarbon/core/cpu.py,
      // DEFAULT_POWER_PER_CORE = 4 W); a CPU pool's device is one core.
      powerWattsPerDevice: 4,
      labels: {},
      placement: 'binpack',
    },
  ],
};

/** Options for {@link parseComputeConfig}. */
export interface ParseComputeConfigOptions {
  /** Directory that relative carbon CSV paths are resolved against (the config file's directory). */
  readonly baseDir?: string;
  /** Name of the text's origin for error messages (a file path). */
  readonly source?: string;
}

/**
 * Reads and validates a compute config file; without a path, returns {@link DEFAULT_COMPUTE_CONFIG}.
 * Relative carbon CSV paths are resolved against the config file's directory and must exist.
 */
export function loadComputeConfig(path: string | undefined): ComputeConfig {
  if (path === undefined) return DEFAULT_COMPUTE_CONFIG;
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw badRequest(`cannot read compute config ${file}: ${(e as Error).message}`, { file });
  }
  const config = parseComputeConfig(text, { baseDir: dirname(file), source: file });
  config.regions.forEach((r, i) => {
    if (r.carbon.kind !== 'csv') return;
    try {
      accessSync(r.carbon.path, fsConstants.R_OK);
    } catch {
      const field = `regions[${i}].carbon.path`;
      throw badRequest(`${file}: ${field}: carbon series ${r.carbon.path} cannot be read (relative paths are resolved against the config file's directory)`, { file, field });
    }
  });
  return config;
}

/**
 * Parses and validates compute config text (YAML or JSON). Pure: touches no file; relative CSV
 * paths are resolved against `options.baseDir` when given and left as written otherwise.
 */
export function parseComputeConfig(text: string, options: ParseComputeConfigOptions = {}): ComputeConfig {
  const where = options.source ?? 'compute config';
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 }) as unknown;
  } catch (e) {
    if (e instanceof YAMLError) {
      const line = e.linePos?.[0].line;
      throw badRequest(`${where}${line === undefined ? '' : ` line ${line}`}: not valid YAML or JSON: ${e.message.split('\n')[0] ?? ''}`, { source: where, ...(line === undefined ? {} : { line }) });
    }
    throw e;
  }
  return new Validator(where, options.baseDir).config(doc);
}

type Obj = Readonly<Record<string, unknown>>;

/** Walks the parsed document; each check names the field path in its error. */
class Validator {
  constructor(
    private readonly where: string,
    private readonly baseDir: string | undefined,
  ) {}

  private fail(field: string, message: string): never {
    throw badRequest(`${this.where}: ${field === '' ? '(top level)' : field}: ${message}`, { field, source: this.where });
  }

  private object(v: unknown, field: string, allowed: readonly string[]): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(field, `must be a mapping with fields ${allowed.join(', ')}`);
    const o = v as Obj;
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) this.fail(field === '' ? k : `${field}.${k}`, `unknown field; allowed: ${allowed.join(', ')}`);
    }
    return o;
  }

  private list(v: unknown, field: string): readonly unknown[] {
    if (!Array.isArray(v)) this.fail(field, 'must be a list');
    return v as unknown[];
  }

  private name(v: unknown, field: string): string {
    if (typeof v !== 'string' || !isValidName(v)) {
      this.fail(field, `${JSON.stringify(v)} is not a valid name: use 1–63 lower-case letters, digits, '-', '_' or '.', starting and ending with a letter or digit`);
    }
    return v;
  }

  private text(v: unknown, field: string): string {
    if (typeof v !== 'string' || v.trim() === '') this.fail(field, 'must be a non-empty string');
    return v;
  }

  private number(v: unknown, field: string, min: number, what: string): number {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) this.fail(field, `must be ${what} (got ${JSON.stringify(v)})`);
    return v;
  }

  private oneOf<T extends string>(v: unknown, field: string, allowed: readonly T[]): T {
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) this.fail(field, `must be one of ${allowed.join(', ')} (got ${JSON.stringify(v)})`);
    return v as T;
  }

  config(doc: unknown): ComputeConfig {
    if (doc === null || doc === undefined) this.fail('regions', 'the file is empty: list at least one region');
    const o = this.object(doc, '', ['regions', 'pools', 'quotas']);
    if (o['regions'] === undefined) this.fail('regions', 'required: list at least one region');
    const regions = this.list(o['regions'], 'regions').map((r, i) => this.region(r, `regions[${i}]`));
    if (regions.length === 0) this.fail('regions', 'list at least one region');
    const regionNames = new Set<string>();
    regions.forEach((r, i) => {
      if (regionNames.has(r.name)) this.fail(`regions[${i}].name`, `duplicate region name '${r.name}'`);
      regionNames.add(r.name);
    });
    const pools = o['pools'] === undefined ? [] : this.list(o['pools'], 'pools').map((p, i) => this.pool(p, `pools[${i}]`));
    const poolNames = new Set<string>();
    pools.forEach((p, i) => {
      if (poolNames.has(p.name)) this.fail(`pools[${i}].name`, `duplicate pool name '${p.name}'`);
      poolNames.add(p.name);
      if (!regionNames.has(p.region)) this.fail(`pools[${i}].region`, `unknown region '${p.region}'; regions: ${[...regionNames].join(', ')}`);
    });
    if (o['quotas'] === undefined) return { regions, pools };
    const quotas = this.list(o['quotas'], 'quotas').map((q, i) => this.quota(q, `quotas[${i}]`));
    const teams = new Set<string>();
    quotas.forEach((q, i) => {
      if (teams.has(q.team)) this.fail(`quotas[${i}].team`, `team '${q.team}' has two entries; merge them`);
      teams.add(q.team);
    });
    return { regions, pools, quotas };
  }

  private amount(v: unknown, field: string): QuotaAmount {
    const o = this.object(v, field, ['cpu', 'memoryGiB', 'devices']);
    return {
      cpuMillis: o['cpu'] === undefined ? 0 : Math.round(this.number(o['cpu'], `${field}.cpu`, 0, 'a number of cores ≥ 0') * 1000),
      memoryBytes: o['memoryGiB'] === undefined ? 0 : Math.round(this.number(o['memoryGiB'], `${field}.memoryGiB`, 0, 'a number of GiB ≥ 0') * 2 ** 30),
      devices: o['devices'] === undefined ? 0 : this.number(o['devices'], `${field}.devices`, 0, 'a whole number of devices ≥ 0'),
    };
  }

  private quota(v: unknown, field: string): TeamQuota {
    const o = this.object(v, field, ['team', 'cohort', 'weight', 'flavors']);
    const team = this.name(o['team'], `${field}.team`);
    const flavorsRaw = o['flavors'];
    if (typeof flavorsRaw !== 'object' || flavorsRaw === null || Array.isArray(flavorsRaw)) this.fail(`${field}.flavors`, 'must map flavors (e.g. nvidia-h100, spot:nvidia-t4, cpu) to {nominal, borrowingLimit?, lendingLimit?}');
    const flavors: Record<string, FlavorQuotaSpec> = {};
    for (const [flavor, spec] of Object.entries(flavorsRaw as Obj)) {
      const at = `${field}.flavors.${flavor}`;
      const plain = flavor.startsWith('spot:') ? flavor.slice(5) : flavor;
      if (!isValidName(plain)) this.fail(at, 'is not a flavor name (a pool flavor, optionally prefixed with spot:)');
      const q = this.object(spec, at, ['nominal', 'borrowingLimit', 'lendingLimit']);
      if (q['nominal'] === undefined) this.fail(`${at}.nominal`, 'required: {cpu, memoryGiB, devices}');
      flavors[flavor] = {
        nominal: this.amount(q['nominal'], `${at}.nominal`),
        ...(q['borrowingLimit'] === undefined ? {} : { borrowingLimit: this.amount(q['borrowingLimit'], `${at}.borrowingLimit`) }),
        ...(q['lendingLimit'] === undefined ? {} : { lendingLimit: this.amount(q['lendingLimit'], `${at}.lendingLimit`) }),
      };
    }
    return {
      team,
      ...(o['cohort'] === undefined ? {} : { cohort: this.name(o['cohort'], `${field}.cohort`) }),
      weight: o['weight'] === undefined ? 1 : this.number(o['weight'], `${field}.weight`, Number.MIN_VALUE, 'a number > 0'),
      flavors,
    };
  }

  private region(v: unknown, field: string): Region {
    const o = this.object(v, field, ['name', 'role', 'roles', 'carbon', 'pue', 'priceMultiplier', 'dataResidency']);
    const name = this.name(o['name'], `${field}.name`);
    if (o['role'] !== undefined && o['roles'] !== undefined) this.fail(`${field}.roles`, "give either 'role' or 'roles', not both");
    const roleKey = o['roles'] !== undefined ? 'roles' : 'role';
    const rawRoles = o[roleKey] ?? 'general';
    const roleList = Array.isArray(rawRoles) ? (rawRoles as unknown[]) : [rawRoles];
    const roles = roleList.map((r, i) => this.oneOf(r, Array.isArray(rawRoles) ? `${field}.${roleKey}[${i}]` : `${field}.${roleKey}`, REGION_ROLES));
    if (roles.length === 0) this.fail(`${field}.${roleKey}`, `list at least one of ${REGION_ROLES.join(', ')}`);
    const carbon = o['carbon'] === undefined ? ({ kind: 'constant', gCO2PerKWh: WORLD_AVERAGE_G_CO2_PER_KWH } as const) : this.carbon(o['carbon'], `${field}.carbon`);
    const pue = o['pue'] === undefined ? DEFAULT_PUE : this.number(o['pue'], `${field}.pue`, 1, 'a number ≥ 1 (facility energy / IT energy)');
    const priceMultiplier = o['priceMultiplier'] === undefined ? 1 : this.number(o['priceMultiplier'], `${field}.priceMultiplier`, 0, 'a number ≥ 0');
    const dataResidency = o['dataResidency'] === undefined ? [] : this.list(o['dataResidency'], `${field}.dataResidency`).map((t, i) => this.name(t, `${field}.dataResidency[${i}]`));
    return { name, roles: [...new Set(roles)], carbon, pue, priceMultiplier, dataResidency };
  }

  private carbon(v: unknown, field: string): CarbonSignalSpec {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(field, "must be a mapping with kind 'csv' or 'constant'");
    const kind = this.oneOf((v as Obj)['kind'], `${field}.kind`, ['csv', 'constant'] as const);
    if (kind === 'constant') {
      const o = this.object(v, field, ['kind', 'gCO2PerKWh']);
      return { kind, gCO2PerKWh: this.number(o['gCO2PerKWh'], `${field}.gCO2PerKWh`, 0, 'a number ≥ 0 (gCO2eq/kWh)') };
    }
    const o = this.object(v, field, ['kind', 'path', 'timeColumn', 'valueColumn']);
    const written = this.text(o['path'], `${field}.path`);
    const path = this.baseDir === undefined || isAbsolute(written) ? written : resolve(this.baseDir, written);
    return {
      kind,
      path,
      ...(o['timeColumn'] === undefined ? {} : { timeColumn: this.text(o['timeColumn'], `${field}.timeColumn`) }),
      ...(o['valueColumn'] === undefined ? {} : { valueColumn: this.text(o['valueColumn'], `${field}.valueColumn`) }),
    };
  }

  private pool(v: unknown, field: string): Pool {
    const o = this.object(v, field, ['name', 'region', 'kind', 'flavor', 'capacityType', 'pricePerDeviceHour', 'powerWattsPerDevice', 'labels', 'placement']);
    const labels: Record<string, string> = {};
    if (o['labels'] !== undefined) {
      const l = o['labels'];
      if (typeof l !== 'object' || l === null || Array.isArray(l)) this.fail(`${field}.labels`, 'must be a mapping of label names to values');
      for (const [k, val] of Object.entries(l as Obj)) {
        if (k === '' || k.length > 63) this.fail(`${field}.labels`, `label name ${JSON.stringify(k)} must be 1–63 characters`);
        if (typeof val !== 'string' && typeof val !== 'number' && typeof val !== 'boolean') this.fail(`${field}.labels.${k}`, 'must be a string, number or boolean');
        labels[k] = String(val);
      }
    }
    return {
      name: this.name(o['name'], `${field}.name`),
      region: this.name(o['region'], `${field}.region`),
      kind: this.oneOf(o['kind'], `${field}.kind`, POOL_KINDS),
      flavor: this.name(o['flavor'], `${field}.flavor`),
      capacityType: o['capacityType'] === undefined ? 'on-demand' : this.oneOf(o['capacityType'], `${field}.capacityType`, CAPACITY_TYPES),
      pricePerDeviceHour: o['pricePerDeviceHour'] === undefined ? 0 : this.number(o['pricePerDeviceHour'], `${field}.pricePerDeviceHour`, 0, 'a number ≥ 0 (USD per device-hour)'),
      powerWattsPerDevice: this.number(o['powerWattsPerDevice'], `${field}.powerWattsPerDevice`, 0, 'a number ≥ 0 (watts per device)'),
      labels,
      placement: o['placement'] === undefined ? 'binpack' : this.oneOf(o['placement'], `${field}.placement`, POOL_PLACEMENTS),
    };
  }
}
