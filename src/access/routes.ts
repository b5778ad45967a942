// HTTP routes of the access module: whoami, teams, projects, members, users, service accounts,
// tokens, secrets and the audit log. Each declares its authorisation; api/ enforces it.
import { Type } from '@sinclair/typebox';
import { NAME_PATTERN, badRequest, notFound } from '../kernel/index.ts';
import type { PrincipalId } from '../kernel/index.ts';
import type { AccessService } from './access-service.ts';
import { projectOfResource } from './access-service.ts';
import type { AuditLog } from './audit-log.ts';
import { canSee } from './authorize.ts';
import type { Resource } from './model.ts';
import { ROLES } from './model.ts';
import { defineRoute } from './route.ts';
import type { RouteSpec } from './route.ts';
import type { SecretsService } from './secrets-service.ts';

export interface AccessRoutesDeps {
  readonly access: AccessService;
  readonly audit: AuditLog;
  readonly secrets: SecretsService;
}

const Name = (description: string) => Type.String({ pattern: NAME_PATTERN, minLength: 1, maxLength: 63, description });
const Strict = { additionalProperties: false } as const;
const ProjectParams = Type.Object({ project: Name('project name') }, Strict);
const TeamParams = Type.Object({ team: Name('team name') }, Strict);
const SecretParams = Type.Object({ project: Name('project name'), name: Name('secret name') }, Strict);
const Role = Type.Union(ROLES.map((r) => Type.Literal(r)));
const Seq = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

type ProjectResource = Extract<Resource, { kind: 'project' }>;
type TeamResource = Extract<Resource, { kind: 'team' }>;
const PLATFORM: Resource = { kind: 'platform' };

/** List, grant and revoke routes for role bindings on a team or a project (same shape for both). */
function memberRoutes<K extends 'team' | 'project'>(key: K, resolve: (name: string) => Promise<TeamResource | ProjectResource>, access: AccessService): RouteSpec[] {
  const plural = `${key}s`;
  const scopeParams = Type.Object({ [key]: Name(`${key} name`) } as Record<K, ReturnType<typeof Name>>, Strict);
  const memberParams = Type.Object({ [key]: Name(`${key} name`), principal: Name('user or service account') } as Record<K | 'principal', ReturnType<typeof Name>>, Strict);
  const scopeName = (params: unknown): string => (params as Record<string, string>)[key] ?? '';
  const scopeId = (r: Resource): string => (r.kind === 'team' ? r.teamId : r.kind === 'project' ? r.projectId : '');
  return [
    defineRoute({
      method: 'GET',
      url: `/api/v1/${plural}/:${key}/members`,
      summary: key === 'team' ? 'Role bindings on a team' : 'Role bindings on a project (team roles also apply)',
      tags: [plural],
      schema: { params: scopeParams },
      authz: { action: `${key}.members.read`, resource: ({ params }) => resolve(scopeName(params)) },
      handler: async ({ resource }) => ({ members: await access.members(key, scopeId(resource)) }),
    }),
    defineRoute({
      method: 'PUT',
      url: `/api/v1/${plural}/:${key}/members/:principal`,
      summary: `Grant or change a role on a ${key}`,
      tags: [plural],
      schema: { params: memberParams, body: Type.Object({ role: Role }, Strict) },
      authz: { action: `${key}.members.write`, resource: ({ params }) => resolve(scopeName(params)) },
      handler: ({ params, body, actor, resource }) => access.grant(actor, resource, (params as Record<string, string>)['principal'] ?? '', body.role),
    }),
    defineRoute({
      method: 'DELETE',
      url: `/api/v1/${plural}/:${key}/members/:principal`,
      summary: `Remove a role on a ${key}`,
      tags: [plural],
      schema: { params: memberParams },
      authz: { action: `${key}.members.write`, resource: ({ params }) => resolve(scopeName(params)) },
      handler: async ({ params, actor, resource, status }) => {
        await access.revokeRole(actor, resource, (params as Record<string, string>)['principal'] ?? '');
        status(204);
        return undefined;
      },
    }),
  ];
}

export function accessRoutes({ access, audit, secrets }: AccessRoutesDeps): RouteSpec[] {
  const projectResource = (name: string): Promise<ProjectResource> => access.projectResource(name);
  const teamResource = async (name: string): Promise<TeamResource> => {
    const t = await access.getTeam(name);
    return { kind: 'team', teamId: t.id, name: t.name };
  };
  const projectOf = projectOfResource;
  const principalResource = async (name: string | undefined, self: PrincipalId): Promise<Resource> =>
    name === undefined ? { kind: 'principal', principalId: self } : { kind: 'principal', principalId: (await access.getPrincipalByName(name)).id };

  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/whoami',
      summary: 'The caller: principal, platform-admin flag and role bindings',
      tags: ['access'],
      schema: {},
      authz: { action: 'principal.read', resource: ({ principal }) => ({ kind: 'principal', principalId: principal.id }) },
      handler: ({ principal }) => Promise.resolve(principal),
    }),

    // ---- teams ----
    defineRoute({
      method: 'GET',
      url: '/api/v1/teams',
      summary: 'Teams the caller can see',
      tags: ['teams'],
      schema: {},
      authz: { action: 'team.list', resource: () => PLATFORM },
      handler: async ({ principal }) => ({ teams: await access.listTeams(principal) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/teams',
      summary: 'Create a team (platform administrators)',
      tags: ['teams'],
      schema: { body: Type.Object({ name: Name('team name') }, Strict) },
      authz: { action: 'team.create', resource: () => PLATFORM },
      handler: async ({ body, actor, status }) => {
        status(201);
        return access.createTeam(actor, body.name);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/teams/:team',
      summary: 'One team',
      tags: ['teams'],
      schema: { params: TeamParams },
      authz: { action: 'team.read', resource: ({ params }) => teamResource(params.team) },
      handler: ({ params }) => access.getTeam(params.team),
    }),
    ...memberRoutes('team', teamResource, access),

    // ---- projects ----
    defineRoute({
      method: 'GET',
      url: '/api/v1/projects',
      summary: 'Projects the caller can see',
      tags: ['projects'],
      schema: { querystring: Type.Object({ team: Type.Optional(Name('only projects of this team')) }, Strict) },
      authz: { action: 'project.list', resource: () => PLATFORM },
      handler: async ({ principal, query }) => {
        let team;
        if (query.team !== undefined) {
          team = await access.getTeam(query.team);
          if (!canSee(principal, { kind: 'team', teamId: team.id, name: team.name })) throw notFound('team', query.team);
        }
        return { projects: await access.listProjects(principal, team) };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/projects',
      summary: 'Create a project in a team (team administrators)',
      tags: ['projects'],
      schema: { body: Type.Object({ name: Name('project name'), team: Name('owning team') }, Strict) },
      authz: { action: 'project.create', resource: ({ body }) => teamResource(body.team) },
      handler: async ({ body, actor, status }) => {
        const team = await access.getTeam(body.team);
        status(201);
        return access.createProject(actor, body.name, team);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/projects/:project',
      summary: 'One project',
      tags: ['projects'],
      schema: { params: ProjectParams },
      authz: { action: 'project.read', resource: ({ params }) => projectResource(params.project) },
      handler: ({ params }) => access.getProject(params.project),
    }),
    ...memberRoutes('project', projectResource, access),

    // ---- principals ----
    defineRoute({
      method: 'GET',
      url: '/api/v1/principals',
      summary: 'All users and service accounts (platform administrators)',
      tags: ['principals'],
      schema: {},
      authz: { action: 'principal.list', resource: () => PLATFORM },
      handler: async () => ({ principals: await access.listPrincipals() }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/users',
      summary: 'Create a user (platform administrators); issue it a token with POST /api/v1/tokens',
      tags: ['principals'],
      schema: { body: Type.Object({ name: Name('user name'), displayName: Type.Optional(Type.String({ maxLength: 200 })), platformAdmin: Type.Optional(Type.Boolean()) }, Strict) },
      authz: { action: 'principal.create', resource: () => PLATFORM },
      handler: async ({ body, actor, status }) => {
        status(201);
        return access.createPrincipal(actor, { kind: 'user', name: body.name, ...(body.displayName === undefined ? {} : { displayName: body.displayName }), ...(body.platformAdmin === undefined ? {} : { platformAdmin: body.platformAdmin }) });
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/service-accounts',
      summary: 'Create a service account (platform administrators)',
      tags: ['principals'],
      schema: { body: Type.Object({ name: Name('service account name'), displayName: Type.Optional(Type.String({ maxLength: 200 })) }, Strict) },
      authz: { action: 'principal.create', resource: () => PLATFORM },
      handler: async ({ body, actor, status }) => {
        status(201);
        return access.createPrincipal(actor, { kind: 'service_account', name: body.name, ...(body.displayName === undefined ? {} : { displayName: body.displayName }) });
      },
    }),

    // ---- tokens ----
    defineRoute({
      method: 'GET',
      url: '/api/v1/tokens',
      summary: "The caller's tokens, or another principal's (platform administrators)",
      tags: ['tokens'],
      schema: { querystring: Type.Object({ principal: Type.Optional(Name('user or service account')) }, Strict) },
      authz: { action: 'token.list', resource: ({ query, principal }) => principalResource(query.principal, principal.id) },
      handler: async ({ resource }) => ({ tokens: await access.listTokens((resource as Extract<Resource, { kind: 'principal' }>).principalId) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/tokens',
      summary: 'Issue a token (shown once) for the caller, or for another principal (platform administrators)',
      tags: ['tokens'],
      schema: {
        body: Type.Object(
          {
            name: Name('a label for the token'),
            principal: Type.Optional(Name('user or service account; default: the caller')),
            expiresInSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 10 * 365 * 86400 })),
          },
          Strict,
        ),
      },
      authz: { action: 'token.create', resource: ({ body, principal }) => principalResource(body.principal, principal.id) },
      handler: async ({ body, actor, resource, status }) => {
        const r = await access.createToken(actor, (resource as Extract<Resource, { kind: 'principal' }>).principalId, body.name, body.expiresInSeconds ?? null);
        status(201);
        return { token: r.token, ...r.info };
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/tokens/:id',
      summary: 'Revoke a token',
      tags: ['tokens'],
      schema: { params: Type.Object({ id: Type.String({ pattern: '^tok_[0-9a-z]{1,40}$' }) }, Strict) },
      authz: { action: 'token.revoke', resource: async ({ params }) => ({ kind: 'principal', principalId: (await access.getToken(params.id)).principalId }) },
      handler: ({ params, actor }) => access.revokeToken(actor, params.id),
    }),

    // ---- secrets ----
    defineRoute({
      method: 'GET',
      url: '/api/v1/projects/:project/secrets',
      summary: 'Secret names and versions in a project (never values)',
      tags: ['secrets'],
      schema: { params: ProjectParams },
      authz: { action: 'secret.list', resource: ({ params }) => projectResource(params.project) },
      handler: async ({ resource }) => ({ secrets: await secrets.list(projectOf(resource)) }),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/projects/:project/secrets/:name',
      summary: "A secret's versions (never values)",
      tags: ['secrets'],
      schema: { params: SecretParams },
      authz: { action: 'secret.list', resource: ({ params }) => projectResource(params.project) },
      handler: ({ params, resource }) => secrets.describe(projectOf(resource), params.name),
    }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/projects/:project/secrets/:name',
      summary: 'Write a new version of a secret; expectedVersion makes it check-and-set (0 = must not exist)',
      tags: ['secrets'],
      schema: { params: SecretParams, body: Type.Object({ value: Type.String({ maxLength: 65536 }), expectedVersion: Type.Optional(Type.Integer({ minimum: 0 })) }, Strict) },
      authz: { action: 'secret.write', resource: ({ params }) => projectResource(params.project) },
      handler: ({ params, body, actor, resource }) => secrets.put(actor, projectOf(resource), params.name, body.value, body.expectedVersion),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/projects/:project/secrets/:name/value',
      summary: 'Reveal a secret value (audited); latest version unless ?version=',
      tags: ['secrets'],
      schema: { params: SecretParams, querystring: Type.Object({ version: Type.Optional(Type.Integer({ minimum: 1 })) }, Strict) },
      authz: { action: 'secret.reveal', resource: ({ params }) => projectResource(params.project) },
      handler: ({ params, query, actor, resource, header }) => {
        header('cache-control', 'no-store');
        return secrets.reveal(actor, projectOf(resource), params.name, query.version);
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/projects/:project/secrets/:name',
      summary: 'Destroy every version of a secret permanently',
      tags: ['secrets'],
      schema: { params: SecretParams },
      authz: { action: 'secret.destroy', resource: ({ params }) => projectResource(params.project) },
      handler: ({ params, actor, resource }) => secrets.destroy(actor, projectOf(resource), params.name),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/secrets/keys/rotate',
      summary: 'Add a new master-key version for new secrets (platform administrators)',
      tags: ['secrets'],
      schema: {},
      authz: { action: 'secret.keys.rotate', resource: () => PLATFORM },
      handler: ({ actor }) => secrets.rotateKey(actor),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/secrets/keys/rewrap',
      summary: 'Re-wrap every data key under the current master key; retireOld raises the minimum decryption version',
      tags: ['secrets'],
      schema: { body: Type.Optional(Type.Object({ retireOld: Type.Optional(Type.Boolean()) }, Strict)) },
      authz: { action: 'secret.keys.rotate', resource: () => PLATFORM },
      handler: ({ actor, body }) => secrets.rewrapAll(actor, body?.retireOld ?? false),
    }),

    // ---- audit ----
    defineRoute({
      method: 'GET',
      url: '/api/v1/audit/events',
      summary: 'Audit entries in sequence order, as stored (with their leaf hashes)',
      tags: ['audit'],
      schema: {
        querystring: Type.Object(
          {
            from: Type.Optional(Seq),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000 })),
            project: Type.Optional(Name('project name')),
            actor: Type.Optional(Type.String({ maxLength: 64 })),
            action: Type.Optional(Type.String({ maxLength: 64 })),
          },
          Strict,
        ),
      },
      authz: { action: 'audit.read', resource: () => PLATFORM },
      handler: async ({ query }) => {
        const filter: { project?: string; actor?: string; action?: string } = {};
        if (query.project !== undefined) filter.project = (await access.getProject(query.project)).id;
        if (query.actor !== undefined) filter.actor = query.actor;
        if (query.action !== undefined) filter.action = query.action;
        const limit = query.limit ?? 1000;
        const events = await audit.entries(query.from ?? 0, limit, filter);
        const last = events.at(-1);
        return { events, next: events.length === limit && last !== undefined ? last.seq + 1 : null };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/audit/root',
      summary: 'Merkle root of the log at a size (the current size by default)',
      tags: ['audit'],
      schema: { querystring: Type.Object({ size: Type.Optional(Seq) }, Strict) },
      authz: { action: 'audit.read', resource: () => PLATFORM },
      handler: async ({ query }) => {
        const size = await audit.size();
        if (query.size !== undefined && query.size > size) throw badRequest(`size must be at most ${size}, the current size of the log`);
        return audit.root(query.size ?? size);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/audit/proof/inclusion',
      summary: 'RFC 9162 inclusion proof of entry index in the tree of the given size',
      tags: ['audit'],
      schema: { querystring: Type.Object({ index: Seq, size: Seq }, Strict) },
      authz: { action: 'audit.read', resource: () => PLATFORM },
      handler: ({ query }) => audit.inclusion(query.index, query.size),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/audit/proof/consistency',
      summary: 'RFC 9162 consistency proof between two tree sizes',
      tags: ['audit'],
      schema: { querystring: Type.Object({ from: Seq, to: Seq }, Strict) },
      authz: { action: 'audit.read', resource: () => PLATFORM },
      handler: ({ query }) => audit.consistency(query.from, query.to),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/audit/checkpoints',
      summary: 'Signed checkpoints written so far',
      tags: ['audit'],
      schema: { querystring: Type.Object({ latest: Type.Optional(Type.Boolean()) }, Strict) },
      authz: { action: 'audit.read', resource: () => PLATFORM },
      handler: async ({ query }) => {
        if (query.latest === true) {
          const c = await audit.latestCheckpoint();
          return { checkpoints: c === undefined ? [] : [c] };
        }
        return { checkpoints: await audit.checkpoints() };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/audit/checkpoints',
      summary: 'Sign and store a checkpoint of the current tree head now',
      tags: ['audit'],
      schema: {},
      authz: { action: 'audit.checkpoint', resource: () => PLATFORM },
      handler: async ({ status }) => {
        status(201);
        return audit.checkpoint();
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/audit/public-key',
      summary: "The log's Ed25519 public key (PEM) and key id",
      tags: ['audit'],
      schema: {},
      authz: { action: 'audit.read', resource: () => PLATFORM },
      handler: () => Promise.resolve({ publicKey: audit.publicKey.export({ type: 'spki', format: 'pem' }).toString(), logId: audit.logId }),
    }),
  ];
}
