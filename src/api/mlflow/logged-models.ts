// MLflow 3.x logged models (service.proto: CreateLoggedModel, GetLoggedModel, FinalizeLoggedModel,
// DeleteLoggedModel, SearchLoggedModels, SetLoggedModelTags, DeleteLoggedModelTag,
// LogLoggedModelParamsRequest, ListLoggedModelArtifacts) over the tracking module's LoggedModels,
// served at /api/2.0/mlflow/logged-models… and /ajax-api/2.0/mlflow/logged-models… with the
// conventions of routes.ts (protocol.ts for messages, errors.ts for MLflow's error shape). The model
// id travels in the path. Authorisation is that of runs: experiment.read / experiment.write on the
// project the model (or the named experiment) belongs to; a model of another project is a 404. A
// run-scoped token (a job attempt's) may create models whose source_run_id is its run and write only
// to those. `runs/outputs` and metrics with a `model_id` are run endpoints, in routes.ts.
import type { AccessService, Actor, HttpMethod, Principal, Resource, RouteSpec } from '../../access/index.ts';
import { defineRoute } from '../../access/index.ts';
import { normaliseArtifactPath } from '../../blobs/index.ts';
import type { ProjectId } from '../../kernel/index.ts';
import { StrataError, badRequest } from '../../kernel/index.ts';
import type { DatasetRef, FinalLoggedModelStatus, LoggedModel, LoggedModelArtifacts, LoggedModelOrderBy, LoggedModels, TrackingService } from '../../tracking/index.ts';
import { DEFAULT_EXPERIMENT_ALIAS, EXPERIMENT_ID_PATTERN, FINAL_LOGGED_MODEL_STATUSES, LOGGED_MODEL_STATUSES, TRACKING_ACTIONS, noLoggedModel } from '../../tracking/index.ts';
import { projectContext } from './project-context.ts';
import type { Message, MlflowInput } from './protocol.ts';
import { doubleJson, keyValues, opt, optBool, optInt, optString, pageJson, reqString, requestMessage, stringList, withList } from './protocol.ts';
import { MLFLOW_PREFIXES } from './routes.ts';

export interface MlflowLoggedModelRoutesDeps {
  readonly access: AccessService;
  readonly tracking: TrackingService;
  readonly loggedModels: LoggedModels;
  readonly modelArtifacts: LoggedModelArtifacts;
}

type ProjectResource = Extract<Resource, { kind: 'project' }>;

interface CallContext {
  readonly m: Message;
  readonly params: Readonly<Record<string, string>>;
  readonly actor: Actor;
  readonly projectId: ProjectId;
}

/** What a resolver sees: the message, the path parameters, the raw input and the caller. */
interface ScopeInput {
  readonly m: Message;
  readonly params: Readonly<Record<string, string>>;
  readonly input: MlflowInput;
  readonly principal: Principal;
}

interface Endpoint {
  readonly path: string;
  readonly method: HttpMethod;
  readonly summary: string;
  readonly access: 'read' | 'write';
  readonly scope: (s: ScopeInput) => Promise<ProjectResource>;
  /** For a run-scoped token on a write: the run this call writes for (it must be the token's run). */
  readonly writesFor: (s: ScopeInput) => Promise<string | null>;
  readonly handle: (c: CallContext) => Promise<unknown>;
}

const EXPERIMENT_ID_RE = new RegExp(EXPERIMENT_ID_PATTERN);
/** Ids shaped like anything a client could hold; the lookup decides whether it exists. */
const MODEL_ID_SHAPE = /^[A-Za-z0-9][\w-]{0,255}$/;

const withText = (field: string, v: string | null): Record<string, string> => (v === null || v === '' ? {} : { [field]: v });

/**
 * A logged model in service.proto's JSON shape: `{info, data}` with unset fields and empty lists
 * omitted. `creator_id` is an int64 in the proto and Strata's principals have text ids, so it is
 * never set (MLflow's own SQL store leaves it unset too).
 */
export function loggedModelJson(model: LoggedModel): Record<string, unknown> {
  const i = model.info;
  return {
    info: {
      model_id: i.id,
      experiment_id: i.experimentId,
      name: i.name,
      creation_timestamp_ms: i.creationTimestampMs,
      last_updated_timestamp_ms: i.lastUpdatedTimestampMs,
      artifact_uri: i.artifactUri,
      status: i.status,
      ...withText('model_type', i.modelType),
      ...withText('source_run_id', i.sourceRunId),
      ...withText('status_message', i.statusMessage),
      ...withList('tags', i.tags.map((t) => ({ key: t.key, value: t.value }))),
      ...withList('registrations', i.registrations.map((r) => ({ name: r.name, version: String(r.version) }))),
    },
    data: {
      ...withList('params', model.data.params.map((p) => ({ key: p.key, value: p.value }))),
      ...withList(
        'metrics',
        model.data.metrics.map((x) => ({
          key: x.key,
          value: doubleJson(x.value),
          timestamp: x.timestamp,
          step: x.step,
          ...withText('dataset_name', x.datasetName),
          ...withText('dataset_digest', x.datasetDigest),
          model_id: x.modelId,
          run_id: x.runId,
        })),
      ),
    },
  };
}

/** FinalizeLoggedModel `status`: the enum by name (or its number, as protobuf JSON allows). */
function finalStatusOf(m: Message): FinalLoggedModelStatus {
  const raw = m['status'];
  if (raw === undefined || raw === null || raw === '') throw badRequest("Missing value for required parameter 'status'. Send LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED.", { field: 'status' });
  const name = typeof raw === 'number' || (typeof raw === 'string' && /^\d+$/.test(raw)) ? LOGGED_MODEL_STATUSES[Number(raw)] : raw;
  if (typeof name !== 'string' || !(FINAL_LOGGED_MODEL_STATUSES as readonly string[]).includes(name)) {
    throw badRequest(`Invalid value ${JSON.stringify(raw)?.slice(0, 60) ?? ''} for parameter 'status' supplied: a logged model is finalized with LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED.`, { field: 'status' });
  }
  return name as FinalLoggedModelStatus;
}

function objectList(m: Message, field: string): Message[] {
  const v = m[field];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw badRequest(`Invalid value for parameter '${field}' supplied: expected a list of objects.`, { field });
  return v.map((x) => {
    if (typeof x !== 'object' || x === null || Array.isArray(x)) throw badRequest(`Invalid value for parameter '${field}' supplied: expected a list of objects.`, { field });
    return x as Message;
  });
}

/** SearchLoggedModels `datasets`: `[{dataset_name, dataset_digest}]`. */
const datasetsOf = (m: Message): DatasetRef[] =>
  objectList(m, 'datasets').map((d) => {
    const digest = optString(d, 'dataset_digest');
    return { name: optString(d, 'dataset_name') ?? '', ...(digest === undefined || digest === '' ? {} : { digest }) };
  });

/** SearchLoggedModels `order_by`: OrderBy objects (a "field [ASC|DESC]" string is accepted too). */
function orderByOf(m: Message): (LoggedModelOrderBy | string)[] {
  const v = m['order_by'];
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]).map((x): LoggedModelOrderBy | string => {
    if (typeof x === 'string') return x;
    if (typeof x !== 'object' || x === null || Array.isArray(x)) throw badRequest("Invalid value for parameter 'order_by' supplied: expected a list of {field_name, ascending, dataset_name, dataset_digest} objects.", { field: 'order_by' });
    const o = x as Message;
    const ascending = optBool(o, 'ascending');
    const datasetName = optString(o, 'dataset_name');
    const datasetDigest = optString(o, 'dataset_digest');
    return {
      fieldName: optString(o, 'field_name') ?? '',
      ...opt('ascending', ascending),
      ...(datasetName === undefined || datasetName === '' ? {} : { datasetName }),
      ...(datasetDigest === undefined || datasetDigest === '' ? {} : { datasetDigest }),
    };
  });
}

/** The MLflow logged-model endpoints as route specs, for both MLflow prefixes. */
export function mlflowLoggedModelRoutes({ access, tracking, loggedModels, modelArtifacts }: MlflowLoggedModelRoutesDeps): RouteSpec[] {
  const { resourceOf, contextProject } = projectContext(access, tracking);

  const experimentIdOf = (id: string, field: string): string => {
    if (!EXPERIMENT_ID_RE.test(id)) throw badRequest(`Invalid experiment ID: '${id.slice(0, 100)}'`, { field });
    return id;
  };

  /** The project of an experiment ("0": the context project's default experiment). */
  const byExperimentId = async (id: string, field: string, s: ScopeInput): Promise<ProjectResource> => {
    if (experimentIdOf(id, field) === DEFAULT_EXPERIMENT_ALIAS) return contextProject(s.input, s.principal);
    const projectId = await tracking.experimentProject(id);
    if (projectId === undefined) throw new StrataError('not_found', `No Experiment with id=${id} exists`);
    return resourceOf(projectId);
  };

  const modelIdOf = (params: Readonly<Record<string, string>>): string => {
    const id = params['model_id'] ?? '';
    if (!MODEL_ID_SHAPE.test(id)) throw badRequest(`Invalid logged model ID: '${id.slice(0, 100)}'`, { field: 'model_id' });
    return id;
  };

  const byModel = async (s: ScopeInput): Promise<ProjectResource> => {
    const id = modelIdOf(s.params);
    const scope = await loggedModels.scope(id);
    if (scope === undefined) throw noLoggedModel(id);
    return resourceOf(scope.projectId);
  };
  const modelSource = async (s: ScopeInput): Promise<string | null> => (await loggedModels.scope(modelIdOf(s.params)))?.sourceRunId ?? null;

  const experimentIn = async (c: CallContext, id: string): Promise<string> => (id === DEFAULT_EXPERIMENT_ALIAS ? tracking.defaultExperiment(c.actor, c.projectId) : id);
  const allowDeleted = (m: Message): boolean => optBool(m, 'allow_deleted') === true;
  const noRun = async (): Promise<null> => Promise.resolve(null);

  const endpoints: Endpoint[] = [
    {
      path: 'logged-models',
      method: 'POST',
      summary: 'MLflow 3.x CreateLoggedModel (a PENDING model of an experiment; audited)',
      access: 'write',
      scope: (s) => byExperimentId(reqString(s.m, 'experiment_id'), 'experiment_id', s),
      writesFor: (s) => Promise.resolve(optString(s.m, 'source_run_id') ?? null),
      handle: async (c) => {
        const { m } = c;
        const model = await loggedModels.create(c.actor, c.projectId, {
          experimentId: await experimentIn(c, experimentIdOf(reqString(m, 'experiment_id'), 'experiment_id')),
          params: keyValues(m, 'params'),
          tags: keyValues(m, 'tags'),
          ...opt('name', optString(m, 'name')),
          ...opt('modelType', optString(m, 'model_type')),
          ...opt('sourceRunId', optString(m, 'source_run_id')),
        });
        return { model: loggedModelJson(model) };
      },
    },
    {
      path: 'logged-models/search',
      method: 'POST',
      summary: 'MLflow 3.x SearchLoggedModels (filter on name, status, tags., params., metrics. compiled to SQL; datasets; order_by; page tokens)',
      access: 'read',
      scope: async (s) => {
        const named = stringList(s.m, 'experiment_ids').find((id) => id !== DEFAULT_EXPERIMENT_ALIAS);
        return named === undefined ? contextProject(s.input, s.principal) : byExperimentId(named, 'experiment_ids', s);
      },
      writesFor: noRun,
      handle: async (c) => {
        const { m } = c;
        const ids = stringList(m, 'experiment_ids').map((id) => experimentIdOf(id, 'experiment_ids'));
        const page = await loggedModels.search(c.projectId, {
          experimentIds: await Promise.all(ids.map((id) => experimentIn(c, id))),
          datasets: datasetsOf(m),
          orderBy: orderByOf(m),
          ...opt('filter', optString(m, 'filter')),
          ...opt('maxResults', optInt(m, 'max_results')),
          ...opt('pageToken', optString(m, 'page_token')),
        });
        return pageJson('models', page.items.map(loggedModelJson), page.nextPageToken);
      },
    },
    {
      path: 'logged-models/:model_id',
      method: 'GET',
      summary: 'MLflow 3.x GetLoggedModel (deleted models only with allow_deleted=true)',
      access: 'read',
      scope: byModel,
      writesFor: noRun,
      handle: async ({ m, params, projectId }) => ({ model: loggedModelJson(await loggedModels.get(projectId, modelIdOf(params), { allowDeleted: allowDeleted(m) })) }),
    },
    {
      path: 'logged-models/:model_id',
      method: 'PATCH',
      summary: 'MLflow 3.x FinalizeLoggedModel (status LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED; audited)',
      access: 'write',
      scope: byModel,
      writesFor: modelSource,
      handle: async ({ m, params, actor, projectId }) => ({ model: loggedModelJson(await loggedModels.finalize(actor, projectId, modelIdOf(params), finalStatusOf(m))) }),
    },
    {
      path: 'logged-models/:model_id',
      method: 'DELETE',
      summary: 'MLflow 3.x DeleteLoggedModel (soft delete; audited)',
      access: 'write',
      scope: byModel,
      writesFor: modelSource,
      handle: async ({ params, actor, projectId }) => {
        await loggedModels.delete(actor, projectId, modelIdOf(params));
        return {};
      },
    },
    {
      path: 'logged-models/:model_id/tags',
      method: 'PATCH',
      summary: 'MLflow 3.x SetLoggedModelTags (last write wins)',
      access: 'write',
      scope: byModel,
      writesFor: modelSource,
      handle: async ({ m, params, projectId }) => {
        await loggedModels.setTags(projectId, modelIdOf(params), keyValues(m, 'tags'));
        return {};
      },
    },
    {
      path: 'logged-models/:model_id/tags/*',
      method: 'DELETE',
      summary: 'MLflow 3.x DeleteLoggedModelTag (the tag key is the rest of the path)',
      access: 'write',
      scope: byModel,
      writesFor: modelSource,
      handle: async ({ params, projectId }) => {
        await loggedModels.deleteTag(projectId, modelIdOf(params), params['*'] ?? '');
        return {};
      },
    },
    {
      path: 'logged-models/:model_id/params',
      method: 'POST',
      summary: 'MLflow 3.x LogLoggedModelParams (write-once, like run params)',
      access: 'write',
      scope: byModel,
      writesFor: modelSource,
      handle: async ({ m, params, projectId }) => {
        await loggedModels.logParams(projectId, modelIdOf(params), keyValues(m, 'params'));
        return {};
      },
    },
    {
      path: 'logged-models/:model_id/artifacts/directories',
      method: 'GET',
      summary: "MLflow 3.x ListLoggedModelArtifacts (a directory of the model's artifacts; paths from its root; paged)",
      access: 'read',
      scope: byModel,
      writesFor: noRun,
      handle: async ({ m, params, projectId }) => {
        const modelId = modelIdOf(params);
        const raw = optString(m, 'artifact_directory_path');
        const dir = raw === undefined || raw === '' ? undefined : normaliseArtifactPath(raw.replace(/\/+$/, ''), { field: 'artifact_directory_path' });
        const token = optString(m, 'page_token');
        const root = await modelArtifacts.root(projectId, modelId);
        const page = await modelArtifacts.list(projectId, modelId, dir, token === undefined || token === '' ? {} : { pageToken: token });
        const files = page.entries.map((e) => (e.kind === 'file' ? { path: e.path, is_dir: false, file_size: e.size } : { path: e.path, is_dir: true }));
        return { root_uri: root.artifactUri, ...pageJson('files', files, page.nextPageToken) };
      },
    },
  ];

  const specs: RouteSpec[] = [];
  for (const prefix of MLFLOW_PREFIXES) {
    for (const e of endpoints) {
      const paramsOf = (input: { params?: unknown }): Readonly<Record<string, string>> => (typeof input.params === 'object' && input.params !== null ? (input.params as Record<string, string>) : {});
      specs.push(
        defineRoute({
          method: e.method,
          url: `${prefix}/${e.path}`,
          summary: e.summary,
          tags: ['mlflow'],
          schema: {},
          authz: {
            action: TRACKING_ACTIONS[e.access],
            resource: async (input) => {
              const s: ScopeInput = { m: requestMessage(e.method, input), params: paramsOf(input), input, principal: input.principal };
              const resource = await e.scope(s);
              // A run-scoped token (a job attempt's) writes only to the models of its own run.
              const only = input.principal.scope;
              if (only !== undefined && e.access === 'write' && (await e.writesFor(s)) !== only.runId) {
                throw new StrataError('forbidden', `this token may only write to run ${only.runId} and the logged models whose source_run_id is that run`);
              }
              return resource;
            },
          },
          handler: async (ctx) => {
            if (ctx.resource.kind !== 'project') throw new StrataError('internal', 'MLflow calls resolve to a project');
            return e.handle({ m: requestMessage(e.method, ctx), params: paramsOf(ctx), actor: ctx.actor, projectId: ctx.resource.projectId });
          },
        }),
      );
    }
  }
  return specs;
}
