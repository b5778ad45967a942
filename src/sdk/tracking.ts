// Typed client for experiment tracking: experiments, runs, metrics, params, tags, dataset inputs
// and run artifacts (streamed both ways). Over the Strata-native API under
// /api/v1/projects/{project}/experiments and .../runs (not MLflow's /api/2.0 routes, which MLflow
// clients use); errors are the server's, as StrataApiError.
import type { StrataClient } from './client.ts';
import { seg } from './client.ts';
import type { ArtifactListing, ByteRange, Download, Experiment, Metric, MetricValue, Page, Run, RunStatus, StringMap, UploadBody, UploadedArtifact, ViewType } from './types.ts';
import { download, filePath, toStringMap, uploadStream, withQuery } from './wire.ts';

/** Tags or params: a map, or MLflow's list of `{key, value}`. */
export type KeyValues = StringMap | readonly { readonly key: string; readonly value: string }[];

export interface MetricInput {
  readonly key: string;
  /** NaN and ±Infinity are allowed (sent as MLflow sends them). */
  readonly value: number | MetricValue;
  /** Default 0. */
  readonly step?: number | undefined;
  /** Epoch milliseconds; default: when the server receives it. */
  readonly timestamp?: number | undefined;
}

export interface LogBatchInput {
  /** At most 1000 points. */
  readonly metrics?: readonly MetricInput[] | undefined;
  /** Write-once: logging a param again with another value is a 400. */
  readonly params?: KeyValues | undefined;
  readonly tags?: KeyValues | undefined;
}

export interface DatasetInput {
  readonly name: string;
  /** At most 36 characters, e.g. a short content hash. */
  readonly digest: string;
  readonly sourceType: string;
  readonly source: string;
  readonly schema?: string | undefined;
  readonly profile?: string | undefined;
  /** e.g. `training`, `evaluation`. */
  readonly context?: string | undefined;
  readonly tags?: StringMap | undefined;
}

export interface SearchInput {
  /** MLflow filter grammar, e.g. `metrics.acc > 0.9 and params.lr = '0.01'`. */
  readonly filter?: string | undefined;
  /** e.g. `['metrics.acc DESC']`. */
  readonly orderBy?: readonly string[] | undefined;
  readonly maxResults?: number | undefined;
  readonly pageToken?: string | undefined;
  readonly view?: ViewType | undefined;
}

export interface SearchRunsInput extends SearchInput {
  readonly experimentIds: readonly string[];
}

const wireMetricValue = (v: number | MetricValue): MetricValue => {
  if (typeof v === 'string' || Number.isFinite(v)) return v;
  return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
};

/** Experiments, runs and run artifacts of one project. */
export class TrackingClient {
  private readonly base: string;

  constructor(
    private readonly client: StrataClient,
    readonly project: string,
  ) {
    this.base = `/api/v1/projects/${seg(project)}`;
  }

  // ---- experiments ----

  /** Creates an experiment; names are unique within the project (409 otherwise). */
  async createExperiment(input: { readonly name: string; readonly tags?: StringMap | undefined }): Promise<Experiment> {
    return this.client.post<Experiment>(`${this.base}/experiments`, { name: input.name, ...(input.tags === undefined ? {} : { tags: input.tags }) });
  }

  async getExperiment(id: string): Promise<Experiment> {
    return this.client.get<Experiment>(this.experimentPath(id));
  }

  /** Searches experiments (filter on name, creation_time, last_update_time, tags.<key>). */
  async listExperiments(input: SearchInput = {}): Promise<Page<'experiments', Experiment>> {
    return this.client.get(withQuery(`${this.base}/experiments`, { ...input }));
  }

  /** Renames an experiment. */
  async updateExperiment(id: string, input: { readonly name: string }): Promise<Experiment> {
    return this.client.request<Experiment>('PATCH', this.experimentPath(id), { body: { name: input.name } });
  }

  /** Deletes an experiment and its runs (soft: `restoreExperiment` brings them back). */
  async deleteExperiment(id: string): Promise<void> {
    await this.client.delete(this.experimentPath(id));
  }

  async restoreExperiment(id: string): Promise<Experiment> {
    return this.client.post<Experiment>(`${this.experimentPath(id)}/restore`);
  }

  async setExperimentTag(id: string, key: string, value: string): Promise<Experiment> {
    return this.client.put<Experiment>(`${this.experimentPath(id)}/tags`, { key, value });
  }

  async deleteExperimentTag(id: string, key: string): Promise<void> {
    await this.client.delete(withQuery(`${this.experimentPath(id)}/tags`, { key }));
  }

  // ---- runs ----

  /** Starts a run (RUNNING) in an experiment; `parentRunId` nests it. */
  async createRun(input: { readonly experimentId: string; readonly name?: string | undefined; readonly startTime?: number | undefined; readonly parentRunId?: string | undefined; readonly tags?: KeyValues | undefined }): Promise<Run> {
    const tags = toStringMap(input.tags);
    return this.client.post<Run>(`${this.base}/runs`, {
      experimentId: input.experimentId,
      ...(input.name === undefined ? {} : { name: input.name }),
      ...(input.startTime === undefined ? {} : { startTime: input.startTime }),
      ...(input.parentRunId === undefined ? {} : { parentRunId: input.parentRunId }),
      ...(tags === undefined ? {} : { tags }),
    });
  }

  /** A run with the latest value of each metric, its params, tags and dataset inputs. */
  async getRun(id: string): Promise<Run> {
    return this.client.get<Run>(this.runPath(id));
  }

  /** Changes a run's status (FINISHED, FAILED and KILLED end it), end time or name. */
  async updateRun(id: string, input: { readonly status?: RunStatus | undefined; readonly endTime?: number | undefined; readonly name?: string | undefined }): Promise<Run> {
    return this.client.request<Run>('PATCH', this.runPath(id), {
      body: { ...(input.status === undefined ? {} : { status: input.status }), ...(input.endTime === undefined ? {} : { endTime: input.endTime }), ...(input.name === undefined ? {} : { name: input.name }) },
    });
  }

  /** Ends a run: `updateRun(id, {status})`, FINISHED by default. */
  async endRun(id: string, status: 'FINISHED' | 'FAILED' | 'KILLED' = 'FINISHED'): Promise<Run> {
    return this.updateRun(id, { status });
  }

  /** Searches runs of one or more experiments with MLflow's filter grammar, order_by and page tokens. */
  async searchRuns(input: SearchRunsInput): Promise<Page<'runs', Run>> {
    return this.client.post(`${this.base}/runs/search`, { ...input });
  }

  /** Deletes a run (soft: `restoreRun` brings it back). */
  async deleteRun(id: string): Promise<void> {
    await this.client.delete(this.runPath(id));
  }

  async restoreRun(id: string): Promise<Run> {
    return this.client.post<Run>(`${this.runPath(id)}/restore`);
  }

  /** Logs metrics, params and tags in one request (replays are idempotent). */
  async logBatch(runId: string, input: LogBatchInput): Promise<void> {
    const params = toStringMap(input.params);
    const tags = toStringMap(input.tags);
    await this.client.post(`${this.runPath(runId)}/log`, {
      ...(input.metrics === undefined ? {} : { metrics: input.metrics.map((m) => ({ key: m.key, value: wireMetricValue(m.value), ...(m.step === undefined ? {} : { step: m.step }), ...(m.timestamp === undefined ? {} : { timestamp: m.timestamp }) })) }),
      ...(params === undefined ? {} : { params }),
      ...(tags === undefined ? {} : { tags }),
    });
  }

  /** Logs one metric point. */
  async logMetric(runId: string, key: string, value: number, opts: { readonly step?: number | undefined; readonly timestamp?: number | undefined } = {}): Promise<void> {
    return this.logBatch(runId, { metrics: [{ key, value, step: opts.step, timestamp: opts.timestamp }] });
  }

  /** Records the datasets a run used (they show up in lineage). */
  async logInputs(runId: string, datasets: readonly DatasetInput[]): Promise<void> {
    await this.client.post(`${this.runPath(runId)}/inputs`, { datasets });
  }

  async deleteRunTag(runId: string, key: string): Promise<void> {
    await this.client.delete(withQuery(`${this.runPath(runId)}/tags`, { key }));
  }

  /** One page of a metric's full history, in step order. */
  async metricHistory(runId: string, key: string, opts: { readonly maxResults?: number | undefined; readonly pageToken?: string | undefined } = {}): Promise<Page<'metrics', Metric>> {
    return this.client.get(`${this.runPath(runId)}/metrics`, { key, maxResults: opts.maxResults, pageToken: opts.pageToken });
  }

  /** Every point of a metric's history, following the pages. */
  async *metricHistoryAll(runId: string, key: string): AsyncGenerator<Metric, void, undefined> {
    let pageToken: string | undefined;
    do {
      const page = await this.metricHistory(runId, key, { pageToken });
      yield* page.metrics;
      pageToken = page.nextPageToken ?? undefined;
    } while (pageToken !== undefined);
  }

  // ---- run artifacts ----

  /**
   * Uploads one artifact of a run, streamed (memory stays flat); replaces a file at the same path.
   * With `digest` (`sha256:<hex>`) the server stores it only if the bytes hash to it.
   */
  async uploadArtifact(runId: string, path: string, body: UploadBody, opts: { readonly digest?: string | undefined; readonly signal?: AbortSignal | undefined } = {}): Promise<UploadedArtifact> {
    return this.client.upload<UploadedArtifact>('PUT', this.artifactPath(runId, path), uploadStream(body), {
      ...(opts.digest === undefined ? {} : { headers: { 'x-strata-digest': opts.digest } }),
      ...(opts.signal === undefined ? {} : { signal: opts.signal }),
    });
  }

  /** Streams one artifact of a run (or a byte range of it). */
  async downloadArtifact(runId: string, path: string, opts: { readonly range?: ByteRange | undefined; readonly signal?: AbortSignal | undefined } = {}): Promise<Download> {
    return download(this.client, this.artifactPath(runId, path), opts);
  }

  /** Lists one directory of a run's artifacts (the root by default), paged. */
  async listArtifacts(runId: string, opts: { readonly path?: string | undefined; readonly maxResults?: number | undefined; readonly pageToken?: string | undefined } = {}): Promise<ArtifactListing> {
    return this.client.get<ArtifactListing>(`${this.runPath(runId)}/artifacts`, { path: opts.path, maxResults: opts.maxResults, pageToken: opts.pageToken });
  }

  /** Deletes a file or a whole directory of a run's artifacts (404 if nothing is there). */
  async deleteArtifact(runId: string, path: string): Promise<{ readonly files: number; readonly bytes: number }> {
    return this.client.delete(this.artifactPath(runId, path));
  }

  private experimentPath(id: string): string {
    return `${this.base}/experiments/${seg(id)}`;
  }
  private runPath(id: string): string {
    return `${this.base}/runs/${seg(id)}`;
  }
  private artifactPath(runId: string, path: string): string {
    return `${this.runPath(runId)}/artifacts/${filePath(path)}`;
  }
}
