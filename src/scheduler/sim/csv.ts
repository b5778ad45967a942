// Parsers for the simulator's inputs, from CSV text (the CLI reads the files; this module does no
// I/O). The column names are those of the Alibaba openb GPU trace (cluster-trace-gpu-v2023), plus
// optional columns for teams, classes, durations, power and carbon:
//
//   trace:   name, cpu_milli, memory_mib, num_gpu, gpu_milli, gpu_spec ('|'-separated models),
//            qos | class, team, creation_time | arrival (s), deletion_time, scheduled_time,
//            duration (s; else deletion_time − (scheduled_time or creation_time))
//   cluster: sn | name, cpu_milli, memory_mib, gpu, model, idle_watts, cpu_watts, gpu_watts,
//            carbon_g_per_kwh
//
// Errors are `bad_request` StrataErrors naming the line and column.
import { badRequest } from '../../kernel/index.ts';
import { MILLI, validateRequest } from '../placement/index.ts';
import type { PlacementRequest } from '../placement/index.ts';
import type { ClusterNode } from './cluster-state.ts';

/** One task of a trace. */
export interface TraceJob {
  readonly id: string;
  readonly request: PlacementRequest;
  /** Arrival, seconds from the trace's origin. */
  readonly arrival: number;
  /** Run time once started, seconds. */
  readonly duration: number;
  readonly team: string;
  /** Queueing class (the trace's QoS unless a `class` column is given). */
  readonly jobClass: string;
}

/**
 * Splits CSV text into rows of fields (RFC 4180: quoted fields, doubled quotes, CRLF). Blank lines
 * are skipped. Returns each row with its 1-based line number.
 */
export function parseCsvRows(text: string): { line: number; fields: string[] }[] {
  const rows: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  let fieldStarted = false;
  const endRow = (): void => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === '' && !fieldStarted)) rows.push({ line: rowLine, fields });
    fields = [];
    field = '';
    fieldStarted = false;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 1;
        } else quoted = false;
      } else {
        if (ch === '\n') line += 1;
        field += ch;
      }
      continue;
    }
    if (ch === '"' && field === '') {
      quoted = true;
      fieldStarted = true;
    } else if (ch === ',') {
      fields.push(field);
      field = '';
      fieldStarted = true;
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i += 1;
      endRow();
      line += 1;
      rowLine = line;
    } else {
      field += ch;
      fieldStarted = true;
    }
  }
  if (quoted) throw badRequest(`CSV line ${rowLine}: a quoted field is not closed`);
  if (field !== '' || fields.length > 0 || fieldStarted) endRow();
  return rows;
}

/** Rows as records keyed by the (trimmed, lower-cased) header, with strict arity. */
function records(text: string, what: string): { line: number; get: (col: string) => string | undefined }[] {
  const rows = parseCsvRows(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  const header = rows.shift();
  if (header === undefined) throw badRequest(`the ${what} CSV is empty: it needs a header line and at least one row`);
  const cols = header.fields.map((h) => h.trim().toLowerCase());
  const index = new Map(cols.map((c, i) => [c, i]));
  return rows.map((r) => {
    if (r.fields.length !== cols.length) throw badRequest(`${what} CSV line ${r.line}: ${r.fields.length} fields, the header has ${cols.length}`);
    return {
      line: r.line,
      get: (col: string): string | undefined => {
        const i = index.get(col);
        if (i === undefined) return undefined;
        const v = (r.fields[i] as string).trim();
        return v === '' ? undefined : v;
      },
    };
  });
}

function requireColumns(text: string, what: string, groups: readonly (readonly string[])[]): void {
  const first = parseCsvRows(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text)[0];
  if (first === undefined) throw badRequest(`the ${what} CSV is empty: it needs a header line and at least one row`);
  const cols = new Set(first.fields.map((h) => h.trim().toLowerCase()));
  for (const g of groups) {
    if (!g.some((c) => cols.has(c))) throw badRequest(`the ${what} CSV has no '${g.join("' or '")}' column (columns: ${[...cols].join(', ') || 'none'})`);
  }
}

function num(value: string | undefined, line: number, col: string, what: string, fallback?: number): number {
  if (value === undefined) {
    if (fallback !== undefined) return fallback;
    throw badRequest(`${what} CSV line ${line}: '${col}' is empty`);
  }
  const x = Number(value);
  if (!Number.isFinite(x)) throw badRequest(`${what} CSV line ${line}: '${col}' is '${value}', not a number`);
  if (x < 0) throw badRequest(`${what} CSV line ${line}: '${col}' is negative (${value})`);
  return x;
}

/** Parses a cluster description (see the header for columns). */
export function parseClusterCsv(text: string): ClusterNode[] {
  const what = 'cluster';
  requireColumns(text, what, [['cpu_milli'], ['gpu', 'num_gpu']]);
  const nodes = records(text, what).map((r, i): ClusterNode => {
    const id = r.get('sn') ?? r.get('name') ?? r.get('id') ?? `node-${i}`;
    const gpuCount = num(r.get('gpu') ?? r.get('num_gpu'), r.line, 'gpu', what);
    if (!Number.isInteger(gpuCount)) throw badRequest(`${what} CSV line ${r.line}: 'gpu' must be a whole number, got ${gpuCount}`);
    const model = r.get('model') ?? '';
    if (gpuCount > 0 && model === '') throw badRequest(`${what} CSV line ${r.line}: node ${id} has ${gpuCount} GPU(s) but no 'model'`);
    const idle = r.get('idle_watts');
    const cpuW = r.get('cpu_watts');
    const gpuW = r.get('gpu_watts');
    const hasPower = idle !== undefined || cpuW !== undefined || gpuW !== undefined;
    const carbon = r.get('carbon_g_per_kwh');
    return {
      id,
      gpuModel: gpuCount > 0 ? model : '',
      cpuMilli: num(r.get('cpu_milli'), r.line, 'cpu_milli', what),
      memoryMiB: num(r.get('memory_mib'), r.line, 'memory_mib', what, Number.MAX_SAFE_INTEGER),
      gpuCount,
      ...(hasPower
        ? { power: { idleWatts: num(idle, r.line, 'idle_watts', what, 0), cpuWatts: num(cpuW, r.line, 'cpu_watts', what, 0), gpuWatts: num(gpuW, r.line, 'gpu_watts', what, 0) } }
        : {}),
      ...(carbon === undefined ? {} : { carbonGPerKWh: num(carbon, r.line, 'carbon_g_per_kwh', what) }),
    };
  });
  if (nodes.length === 0) throw badRequest('the cluster CSV has a header but no nodes');
  const seen = new Set<string>();
  for (const n of nodes) {
    if (seen.has(n.id)) throw badRequest(`the cluster CSV lists node '${n.id}' twice`);
    seen.add(n.id);
  }
  return nodes;
}

/** Parses a trace of tasks (see the header for columns); rows keep their file order. */
export function parseTraceCsv(text: string): TraceJob[] {
  const what = 'trace';
  requireColumns(text, what, [['cpu_milli'], ['num_gpu']]);
  const jobs = records(text, what).map((r, i): TraceJob => {
    const id = r.get('name') ?? r.get('id') ?? `job-${i}`;
    const gpuCount = num(r.get('num_gpu'), r.line, 'num_gpu', what);
    const gpuMilliRaw = gpuCount === 0 ? 0 : num(r.get('gpu_milli'), r.line, 'gpu_milli', what, MILLI);
    const spec = r.get('gpu_spec');
    const gpuModels = spec === undefined ? [] : [...new Set(spec.split('|').map((s) => s.trim()).filter((s) => s !== ''))].sort();
    const request: PlacementRequest = {
      cpuMilli: num(r.get('cpu_milli'), r.line, 'cpu_milli', what),
      memoryMiB: num(r.get('memory_mib'), r.line, 'memory_mib', what, 0),
      gpuCount,
      gpuMilli: gpuMilliRaw,
      ...(gpuModels.length > 0 && gpuCount > 0 ? { gpuModels } : {}),
    };
    validateRequest(request, `trace CSV line ${r.line} (${id})`);
    const arrival = num(r.get('creation_time') ?? r.get('arrival'), r.line, 'creation_time', what, 0);
    let duration: number;
    const d = r.get('duration');
    if (d !== undefined) duration = num(d, r.line, 'duration', what);
    else {
      const end = r.get('deletion_time');
      const start = num(r.get('scheduled_time'), r.line, 'scheduled_time', what, arrival);
      duration = end === undefined ? 0 : Math.max(0, num(end, r.line, 'deletion_time', what) - start);
    }
    return { id, request, arrival, duration, team: r.get('team') ?? 'default', jobClass: r.get('class') ?? r.get('qos') ?? 'default' };
  });
  if (jobs.length === 0) throw badRequest('the trace CSV has a header but no tasks');
  return jobs;
}
