// The job specification at the edge: YAML or JSON text (or an already-parsed JSON body) in, a
// readonly, fully-normalised JobSpec out, or one 400 that lists every problem found (up to
// MAX_REPORTED_PROBLEMS) with its field path and what is allowed there. Nothing past this file
// sees unvalidated spec input. Pure: no I/O, no clock.

import { CST, Composer, LineCounter, Parser, YAMLError } from 'yaml';
import sjson from 'secure-json-parse';
import { StrataError, badRequest, isValidName } from '../kernel/index.ts';
import { formatCpu, formatMemory, tryParseCpu, tryParseMemory } from './quantity.ts';
import { Problems, indexPath, keyPath, show, suggest } from '../kernel/index.ts';
import { checkRelativePath } from './spec-paths.ts';
import { ENV_NAME_RE, dangerousEnvReason, upperSnake } from './spec-env.ts';
import { ACCELERATOR_KINDS, JOB_KINDS, KIND_PAYLOAD_FIELD, PRIORITY_CLASSES } from './spec-types.ts';
import type {
  AcceleratorKind,
  AcceleratorRequest,
  Backoff,
  GangTopology,
  InlineFile,
  JobSpec,
  JobSpecOptions,
  Resources,
  SecretRef,
} from './spec-types.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const DAY_SECONDS = 86_400;

/** The file a built-in kind's payload is written to in the attempt directory (`strata job-exec` reads it). */
export const BUILTIN_PAYLOAD_FILE = 'payload.json';
/** The file a built-in kind's result is written to, uploaded as the job's output. */
export const BUILTIN_RESULT_FILE = 'result.json';

/** Size and count limits on a spec. Exceeding one is a 400 naming the field (413 for the whole text). */
export const JOB_SPEC_LIMITS = Object.freeze({
  /** The spec text, in UTF-8 bytes. */
  specBytes: 256 * KiB,
  /** Items in command + args together. */
  argvItems: 1024,
  /** One command or args item, in bytes. */
  argBytes: 64 * KiB,
  /** command + args + env as passed to exec, in bytes (Linux ARG_MAX is usually 2 MiB). */
  execBytes: 1 * MiB,
  envVars: 256,
  /** One env value, in bytes. */
  envValueBytes: 32 * KiB,
  files: 64,
  /** All inline file contents together, in bytes. */
  fileContentBytes: 1 * MiB,
  outputs: 64,
  secrets: 64,
  labels: 64,
  labelKeyChars: 63,
  labelValueBytes: 256,
  regions: 64,
  dataResidency: 32,
  flavors: 16,
  replicas: 4096,
  acceleratorCount: 1024,
  qubits: 1024,
  neurons: Number.MAX_SAFE_INTEGER,
  maxAttempts: 20,
  backoffSeconds: DAY_SECONDS,
  maxRuntimeSeconds: 30 * DAY_SECONDS,
  maxStartDelaySeconds: 30 * DAY_SECONDS,
} as const);

/** Values used for fields a spec leaves out. */
export const JOB_SPEC_DEFAULTS = Object.freeze({
  cpuMillis: 1000,
  memoryBytes: 512 * MiB,
  replicas: 1,
  priorityClass: 'normal',
  preemptible: false,
  maxAttempts: 3,
  backoff: Object.freeze({ initialSeconds: 5, maxSeconds: 300 }),
  workingDir: '.',
  /** The directory used for `checkpointDir: true`. */
  checkpointDir: 'checkpoints',
} as const);

/** YAML parser options: YAML 1.2 core schema; duplicate keys and alias bombs refused. */
const YAML_OPTIONS = {
  version: '1.2',
  schema: 'core',
  merge: false,
  uniqueKeys: true, // a repeated key is an error, not "last one wins"
  stringKeys: true,
  // Billion laughs: each alias may expand to a whole subtree; yaml counts aliases weighted by the
  // aliases inside their anchors and refuses the document beyond this number.
  maxAliasCount: 100,
  strict: true,
  logLevel: 'error', // throw errors; never print warnings to the console
} as const;

const TOP_FIELDS = [
  'name', 'kind', 'quantum', 'spiking', 'command', 'args', 'shell', 'workingDir', 'files', 'env', 'resources', 'replicas', 'priorityClass',
  'preemptible', 'maxAttempts', 'backoff', 'maxRuntimeSeconds', 'deadline', 'maxStartDelaySeconds', 'regions',
  'dataResidency', 'checkpointDir', 'secrets', 'outputs', 'labels', 'topology',
] as const;
const TOPOLOGY_FIELDS = ['level', 'mode'] as const;
const TOPOLOGY_LEVELS = ['rack', 'block'] as const;
const TOPOLOGY_MODES = ['preferred', 'required'] as const;
const RESOURCE_FIELDS = ['cpu', 'memory', 'accelerators'] as const;
const ACCELERATOR_FIELDS = ['kind', 'count', 'flavors', 'qubits', 'neurons'] as const;
const BACKOFF_FIELDS = ['initialSeconds', 'maxSeconds'] as const;
const FILE_FIELDS = ['path', 'content', 'fromFile', 'executable'] as const;
const SECRET_FIELDS = ['name', 'env'] as const;

const NAME_HINT = "use 1–63 lower-case letters, digits, '-', '_' or '.', starting and ending with a letter or digit, without '..'";
const LABEL_KEY_RE = /^[A-Za-z0-9](?:[A-Za-z0-9._/-]{0,61}[A-Za-z0-9])?$/;
// eslint-disable-next-line no-control-regex -- control characters are what this refuses
const CONTROL_RE = /[\u0000-\u0008\u000b-\u001f\u007f]/;
const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))$/;

type Obj = Readonly<Record<string, unknown>>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

/** Validation context: the problem list and the caller's options. */
interface Ctx {
  readonly p: Problems;
  readonly allowDangerousEnv: boolean;
  readonly readFile?: (path: string) => string;
}

/** A mapping with only `allowed` keys; unknown keys are problems with a suggestion. */
function mapping(ctx: Ctx, v: unknown, path: string, allowed: readonly string[], hints: Readonly<Record<string, string>> = {}): Obj | undefined {
  if (!isObj(v)) {
    ctx.p.add(path === '' ? 'spec' : path, `expected a mapping with fields ${allowed.join(', ')}; got ${show(v)}`);
    return undefined;
  }
  for (const key of Object.keys(v)) {
    if (allowed.includes(key)) continue;
    const hint = hints[key] ?? hints[key.toLowerCase()];
    const guess = suggest(key, allowed);
    const why = hint ?? (guess === undefined ? '' : `did you mean "${guess}"? `);
    ctx.p.add(keyPath(path, key), `unknown field; ${why}allowed: ${allowed.join(', ')}`);
  }
  return v;
}

/** Text: no NUL, at most `maxBytes`; numbers and booleans are refused (YAML would have changed them). */
function text(ctx: Ctx, v: unknown, path: string, maxBytes: number, what = 'text'): string | undefined {
  if (typeof v !== 'string') {
    const quote = typeof v === 'number' || typeof v === 'boolean' ? `; quote it ("${String(v)}") so YAML keeps it as written` : '';
    ctx.p.add(path, `expected ${what}, got ${show(v)}${quote}`);
    return undefined;
  }
  if (v.includes('\u0000')) {
    ctx.p.add(path, 'contains a NUL byte');
    return undefined;
  }
  if (bytes(v) > maxBytes) {
    ctx.p.add(path, `is longer than ${maxBytes} bytes`);
    return undefined;
  }
  return v;
}

function bool(ctx: Ctx, v: unknown, path: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v === 'boolean') return v;
  ctx.p.add(path, `expected true or false, got ${show(v)}`);
  return dflt;
}

function integer(ctx: Ctx, v: unknown, path: string, min: number, max: number): number | undefined {
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    ctx.p.add(path, `expected a whole number from ${min} to ${max}, got ${show(v)}`);
    return undefined;
  }
  if (v < min || v > max) {
    ctx.p.add(path, `${v} is out of range; allowed ${min} to ${max}`);
    return undefined;
  }
  return v;
}

function seconds(ctx: Ctx, v: unknown, path: string, min: number, max: number, minExclusive = false): number | undefined {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    ctx.p.add(path, `expected a number of seconds, got ${show(v)}`);
    return undefined;
  }
  if (v < min || (minExclusive && v === min) || v > max) {
    ctx.p.add(path, `${v} is out of range; allowed ${minExclusive ? 'more than' : 'from'} ${min} ${minExclusive ? 'and at most' : 'to'} ${max} seconds`);
    return undefined;
  }
  return v;
}

function list(ctx: Ctx, v: unknown, path: string, maxItems: number, example: string): readonly unknown[] | undefined {
  if (!Array.isArray(v)) {
    ctx.p.add(path, `expected a list such as ${example}, got ${show(v)}`);
    return undefined;
  }
  if (v.length > maxItems) {
    ctx.p.add(path, `has ${v.length} items; at most ${maxItems} are allowed`);
    return undefined;
  }
  return v as readonly unknown[];
}

function name(ctx: Ctx, v: unknown, path: string): string | undefined {
  const s = text(ctx, v, path, 63, 'a name');
  if (s === undefined) return undefined;
  if (!isValidName(s)) {
    ctx.p.add(path, `${show(s)} is not a valid name; ${NAME_HINT}`);
    return undefined;
  }
  return s;
}

/** A list of distinct names (regions, tags, flavors). */
function nameList(ctx: Ctx, v: unknown, path: string, maxItems: number, example: string): string[] {
  const items = list(ctx, v, path, maxItems, example);
  if (items === undefined) return [];
  const out: string[] = [];
  items.forEach((item, i) => {
    const n = name(ctx, item, indexPath(path, i));
    if (n === undefined) return;
    if (out.includes(n)) ctx.p.add(indexPath(path, i), `${show(n)} is listed twice`);
    else out.push(n);
  });
  return out;
}

function relPath(ctx: Ctx, v: unknown, path: string, allowRoot = false): string | undefined {
  const r = checkRelativePath(v, allowRoot);
  if (r.ok) return r.path;
  ctx.p.add(path, `${typeof v === 'string' ? `${show(v)} ` : ''}${r.reason}`);
  return undefined;
}

function sortedRecord(entries: Array<readonly [string, string]>): Readonly<Record<string, string>> {
  return Object.fromEntries([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function commandOf(ctx: Ctx, v: unknown, shell: boolean): string[] {
  if (v === undefined) {
    ctx.p.add('command', 'is required; give the program and its arguments as a list, e.g. [python, train.py]');
    return [];
  }
  if (typeof v === 'string') {
    if (!shell) {
      ctx.p.add('command', `is a single string; give a list such as [sh, -c, "echo hi"] (no shell is used), or set shell: true to run the string with /bin/sh -c`);
      return [];
    }
    const s = text(ctx, v, 'command', JOB_SPEC_LIMITS.argBytes, 'a script');
    if (s === undefined) return [];
    if (s.trim() === '') ctx.p.add('command', 'the script is empty');
    return [s];
  }
  const items = list(ctx, v, 'command', JOB_SPEC_LIMITS.argvItems, '[python, train.py]');
  if (items === undefined) return [];
  if (items.length === 0) {
    ctx.p.add('command', 'must not be empty; give the program and its arguments, e.g. [python, train.py]');
    return [];
  }
  if (shell && items.length !== 1) {
    ctx.p.add('command', `with shell: true, give one script string (${items.length} items given); pass values to it with args ($1, $2, …)`);
    return [];
  }
  const out = items.map((item, i) => text(ctx, item, indexPath('command', i), JOB_SPEC_LIMITS.argBytes) ?? '');
  if (items[0] === '') ctx.p.add('command[0]', shell ? 'the script is empty' : 'the program name is empty');
  return out;
}

function filesOf(ctx: Ctx, v: unknown): InlineFile[] {
  if (v === undefined) return [];
  const items = list(ctx, v, 'files', JOB_SPEC_LIMITS.files, '[{path: run.sh, content: "..."}]');
  if (items === undefined) return [];
  const out: InlineFile[] = [];
  let total = 0;
  items.forEach((item, i) => {
    const at = indexPath('files', i);
    const f = mapping(ctx, item, at, FILE_FIELDS);
    if (f === undefined) return;
    const path = f['path'] === undefined ? (ctx.p.add(`${at}.path`, 'is required'), undefined) : relPath(ctx, f['path'], `${at}.path`);
    let content: string | undefined;
    if (f['fromFile'] !== undefined) {
      // A local file next to the spec, read by the client (`strata run -f`) before submitting.
      if (f['content'] !== undefined) ctx.p.add(`${at}.fromFile`, 'give content or fromFile, not both');
      else if (typeof f['fromFile'] !== 'string' || f['fromFile'] === '') ctx.p.add(`${at}.fromFile`, `expected the path of a local file; got ${show(f['fromFile'])}`);
      else if (ctx.readFile === undefined) ctx.p.add(`${at}.fromFile`, 'is read by `strata run -f` on the submitting machine; send content instead');
      else {
        try {
          content = text(ctx, ctx.readFile(f['fromFile']), `${at}.fromFile`, JOB_SPEC_LIMITS.fileContentBytes);
        } catch (e) {
          ctx.p.add(`${at}.fromFile`, `cannot read ${show(f['fromFile'])}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
      }
    } else {
      content = f['content'] === undefined ? (ctx.p.add(`${at}.content`, 'is required (text; use "" for an empty file)'), undefined) : text(ctx, f['content'], `${at}.content`, JOB_SPEC_LIMITS.fileContentBytes);
    }
    const executable = bool(ctx, f['executable'], `${at}.executable`, false);
    if (path === undefined || content === undefined) return;
    total += bytes(content);
    const clash = out.find((o) => o.path === path || o.path.startsWith(`${path}/`) || path.startsWith(`${o.path}/`));
    if (clash !== undefined) {
      ctx.p.add(`${at}.path`, clash.path === path ? `${show(path)} is listed twice` : `${show(path)} and ${show(clash.path)} cannot both be files`);
      return;
    }
    out.push({ path, content, executable });
  });
  if (total > JOB_SPEC_LIMITS.fileContentBytes) ctx.p.add('files', `contents total ${total} bytes; at most ${JOB_SPEC_LIMITS.fileContentBytes} are allowed (upload larger inputs as a dataset)`);
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** An env variable name: well-formed and, unless the caller is a platform admin, not dangerous. */
function envName(ctx: Ctx, n: string, path: string, shown = n): boolean {
  if (!ENV_NAME_RE.test(n) || n === '__proto__') {
    ctx.p.add(path, `${show(shown)} is not a valid variable name; use letters, digits and '_', not starting with a digit`);
    return false;
  }
  const why = dangerousEnvReason(n);
  if (why !== undefined && !ctx.allowDangerousEnv) {
    ctx.p.add(path, `${n} may not be set: ${why}; only platform admins may set it`);
    return false;
  }
  return true;
}

function envOf(ctx: Ctx, v: unknown): Array<readonly [string, string]> {
  if (v === undefined) return [];
  if (!isObj(v)) {
    ctx.p.add('env', `expected a mapping of variable names to text, e.g. {LOG_LEVEL: debug}; got ${show(v)}`);
    return [];
  }
  const keys = Object.keys(v);
  if (keys.length > JOB_SPEC_LIMITS.envVars) {
    ctx.p.add('env', `has ${keys.length} variables; at most ${JOB_SPEC_LIMITS.envVars} are allowed`);
    return [];
  }
  const out: Array<readonly [string, string]> = [];
  for (const k of keys) {
    const at = keyPath('env', k);
    if (!envName(ctx, k, at)) continue;
    const val = text(ctx, v[k], at, JOB_SPEC_LIMITS.envValueBytes);
    if (val !== undefined) out.push([k, val]);
  }
  return out;
}

function secretsOf(ctx: Ctx, v: unknown, env: ReadonlyMap<string, string>): SecretRef[] {
  if (v === undefined) return [];
  const items = list(ctx, v, 'secrets', JOB_SPEC_LIMITS.secrets, '[db-password, {name: api-key, env: API_KEY}]');
  if (items === undefined) return [];
  const out: SecretRef[] = [];
  items.forEach((item, i) => {
    const at = indexPath('secrets', i);
    const s = typeof item === 'string' ? { name: item } : mapping(ctx, item, at, SECRET_FIELDS);
    if (s === undefined) return;
    const n = s['name'] === undefined ? (ctx.p.add(`${at}.name`, 'is required: the name of a project secret'), undefined) : name(ctx, s['name'], typeof item === 'string' ? at : `${at}.name`);
    if (n === undefined) return;
    let e: string;
    if (s['env'] === undefined) {
      e = upperSnake(n);
      if (!ENV_NAME_RE.test(e)) {
        ctx.p.add(`${at}.env`, `the default variable name ${show(e)} (from the secret's name) is not valid; set env, e.g. env: SECRET_${e}`);
        return;
      }
    } else {
      const given = text(ctx, s['env'], `${at}.env`, 256, 'a variable name');
      if (given === undefined) return;
      e = given;
    }
    if (!envName(ctx, e, `${at}.env`)) return;
    if (env.has(e)) ctx.p.add(`${at}.env`, `${e} is also set in env; choose one`);
    else if (out.some((o) => o.env === e)) ctx.p.add(`${at}.env`, `${e} is given by two secrets`);
    else out.push({ name: n, env: e });
  });
  return out;
}

function labelsOf(ctx: Ctx, v: unknown): Array<readonly [string, string]> {
  if (v === undefined) return [];
  if (!isObj(v)) {
    ctx.p.add('labels', `expected a mapping of keys to text, e.g. {team: vision}; got ${show(v)}`);
    return [];
  }
  const keys = Object.keys(v);
  if (keys.length > JOB_SPEC_LIMITS.labels) {
    ctx.p.add('labels', `has ${keys.length} labels; at most ${JOB_SPEC_LIMITS.labels} are allowed`);
    return [];
  }
  const out: Array<readonly [string, string]> = [];
  for (const k of keys) {
    const at = keyPath('labels', k);
    if (!LABEL_KEY_RE.test(k) || k.includes('..')) {
      ctx.p.add(at, `${show(k)} is not a valid label key; use 1–${JOB_SPEC_LIMITS.labelKeyChars} letters, digits, '.', '_', '-' or '/', starting and ending with a letter or digit`);
      continue;
    }
    const val = text(ctx, v[k], at, JOB_SPEC_LIMITS.labelValueBytes);
    if (val === undefined) continue;
    if (CONTROL_RE.test(val)) ctx.p.add(at, 'contains a control character');
    else out.push([k, val]);
  }
  return out;
}

function acceleratorsOf(ctx: Ctx, v: unknown): AcceleratorRequest | undefined {
  const at = 'resources.accelerators';
  const a = mapping(ctx, v, at, ACCELERATOR_FIELDS);
  if (a === undefined) return undefined;
  const rawKind = a['kind'];
  let kind: AcceleratorKind | undefined;
  if (rawKind === undefined) ctx.p.add(`${at}.kind`, `is required; one of ${ACCELERATOR_KINDS.join(', ')}`);
  else if (typeof rawKind === 'string' && (ACCELERATOR_KINDS as readonly string[]).includes(rawKind)) kind = rawKind as AcceleratorKind;
  else {
    const guess = typeof rawKind === 'string' ? suggest(rawKind, ACCELERATOR_KINDS) : undefined;
    ctx.p.add(`${at}.kind`, `${show(rawKind)} is not an accelerator kind; ${guess === undefined ? '' : `did you mean "${guess}"? `}use one of ${ACCELERATOR_KINDS.join(', ')}`);
  }
  const count = a['count'] === undefined ? 1 : integer(ctx, a['count'], `${at}.count`, 1, JOB_SPEC_LIMITS.acceleratorCount);
  const flavors = a['flavors'] === undefined ? [] : nameList(ctx, a['flavors'], `${at}.flavors`, JOB_SPEC_LIMITS.flavors, '[nvidia-h100, nvidia-a100]');
  let qubits: number | undefined;
  let neurons: number | undefined;
  if (a['qubits'] !== undefined) {
    if (kind !== undefined && kind !== 'quantum-sim') ctx.p.add(`${at}.qubits`, 'is only for kind quantum-sim');
    else qubits = integer(ctx, a['qubits'], `${at}.qubits`, 1, JOB_SPEC_LIMITS.qubits);
  }
  if (a['neurons'] !== undefined) {
    if (kind !== undefined && kind !== 'neuromorphic') ctx.p.add(`${at}.neurons`, 'is only for kind neuromorphic');
    else neurons = integer(ctx, a['neurons'], `${at}.neurons`, 1, JOB_SPEC_LIMITS.neurons);
  }
  if (kind === undefined || count === undefined) return undefined;
  switch (kind) {
    case 'quantum-sim':
      return { kind, count, flavors, ...(qubits === undefined ? {} : { qubits }) };
    case 'neuromorphic':
      return { kind, count, flavors, ...(neurons === undefined ? {} : { neurons }) };
    case 'gpu':
    case 'tpu':
    case 'fpga':
    case 'ipu':
      return { kind, count, flavors };
  }
}

const RESOURCE_HINTS: Readonly<Record<string, string>> = {
  gpu: 'ask for GPUs with accelerators: {kind: gpu, count: 1}; ',
  gpus: 'ask for GPUs with accelerators: {kind: gpu, count: 1}; ',
  'nvidia.com/gpu': 'ask for GPUs with accelerators: {kind: gpu, count: 1}; ',
  accelerator: 'did you mean "accelerators"? ',
};

function resourcesOf(ctx: Ctx, v: unknown): Resources {
  const dflt: Resources = { cpuMillis: JOB_SPEC_DEFAULTS.cpuMillis, memoryBytes: JOB_SPEC_DEFAULTS.memoryBytes };
  if (v === undefined) return dflt;
  const r = mapping(ctx, v, 'resources', RESOURCE_FIELDS, RESOURCE_HINTS);
  if (r === undefined) return dflt;
  let cpuMillis = dflt.cpuMillis;
  let memoryBytes = dflt.memoryBytes;
  if (r['cpu'] !== undefined) {
    const c = tryParseCpu(r['cpu']);
    if (c.ok) cpuMillis = c.value;
    else ctx.p.add('resources.cpu', c.reason);
  }
  if (r['memory'] !== undefined) {
    const m = tryParseMemory(r['memory']);
    if (m.ok) memoryBytes = m.value;
    else ctx.p.add('resources.memory', m.reason);
  }
  const accelerators = r['accelerators'] === undefined ? undefined : acceleratorsOf(ctx, r['accelerators']);
  return { cpuMillis, memoryBytes, ...(accelerators === undefined ? {} : { accelerators }) };
}

function backoffOf(ctx: Ctx, v: unknown): Backoff {
  const dflt = JOB_SPEC_DEFAULTS.backoff;
  if (v === undefined) return dflt;
  const b = mapping(ctx, v, 'backoff', BACKOFF_FIELDS);
  if (b === undefined) return dflt;
  const max = JOB_SPEC_LIMITS.backoffSeconds;
  const initialSeconds = b['initialSeconds'] === undefined ? dflt.initialSeconds : (seconds(ctx, b['initialSeconds'], 'backoff.initialSeconds', 0, max) ?? dflt.initialSeconds);
  const maxSeconds = b['maxSeconds'] === undefined ? Math.max(dflt.maxSeconds, initialSeconds) : (seconds(ctx, b['maxSeconds'], 'backoff.maxSeconds', 0, max) ?? dflt.maxSeconds);
  if (maxSeconds < initialSeconds) ctx.p.add('backoff.maxSeconds', `${maxSeconds} is less than initialSeconds (${initialSeconds})`);
  return { initialSeconds, maxSeconds };
}

/** Where a gang's replicas should sit: in one rack or block, required or preferred (default). */
function topologyOf(ctx: Ctx, v: unknown, replicas: number): GangTopology | undefined {
  if (v === undefined) return undefined;
  const t = mapping(ctx, v, 'topology', TOPOLOGY_FIELDS);
  if (t === undefined) return undefined;
  if (t['level'] === undefined) ctx.p.add('topology.level', 'is required: rack or block');
  const level = enumOf(ctx, t['level'], 'topology.level', TOPOLOGY_LEVELS, 'rack');
  const mode = enumOf(ctx, t['mode'], 'topology.mode', TOPOLOGY_MODES, 'preferred');
  if (replicas < 2) ctx.p.add('topology', 'applies to gangs only; set replicas to 2 or more, or leave topology out');
  return { level, mode };
}

function enumOf<T extends string>(ctx: Ctx, v: unknown, path: string, allowed: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
  const guess = typeof v === 'string' ? suggest(v, allowed) : undefined;
  ctx.p.add(path, `${show(v)} is not allowed; ${guess === undefined ? '' : `did you mean "${guess}"? `}use one of ${allowed.join(', ')}`);
  return dflt;
}

/** An ISO 8601 date-time with a zone (`2026-03-01T12:00:00Z`, `…+01:00`), normalised to UTC. */
function deadlineOf(ctx: Ctx, v: unknown): string | undefined {
  const s = text(ctx, v, 'deadline', 64, 'an ISO 8601 time such as 2026-03-01T12:00:00Z');
  if (s === undefined) return undefined;
  const m = ISO_RE.exec(s);
  const bad = (): undefined => {
    ctx.p.add('deadline', `${show(s)} is not an ISO 8601 time with a zone; use e.g. 2026-03-01T12:00:00Z or 2026-03-01T13:00:00+01:00`);
    return undefined;
  };
  if (m === null) return bad();
  const [, y, mo, d, h, mi, sec = '0', frac = '', z, sign, oh = '0', om = '0'] = m;
  const n = (x: string | undefined): number => Number(x);
  const days = new Date(Date.UTC(n(y), n(mo), 0)).getUTCDate(); // days in month mo
  if (n(y) < 1970 || n(mo) < 1 || n(mo) > 12 || n(d) < 1 || n(d) > days || n(h) > 23 || n(mi) > 59 || n(sec) > 59 || n(oh) > 23 || n(om) > 59) return bad();
  const offsetMin = z === undefined ? (sign === '-' ? -1 : 1) * (n(oh) * 60 + n(om)) : 0;
  const ms = Date.UTC(n(y), n(mo) - 1, n(d), n(h), n(mi), n(sec), Math.floor(Number(`0${frac}`) * 1000)) - offsetMin * 60_000;
  const t = new Date(ms);
  if (Number.isNaN(t.getTime())) return bad();
  return t.toISOString();
}

function execBytes(argv: readonly string[], env: ReadonlyArray<readonly [string, string]>): number {
  let total = 0;
  for (const a of argv) total += bytes(a) + 1;
  for (const [k, v] of env) total += bytes(k) + bytes(v) + 2;
  return total;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v)) deepFreeze(child);
  }
  return v;
}

/**
 * Validates an already-parsed spec (e.g. a JSON request body) and returns it normalised, frozen,
 * with every default filled in (see {@link JOB_SPEC_DEFAULTS}). Throws one 400 listing up to 10
 * problems (`details.field` = the first one's path, `details.problems` = `[{field, message}]`).
 * `opts.format` is ignored here.
 */
export function normaliseJobSpec(value: unknown, opts: JobSpecOptions = {}): JobSpec {
  const ctx: Ctx = { p: new Problems(), allowDangerousEnv: opts.allowDangerousEnv === true, ...(opts.readFile === undefined ? {} : { readFile: opts.readFile }) };
  const s = mapping(ctx, value, '', TOP_FIELDS);
  if (s === undefined) {
    throw badRequest('spec: expected a mapping (object) with at least name and command, e.g. {name: hello, command: [echo, hi]}', { field: 'spec', problems: [{ field: 'spec', message: `got ${show(value)}` }] });
  }
  const jobName = s['name'] === undefined ? (ctx.p.add('name', `is required; ${NAME_HINT}`), '') : (name(ctx, s['name'], 'name') ?? '');
  const kind = enumOf(ctx, s['kind'], 'kind', JOB_KINDS, 'process');
  const shell = bool(ctx, s['shell'], 'shell', false);
  let command: string[];
  let payload: Record<string, unknown> | undefined;
  for (const [k, field] of Object.entries(KIND_PAYLOAD_FIELD)) {
    if (s[field] !== undefined && kind !== k) ctx.p.add(field, `belongs to kind: ${k}; set kind: ${k} or remove ${field}`);
  }
  if (kind === 'process') command = commandOf(ctx, s['command'], shell);
  else {
    const field = KIND_PAYLOAD_FIELD[kind];
    if (s['command'] !== undefined || s['args'] !== undefined || s['shell'] === true) ctx.p.add('command', `a ${kind} job runs the built-in engine: leave out command, args and shell and give ${field}`);
    // The agent runs the engine as this process; 'strata' is resolved to its own CLI.
    command = ['strata', 'job-exec', kind, BUILTIN_PAYLOAD_FILE];
    const raw = s[field];
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) ctx.p.add(field, `is required for kind ${kind}: ${kind === 'quantum-circuit' ? 'an object with qasm (OpenQASM 2.0 source) and optional shots, seed, observables, parameters' : 'an object with network (populations and projections) and optional duration_ms, seed'}`);
    else {
      const validate = opts.kindValidators?.[kind];
      try {
        payload = (validate === undefined ? raw : validate(raw)) as Record<string, unknown>;
      } catch (e) {
        ctx.p.add(field, e instanceof Error ? e.message : String(e));
      }
      const bytes = Buffer.byteLength(JSON.stringify(raw));
      if (bytes > JOB_SPEC_LIMITS.fileContentBytes) ctx.p.add(field, `is ${bytes} bytes; at most ${JOB_SPEC_LIMITS.fileContentBytes} are allowed`);
    }
  }
  let args: string[] = [];
  if (s['args'] !== undefined) {
    const items = list(ctx, s['args'], 'args', JOB_SPEC_LIMITS.argvItems, '[--epochs, "10"]');
    if (items !== undefined) args = items.map((a, i) => text(ctx, a, indexPath('args', i), JOB_SPEC_LIMITS.argBytes) ?? '');
  }
  if (command.length + args.length > JOB_SPEC_LIMITS.argvItems) ctx.p.add('args', `command and args have ${command.length + args.length} items together; at most ${JOB_SPEC_LIMITS.argvItems} are allowed`);
  const workingDir = s['workingDir'] === undefined ? JOB_SPEC_DEFAULTS.workingDir : (relPath(ctx, s['workingDir'], 'workingDir', true) ?? JOB_SPEC_DEFAULTS.workingDir);
  const files = filesOf(ctx, s['files']);
  const env = envOf(ctx, s['env']);
  const envMap = new Map(env);
  const resources = resourcesOf(ctx, s['resources']);
  const replicas = s['replicas'] === undefined ? JOB_SPEC_DEFAULTS.replicas : (integer(ctx, s['replicas'], 'replicas', 1, JOB_SPEC_LIMITS.replicas) ?? 1);
  const priorityClass = enumOf(ctx, s['priorityClass'], 'priorityClass', PRIORITY_CLASSES, JOB_SPEC_DEFAULTS.priorityClass);
  const preemptible = bool(ctx, s['preemptible'], 'preemptible', JOB_SPEC_DEFAULTS.preemptible);
  const maxAttempts = s['maxAttempts'] === undefined ? JOB_SPEC_DEFAULTS.maxAttempts : (integer(ctx, s['maxAttempts'], 'maxAttempts', 1, JOB_SPEC_LIMITS.maxAttempts) ?? 1);
  const backoff = backoffOf(ctx, s['backoff']);
  const maxRuntimeSeconds = s['maxRuntimeSeconds'] === undefined ? undefined : seconds(ctx, s['maxRuntimeSeconds'], 'maxRuntimeSeconds', 0, JOB_SPEC_LIMITS.maxRuntimeSeconds, true);
  const deadline = s['deadline'] === undefined ? undefined : deadlineOf(ctx, s['deadline']);
  const maxStartDelaySeconds = s['maxStartDelaySeconds'] === undefined ? undefined : seconds(ctx, s['maxStartDelaySeconds'], 'maxStartDelaySeconds', 0, JOB_SPEC_LIMITS.maxStartDelaySeconds);
  let regions: string[] = [];
  if (s['regions'] !== undefined) {
    regions = nameList(ctx, s['regions'], 'regions', JOB_SPEC_LIMITS.regions, '[east, west]');
    if (Array.isArray(s['regions']) && s['regions'].length === 0) ctx.p.add('regions', 'is empty; list at least one region, or leave regions out to allow any');
  }
  const dataResidency = s['dataResidency'] === undefined ? [] : nameList(ctx, s['dataResidency'], 'dataResidency', JOB_SPEC_LIMITS.dataResidency, '[eu, gdpr]');
  let checkpointDir: string | undefined;
  const cp = s['checkpointDir'];
  if (cp === true) checkpointDir = JOB_SPEC_DEFAULTS.checkpointDir;
  else if (typeof cp === 'string') checkpointDir = relPath(ctx, cp, 'checkpointDir');
  else if (cp !== undefined && cp !== false) ctx.p.add('checkpointDir', `expected true, false or a relative path such as checkpoints; got ${show(cp)}`);
  const secrets = secretsOf(ctx, s['secrets'], envMap);
  const outputs: string[] = [];
  if (s['outputs'] !== undefined) {
    const items = list(ctx, s['outputs'], 'outputs', JOB_SPEC_LIMITS.outputs, '[model.pt, results/]');
    items?.forEach((o, i) => {
      const rel = relPath(ctx, o, indexPath('outputs', i));
      if (rel === undefined) return;
      if (outputs.includes(rel)) ctx.p.add(indexPath('outputs', i), `${show(rel)} is listed twice`);
      else outputs.push(rel);
    });
  }
  const labels = labelsOf(ctx, s['labels']);
  const topology = topologyOf(ctx, s['topology'], replicas);
  if (kind !== 'process' && replicas > 1) ctx.p.add('replicas', `a ${kind} job runs as one replica; leave replicas out, or submit several jobs`);
  const exec = execBytes([...command, ...args], env);
  if (exec > JOB_SPEC_LIMITS.execBytes) ctx.p.add('env', `command, args and env together are ${exec} bytes; at most ${JOB_SPEC_LIMITS.execBytes} are allowed (put large inputs in files)`);

  const err = ctx.p.toError();
  if (err !== undefined) throw err;
  const spec: JobSpec = {
    name: jobName,
    kind,
    ...(payload === undefined ? {} : { payload: JSON.parse(JSON.stringify(payload)) as Record<string, unknown> }),
    command,
    args,
    shell,
    workingDir,
    files,
    env: sortedRecord(env),
    resources,
    replicas,
    ...(topology === undefined ? {} : { topology }),
    priorityClass,
    preemptible,
    maxAttempts,
    backoff: { ...backoff },
    ...(maxRuntimeSeconds === undefined ? {} : { maxRuntimeSeconds }),
    ...(deadline === undefined ? {} : { deadline }),
    ...(maxStartDelaySeconds === undefined ? {} : { maxStartDelaySeconds }),
    regions,
    dataResidency,
    ...(checkpointDir === undefined ? {} : { checkpointDir }),
    secrets,
    outputs,
    labels: sortedRecord(labels),
  };
  return deepFreeze(spec);
}

/** Deepest nesting of mappings and lists accepted (a real spec needs 4). */
const MAX_NESTING = 32;

/**
 * True when the tokens nest collections deeper than MAX_NESTING. yaml's parser keeps an explicit
 * stack, but its composer recurses once per level, and near the stack limit V8 has been seen to
 * abort the whole process ("RegExpCompiler Allocation failed") rather than throw a RangeError:
 * a 100 KB `[[[[…` must not take the server down, so depth is checked before composing.
 */
function nestsTooDeep(tokens: readonly CST.Token[]): boolean {
  const stack: Array<readonly [CST.Token, number]> = tokens.map((t) => [t, 0] as const);
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [tok, depth] = next;
    if (tok.type === 'document') {
      if (tok.value !== undefined) stack.push([tok.value, depth]);
    } else if (CST.isCollection(tok)) {
      if (depth >= MAX_NESTING) return true;
      for (const item of tok.items) {
        if (item.key !== undefined && item.key !== null) stack.push([item.key, depth + 1]);
        if (item.value !== undefined) stack.push([item.value, depth + 1]);
      }
    }
  }
  return false;
}

type Where = { readonly line: number; readonly column: number } | undefined;

function locate(lines: LineCounter, offset: number | undefined): Where {
  if (offset === undefined) return undefined;
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}

function at(where: Where): string {
  return where === undefined ? '' : ` at line ${where.line}, column ${where.column}`;
}

function yamlError(e: unknown, source: string, lines: LineCounter): StrataError {
  if (e instanceof YAMLError) {
    const where = locate(lines, e.pos[0]);
    const loc = where === undefined ? {} : { line: where.line, column: where.column };
    if (e.code === 'DUPLICATE_KEY') {
      const key = /^\s*["']?([^"':\n]{1,64}?)["']?\s*:/.exec(source.slice(e.pos[0], e.pos[0] + 200))?.[1];
      return badRequest(`spec: duplicate key${key === undefined ? '' : ` "${key}"`}${at(where)}; each field may appear only once`, { field: 'spec', ...loc });
    }
    if (e.code === 'RESOURCE_EXHAUSTION') return badRequest(`spec: nested too deeply or too complex${at(where)}`, { field: 'spec', ...loc });
    const first = (e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    return badRequest(`spec: not valid YAML${at(where)}: ${first}`, { field: 'spec', yamlCode: e.code, ...loc });
  }
  if (e instanceof ReferenceError && /alias/i.test(e.message)) {
    const why = /excessive/i.test(e.message) ? `too many YAML alias expansions (limit ${YAML_OPTIONS.maxAliasCount}); write the values out instead` : `not valid YAML: ${e.message}`;
    return badRequest(`spec: ${why}`, { field: 'spec' });
  }
  if (e instanceof RangeError) return badRequest('spec: nested too deeply', { field: 'spec' });
  return badRequest(`spec: could not be read as YAML: ${e instanceof Error ? (e.message.split('\n')[0] ?? '') : String(e)}`, { field: 'spec' });
}

/**
 * Reads YAML (or JSON, as YAML 1.2's `json` schema) into a plain value: tokenise once, refuse deep
 * nesting, compose with duplicate keys refused, convert with alias expansion bounded.
 */
function readYaml(source: string, schema: 'core' | 'json'): unknown {
  const lines = new LineCounter();
  const tokens = Array.from(new Parser(lines.addNewLine).parse(source));
  if (nestsTooDeep(tokens)) throw badRequest(`spec: nested more than ${MAX_NESTING} levels deep; a job spec needs far fewer`, { field: 'spec' });
  const options = { ...YAML_OPTIONS, schema };
  try {
    const docs = Array.from(new Composer(options).compose(tokens, true, source.length));
    const doc = docs[0];
    if (doc === undefined) return null;
    if (docs.length > 1) {
      const where = locate(lines, docs[1]?.range[0]);
      throw badRequest(`spec: holds more than one YAML document${at(where)}; remove the '---' and everything after it, or submit each job separately`, { field: 'spec' });
    }
    const first = doc.errors[0];
    if (first !== undefined) throw yamlError(first, source, lines);
    return doc.toJS({ maxAliasCount: options.maxAliasCount }) as unknown;
  } catch (e) {
    if (e instanceof StrataError) throw e;
    throw yamlError(e, source, lines);
  }
}

/** JSON: strict syntax and prototype-poisoning refusal by secure-json-parse; duplicate keys and depth by yaml. */
function fromJson(source: string): unknown {
  let value: unknown;
  try {
    value = sjson.parse(source, undefined, { protoAction: 'error', constructorAction: 'error' }) as unknown;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/prototype/i.test(msg)) throw badRequest('spec: contains a "__proto__" or "constructor.prototype" key; remove it', { field: 'spec' });
    throw badRequest(`spec: not valid JSON: ${msg.slice(0, 200)}`, { field: 'spec' });
  }
  // JSON.parse keeps the last of repeated keys; a spec with two `command`s is a mistake, so the
  // same text is read again as YAML 1.2 (a superset of JSON), which refuses them (and deep nesting).
  // Any other complaint from the YAML reader about text that is valid JSON is not the user's problem.
  try {
    readYaml(source, 'json');
  } catch (e) {
    if (e instanceof StrataError && /^spec: (duplicate key|nested)/.test(e.message)) throw e;
  }
  return value;
}

/** `{…}` text: JSON when it is JSON; otherwise a YAML flow mapping such as `{name: x, command: [x]}`. */
function fromJsonOrYaml(body: string): unknown {
  try {
    return fromJson(body);
  } catch (e) {
    // A poisoned, duplicated or over-deep key is final; a JSON syntax error may just be YAML.
    if (e instanceof StrataError && !e.message.startsWith('spec: not valid JSON')) throw e;
    return readYaml(body, 'core');
  }
}

/**
 * Parses a job spec from YAML or JSON text and validates it ({@link normaliseJobSpec}). YAML is
 * read as YAML 1.2 (core schema: `yes` stays text), with duplicate keys refused and alias expansion
 * limited (billion laughs); JSON is read strictly, refusing `__proto__` keys and duplicate keys.
 * Text over {@link JOB_SPEC_LIMITS}.specBytes is a 413; anything else wrong is one 400.
 */
export function parseJobSpec(source: string, opts: JobSpecOptions = {}): JobSpec {
  if (typeof source !== 'string') throw badRequest('spec: expected YAML or JSON text', { field: 'spec' });
  const size = bytes(source);
  if (size > JOB_SPEC_LIMITS.specBytes) {
    throw new StrataError('payload_too_large', `spec: is ${size} bytes; at most ${JOB_SPEC_LIMITS.specBytes} are allowed (put large inputs in a dataset)`, { details: { field: 'spec' } });
  }
  if (source.includes('\u0000')) throw badRequest('spec: contains a NUL byte', { field: 'spec' });
  const body = source.startsWith('\uFEFF') ? source.slice(1) : source;
  if (body.trim() === '') throw badRequest('spec: is empty; give at least name and command', { field: 'spec' });
  const format = opts.format ?? 'auto';
  let value: unknown;
  switch (format) {
    case 'json':
      value = fromJson(body);
      break;
    case 'yaml':
      value = readYaml(body, 'core');
      break;
    case 'auto':
      value = body.trimStart().startsWith('{') ? fromJsonOrYaml(body) : readYaml(body, 'core');
      break;
  }
  return normaliseJobSpec(value, opts);
}

/**
 * The exact argv the executor runs: `command + args`, or with `shell: true`
 * `['/bin/sh', '-c', script, name, ...args]` (the job name is $0, args are $1, $2, …, never
 * spliced into the script text).
 */
export function jobArgv(spec: JobSpec): readonly string[] {
  if (spec.shell) return ['/bin/sh', '-c', spec.command[0] ?? '', spec.name, ...spec.args];
  return [...spec.command, ...spec.args];
}

/**
 * The spec back in input form (quantities as text, e.g. `cpu: "100m"`), as shown by
 * `strata jobs describe`; `normaliseJobSpec(jobSpecToInput(s))` deep-equals `s`.
 */
export function jobSpecToInput(spec: JobSpec): Record<string, unknown> {
  const { resources, regions, payload, command, args, shell, ...rest } = spec;
  const run = spec.kind === 'process' ? { command, args, shell } : { [KIND_PAYLOAD_FIELD[spec.kind]]: payload ?? {} };
  return {
    ...rest,
    ...run,
    ...(regions.length === 0 ? {} : { regions }), // [] means "any", which the input form spells by leaving regions out
    resources: {
      cpu: formatCpu(resources.cpuMillis),
      memory: formatMemory(resources.memoryBytes),
      ...(resources.accelerators === undefined ? {} : { accelerators: resources.accelerators }),
    },
  };
}
