// The MLflow model-registry REST API (model_registry.proto) over the registry service, served at
// /api/2.0/mlflow/... and /ajax-api/2.0/mlflow/... like the tracking endpoints in routes.ts, with
// the same conventions (protocol.ts: GET query strings, JSON bodies also on DELETE and PATCH, the
// Content-Type rule; errors.ts: MLflow's error shape). Registered models name no run or
// experiment, so the project is the `X-Strata-Project` header, or else the one project the token's
// principal has a role on (a project-scoped service account). Versions are created READY, pinned
// to the digests of the files their source names; a promotion gate refusal is PERMISSION_DENIED.
import type { AccessService, RouteSpec } from '../../access/index.ts';
import { defineRoute } from '../../access/index.ts';
import type { HttpMethod } from '../../access/index.ts';
import type { Actor } from '../../access/index.ts';
import type { ProjectId } from '../../kernel/index.ts';
import { StrataError } from '../../kernel/index.ts';
import type { ModelVersion, RegisteredModel, RegistryService } from '../../registry/index.ts';
import { REGISTRY_ACTIONS, parseModelName, parseStage, parseVersion } from '../../registry/index.ts';
import type { TrackingService } from '../../tracking/index.ts';
import { projectContext } from './project-context.ts';
import type { Message } from './protocol.ts';
import { keyValues, opt, optBool, optString, pageJson, reqString, requestMessage, searchPage, stringList, withList } from './protocol.ts';
import { MLFLOW_PREFIXES } from './routes.ts';

export interface MlflowRegistryRoutesDeps {
  readonly access: AccessService;
  readonly tracking: TrackingService;
  readonly registry: RegistryService;
}


interface CallContext {
  readonly m: Message;
  readonly actor: Actor;
  readonly projectId: ProjectId;
}

interface Endpoint {
  readonly path: string;
  readonly methods: readonly HttpMethod[];
  readonly summary: string;
  readonly access: 'read' | 'write';
  readonly handle: (c: CallContext) => Promise<unknown>;
}

const withText = (field: string, v: string | null): Record<string, string> => (v === null || v === '' ? {} : { [field]: v });

/** A model version in model_registry.proto's JSON shape (version as a string, unset fields omitted). */
export function modelVersionJson(v: ModelVersion): Record<string, unknown> {
  return {
    name: v.name,
    version: String(v.version),
    creation_timestamp: v.creationTime,
    last_updated_timestamp: v.lastUpdatedTime,
    user_id: v.userId,
    current_stage: v.stage,
    ...withText('description', v.description),
    source: v.source,
    ...withText('run_id', v.runId),
    status: v.status,
    ...withText('status_message', v.statusMessage),
    ...withList('tags', v.tags.map((t) => ({ key: t.key, value: t.value }))),
    ...withText('run_link', v.runLink),
    ...withList('aliases', v.aliases),
    ...withText('model_id', v.loggedModelId),
  };
}

/** A registered model in model_registry.proto's JSON shape. */
export function registeredModelJson(m: RegisteredModel): Record<string, unknown> {
  return {
    name: m.name,
    creation_timestamp: m.creationTime,
    last_updated_timestamp: m.lastUpdatedTime,
    ...withText('description', m.description),
    ...withList('latest_versions', m.latestVersions.map(modelVersionJson)),
    ...withList('tags', m.tags.map((t) => ({ key: t.key, value: t.value }))),
    ...withList('aliases', m.aliases.map((a) => ({ alias: a.alias, version: String(a.version) }))),
  };
}

const nameOf = (m: Message, field = 'name'): string => parseModelName(reqString(m, field), field);
const versionOf = (m: Message): number => {
  const v = m['version'];
  return parseVersion(Array.isArray(v) ? v[0] : typeof v === 'number' ? v : reqString(m, 'version'));
};

/** The MLflow registry endpoints as route specs, for both MLflow prefixes. */
export function mlflowRegistryRoutes({ access, tracking, registry }: MlflowRegistryRoutesDeps): RouteSpec[] {
  const { contextProject } = projectContext(access, tracking);

  const endpoints: Endpoint[] = [
    // ---- registered models ----
    {
      path: 'registered-models/create',
      methods: ['POST'],
      summary: 'MLflow CreateRegisteredModel',
      access: 'write',
      handle: async ({ m, actor, projectId }) => ({
        registered_model: registeredModelJson(await registry.createModel(actor, projectId, { name: nameOf(m), tags: keyValues(m, 'tags'), ...opt('description', optString(m, 'description')) })),
      }),
    },
    {
      path: 'registered-models/get',
      methods: ['GET'],
      summary: 'MLflow GetRegisteredModel',
      access: 'read',
      handle: async ({ m, projectId }) => ({ registered_model: registeredModelJson(await registry.getModel(projectId, nameOf(m))) }),
    },
    {
      path: 'registered-models/rename',
      methods: ['POST'],
      summary: 'MLflow RenameRegisteredModel',
      access: 'write',
      handle: async ({ m, actor, projectId }) => ({ registered_model: registeredModelJson(await registry.renameModel(actor, projectId, nameOf(m), nameOf(m, 'new_name'))) }),
    },
    {
      path: 'registered-models/update',
      methods: ['PATCH'],
      summary: 'MLflow UpdateRegisteredModel (description)',
      access: 'write',
      handle: async ({ m, actor, projectId }) => ({ registered_model: registeredModelJson(await registry.updateModel(actor, projectId, nameOf(m), { description: optString(m, 'description') ?? '' })) }),
    },
    {
      path: 'registered-models/delete',
      methods: ['DELETE'],
      summary: 'MLflow DeleteRegisteredModel (with all its versions)',
      access: 'write',
      handle: async ({ m, actor, projectId }) => {
        await registry.deleteModel(actor, projectId, nameOf(m));
        return {};
      },
    },
    {
      path: 'registered-models/search',
      methods: ['GET'],
      summary: 'MLflow SearchRegisteredModels (name, tags.<key>; default 100, max 1000 per page)',
      access: 'read',
      handle: async ({ m, projectId }) => {
        const page = await registry.searchModels(projectId, {
          ...searchPage(m),
        });
        return pageJson('registered_models', page.items.map(registeredModelJson), page.nextPageToken);
      },
    },
    {
      path: 'registered-models/get-latest-versions',
      methods: ['POST', 'GET'],
      summary: 'MLflow GetLatestVersions (newest version per stage; deprecated stage API)',
      access: 'read',
      handle: async ({ m, projectId }) => {
        const stages = stringList(m, 'stages').map((s) => parseStage(s, 'stages'));
        return pageJson('model_versions', (await registry.latestVersions(projectId, nameOf(m), stages)).map(modelVersionJson), undefined);
      },
    },
    {
      path: 'registered-models/set-tag',
      methods: ['POST'],
      summary: 'MLflow SetRegisteredModelTag',
      access: 'write',
      handle: async ({ m, actor, projectId }) => {
        await registry.setModelTag(actor, projectId, nameOf(m), { key: reqString(m, 'key'), value: optString(m, 'value') ?? '' });
        return {};
      },
    },
    {
      path: 'registered-models/delete-tag',
      methods: ['DELETE'],
      summary: 'MLflow DeleteRegisteredModelTag',
      access: 'write',
      handle: async ({ m, actor, projectId }) => {
        await registry.deleteModelTag(actor, projectId, nameOf(m), reqString(m, 'key'));
        return {};
      },
    },
    {
      path: 'registered-models/alias',
      methods: ['POST'],
      summary: 'MLflow SetRegisteredModelAlias (a gated alias moves only if the version passes the promotion gate)',
      access: 'write',
      handle: async ({ m, actor, projectId }) => {
        await registry.setAlias(actor, projectId, nameOf(m), reqString(m, 'alias'), versionOf(m));
        return {};
      },
    },
    {
      path: 'registered-models/alias',
      methods: ['DELETE'],
      summary: 'MLflow DeleteRegisteredModelAlias',
      access: 'write',
      handle: async ({ m, actor, projectId }) => {
        await registry.deleteAlias(actor, projectId, nameOf(m), reqString(m, 'alias'));
        return {};
      },
    },
    {
      path: 'registered-models/alias',
      methods: ['GET'],
      summary: 'MLflow GetModelVersionByAlias',
      access: 'read',
      handle: async ({ m, projectId }) => ({ model_version: modelVersionJson(await registry.versionByAlias(projectId, nameOf(m), reqString(m, 'alias'))) }),
    },

    // ---- model versions ----
    {
      path: 'model-versions/create',
      methods: ['POST'],
      summary: 'MLflow CreateModelVersion (READY at once, pinned to the digests of the source files; sources outside Strata are refused)',
      access: 'write',
      handle: async ({ m, actor, projectId }) => ({
        model_version: modelVersionJson(
          await registry.createVersion(actor, projectId, {
            name: nameOf(m),
            source: reqString(m, 'source'),
            tags: keyValues(m, 'tags'),
            ...opt('runId', optString(m, 'run_id')),
            ...opt('runLink', optString(m, 'run_link')),
            ...opt('description', optString(m, 'description')),
            ...opt('loggedModelId', optString(m, 'model_id') || undefined),
          }),
        ),
      }),
    },
    {
      path: 'model-versions/get',
      methods: ['GET'],
      summary: 'MLflow GetModelVersion',
      access: 'read',
      handle: async ({ m, projectId }) => ({ model_version: modelVersionJson(await registry.getVersion(projectId, nameOf(m), versionOf(m))) }),
    },
    {
      path: 'model-versions/update',
      methods: ['PATCH'],
      summary: 'MLflow UpdateModelVersion (description only: files, source and run are immutable)',
      access: 'write',
      handle: async ({ m, actor, projectId }) => ({ model_version: modelVersionJson(await registry.updateVersion(actor, projectId, nameOf(m), versionOf(m), { description: optString(m, 'description') ?? '' })) }),
    },
    {
      path: 'model-versions/delete',
      methods: ['DELETE'],
      summary: 'MLflow DeleteModelVersion',
      access: 'write',
      handle: async ({ m, actor, projectId }) => {
        await registry.deleteVersion(actor, projectId, nameOf(m), versionOf(m));
        return {};
      },
    },
    {
      path: 'model-versions/transition-stage',
      methods: ['POST'],
      summary: 'MLflow TransitionModelVersionStage (deprecated; archive_existing_versions supported; gated like the alias of the same lower-case name)',
      access: 'write',
      handle: async ({ m, actor, projectId }) => ({
        model_version: modelVersionJson(await registry.transitionStage(actor, projectId, nameOf(m), versionOf(m), parseStage(reqString(m, 'stage')), optBool(m, 'archive_existing_versions') ?? false)),
      }),
    },
    {
      path: 'model-versions/search',
      methods: ['GET'],
      summary: 'MLflow SearchModelVersions (name, run_id [IN], source_path, version_number, tags.<key>)',
      access: 'read',
      handle: async ({ m, projectId }) => {
        const page = await registry.searchVersions(projectId, {
          ...searchPage(m),
        });
        return pageJson('model_versions', page.items.map(modelVersionJson), page.nextPageToken);
      },
    },
    {
      path: 'model-versions/get-download-uri',
      methods: ['GET'],
      summary: 'MLflow GetModelVersionDownloadUri',
      access: 'read',
      handle: async ({ m, projectId }) => ({ artifact_uri: await registry.downloadUri(projectId, nameOf(m), versionOf(m)) }),
    },
    {
      path: 'model-versions/set-tag',
      methods: ['POST'],
      summary: 'MLflow SetModelVersionTag',
      access: 'write',
      handle: async ({ m, actor, projectId }) => {
        await registry.setVersionTag(actor, projectId, nameOf(m), versionOf(m), { key: reqString(m, 'key'), value: optString(m, 'value') ?? '' });
        return {};
      },
    },
    {
      path: 'model-versions/delete-tag',
      methods: ['DELETE'],
      summary: 'MLflow DeleteModelVersionTag',
      access: 'write',
      handle: async ({ m, actor, projectId }) => {
        await registry.deleteVersionTag(actor, projectId, nameOf(m), versionOf(m), reqString(m, 'key'));
        return {};
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
            tags: ['mlflow', 'registry'],
            schema: {},
            authz: {
              action: REGISTRY_ACTIONS[e.access],
              resource: (input) => {
                requestMessage(method, input); // the Content-Type rule comes first
                return contextProject(input, input.principal);
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
