// The Strata-native registry API under /api/v1/projects/{project}/models..., promotion gates, and
// lineage under /api/v1/projects/{project}/lineage/... (upstream from a model version; downstream
// from a run or a dataset digest). The project comes from the path and is authorised by the gate;
// the service scopes every query by it, so another project's model answers 404 like a missing one.
import { Type } from '@sinclair/typebox';
import type { AccessService, Action, Resource, RouteSpec } from '../access/index.ts';
import { defineRoute } from '../access/index.ts';
import { attachmentDisposition } from '../blobs/index.ts';
import type { ProjectId } from '../kernel/index.ts';
import { NAME_PATTERN, badRequest } from '../kernel/index.ts';
import type { ModelCard, ModelVersion, PromotionGate, RegisteredModel, Tag } from './model.ts';
import { MODEL_NAME_PATTERN, REGISTRY_LIMITS, STAGES, parseStage, parseVersion } from './model.ts';
import type { RegistryService } from './registry-service.ts';
import { RUN_ID_PATTERN } from '../tracking/index.ts';

/** The access actions of the registry: read (viewer), write (editor), and setting promotion gates (admin). */
export const REGISTRY_ACTIONS = { read: 'model.read', write: 'model.write', gates: 'model.gates.write' } as const satisfies Record<string, Action>;

export interface RegistryRoutesDeps {
  readonly access: AccessService;
  readonly registry: RegistryService;
}

const Strict = { additionalProperties: false } as const;
const ProjectName = Type.String({ pattern: NAME_PATTERN, minLength: 1, maxLength: 63, description: 'project name' });
const ModelName = Type.String({ pattern: MODEL_NAME_PATTERN, minLength: 1, maxLength: REGISTRY_LIMITS.modelNameLength, description: 'registered model name' });
const VersionT = Type.String({ pattern: '^[1-9][0-9]{0,9}$', description: 'model version number' });
const AliasT = Type.String({ pattern: '^[A-Za-z0-9_][A-Za-z0-9_-]{0,254}$', description: 'alias' });
const TagMap = Type.Record(Type.String({ minLength: 1, maxLength: REGISTRY_LIMITS.tagKeyLength }), Type.String({ maxLength: REGISTRY_LIMITS.tagValueLength }));
const Description = Type.String({ maxLength: REGISTRY_LIMITS.descriptionLength });
const TagBody = Type.Object({ key: Type.String({ minLength: 1, maxLength: REGISTRY_LIMITS.tagKeyLength }), value: Type.String({ maxLength: REGISTRY_LIMITS.tagValueLength }) }, Strict);
const TagKeyQuery = Type.Object({ key: Type.String({ minLength: 1, maxLength: REGISTRY_LIMITS.tagKeyLength }) }, Strict);
const ProjectParams = Type.Object({ project: ProjectName }, Strict);
const ModelParams = Type.Object({ project: ProjectName, name: ModelName }, Strict);
const VersionParams = Type.Object({ project: ProjectName, name: ModelName, version: VersionT }, Strict);
const AliasParams = Type.Object({ project: ProjectName, name: ModelName, alias: AliasT }, Strict);
const SearchQuery = Type.Object(
  {
    filter: Type.Optional(Type.String({ maxLength: 10_000 })),
    orderBy: Type.Optional(Type.Array(Type.String({ maxLength: 500 }), { maxItems: 10 })),
    maxResults: Type.Optional(Type.Integer({ minimum: 1, maximum: REGISTRY_LIMITS.searchVersionsMax })),
    pageToken: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  Strict,
);
const SignatureT = Type.Object({ inputs: Type.Union([Type.String(), Type.Null()]), outputs: Type.Union([Type.String(), Type.Null()]), params: Type.Optional(Type.Union([Type.String(), Type.Null()])) }, Strict);

type ProjectResource = Extract<Resource, { kind: 'project' }>;
const pid = (r: Resource): ProjectId => {
  if (r.kind !== 'project') throw badRequest('expected a project');
  return r.projectId;
};
const tagList = (m: Readonly<Record<string, string>> | undefined): Tag[] => Object.entries(m ?? {}).map(([key, value]) => ({ key, value }));
const tagMap = (tags: readonly Tag[]): Record<string, string> => Object.fromEntries(tags.map((t) => [t.key, t.value]));

/** A version as the Strata API shows it. */
export function versionJson(v: ModelVersion): Record<string, unknown> {
  return {
    name: v.name,
    version: v.version,
    status: v.status,
    stage: v.stage,
    description: v.description,
    source: v.source,
    runId: v.runId,
    runLink: v.runLink,
    manifestDigest: v.manifestDigest,
    files: v.fileCount,
    size: v.totalSize,
    signature: v.signature,
    aliases: v.aliases,
    tags: tagMap(v.tags),
    userId: v.userId,
    creationTime: v.creationTime,
    lastUpdatedTime: v.lastUpdatedTime,
  };
}

export function modelJson(m: RegisteredModel): Record<string, unknown> {
  return {
    name: m.name,
    description: m.description,
    creationTime: m.creationTime,
    lastUpdatedTime: m.lastUpdatedTime,
    tags: tagMap(m.tags),
    aliases: Object.fromEntries(m.aliases.map((a) => [a.alias, a.version])),
    latestVersions: m.latestVersions.map(versionJson),
  };
}

const cardJson = (c: ModelCard): Record<string, unknown> => ({ ...c });
const gateJson = (g: PromotionGate): Record<string, unknown> => ({ ...g });

export function registryRoutes({ access, registry }: RegistryRoutesDeps): RouteSpec[] {
  const projectResource = (name: string): Promise<ProjectResource> => access.projectResource(name);
  const on = (action: Action) => ({ action, resource: ({ params }: { params: { project: string } }) => projectResource(params.project) });
  const read = on(REGISTRY_ACTIONS.read);
  const write = on(REGISTRY_ACTIONS.write);
  const base = '/api/v1/projects/:project/models';
  const ver = `${base}/:name/versions/:version`;
  const tags = ['registry'];

  return [
    // ---- registered models ----
    defineRoute({
      method: 'GET',
      url: base,
      summary: "Search registered models with an MLflow filter (name, tags.<key>); order by name, creation_timestamp, last_updated_timestamp",
      tags,
      schema: { params: ProjectParams, querystring: SearchQuery },
      authz: read,
      handler: async ({ query, resource }) => {
        const page = await registry.searchModels(pid(resource), { ...query, ...(query.maxResults === undefined ? {} : { maxResults: Math.min(query.maxResults, REGISTRY_LIMITS.searchModelsMax) }) });
        return { models: page.items.map(modelJson), nextPageToken: page.nextPageToken ?? null };
      },
    }),
    defineRoute({
      method: 'POST',
      url: base,
      summary: 'Register a model name in the project',
      tags,
      schema: { params: ProjectParams, body: Type.Object({ name: ModelName, description: Type.Optional(Description), tags: Type.Optional(TagMap) }, Strict) },
      authz: write,
      handler: async ({ body, actor, resource, status }) => {
        const m = await registry.createModel(actor, pid(resource), { name: body.name, ...(body.description === undefined ? {} : { description: body.description }), tags: tagList(body.tags) });
        status(201);
        return modelJson(m);
      },
    }),
    defineRoute({
      method: 'GET',
      url: `${base}/:name`,
      summary: 'A registered model with its tags, aliases and latest version per stage',
      tags,
      schema: { params: ModelParams },
      authz: read,
      handler: async ({ params, resource }) => modelJson(await registry.getModel(pid(resource), params.name)),
    }),
    defineRoute({
      method: 'PATCH',
      url: `${base}/:name`,
      summary: 'Rename a model and/or change its description',
      tags,
      schema: { params: ModelParams, body: Type.Object({ name: Type.Optional(ModelName), description: Type.Optional(Description) }, Strict) },
      authz: write,
      handler: async ({ params, body, actor, resource }) => {
        let name = params.name;
        if (body.description !== undefined) await registry.updateModel(actor, pid(resource), name, { description: body.description });
        if (body.name !== undefined) name = (await registry.renameModel(actor, pid(resource), name, body.name)).name;
        return modelJson(await registry.getModel(pid(resource), name));
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: `${base}/:name`,
      summary: 'Delete a model with all its versions (their provenance stays in the audit log)',
      tags,
      schema: { params: ModelParams },
      authz: write,
      handler: async ({ params, actor, resource, status }) => {
        await registry.deleteModel(actor, pid(resource), params.name);
        status(204);
        return undefined;
      },
    }),
    defineRoute({
      method: 'PUT',
      url: `${base}/:name/tags`,
      summary: 'Set a tag on a model',
      tags,
      schema: { params: ModelParams, body: TagBody },
      authz: write,
      handler: async ({ params, body, actor, resource }) => {
        await registry.setModelTag(actor, pid(resource), params.name, body);
        return modelJson(await registry.getModel(pid(resource), params.name));
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: `${base}/:name/tags`,
      summary: 'Delete a tag of a model (?key=)',
      tags,
      schema: { params: ModelParams, querystring: TagKeyQuery },
      authz: write,
      handler: async ({ params, query, actor, resource, status }) => {
        await registry.deleteModelTag(actor, pid(resource), params.name, query.key);
        status(204);
        return undefined;
      },
    }),

    // ---- aliases ----
    defineRoute({
      method: 'PUT',
      url: `${base}/:name/aliases/:alias`,
      summary: 'Point an alias at a version (a gated alias such as production only moves if the version passes the gate; the decision is audited)',
      tags,
      schema: { params: AliasParams, body: Type.Object({ version: Type.Union([VersionT, Type.Integer({ minimum: 1 })]) }, Strict) },
      authz: write,
      handler: async ({ params, body, actor, resource }) => {
        const decision = await registry.setAlias(actor, pid(resource), params.name, params.alias, parseVersion(body.version));
        return { alias: params.alias, version: Number(body.version), gate: decision ?? null };
      },
    }),
    defineRoute({
      method: 'GET',
      url: `${base}/:name/aliases/:alias`,
      summary: 'The version an alias points at',
      tags,
      schema: { params: AliasParams },
      authz: read,
      handler: async ({ params, resource }) => versionJson(await registry.versionByAlias(pid(resource), params.name, params.alias)),
    }),
    defineRoute({
      method: 'DELETE',
      url: `${base}/:name/aliases/:alias`,
      summary: 'Remove an alias',
      tags,
      schema: { params: AliasParams },
      authz: write,
      handler: async ({ params, actor, resource, status }) => {
        await registry.deleteAlias(actor, pid(resource), params.name, params.alias);
        status(204);
        return undefined;
      },
    }),

    // ---- versions ----
    defineRoute({
      method: 'GET',
      url: `${base}/:name/versions`,
      summary: "A model's versions, newest first",
      tags,
      schema: { params: ModelParams, querystring: Type.Object({ pageToken: Type.Optional(Type.String({ maxLength: 1000 })), maxResults: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })) }, Strict) },
      authz: read,
      handler: async ({ params, query, resource }) => {
        await registry.getModel(pid(resource), params.name);
        const page = await registry.searchVersions(pid(resource), { filter: `name = '${params.name}'`, orderBy: ['version_number DESC'], ...query });
        return { versions: page.items.map(versionJson), nextPageToken: page.nextPageToken ?? null };
      },
    }),
    defineRoute({
      method: 'POST',
      url: `${base}/:name/versions`,
      summary: 'Register a version READY, pinned to the digests of the files its source names (runs:/<run>/<path>), with a provenance record in the audit log',
      tags,
      schema: {
        params: ModelParams,
        body: Type.Object(
          {
            source: Type.String({ minLength: 1, maxLength: REGISTRY_LIMITS.sourceLength }),
            runId: Type.Optional(Type.String({ maxLength: 256 })),
            description: Type.Optional(Description),
            tags: Type.Optional(TagMap),
            signature: Type.Optional(SignatureT),
          },
          Strict,
        ),
      },
      authz: write,
      handler: async ({ params, body, actor, resource, status }) => {
        const v = await registry.createVersion(actor, pid(resource), {
          name: params.name,
          source: body.source,
          ...(body.runId === undefined ? {} : { runId: body.runId }),
          ...(body.description === undefined ? {} : { description: body.description }),
          tags: tagList(body.tags),
          ...(body.signature === undefined ? {} : { signature: { inputs: body.signature.inputs, outputs: body.signature.outputs, params: body.signature.params ?? null } }),
        });
        status(201);
        return versionJson(v);
      },
    }),
    defineRoute({
      method: 'GET',
      url: ver,
      summary: 'A model version',
      tags,
      schema: { params: VersionParams },
      authz: read,
      handler: async ({ params, resource }) => versionJson(await registry.getVersion(pid(resource), params.name, parseVersion(params.version))),
    }),
    defineRoute({
      method: 'PATCH',
      url: ver,
      summary: "Change a version's description (its files, source and run are immutable)",
      tags,
      schema: { params: VersionParams, body: Type.Object({ description: Description }, Strict) },
      authz: write,
      handler: async ({ params, body, actor, resource }) => versionJson(await registry.updateVersion(actor, pid(resource), params.name, parseVersion(params.version), body)),
    }),
    defineRoute({
      method: 'DELETE',
      url: ver,
      summary: 'Delete a version (its number is never reused; its provenance stays in the audit log)',
      tags,
      schema: { params: VersionParams },
      authz: write,
      handler: async ({ params, actor, resource, status }) => {
        await registry.deleteVersion(actor, pid(resource), params.name, parseVersion(params.version));
        status(204);
        return undefined;
      },
    }),
    defineRoute({
      method: 'PUT',
      url: `${ver}/tags`,
      summary: 'Set a tag on a version',
      tags,
      schema: { params: VersionParams, body: TagBody },
      authz: write,
      handler: async ({ params, body, actor, resource }) => {
        await registry.setVersionTag(actor, pid(resource), params.name, parseVersion(params.version), body);
        return versionJson(await registry.getVersion(pid(resource), params.name, parseVersion(params.version)));
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: `${ver}/tags`,
      summary: 'Delete a tag of a version (?key=)',
      tags,
      schema: { params: VersionParams, querystring: TagKeyQuery },
      authz: write,
      handler: async ({ params, query, actor, resource, status }) => {
        await registry.deleteVersionTag(actor, pid(resource), params.name, parseVersion(params.version), query.key);
        status(204);
        return undefined;
      },
    }),
    defineRoute({
      method: 'PUT',
      url: `${ver}/stage`,
      summary: "Move a version to an MLflow stage (deprecated by MLflow; a gate for the stage's lower-case name applies)",
      tags,
      schema: { params: VersionParams, body: Type.Object({ stage: Type.Union(STAGES.map((s) => Type.Literal(s))), archiveExisting: Type.Optional(Type.Boolean()) }, Strict) },
      authz: write,
      handler: async ({ params, body, actor, resource }) =>
        versionJson(await registry.transitionStage(actor, pid(resource), params.name, parseVersion(params.version), parseStage(body.stage), body.archiveExisting ?? false)),
    }),
    defineRoute({
      method: 'GET',
      url: `${ver}/files`,
      summary: "The version's pinned files (path, digest, size)",
      tags,
      schema: { params: VersionParams },
      authz: read,
      handler: async ({ params, resource }) => {
        const v = await registry.getVersion(pid(resource), params.name, parseVersion(params.version));
        return { manifestDigest: v.manifestDigest, files: await registry.files(pid(resource), params.name, v.version) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: `${ver}/files/*`,
      summary: 'Download one pinned file of a version (the bytes as stored now: `strata models verify` re-hashes them)',
      tags,
      schema: { params: Type.Object({ project: ProjectName, name: ModelName, version: VersionT, '*': Type.String({ minLength: 1, maxLength: 4096 }) }, Strict) },
      authz: read,
      handler: async ({ params, resource, header }) => {
        const f = await registry.openFile(pid(resource), params.name, parseVersion(params.version), params['*']);
        header('content-type', 'application/octet-stream');
        header('content-length', String(f.size));
        header('etag', `"${f.digest}"`);
        header('x-content-type-options', 'nosniff');
        header('content-disposition', attachmentDisposition(params['*']));
        return f.stream;
      },
    }),
    defineRoute({
      method: 'GET',
      url: `${ver}/card`,
      summary: "The version's model card",
      tags,
      schema: { params: VersionParams },
      authz: read,
      handler: async ({ params, resource }) => cardJson(await registry.getCard(pid(resource), params.name, parseVersion(params.version))),
    }),
    defineRoute({
      method: 'PUT',
      url: `${ver}/card`,
      summary: 'Attach or replace the model card: intendedUse, data, metrics, limitations, fairness {summary, groups}',
      tags,
      schema: { params: VersionParams, body: Type.Object({}, { additionalProperties: true }) },
      authz: write,
      handler: async ({ params, body, actor, resource }) => cardJson(await registry.setCard(actor, pid(resource), params.name, parseVersion(params.version), body)),
    }),
    defineRoute({
      method: 'GET',
      url: `${ver}/provenance`,
      summary: 'The provenance record with its audit entry, an RFC 9162 inclusion proof and the signed checkpoint it verifies against, and the pinned file list',
      tags,
      schema: { params: VersionParams },
      authz: read,
      handler: async ({ params, resource }) => registry.provenance(pid(resource), params.name, parseVersion(params.version)),
    }),
    defineRoute({
      method: 'GET',
      url: `${ver}/verify`,
      summary: "The server's own verification: proof, record and every stored file re-hashed (verify independently with `strata models verify`)",
      tags,
      schema: { params: VersionParams },
      authz: read,
      handler: async ({ params, resource }) => registry.verify(pid(resource), params.name, parseVersion(params.version)),
    }),
    defineRoute({
      method: 'GET',
      url: `${ver}/gates/:alias`,
      summary: 'Would this version pass the promotion gate of an alias? (changes nothing)',
      tags,
      schema: { params: Type.Object({ project: ProjectName, name: ModelName, version: VersionT, alias: AliasT }, Strict) },
      authz: read,
      handler: async ({ params, resource }) => {
        const d = await registry.checkGate(pid(resource), params.name, parseVersion(params.version), params.alias);
        // One shape either way: `gated` says whether the alias has a gate at all.
        return d === undefined ? { alias: params.alias, allowed: true, checks: [], gated: false } : { ...d, gated: true };
      },
    }),

    // ---- promotion gates ----
    defineRoute({
      method: 'GET',
      url: '/api/v1/projects/:project/promotion-gates',
      summary: "The project's promotion gates",
      tags,
      schema: { params: ProjectParams },
      authz: read,
      handler: async ({ resource }) => ({ gates: (await registry.gates(pid(resource))).map(gateJson) }),
    }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/projects/:project/promotion-gates/:alias',
      summary: 'Require a model card and/or metric thresholds (from the version\'s run) before an alias — and the stage of that name — may point at a version (project admins)',
      tags,
      schema: {
        params: Type.Object({ project: ProjectName, alias: AliasT }, Strict),
        body: Type.Object(
          {
            requireModelCard: Type.Optional(Type.Boolean()),
            metrics: Type.Optional(Type.Array(Type.Object({ key: Type.String({ minLength: 1, maxLength: REGISTRY_LIMITS.tagKeyLength }), op: Type.Optional(Type.String()), threshold: Type.Number() }, Strict), { maxItems: REGISTRY_LIMITS.gateMetrics })),
          },
          Strict,
        ),
      },
      authz: on(REGISTRY_ACTIONS.gates),
      handler: async ({ params, body, actor, resource }) => gateJson(await registry.setGate(actor, pid(resource), params.alias, body)),
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/projects/:project/promotion-gates/:alias',
      summary: 'Remove a promotion gate (project admins)',
      tags,
      schema: { params: Type.Object({ project: ProjectName, alias: AliasT }, Strict) },
      authz: on(REGISTRY_ACTIONS.gates),
      handler: async ({ params, actor, resource, status }) => {
        await registry.deleteGate(actor, pid(resource), params.alias);
        status(204);
        return undefined;
      },
    }),

    // ---- lineage ----
    defineRoute({
      method: 'GET',
      url: '/api/v1/projects/:project/lineage/model-versions/:name/:version',
      summary: 'Upstream lineage of a model version: its run (code revision, parent run) and the datasets the run used',
      tags: ['lineage'],
      schema: { params: VersionParams },
      authz: read,
      handler: async ({ params, resource }) => registry.versionLineage(pid(resource), params.name, parseVersion(params.version)),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/projects/:project/lineage/runs/:run',
      summary: 'Lineage of a run: the datasets it used (upstream) and the model versions registered from it (downstream)',
      tags: ['lineage'],
      schema: { params: Type.Object({ project: ProjectName, run: Type.String({ pattern: RUN_ID_PATTERN }) }, Strict) },
      authz: read,
      handler: async ({ params, resource }) => registry.runLineage(pid(resource), params.run),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/projects/:project/lineage/datasets/:digest',
      summary: 'Downstream lineage of a dataset digest: the runs that used it and the model versions they produced',
      tags: ['lineage'],
      schema: { params: Type.Object({ project: ProjectName, digest: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$' }) }, Strict) },
      authz: read,
      handler: async ({ params, resource }) => registry.datasetLineage(pid(resource), params.digest),
    }),
  ];
}
