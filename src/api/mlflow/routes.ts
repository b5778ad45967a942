// The MLflow tracking REST API (service.proto) over the tracking service, served at
// /api/2.0/mlflow/... and again at /ajax-api/2.0/mlflow/... (the MLflow UI's prefix). Every endpoint
// is a RouteSpec through the same authorisation gate as the rest of the API. Which project a call
// acts in: for an existing run or experiment, the project it belongs to; for calls that name none
// (experiments/create, get-by-name, search, and the default experiment "0"), the `X-Strata-Project`
// header, or else the one project the token's principal is bound to (a project-scoped service
// account) — research note §1, issue 5 item 2.
import type { AccessService, Principal, Resource, RouteSpec } from '../../access/index.ts';
import { JsonText, defineRoute } from '../../access/index.ts';
import type { HttpMethod } from '../../access/index.ts';
import type { ProjectId } from '../../kernel/index.ts';
import { StrataError, badRequest } from '../../kernel/index.ts';
import type { LoggedModels, Metric, ModelMetricInput, ModelOutput, TrackingService, ViewType } from '../../tracking/index.ts';
import { DEFAULT_EXPERIMENT_ALIAS, EXPERIMENT_ID_PATTERN, RUN_ID_PATTERN, TRACKING_ACTIONS, VIEW_TYPES, isRunStatus } from '../../tracking/index.ts';
import type { Actor } from '../../access/index.ts';
import { projectContext } from './project-context.ts';
import type { RunDocuments } from './run-documents.ts';
import type { Message, MlflowInput } from './protocol.ts';
import {
  datasetInputs,
  experimentJson,
  keyValues,
  metricJson,
  metricList,
  opt,
  optInt,
  optString,
  pageJson,
  reqDouble,
  reqInt,
  reqString,
  requestMessage,
  runIdOf,
  runInfoJson,
  runJson,
  runMetricJson,
  searchPage,
  stringList,
  withModels,
} from './protocol.ts';

export interface MlflowRoutesDeps {
  readonly access: AccessService;
  readonly tracking: TrackingService;
  /** MLflow 3.x logged models: run outputs in runs/get and runs/search, metric points with a model_id. */
  readonly loggedModels: LoggedModels;
  /** Rendered runs for runs/get (one per server; the platform exports its figures on /metrics). */
  readonly runDocuments: RunDocuments;
}

/** The header naming the project for calls that do not name an experiment or run. */
export { PROJECT_HEADER } from './project-context.ts';
/** URL prefixes MLflow clients use: the REST API and the UI's ajax API. */
export const MLFLOW_PREFIXES = ['/api/2.0/mlflow', '/ajax-api/2.0/mlflow'] as const;

type ProjectResource = Extract<Resource, { kind: 'project' }>;

interface CallContext {
  readonly m: Message;
  readonly actor: Actor;
  readonly projectId: ProjectId;
}

interface Endpoint {
  readonly path: string;
  readonly methods: readonly HttpMethod[];
  readonly summary: string;
  readonly access: keyof typeof TRACKING_ACTIONS;
  /** Resolves the project the call acts in (404 for a run/experiment the caller cannot see). */
  readonly scope: (m: Message, input: MlflowInput, principal: Principal) => Promise<ProjectResource>;
  readonly handle: (c: CallContext) => Promise<unknown>;
}

const EXPERIMENT_ID_RE = new RegExp(EXPERIMENT_ID_PATTERN);
const RUN_ID_RE = new RegExp(RUN_ID_PATTERN);

function experimentIdOf(m: Message, field = 'experiment_id'): string {
  const id = reqString(m, field);
  if (!EXPERIMENT_ID_RE.test(id)) throw badRequest(`Invalid experiment ID: '${id.slice(0, 100)}'`, { field });
  return id;
}

function checkedRunId(m: Message): string {
  const id = runIdOf(m);
  if (!RUN_ID_RE.test(id)) throw badRequest(`Invalid run ID: '${id.slice(0, 100)}'`, { field: 'run_id' });
  return id;
}

const VIEW_NUMBERS: Readonly<Record<string, ViewType>> = { '1': 'ACTIVE_ONLY', '2': 'DELETED_ONLY', '3': 'ALL' };

function viewOf(m: Message, field: string): ViewType | undefined {
  const v = optString(m, field) ?? (typeof m[field] === 'number' ? String(m[field]) : undefined);
  if (v === undefined || v === '') return undefined;
  const view = VIEW_NUMBERS[v] ?? v;
  if (!(VIEW_TYPES as readonly string[]).includes(view)) throw badRequest(`Invalid value '${v}' for parameter '${field}': use ACTIVE_ONLY, DELETED_ONLY or ALL`, { field });
  return view as ViewType;
}


/** MLflow 3.x: the points of `metrics` (parsed from `sources`, in order) that name a logged model. */
function modelPoints(sources: readonly Message[], metrics: readonly Metric[]): ModelMetricInput[] {
  const out: ModelMetricInput[] = [];
  metrics.forEach((metric, i) => {
    const src = sources[i] ?? {};
    const modelId = optString(src, 'model_id');
    if (modelId === undefined || modelId === '') return;
    out.push({ ...metric, modelId, datasetName: optString(src, 'dataset_name') || null, datasetDigest: optString(src, 'dataset_digest') || null });
  });
  return out;
}

/** LogInputs `models` (MLflow 3.x ModelInput): `[{model_id}]`. */
function modelInputsOf(m: Message): string[] {
  const v = m['models'];
  if (v === undefined || v === null) return [];
  const shape = (): Error => badRequest("Invalid value for parameter 'models' supplied: expected a list of {model_id} objects.", { field: 'models' });
  if (!Array.isArray(v)) throw shape();
  return v.map((x) => {
    if (typeof x !== 'object' || x === null || Array.isArray(x)) throw shape();
    return reqString(x as Message, 'model_id');
  });
}

/** LogOutputs `models`: `[{model_id, step}]`. */
function modelOutputsOf(m: Message): ModelOutput[] {
  const v = m['models'];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw badRequest("Invalid value for parameter 'models' supplied: expected a list of {model_id, step} objects.", { field: 'models' });
  return v.map((x) => {
    if (typeof x !== 'object' || x === null || Array.isArray(x)) throw badRequest("Invalid value for parameter 'models' supplied: expected a list of {model_id, step} objects.", { field: 'models' });
    return { modelId: reqString(x as Message, 'model_id'), step: optInt(x as Message, 'step') ?? 0 };
  });
}

export function mlflowRoutes({ access, tracking, loggedModels, runDocuments }: MlflowRoutesDeps): RouteSpec[] {
  const { resourceOf, contextProject } = projectContext(access, tracking);

  const byRun = async (m: Message): Promise<ProjectResource> => {
    const id = checkedRunId(m);
    const scope = await tracking.runScope(id);
    if (scope === undefined) throw new StrataError('not_found', `Run with id=${id} not found`);
    return resourceOf(scope.projectId);
  };

  const byExperiment =
    (field: string) =>
    async (m: Message, input: MlflowInput, principal: Principal): Promise<ProjectResource> => {
      const id = experimentIdOf(m, field);
      if (id === DEFAULT_EXPERIMENT_ALIAS) return contextProject(input, principal);
      const projectId = await tracking.experimentProject(id);
      if (projectId === undefined) throw new StrataError('not_found', `No Experiment with id=${id} exists`);
      return resourceOf(projectId);
    };

  const byContext = (_m: Message, input: MlflowInput, principal: Principal): Promise<ProjectResource> => contextProject(input, principal);

  /** Resolves "0" to the project's default experiment (created on first use). */
  const experimentIn = async (c: CallContext, id: string): Promise<string> => (id === DEFAULT_EXPERIMENT_ALIAS ? tracking.defaultExperiment(c.actor, c.projectId) : id);

  const endpoints: Endpoint[] = [
    // ---- experiments ----
    {
      path: 'experiments/create',
      methods: ['POST'],
      summary: 'MLflow CreateExperiment',
      access: 'write',
      scope: byContext,
      handle: async ({ m, actor, projectId }) => {
        const e = await tracking.createExperiment(actor, projectId, { name: reqString(m, 'name'), tags: keyValues(m, 'tags'), ...opt('artifactLocation', optString(m, 'artifact_location')) });
        return { experiment_id: e.id };
      },
    },
    {
      path: 'experiments/get',
      methods: ['GET'],
      summary: 'MLflow GetExperiment ("0" is the project\'s default experiment)',
      access: 'read',
      scope: byExperiment('experiment_id'),
      handle: async (c) => ({ experiment: experimentJson(await tracking.getExperiment(c.projectId, await experimentIn(c, experimentIdOf(c.m)))) }),
    },
    {
      path: 'experiments/get-by-name',
      methods: ['GET'],
      summary: 'MLflow GetExperimentByName (RESOURCE_DOES_NOT_EXIST when absent, so set_experiment creates it)',
      access: 'read',
      scope: byContext,
      handle: async ({ m, projectId }) => ({ experiment: experimentJson(await tracking.getExperimentByName(projectId, reqString(m, 'experiment_name'))) }),
    },
    {
      path: 'experiments/search',
      methods: ['POST', 'GET'],
      summary: 'MLflow SearchExperiments',
      access: 'read',
      scope: byContext,
      handle: async ({ m, projectId }) => {
        const page = await tracking.searchExperiments(projectId, {
          ...searchPage(m),
          ...opt('view', viewOf(m, 'view_type')),
        });
        return pageJson('experiments', page.items.map(experimentJson), page.nextPageToken);
      },
    },
    {
      path: 'experiments/update',
      methods: ['POST'],
      summary: 'MLflow UpdateExperiment (rename)',
      access: 'write',
      scope: byExperiment('experiment_id'),
      handle: async (c) => {
        await tracking.renameExperiment(c.actor, c.projectId, await experimentIn(c, experimentIdOf(c.m)), reqString(c.m, 'new_name'));
        return {};
      },
    },
    {
      path: 'experiments/delete',
      methods: ['POST'],
      summary: 'MLflow DeleteExperiment (soft delete, with its runs)',
      access: 'write',
      scope: byExperiment('experiment_id'),
      handle: async (c) => {
        await tracking.deleteExperiment(c.actor, c.projectId, await experimentIn(c, experimentIdOf(c.m)));
        return {};
      },
    },
    {
      path: 'experiments/restore',
      methods: ['POST'],
      summary: 'MLflow RestoreExperiment',
      access: 'write',
      scope: byExperiment('experiment_id'),
      handle: async (c) => {
        await tracking.restoreExperiment(c.actor, c.projectId, await experimentIn(c, experimentIdOf(c.m)));
        return {};
      },
    },
    {
      path: 'experiments/set-experiment-tag',
      methods: ['POST'],
      summary: 'MLflow SetExperimentTag',
      access: 'write',
      scope: byExperiment('experiment_id'),
      handle: async (c) => {
        await tracking.setExperimentTag(c.actor, c.projectId, await experimentIn(c, experimentIdOf(c.m)), { key: reqString(c.m, 'key'), value: optString(c.m, 'value') ?? '' });
        return {};
      },
    },
    {
      path: 'experiments/delete-experiment-tag',
      methods: ['POST'],
      summary: 'MLflow DeleteExperimentTag',
      access: 'write',
      scope: byExperiment('experiment_id'),
      handle: async (c) => {
        await tracking.deleteExperimentTag(c.actor, c.projectId, await experimentIn(c, experimentIdOf(c.m)), reqString(c.m, 'key'));
        return {};
      },
    },

    // ---- runs ----
    {
      path: 'runs/create',
      methods: ['POST'],
      summary: 'MLflow CreateRun (no experiment_id, or "0", means the default experiment)',
      access: 'write',
      scope: (m, input, principal) => (optString(m, 'experiment_id') ?? '') === '' ? contextProject(input, principal) : byExperiment('experiment_id')(m, input, principal),
      handle: async (c) => {
        const { m } = c;
        const exp = (optString(m, 'experiment_id') ?? '') === '' ? DEFAULT_EXPERIMENT_ALIAS : experimentIdOf(m);
        const run = await tracking.createRun(c.actor, c.projectId, {
          experimentId: await experimentIn(c, exp),
          tags: keyValues(m, 'tags'),
          ...opt('name', optString(m, 'run_name')),
          ...opt('userId', optString(m, 'user_id')),
          ...opt('startTime', optInt(m, 'start_time')),
        });
        return { run: runJson(run) };
      },
    },
    {
      path: 'runs/get',
      methods: ['GET'],
      summary: 'MLflow GetRun (data.metrics holds the latest value per key)',
      access: 'read',
      scope: byRun,
      // A rendered copy of the run, checked against its change counter (run-documents.ts).
      handle: async ({ m, projectId }) => new JsonText(await runDocuments.text(projectId, runIdOf(m))),
    },
    {
      path: 'runs/update',
      methods: ['POST'],
      summary: 'MLflow UpdateRun (status, end_time, run_name)',
      access: 'write',
      scope: byRun,
      handle: async ({ m, actor, projectId }) => {
        const status = optString(m, 'status');
        if (status !== undefined && status !== '' && !isRunStatus(status)) throw badRequest(`Invalid value '${status}' for parameter 'status': use RUNNING, SCHEDULED, FINISHED, FAILED or KILLED`, { field: 'status' });
        const info = await tracking.updateRun(actor, projectId, runIdOf(m), {
          ...opt('status', status === '' ? undefined : status),
          ...opt('endTime', optInt(m, 'end_time')),
          ...opt('name', optString(m, 'run_name')),
        });
        return { run_info: runInfoJson(info) };
      },
    },
    {
      path: 'runs/delete',
      methods: ['POST'],
      summary: 'MLflow DeleteRun (soft delete)',
      access: 'write',
      scope: byRun,
      handle: async ({ m, actor, projectId }) => {
        await tracking.deleteRun(actor, projectId, runIdOf(m));
        return {};
      },
    },
    {
      path: 'runs/restore',
      methods: ['POST'],
      summary: 'MLflow RestoreRun',
      access: 'write',
      scope: byRun,
      handle: async ({ m, actor, projectId }) => {
        await tracking.restoreRun(actor, projectId, runIdOf(m));
        return {};
      },
    },
    {
      path: 'runs/log-metric',
      methods: ['POST'],
      summary: 'MLflow LogMetric (3.x: with model_id, dataset_name, dataset_digest the point also goes to the logged model)',
      access: 'write',
      scope: byRun,
      handle: async ({ m, projectId }) => {
        const runId = runIdOf(m);
        const metrics = [{ key: reqString(m, 'key'), value: reqDouble(m, 'value'), timestamp: reqInt(m, 'timestamp'), step: optInt(m, 'step') ?? 0 }];
        const points = modelPoints([m], metrics);
        await tracking.logBatch(projectId, runId, { metrics, ...(points.length === 0 ? {} : { also: (tx) => loggedModels.logMetricsIn(tx, projectId, runId, points) }) });
        return {};
      },
    },
    {
      path: 'runs/log-parameter',
      methods: ['POST'],
      summary: 'MLflow LogParam (write-once: the same value again is fine, a different one is refused)',
      access: 'write',
      scope: byRun,
      handle: async ({ m, projectId }) => {
        await tracking.logBatch(projectId, runIdOf(m), { params: [{ key: reqString(m, 'key'), value: optString(m, 'value') ?? '' }] });
        return {};
      },
    },
    {
      path: 'runs/set-tag',
      methods: ['POST'],
      summary: 'MLflow SetTag',
      access: 'write',
      scope: byRun,
      handle: async ({ m, projectId }) => {
        await tracking.logBatch(projectId, runIdOf(m), { tags: [{ key: reqString(m, 'key'), value: optString(m, 'value') ?? '' }] });
        return {};
      },
    },
    {
      path: 'runs/delete-tag',
      methods: ['POST'],
      summary: 'MLflow DeleteTag',
      access: 'write',
      scope: byRun,
      handle: async ({ m, projectId }) => {
        await tracking.deleteTag(projectId, runIdOf(m), reqString(m, 'key'));
        return {};
      },
    },
    {
      path: 'runs/log-batch',
      methods: ['POST'],
      summary: 'MLflow LogBatch (≤1000 metrics, ≤100 params, ≤100 tags; idempotent under replay; 3.x metrics may name a model_id)',
      access: 'write',
      scope: byRun,
      handle: async ({ m, projectId }) => {
        const runId = runIdOf(m);
        const metrics = metricList(m);
        const points = modelPoints(Array.isArray(m['metrics']) ? (m['metrics'] as Message[]) : [], metrics);
        await tracking.logBatch(projectId, runId, {
          metrics,
          params: keyValues(m, 'params'),
          tags: keyValues(m, 'tags'),
          ...(points.length === 0 ? {} : { also: (tx) => loggedModels.logMetricsIn(tx, projectId, runId, points) }),
        });
        return {};
      },
    },
    {
      path: 'runs/log-inputs',
      methods: ['POST'],
      summary: 'MLflow LogInputs (dataset inputs with digests; 3.x: models, the logged models the run took as inputs)',
      access: 'write',
      scope: byRun,
      handle: async ({ m, projectId }) => {
        const runId = runIdOf(m);
        const models = modelInputsOf(m);
        await tracking.logInputs(projectId, runId, datasetInputs(m), models.length === 0 ? undefined : (tx) => loggedModels.logInputsIn(tx, projectId, runId, models));
        return {};
      },
    },
    {
      path: 'runs/log-model',
      methods: ['POST'],
      summary: 'MLflow LogModel (appends the MLmodel to the mlflow.log-model.history tag)',
      access: 'write',
      scope: byRun,
      handle: async ({ m, projectId }) => {
        await tracking.logModel(projectId, runIdOf(m), reqString(m, 'model_json'));
        return {};
      },
    },
    {
      path: 'runs/outputs',
      methods: ['POST'],
      summary: 'MLflow 3.x LogOutputs (the logged models a run produced, at a step; shown in Run.outputs)',
      access: 'write',
      scope: byRun,
      handle: async ({ m, projectId }) => {
        await loggedModels.logOutputs(projectId, runIdOf(m), modelOutputsOf(m));
        return {};
      },
    },
    {
      path: 'runs/search',
      methods: ['POST', 'GET'],
      summary: "MLflow SearchRuns (filter grammar compiled to SQL; order_by; page tokens)",
      access: 'read',
      scope: async (m, input, principal) => {
        const ids = stringList(m, 'experiment_ids');
        const named = ids.find((id) => id !== DEFAULT_EXPERIMENT_ALIAS);
        if (named === undefined) return contextProject(input, principal);
        return byExperiment('id')({ id: named }, input, principal);
      },
      handle: async (c) => {
        const { m } = c;
        const ids = stringList(m, 'experiment_ids');
        for (const id of ids) if (!EXPERIMENT_ID_RE.test(id)) throw badRequest(`Invalid experiment ID: '${id.slice(0, 100)}'`, { field: 'experiment_ids' });
        const experimentIds = await Promise.all(ids.map((id) => experimentIn(c, id)));
        const page = await tracking.searchRuns(c.projectId, {
          experimentIds,
          ...searchPage(m),
          ...opt('view', viewOf(m, 'run_view_type')),
        });
        const models = await loggedModels.runModels(c.projectId, page.items.map((r) => r.info.id));
        return pageJson('runs', page.items.map((r) => withModels(runJson(r), models.get(r.info.id))), page.nextPageToken);
      },
    },

    // ---- metrics ----
    {
      path: 'metrics/get-history',
      methods: ['GET'],
      summary: 'MLflow GetMetricHistory (paged, 25,000 points per page)',
      access: 'read',
      scope: byRun,
      handle: async ({ m, projectId }) => {
        const page = await tracking.metricHistory(projectId, runIdOf(m), reqString(m, 'metric_key'), { ...opt('maxResults', optInt(m, 'max_results')), ...opt('pageToken', optString(m, 'page_token')) });
        return pageJson('metrics', page.items.map(metricJson), page.nextPageToken);
      },
    },
    {
      path: 'metrics/get-history-bulk-interval',
      methods: ['GET'],
      summary: 'MLflow GetMetricHistoryBulkInterval (evenly sampled steps of up to 100 runs)',
      access: 'read',
      scope: async (m) => {
        const [first] = stringList(m, 'run_ids');
        if (first === undefined) throw badRequest("Missing value for required parameter 'run_ids'. See the API docs for more information about request parameters.", { field: 'run_ids' });
        return byRun({ run_id: first });
      },
      handle: async ({ m, projectId }) => {
        const points = await tracking.metricHistoryBulkInterval(projectId, stringList(m, 'run_ids'), reqString(m, 'metric_key'), {
          ...opt('startStep', optInt(m, 'start_step')),
          ...opt('endStep', optInt(m, 'end_step')),
          ...opt('maxResults', optInt(m, 'max_results')),
        });
        return pageJson('metrics', points.map(runMetricJson), undefined);
      },
    },
  ];

  const specs: RouteSpec[] = [];
  for (const prefix of MLFLOW_PREFIXES) {
    for (const e of endpoints) {
      for (const method of e.methods) {
        specs.push(
          defineRoute({
            method,
            url: `${prefix}/${e.path}`,
            summary: e.summary,
            tags: ['mlflow'],
            schema: {},
            authz: {
              action: TRACKING_ACTIONS[e.access],
              resource: async (input) => {
                const m = requestMessage(method, input);
                const resource = await e.scope(m, input, input.principal);
                // A run-scoped token (a job attempt's) writes only to its own run.
                const only = input.principal.scope;
                if (only !== undefined && e.access === 'write' && (e.scope !== byRun || checkedRunId(m) !== only.runId)) {
                  throw new StrataError('forbidden', `this token may only write to run ${only.runId}`);
                }
                return resource;
              },
            },
            handler: async (ctx) => {
              const m = requestMessage(method, ctx);
              if (ctx.resource.kind !== 'project') throw new StrataError('internal', 'MLflow calls resolve to a project');
              return e.handle({ m, actor: ctx.actor, projectId: ctx.resource.projectId });
            },
          }),
        );
      }
    }
  }
  return specs;
}
