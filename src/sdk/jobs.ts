// Typed client for jobs: submit (from an object or YAML/JSON text), read, list, cancel, follow logs,
// wait for the end, and fetch the outputs and checkpoints attempts stored. Over
// /api/v1/projects/{project}/jobs; errors are the server's, as StrataApiError.
import { parseAllDocuments } from 'yaml';
import type { StrataClient } from './client.ts';
import { StrataApiError, seg } from './client.ts';
import type { ArtifactKind, AttemptInfo, ByteRange, Download, JobArtifact, JobDetail, JobEvent, JobInfo, JobSpecInput, JobState, LogChunk, LogPage } from './types.ts';
import { TERMINAL_JOB_STATES } from './types.ts';
import { download, filePath } from './wire.ts';

/** Options of `JobsClient.submit` for a spec given as text. */
export interface SubmitOptions {
  /** `auto` (default): JSON when the text starts with `{`, YAML otherwise. */
  readonly format?: 'yaml' | 'json' | 'auto' | undefined;
  /** Reads `files[].fromFile` (e.g. relative to the spec file); without it such files are sent as they are and the server refuses them. */
  readonly readFile?: ((path: string) => string) | undefined;
}

export interface WaitOptions {
  /** Give up after this long (JobWaitTimeoutError); default: wait as long as the job runs. */
  readonly timeoutMs?: number | undefined;
  /** Longest pause between two polls; polling starts at 100 ms and doubles up to this. Default 2000. */
  readonly pollIntervalMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

export interface LogsOptions {
  /** Keep reading until the job ends (long-polls the server). Default false: stop at the current end. */
  readonly follow?: boolean | undefined;
  /** Start after this sequence number (a LogPage's `next`). Default 0: from the start. */
  readonly after?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** `JobsClient.wait` ran out of time; `job` is the last state seen. */
export class JobWaitTimeoutError extends Error {
  constructor(readonly job: JobDetail, timeoutMs: number) {
    super(`job ${job.id} is still ${job.state} after ${timeoutMs} ms: wait longer, or cancel it with JobsClient.cancel`);
    this.name = 'JobWaitTimeoutError';
  }
}

/** Jobs of one project. */
export class JobsClient {
  private readonly base: string;

  constructor(
    private readonly client: StrataClient,
    readonly project: string,
  ) {
    this.base = `/api/v1/projects/${seg(project)}/jobs`;
  }

  /**
   * Submits a job. `spec` is the spec object, or its YAML or JSON text (parsed here, with
   * duplicate keys and several documents refused, then sent as JSON; the server checks it).
   */
  async submit(spec: JobSpecInput | string, opts: SubmitOptions = {}): Promise<JobInfo> {
    const body = typeof spec === 'string' ? parseSpecText(spec, opts.format ?? 'auto') : spec;
    return this.client.post<JobInfo>(this.base, opts.readFile === undefined ? body : resolveFromFile(body, opts.readFile));
  }

  /** A job with its attempts and state transitions. */
  async get(id: string): Promise<JobDetail> {
    return this.client.get<JobDetail>(this.jobPath(id));
  }

  /** Jobs of the project, newest first (at most `limit`, default 100, up to 1000). */
  async list(opts: { readonly state?: JobState | undefined; readonly limit?: number | undefined } = {}): Promise<readonly JobInfo[]> {
    return (await this.listPage(opts)).jobs;
  }

  /** One page of jobs, newest first; pass `nextPageToken` back as `pageToken` for the next. */
  async listPage(opts: { readonly state?: JobState | undefined; readonly limit?: number | undefined; readonly pageToken?: string | undefined } = {}): Promise<{ readonly jobs: readonly JobInfo[]; readonly nextPageToken?: string }> {
    return this.client.get<{ jobs: JobInfo[]; nextPageToken?: string }>(this.base, { state: opts.state, limit: opts.limit, pageToken: opts.pageToken });
  }

  /** Every job (of a state), newest first, page by page. */
  async *listAll(opts: { readonly state?: JobState | undefined; readonly pageSize?: number | undefined } = {}): AsyncGenerator<JobInfo> {
    let pageToken: string | undefined;
    do {
      const page = await this.listPage({ state: opts.state, limit: opts.pageSize ?? 500, pageToken });
      yield* page.jobs;
      pageToken = page.nextPageToken;
    } while (pageToken !== undefined);
  }

  /** Cancels a job: at once if it has not started, else its process gets SIGTERM, then SIGKILL. Answers the job as it is now. */
  async cancel(id: string): Promise<JobInfo> {
    return this.client.post<JobInfo>(`${this.jobPath(id)}/cancel`);
  }

  /** The attempts of a job, in order (one per replica for a gang). */
  async attempts(id: string): Promise<readonly AttemptInfo[]> {
    return (await this.get(id)).attemptList;
  }

  /** The state transitions of a job. */
  async events(id: string): Promise<readonly JobEvent[]> {
    return (await this.get(id)).events;
  }

  /** One page of logs after sequence number `after`; `wait` (seconds, ≤ 30) long-polls when there is nothing yet. */
  async logPage(id: string, opts: { readonly after?: number | undefined; readonly limit?: number | undefined; readonly wait?: number | undefined; readonly signal?: AbortSignal | undefined } = {}): Promise<LogPage> {
    return this.client.request<LogPage>('GET', `${this.jobPath(id)}/logs`, { query: { after: opts.after, limit: opts.limit, wait: opts.wait }, ...(opts.signal === undefined ? {} : { signal: opts.signal }) });
  }

  /**
   * The log chunks of a job, in order: up to the current end, or with `follow` until the job ends.
   *
   *     for await (const c of jobs.logs(id, { follow: true })) process.stdout.write(c.data);
   */
  async *logs(id: string, opts: LogsOptions = {}): AsyncGenerator<LogChunk, void, undefined> {
    const limit = 1000;
    let after = opts.after ?? 0;
    for (;;) {
      const page = await this.logPage(id, { after, limit, wait: opts.follow === true ? 10 : 0, signal: opts.signal });
      yield* page.chunks;
      after = page.next;
      if (page.done) return;
      if (page.chunks.length === limit) continue;
      if (opts.follow !== true) return;
    }
  }

  /** Polls until the job is succeeded, failed or cancelled, and answers it (whatever the outcome). */
  async wait(id: string, opts: WaitOptions = {}): Promise<JobDetail> {
    const maxPause = opts.pollIntervalMs ?? 2000;
    const timeout = opts.timeoutMs === undefined ? undefined : AbortSignal.timeout(opts.timeoutMs);
    let pause = Math.min(100, maxPause);
    for (;;) {
      opts.signal?.throwIfAborted();
      const job = await this.get(id);
      if (TERMINAL_JOB_STATES.has(job.state)) return job;
      if (timeout?.aborted === true) throw new JobWaitTimeoutError(job, opts.timeoutMs ?? 0);
      await sleep(pause, opts.signal, timeout);
      pause = Math.min(pause * 2, maxPause);
    }
  }

  /** The outputs and checkpoints the attempts of a job stored. */
  async artifacts(id: string): Promise<readonly JobArtifact[]> {
    return (await this.client.get<{ artifacts: JobArtifact[] }>(`${this.jobPath(id)}/artifacts`)).artifacts;
  }

  /**
   * Streams one output (default) or checkpoint file: from the latest attempt that stored `path`,
   * or from `attempt`. The attempt it came from is `Number(d.response.headers.get('x-strata-attempt'))`.
   */
  async downloadArtifact(id: string, path: string, opts: { readonly kind?: ArtifactKind | undefined; readonly attempt?: number | undefined; readonly range?: ByteRange | undefined; readonly signal?: AbortSignal | undefined } = {}): Promise<Download> {
    return download(this.client, `${this.jobPath(id)}/artifacts/${opts.kind ?? 'output'}/${filePath(path)}`, { range: opts.range, query: { attempt: opts.attempt }, signal: opts.signal });
  }

  private jobPath(id: string): string {
    return `${this.base}/${seg(id)}`;
  }
}

/** Waits `ms`, or less if either signal aborts (the user's abort rejects; the timeout just ends the pause). */
function sleep(ms: number, signal: AbortSignal | undefined, timeout: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      timeout?.removeEventListener('abort', done);
      resolve();
    };
    const onAbort = (): void => {
      clearTimeout(timer);
      timeout?.removeEventListener('abort', done);
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
    timeout?.addEventListener('abort', done, { once: true });
  });
}

const specError = (message: string, details: Readonly<Record<string, unknown>> = {}): StrataApiError => new StrataApiError(400, 'bad_request', message, { field: 'spec', ...details });

/**
 * A spec's text as a plain value. Errors are StrataApiError 400s worded as the server words them
 * (the text never reaches it). YAML is read as YAML 1.2 core schema (`yes` stays text), with
 * duplicate keys refused and alias expansion bounded (billion laughs).
 */
export function parseSpecText(text: string, format: 'yaml' | 'json' | 'auto' = 'auto'): Record<string, unknown> {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  if (body.trim() === '') throw specError('spec: is empty; give at least name and command');
  const json = format === 'json' || (format === 'auto' && body.trimStart().startsWith('{'));
  let value: unknown;
  if (json) {
    try {
      value = JSON.parse(body);
      // JSON.parse keeps the last of repeated keys; YAML 1.2 (a superset of JSON) refuses them.
      try {
        readYaml(body, 'json');
      } catch (e) {
        if (e instanceof StrataApiError && e.message.startsWith('spec: duplicate key')) throw e;
      }
    } catch (e) {
      if (e instanceof StrataApiError) throw e;
      if (format === 'json') throw specError(`spec: not valid JSON: ${(e as Error).message.slice(0, 200)}`);
      value = readYaml(body, 'core'); // `{name: x, command: [x]}` is a YAML flow mapping
    }
  } else {
    value = readYaml(body, 'core');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw specError('spec: expected a mapping (object) with at least name and command, e.g. {name: hello, command: [echo, hi]}');
  return value as Record<string, unknown>;
}

function readYaml(text: string, schema: 'core' | 'json'): unknown {
  const docs = parseAllDocuments(text, { schema, uniqueKeys: true, strict: true, prettyErrors: true });
  if (!Array.isArray(docs)) return null; // an empty stream
  if (docs.length > 1) throw specError("spec: holds more than one YAML document; remove the '---' and everything after it, or submit each job separately");
  const doc = docs[0];
  if (doc === undefined) return null;
  const err = doc.errors[0];
  if (err !== undefined) {
    const at = err.linePos?.[0];
    const where = at === undefined ? '' : ` at line ${at.line}, column ${at.col}`;
    const first = (err.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    if (err.code === 'DUPLICATE_KEY') throw specError(`spec: duplicate key${where}; each field may appear only once`, at === undefined ? {} : { line: at.line, column: at.col });
    throw specError(`spec: not valid YAML${where}: ${first}`, at === undefined ? {} : { line: at.line, column: at.col });
  }
  try {
    return doc.toJS({ maxAliasCount: 100 }) as unknown;
  } catch (e) {
    throw specError(`spec: could not be read as YAML: ${(e as Error).message.split('\n')[0] ?? ''}`);
  }
}

/** Replaces each `files[].fromFile` with the file's text as `content`. */
function resolveFromFile(spec: JobSpecInput | Record<string, unknown>, readFile: (path: string) => string): Record<string, unknown> {
  const files: unknown = (spec as Record<string, unknown>)['files'];
  if (!Array.isArray(files)) return { ...spec };
  return {
    ...spec,
    files: files.map((f: unknown) => {
      if (typeof f !== 'object' || f === null) return f;
      const { fromFile, ...rest } = f as Record<string, unknown>;
      return typeof fromFile === 'string' ? { ...rest, content: readFile(fromFile) } : f;
    }),
  };
}
