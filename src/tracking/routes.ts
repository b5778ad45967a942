// The Strata-native tracking API under /api/v1/projects/{project}/experiments and .../runs. The
// project comes from the path and is authorised by the gate; the service scopes every query by it,
// so an experiment or run of another project answers 404 exactly like a missing one.
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import type { AccessService, Action, Principal, Resource, RouteSpec } from '../access/index.ts';
import { defineRoute } from '../access/index.ts';
import type { Clock, ProjectId } from '../kernel/index.ts';
import { NAME_PATTERN, StrataError, badRequest } from '../kernel/index.ts';
import type { DatasetInput, Experiment, Metric, Run, RunInfo, Tag } from './model.ts';
import { LIMITS, RUN_ID_PATTERN, RUN_STATUSES, SYSTEM_TAGS, VIEW_TYPES } from './model.ts';
import type { TrackingService } from './tracking-service.ts';

/**
 * The access actions tracking routes are authorised with. Reading needs viewer and writing needs
 * editor on the project; until access/authorize.ts has tracking actions of its own
 * (`experiment.read` / `experiment.write`), these are the project actions with those roles.
 */
export const TRACKING_ACTIONS = { read: 'experiment.read', write: 'experiment.write' } as const satisfies Record<string, Action>;

export interface TrackingRoutesDeps {
  readonly access: AccessService;
  readonly tracking: TrackingService;
  /** Stamps metric points sent without a timestamp. */
  readonly clock: Clock;
}

const Strict = { additionalProperties: false } as const;
const Name = (description: string) => Type.String({ pattern: NAME_PATTERN, minLength: 1, maxLength: 63, description });
const ExperimentIdT = Type.String({ pattern: '^[0-9]{1,19}$', description: 'experiment id' });
const RunIdT = Type.String({ pattern: RUN_ID_PATTERN, description: 'run id' });
const Key = Type.String({ minLength: 1, maxLength: LIMITS.keyLength });
const TagMap = Type.Record(Type.String({ minLength: 1, maxLength: LIMITS.keyLength }), Type.String({ maxLength: LIMITS.runTagValueLength }));
const MetricValue = Type.Union([Type.Number(), Type.Literal('NaN'), Type.Literal('Infinity'), Type.Literal('-Infinity')], { description: 'a number; non-finite values as "NaN", "Infinity", "-Infinity"' });
const View = Type.Union(VIEW_TYPES.map((v) => Type.Literal(v)));
const ProjectParams = Type.Object({ project: Name('project name') }, Strict);
const ExperimentParams = Type.Object({ project: Name('project name'), experiment: ExperimentIdT }, Strict);
const RunParams = Type.Object({ project: Name('project name'), run: RunIdT }, Strict);
const MetricIn = Type.Object({ key: Key, value: MetricValue, step: Type.Optional(Type.Integer()), timestamp: Type.Optional(Type.Integer({ minimum: 0 })) }, Strict);

type ProjectResource = Extract<Resource, { kind: 'project' }>;
const pid = (r: Resource): ProjectId => {
  if (r.kind !== 'project') throw badRequest('expected a project');
  return r.projectId;
};
const tagList = (m: Readonly<Record<string, string>> | undefined): Tag[] => Object.entries(m ?? {}).map(([key, value]) => ({ key, value }));
const tagMap = (tags: readonly Tag[]): Record<string, string> => Object.fromEntries(tags.map((t) => [t.key, t.value]));

/** A metric value for JSON: non-finite values as strings (JSON has no NaN or Infinity). */
export function metricValueJson(v: number): number | string {
  if (Number.isFinite(v)) return v;
  return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
}
const metricValueIn = (v: Static<typeof MetricValue>): number => (typeof v === 'number' ? v : Number(v));

function experimentJson(e: Experiment): Record<string, unknown> {
  return { id: e.id, name: e.name, lifecycleStage: e.lifecycleStage, artifactLocation: e.artifactLocation, default: e.isDefault, creationTime: e.creationTime, lastUpdateTime: e.lastUpdateTime, tags: tagMap(e.tags) };
}

function runInfoJson(i: RunInfo): Record<string, unknown> {
  return { id: i.id, experimentId: i.experimentId, name: i.name, status: i.status, lifecycleStage: i.lifecycleStage, userId: i.userId, startTime: i.startTime, endTime: i.endTime, artifactUri: i.artifactUri };
}

const metricJson = (m: Metric): Record<string, unknown> => ({ key: m.key, value: metricValueJson(m.value), step: m.step, timestamp: m.timestamp });

function runJson(r: Run): Record<string, unknown> {
  const parent = r.data.tags.find((t) => t.key === SYSTEM_TAGS.parentRunId)?.value;
  return {
    ...runInfoJson(r.info),
    parentRunId: parent ?? null,
    metrics: r.data.metrics.map(metricJson),
    params: tagMap(r.data.params),
    tags: tagMap(r.data.tags),
    inputs: r.inputs.map((i) => ({ ...i.dataset, tags: tagMap(i.tags) })),
  };
}

export function trackingRoutes({ access, tracking, clock }: TrackingRoutesDeps): RouteSpec[] {
  const projectResource = (name: string): Promise<ProjectResource> => access.projectResource(name);
  const read = { action: TRACKING_ACTIONS.read, resource: ({ params }: { params: { project: string } }) => projectResource(params.project) };
  const write = {
    action: TRACKING_ACTIONS.write,
    resource: ({ params, principal }: { params: { project: string; run?: string }; principal: Principal }) => {
      // A run-scoped token (a job attempt's) writes only to its own run.
      if (principal.scope !== undefined && params.run !== principal.scope.runId) throw new StrataError('forbidden', `this token may only write to run ${principal.scope.runId}`);
      return projectResource(params.project);
    },
  };

  return [
    // ---- experiments ----
    defineRoute({
      method: 'POST',
      url: '/api/v1/projects/:project/experiments',
      summary: 'Create an experiment (names are unique within the project)',
      tags: ['tracking'],
      schema: { params: ProjectParams, body: Type.Object({ name: Type.String({ minLength: 1, maxLength: LIMITS.experimentNameLength }), tags: Type.Optional(TagMap) }, Strict) },
      authz: write,
      handler: async ({ body, actor, resource, status }) => {
        const e = await tracking.createExperiment(actor, pid(resource), { name: body.name, tags: tagList(body.tags) });
        status(201);
        return experimentJson(e);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/projects/:project/experiments',
      summary: 'Search experiments with an MLflow filter (name, creation_time, last_update_time, tags.<key>)',
      tags: ['tracking'],
      schema: {
        params: ProjectParams,
        querystring: Type.Object(
          {
            filter: Type.Optional(Type.String({ maxLength: 10_000 })),
            orderBy: Type.Optional(Type.Array(Type.String({ maxLength: 500 }), { maxItems: 10 })),
            maxResults: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.searchExperimentsMax })),
            pageToken: Type.Optional(Type.String({ maxLength: 1000 })),
            view: Type.Optional(View),
          },
          Strict,
        ),
      },
      authz: read,
      handler: async ({ query, resource }) => {
        const page = await tracking.searchExperiments(pid(resource), { ...query });
        return { experiments: page.items.map(experimentJson), nextPageToken: page.nextPageToken ?? null };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/projects/:project/experiments/:experiment',
      summary: 'An experiment with its tags',
      tags: ['tracking'],
      schema: { params: ExperimentParams },
      authz: read,
      handler: async ({ params, resource }) => experimentJson(await tracking.getExperiment(pid(resource), params.experiment)),
    }),
    defineRoute({
      method: 'PATCH',
      url: '/api/v1/projects/:project/experiments/:experiment',
      summary: 'Rename an experiment',
      tags: ['tracking'],
      schema: { params: ExperimentParams, body: Type.Object({ name: Type.String({ minLength: 1, maxLength: LIMITS.experimentNameLength }) }, Strict) },
      authz: write,
      handler: async ({ params, body, actor, resource }) => experimentJson(await tracking.renameExperiment(actor, pid(resource), params.experiment, body.name)),
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/projects/:project/experiments/:experiment',
      summary: 'Delete an experiment and its runs (soft: restore brings them back)',
      tags: ['tracking'],
      schema: { params: ExperimentParams },
      authz: write,
      handler: async ({ params, actor, resource, status }) => {
        await tracking.deleteExperiment(actor, pid(resource), params.experiment);
        status(204);
        return undefined;
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/projects/:project/experiments/:experiment/restore',
      summary: 'Restore a deleted experiment and the runs deleted with it',
      tags: ['tracking'],
      schema: { params: ExperimentParams },
      authz: write,
      handler: async ({ params, actor, resource }) => {
        await tracking.restoreExperiment(actor, pid(resource), params.experiment);
        return experimentJson(await tracking.getExperiment(pid(resource), params.experiment));
      },
    }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/projects/:project/experiments/:experiment/tags',
      summary: 'Set an experiment tag',
      tags: ['tracking'],
      schema: { params: ExperimentParams, body: Type.Object({ key: Key, value: Type.String({ maxLength: LIMITS.experimentTagValueLength }) }, Strict) },
      authz: write,
      handler: async ({ params, body, actor, resource }) => {
        await tracking.setExperimentTag(actor, pid(resource), params.experiment, body);
        return experimentJson(await tracking.getExperiment(pid(resource), params.experiment));
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/projects/:project/experiments/:experiment/tags',
      summary: 'Delete an experiment tag (?key=...)',
      tags: ['tracking'],
      schema: { params: ExperimentParams, querystring: Type.Object({ key: Key }, Strict) },
      authz: write,
      handler: async ({ params, query, actor, resource, status }) => {
        await tracking.deleteExperimentTag(actor, pid(resource), params.experiment, query.key);
        status(204);
        return undefined;
      },
    }),

    // ---- runs ----
    defineRoute({
      method: 'POST',
      url: '/api/v1/projects/:project/runs',
      summary: 'Start a run in an experiment (parentRunId nests it)',
      tags: ['tracking'],
      schema: {
        params: ProjectParams,
        body: Type.Object(
          {
            experimentId: ExperimentIdT,
            name: Type.Optional(Type.String({ minLength: 1, maxLength: LIMITS.runNameLength })),
            startTime: Type.Optional(Type.Integer({ minimum: 0 })),
            parentRunId: Type.Optional(RunIdT),
            tags: Type.Optional(TagMap),
          },
          Strict,
        ),
      },
      authz: write,
      handler: async ({ body, actor, resource, status }) => {
        const projectId = pid(resource);
        const tags = tagList(body.tags);
        if (body.parentRunId !== undefined) {
          // The parent must be a run of this project (404 otherwise, like any run the caller cannot see).
          await tracking.getRun(projectId, body.parentRunId);
          tags.push({ key: SYSTEM_TAGS.parentRunId, value: body.parentRunId });
        }
        const run = await tracking.createRun(actor, projectId, {
          experimentId: body.experimentId,
          ...(body.name === undefined ? {} : { name: body.name }),
          ...(body.startTime === undefined ? {} : { startTime: body.startTime }),
          tags,
        });
        status(201);
        return runJson(run);
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/projects/:project/runs/search',
      summary: "Search runs with MLflow's filter grammar, order_by and page tokens",
      tags: ['tracking'],
      schema: {
        params: ProjectParams,
        body: Type.Object(
          {
            experimentIds: Type.Array(ExperimentIdT, { minItems: 1, maxItems: 100 }),
            filter: Type.Optional(Type.String({ maxLength: 10_000 })),
            orderBy: Type.Optional(Type.Array(Type.String({ maxLength: 500 }), { maxItems: 10 })),
            maxResults: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.searchRunsMax })),
            pageToken: Type.Optional(Type.String({ maxLength: 1000 })),
            view: Type.Optional(View),
          },
          Strict,
        ),
      },
      authz: read,
      handler: async ({ body, resource }) => {
        const page = await tracking.searchRuns(pid(resource), body);
        return { runs: page.items.map(runJson), nextPageToken: page.nextPageToken ?? null };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/projects/:project/runs/:run',
      summary: 'A run: info, latest metrics, params, tags and dataset inputs',
      tags: ['tracking'],
      schema: { params: RunParams },
      authz: read,
      handler: async ({ params, resource }) => runJson(await tracking.getRun(pid(resource), params.run)),
    }),
    defineRoute({
      method: 'PATCH',
      url: '/api/v1/projects/:project/runs/:run',
      summary: 'Update a run: status (FINISHED/FAILED/KILLED end it), end time, name',
      tags: ['tracking'],
      schema: {
        params: RunParams,
        body: Type.Object(
          {
            status: Type.Optional(Type.Union(RUN_STATUSES.map((s) => Type.Literal(s)))),
            endTime: Type.Optional(Type.Integer({ minimum: 0 })),
            name: Type.Optional(Type.String({ minLength: 1, maxLength: LIMITS.runNameLength })),
          },
          Strict,
        ),
      },
      authz: write,
      handler: async ({ params, body, actor, resource }) => {
        await tracking.updateRun(actor, pid(resource), params.run, body);
        // The whole run, like every other run route.
        return runJson(await tracking.getRun(pid(resource), params.run));
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/projects/:project/runs/:run',
      summary: 'Delete a run (soft: restore brings it back)',
      tags: ['tracking'],
      schema: { params: RunParams },
      authz: write,
      handler: async ({ params, actor, resource, status }) => {
        await tracking.deleteRun(actor, pid(resource), params.run);
        status(204);
        return undefined;
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/projects/:project/runs/:run/restore',
      summary: 'Restore a deleted run',
      tags: ['tracking'],
      schema: { params: RunParams },
      authz: write,
      handler: async ({ params, actor, resource }) => {
        await tracking.restoreRun(actor, pid(resource), params.run);
        return runJson(await tracking.getRun(pid(resource), params.run));
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/projects/:project/runs/:run/log',
      summary: 'Log metrics, params (write-once) and tags in one batch; replays are idempotent',
      tags: ['tracking'],
      schema: {
        params: RunParams,
        body: Type.Object(
          {
            metrics: Type.Optional(Type.Array(MetricIn, { maxItems: LIMITS.batchMetrics })),
            params: Type.Optional(Type.Record(Type.String({ minLength: 1, maxLength: LIMITS.keyLength }), Type.String({ maxLength: LIMITS.paramValueLength }))),
            tags: Type.Optional(TagMap),
          },
          Strict,
        ),
      },
      authz: write,
      handler: async ({ params, body, resource }) => {
        const now = clock.now();
        const metrics: Metric[] = (body.metrics ?? []).map((m) => ({ key: m.key, value: metricValueIn(m.value), step: m.step ?? 0, timestamp: m.timestamp ?? now }));
        await tracking.logBatch(pid(resource), params.run, { metrics, params: tagList(body.params), tags: tagList(body.tags) });
        return {};
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/projects/:project/runs/:run/inputs',
      summary: 'Record dataset inputs (name, digest, source, schema, profile, context)',
      tags: ['tracking'],
      schema: {
        params: RunParams,
        body: Type.Object(
          {
            datasets: Type.Array(
              Type.Object(
                {
                  name: Type.String({ minLength: 1, maxLength: LIMITS.datasetNameLength }),
                  digest: Type.String({ minLength: 1, maxLength: LIMITS.datasetDigestLength }),
                  sourceType: Type.String({ minLength: 1, maxLength: LIMITS.datasetSourceTypeLength }),
                  source: Type.String({ minLength: 1, maxLength: LIMITS.datasetSourceLength }),
                  schema: Type.Optional(Type.String({ maxLength: LIMITS.datasetSchemaLength })),
                  profile: Type.Optional(Type.String({ maxLength: LIMITS.datasetProfileLength })),
                  context: Type.Optional(Type.String({ maxLength: LIMITS.inputTagValueLength })),
                  tags: Type.Optional(Type.Record(Type.String({ minLength: 1, maxLength: LIMITS.inputTagKeyLength }), Type.String({ maxLength: LIMITS.inputTagValueLength }))),
                },
                Strict,
              ),
              { minItems: 1, maxItems: 100 },
            ),
          },
          Strict,
        ),
      },
      authz: write,
      handler: async ({ params, body, resource }) => {
        const inputs: DatasetInput[] = body.datasets.map((d) => ({
          dataset: { name: d.name, digest: d.digest, sourceType: d.sourceType, source: d.source, schema: d.schema ?? null, profile: d.profile ?? null },
          tags: [...tagList(d.tags), ...(d.context === undefined ? [] : [{ key: SYSTEM_TAGS.datasetContext, value: d.context }])],
        }));
        await tracking.logInputs(pid(resource), params.run, inputs);
        return {};
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/projects/:project/runs/:run/tags',
      summary: 'Delete a run tag (?key=...)',
      tags: ['tracking'],
      schema: { params: RunParams, querystring: Type.Object({ key: Key }, Strict) },
      authz: write,
      handler: async ({ params, query, resource, status }) => {
        await tracking.deleteTag(pid(resource), params.run, query.key);
        status(204);
        return undefined;
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/projects/:project/runs/:run/metrics',
      summary: 'The full history of one metric (?key=...), in step order, paged',
      tags: ['tracking'],
      schema: {
        params: RunParams,
        querystring: Type.Object({ key: Key, maxResults: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.metricHistoryPage })), pageToken: Type.Optional(Type.String({ maxLength: 1000 })) }, Strict),
      },
      authz: read,
      handler: async ({ params, query, resource }) => {
        const page = await tracking.metricHistory(pid(resource), params.run, query.key, { ...(query.maxResults === undefined ? {} : { maxResults: query.maxResults }), ...(query.pageToken === undefined ? {} : { pageToken: query.pageToken }) });
        return { metrics: page.items.map(metricJson), nextPageToken: page.nextPageToken ?? null };
      },
    }),
  ];
}
