// Users, service accounts, teams, projects, role bindings and tokens over the store. Every change
// writes its audit entry in the same transaction. Authorisation happens before these are called
// (api gate); the escalation guard (mayGrant) is checked here too because it depends on the role
// being granted, not just the route.
import type { Clock, IdGenerator, PrincipalId, ProjectId, TeamId, TokenId } from '../kernel/index.ts';
import { StrataError, badRequest, conflict, forbidden, notFound, parseName, unauthenticated } from '../kernel/index.ts';
import type { Store, Tx } from '../store/index.ts';
import { isUniqueViolation } from '../store/index.ts';
import type { AuditLog } from './audit-log.ts';
import { mayGrant } from './authorize.ts';
import type { Principal, PrincipalKind, Resource, Role, ScopeKind, TokenScope } from './model.ts';
import { isRole } from './model.ts';
import { generateToken, hashToken, looksLikeToken } from './tokens.ts';

/** Who is acting, for audit records. `principal` is null for the platform itself (bootstrap). */
export interface Actor {
  readonly principal: Principal | null;
  readonly requestId: string | null;
}

export interface Team {
  readonly id: TeamId;
  readonly name: string;
  readonly createdAt: string;
}
export interface Project {
  readonly id: ProjectId;
  readonly name: string;
  readonly teamId: TeamId;
  readonly team: string;
  readonly createdAt: string;
}
export interface PrincipalInfo {
  readonly id: PrincipalId;
  readonly kind: PrincipalKind;
  readonly name: string;
  readonly displayName: string;
  readonly platformAdmin: boolean;
  readonly createdAt: string;
  readonly disabledAt: string | null;
}
export interface TokenInfo {
  readonly id: TokenId;
  readonly principalId: PrincipalId;
  readonly name: string;
  readonly prefix: string;
  readonly createdAt: string;
  readonly expiresAt: string | null;
  readonly revokedAt: string | null;
  readonly lastUsedAt: string | null;
}
export interface Member {
  readonly principalId: PrincipalId;
  readonly principal: string;
  readonly kind: PrincipalKind;
  readonly role: Role;
  readonly createdAt: string;
}

const actorId = (a: Actor): string => a.principal?.id ?? 'system';

/** Last-used times are written at most this often per token, so reads stay reads. */
const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * How long a resolved token (principal and role bindings) is reused. Any change to tokens, roles or
 * principals made through this process clears the cache at once; a change made through another
 * control-plane replica takes effect here within this bound.
 */
export const AUTH_CACHE_MS = 2000;
const AUTH_CACHE_MAX = 10_000;

interface CachedAuth {
  readonly principal: Principal;
  readonly expiresAt: number | null;
  readonly cachedAt: number;
  readonly tokenId: string;
}

/** The service account that owns scoped tokens (it has no roles of its own). */
export const SCOPED_TOKEN_OWNER = 'strata-jobs';

export class AccessService {
  private readonly lastUsedWritten = new Map<string, number>();
  private readonly authCache = new Map<string, CachedAuth>();
  /** Projects and teams are never renamed or deleted (yet), so a found one can be remembered. */
  private readonly projectCache = new Map<string, Project>();
  private readonly teamCache = new Map<string, Team>();

  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
    private readonly ids: IdGenerator,
    private readonly clock: Clock,
  ) {}

  private now(): string {
    return new Date(this.clock.now()).toISOString();
  }

  // ---- authentication -------------------------------------------------------------------------

  /** Forgets every cached token resolution (after any change to tokens, roles or principals). */
  invalidateAuth(): void {
    this.authCache.clear();
  }

  /** Resolves a bearer token to a principal with its role bindings, or throws 401. */
  async authenticate(token: string): Promise<Principal> {
    if (!looksLikeToken(token)) throw unauthenticated('the token is malformed: Strata tokens start with "strata_"; log in again with `strata login`');
    const hash = hashToken(token);
    const now0 = this.clock.now();
    const hit = this.authCache.get(hash);
    if (hit !== undefined && now0 - hit.cachedAt < AUTH_CACHE_MS) {
      if (hit.expiresAt !== null && hit.expiresAt <= now0) {
        this.authCache.delete(hash);
        throw unauthenticated('the token has expired: create a new one with `strata tokens create`');
      }
      this.touch(hit.tokenId, now0);
      return hit.principal;
    }
    const row = await this.store.db
      .selectFrom('tokens')
      .innerJoin('principals', 'principals.id', 'tokens.principal_id')
      .select([
        'tokens.id as token_id',
        'tokens.expires_at',
        'tokens.revoked_at',
        'tokens.last_used_at',
        'tokens.scope',
        'principals.id as principal_id',
        'principals.kind',
        'principals.name',
        'principals.platform_admin',
        'principals.disabled_at',
      ])
      .where('tokens.hash', '=', hash)
      .executeTakeFirst();
    if (row === undefined) throw unauthenticated('the token is not valid: it is unknown to this server');
    if (row.revoked_at !== null) throw unauthenticated('the token was revoked: create a new one with `strata tokens create`');
    const now = this.clock.now();
    if (row.expires_at !== null && Date.parse(row.expires_at) <= now) throw unauthenticated('the token has expired: create a new one with `strata tokens create`');
    if (row.disabled_at !== null) throw unauthenticated('the account is disabled');
    const bindings = await this.store.db
      .selectFrom('role_bindings')
      .select(['role', 'scope_kind', 'scope_id'])
      .where('principal_id', '=', row.principal_id)
      .execute();
    this.touch(row.token_id, now);
    const principal: Principal = {
      id: row.principal_id as PrincipalId,
      kind: row.kind as PrincipalKind,
      name: row.name,
      platformAdmin: row.platform_admin === 1,
      tokenId: row.token_id,
      bindings: bindings.map((b) => ({ role: b.role as Role, scopeKind: b.scope_kind as ScopeKind, scopeId: b.scope_id })),
      ...(row.scope === null ? {} : { scope: JSON.parse(row.scope) as TokenScope }),
    };
    if (this.authCache.size >= AUTH_CACHE_MAX) this.authCache.clear();
    this.authCache.set(hash, { principal, expiresAt: row.expires_at === null ? null : Date.parse(row.expires_at), cachedAt: now, tokenId: row.token_id });
    return principal;
  }

  /** Records last use, at most once a minute per token, off the request's critical path. */
  private touch(tokenId: string, now: number): void {
    const prev = this.lastUsedWritten.get(tokenId);
    if (prev !== undefined && now - prev < LAST_USED_RESOLUTION_MS) return;
    this.lastUsedWritten.set(tokenId, now);
    this.store.db
      .updateTable('tokens')
      .set({ last_used_at: new Date(now).toISOString() })
      .where('id', '=', tokenId)
      .execute()
      .catch(() => this.lastUsedWritten.delete(tokenId));
  }

  // ---- bootstrap ------------------------------------------------------------------------------

  /**
   * On the first start: a platform-admin user `admin` with a token, a team `default` and a project
   * `default`. Returns the token (to be shown once) or null when already bootstrapped.
   */
  async bootstrap(): Promise<{ token: string; tokenId: TokenId } | null> {
    return this.store.transaction(async (tx) => {
      await this.store.lock(tx, 'strata.bootstrap');
      const done = await tx.selectFrom('strata_meta').select('value').where('key', '=', 'bootstrapped_at').executeTakeFirst();
      if (done !== undefined) return null;
      const system: Actor = { principal: null, requestId: null };
      await tx.insertInto('strata_meta').values({ key: 'bootstrapped_at', value: this.now() }).execute();
      const admin = await this.insertPrincipal(tx, system, { kind: 'user', name: 'admin', displayName: 'Platform administrator', platformAdmin: true });
      const tok = await this.insertToken(tx, system, admin.id, 'bootstrap', null);
      const team = await this.insertTeam(tx, system, 'default');
      await this.insertProject(tx, system, 'default', team);
      return { token: tok.token, tokenId: tok.info.id };
    });
  }

  // ---- principals -----------------------------------------------------------------------------

  async createPrincipal(actor: Actor, input: { kind: PrincipalKind; name: string; displayName?: string; platformAdmin?: boolean }): Promise<PrincipalInfo> {
    parseName('principal', input.name);
    if (input.platformAdmin === true && actor.principal !== null && !actor.principal.platformAdmin) {
      throw forbidden('only a platform administrator can create another platform administrator');
    }
    return this.store.transaction((tx) => this.insertPrincipal(tx, actor, input));
  }

  private async insertPrincipal(
    tx: Tx,
    actor: Actor,
    input: { kind: PrincipalKind; name: string; displayName?: string; platformAdmin?: boolean },
  ): Promise<PrincipalInfo> {
    const info: PrincipalInfo = {
      id: this.ids.next('principal'),
      kind: input.kind,
      name: input.name,
      displayName: input.displayName ?? input.name,
      platformAdmin: input.platformAdmin ?? false,
      createdAt: this.now(),
      disabledAt: null,
    };
    try {
      await tx
        .insertInto('principals')
        .values({ id: info.id, kind: info.kind, name: info.name, display_name: info.displayName, platform_admin: info.platformAdmin ? 1 : 0, created_at: info.createdAt, disabled_at: null })
        .execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict(`a user or service account named '${info.name}' already exists; choose another name`, { name: info.name });
      throw e;
    }
    this.invalidateAuth();
    await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: `${info.kind}.create`, resource: `principal/${info.id}`, after: info, details: { name: info.name, platformAdmin: info.platformAdmin } });
    return info;
  }

  async listPrincipals(): Promise<PrincipalInfo[]> {
    const rows = await this.store.db.selectFrom('principals').selectAll().orderBy('name').execute();
    return rows.map(toPrincipalInfo);
  }

  async getPrincipalByName(name: string): Promise<PrincipalInfo> {
    const row = await this.store.db.selectFrom('principals').selectAll().where('name', '=', name).executeTakeFirst();
    if (row === undefined) throw notFound('principal', name);
    return toPrincipalInfo(row);
  }

  // ---- teams ----------------------------------------------------------------------------------

  async createTeam(actor: Actor, name: string): Promise<Team> {
    parseName('team', name);
    return this.store.transaction((tx) => this.insertTeam(tx, actor, name));
  }

  private async insertTeam(tx: Tx, actor: Actor, name: string): Promise<Team> {
    const team: Team = { id: this.ids.next('team'), name, createdAt: this.now() };
    try {
      await tx.insertInto('teams').values({ id: team.id, name, created_at: team.createdAt }).execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict(`team '${name}' already exists`, { team: name });
      throw e;
    }
    await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'team.create', resource: `team/${team.id}`, after: team, details: { name } });
    return team;
  }

  async getTeam(name: string): Promise<Team> {
    const cached = this.teamCache.get(name);
    if (cached !== undefined) return cached;
    const row = await this.store.db.selectFrom('teams').selectAll().where('name', '=', name).executeTakeFirst();
    if (row === undefined) throw notFound('team', name);
    const team: Team = { id: row.id as TeamId, name: row.name, createdAt: row.created_at };
    this.teamCache.set(name, team);
    return team;
  }

  /** Teams the principal can see: all for a platform admin; else those it holds a role in or whose projects it can see. */
  async listTeams(p: Principal): Promise<Team[]> {
    let q = this.store.db.selectFrom('teams').selectAll().orderBy('name');
    if (!p.platformAdmin) {
      const teamIds = p.bindings.filter((b) => b.scopeKind === 'team').map((b) => b.scopeId);
      const projectIds = p.bindings.filter((b) => b.scopeKind === 'project').map((b) => b.scopeId);
      q = q.where((eb) =>
        eb.or([
          eb('id', 'in', teamIds.length > 0 ? teamIds : ['']),
          eb('id', 'in', eb.selectFrom('projects').select('team_id').where('id', 'in', projectIds.length > 0 ? projectIds : [''])),
        ]),
      );
    }
    const rows = await q.execute();
    return rows.map((r) => ({ id: r.id as TeamId, name: r.name, createdAt: r.created_at }));
  }

  // ---- projects -------------------------------------------------------------------------------

  async createProject(actor: Actor, name: string, team: Team): Promise<Project> {
    parseName('project', name);
    return this.store.transaction((tx) => this.insertProject(tx, actor, name, team));
  }

  private async insertProject(tx: Tx, actor: Actor, name: string, team: Team): Promise<Project> {
    const project: Project = { id: this.ids.next('project'), name, teamId: team.id, team: team.name, createdAt: this.now() };
    try {
      await tx.insertInto('projects').values({ id: project.id, name, team_id: team.id, created_at: project.createdAt }).execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict(`project '${name}' already exists; project names are unique across the platform`, { project: name });
      throw e;
    }
    await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'project.create', resource: `project/${project.id}`, project: project.id, after: project, details: { name, team: team.name } });
    return project;
  }

  async getProject(name: string): Promise<Project> {
    const cached = this.projectCache.get(name);
    if (cached !== undefined) return cached;
    const row = await this.store.db
      .selectFrom('projects')
      .innerJoin('teams', 'teams.id', 'projects.team_id')
      .select(['projects.id', 'projects.name', 'projects.team_id', 'projects.created_at', 'teams.name as team'])
      .where('projects.name', '=', name)
      .executeTakeFirst();
    if (row === undefined) throw notFound('project', name);
    const project: Project = { id: row.id as ProjectId, name: row.name, teamId: row.team_id as TeamId, team: row.team, createdAt: row.created_at };
    this.projectCache.set(name, project);
    return project;
  }

  /** A project as the resource authorize() decides on (404 when it does not exist). */
  async projectResource(name: string): Promise<Extract<Resource, { kind: 'project' }>> {
    const p = await this.getProject(name);
    return { kind: 'project', projectId: p.id, teamId: p.teamId, name: p.name };
  }

  /** Projects the principal can see. */
  async listProjects(p: Principal, team?: Team): Promise<Project[]> {
    let q = this.store.db
      .selectFrom('projects')
      .innerJoin('teams', 'teams.id', 'projects.team_id')
      .select(['projects.id', 'projects.name', 'projects.team_id', 'projects.created_at', 'teams.name as team'])
      .orderBy('projects.name');
    if (team !== undefined) q = q.where('projects.team_id', '=', team.id);
    if (!p.platformAdmin) {
      const teamIds = p.bindings.filter((b) => b.scopeKind === 'team').map((b) => b.scopeId);
      const projectIds = p.bindings.filter((b) => b.scopeKind === 'project').map((b) => b.scopeId);
      q = q.where((eb) => eb.or([eb('projects.id', 'in', projectIds.length > 0 ? projectIds : ['']), eb('projects.team_id', 'in', teamIds.length > 0 ? teamIds : [''])]));
    }
    const rows = await q.execute();
    return rows.map((r) => ({ id: r.id as ProjectId, name: r.name, teamId: r.team_id as TeamId, team: r.team, createdAt: r.created_at }));
  }

  // ---- role bindings --------------------------------------------------------------------------

  /** Grants (or changes) `role` for a principal on a team or project; refuses escalation. */
  async grant(actor: Actor, scope: Extract<Resource, { kind: 'team' | 'project' }>, principalName: string, role: unknown): Promise<Member> {
    if (!isRole(role)) throw badRequest(`role must be one of viewer, editor, admin; got ${JSON.stringify(role)}`, { field: 'role' });
    if (actor.principal !== null) {
      const d = mayGrant(actor.principal, role, scope);
      if (!d.allow) throw forbidden(d.reason);
    }
    const target = await this.getPrincipalByName(principalName);
    const scopeId = scope.kind === 'team' ? scope.teamId : scope.projectId;
    return this.store.transaction(async (tx) => {
      const before = await findBinding(tx, target.id, scope.kind, scopeId);
      const createdAt = this.now();
      if (before === undefined) {
        await tx
          .insertInto('role_bindings')
          .values({ id: this.ids.next('binding'), principal_id: target.id, role, scope_kind: scope.kind, scope_id: scopeId, created_at: createdAt, created_by: actorId(actor) })
          .execute();
      } else {
        await tx.updateTable('role_bindings').set({ role, created_at: createdAt, created_by: actorId(actor) }).where('id', '=', before.id).execute();
      }
      const member: Member = { principalId: target.id, principal: target.name, kind: target.kind, role, createdAt };
      this.invalidateAuth();
      await this.audit.append(tx, {
        actor: actorId(actor),
        requestId: actor.requestId,
        action: `${scope.kind}.members.grant`,
        resource: `${scope.kind}/${scopeId}`,
        project: scope.kind === 'project' ? scope.projectId : null,
        before: before ?? null,
        after: member,
        details: { principal: target.name, role, previousRole: before?.role ?? null },
      });
      return member;
    });
  }

  /** Removes a principal's role on a team or project. An admin may not remove a role above their own. */
  async revokeRole(actor: Actor, scope: Extract<Resource, { kind: 'team' | 'project' }>, principalName: string): Promise<void> {
    const target = await this.getPrincipalByName(principalName);
    const scopeId = scope.kind === 'team' ? scope.teamId : scope.projectId;
    await this.store.transaction(async (tx) => {
      const before = await findBinding(tx, target.id, scope.kind, scopeId);
      if (before === undefined) throw notFound('member', principalName);
      if (actor.principal !== null && isRole(before.role)) {
        const d = mayGrant(actor.principal, before.role, scope);
        if (!d.allow) throw forbidden(`you cannot remove a ${before.role}: it is above your own role`);
      }
      await tx.deleteFrom('role_bindings').where('id', '=', before.id).execute();
      this.invalidateAuth();
      await this.audit.append(tx, {
        actor: actorId(actor),
        requestId: actor.requestId,
        action: `${scope.kind}.members.revoke`,
        resource: `${scope.kind}/${scopeId}`,
        project: scope.kind === 'project' ? scope.projectId : null,
        before,
        details: { principal: target.name, role: before.role },
      });
    });
  }

  async members(scopeKind: ScopeKind, scopeId: string): Promise<Member[]> {
    const rows = await this.store.db
      .selectFrom('role_bindings')
      .innerJoin('principals', 'principals.id', 'role_bindings.principal_id')
      .select(['principals.id', 'principals.name', 'principals.kind', 'role_bindings.role', 'role_bindings.created_at'])
      .where('scope_kind', '=', scopeKind)
      .where('scope_id', '=', scopeId)
      .orderBy('principals.name')
      .execute();
    return rows.map((r) => ({ principalId: r.id as PrincipalId, principal: r.name, kind: r.kind as PrincipalKind, role: r.role as Role, createdAt: r.created_at }));
  }

  // ---- tokens ---------------------------------------------------------------------------------

  /** Issues a token for `principalId`. `expiresInSeconds` null = no expiry. The secret is returned once. */
  async createToken(actor: Actor, principalId: PrincipalId, name: string, expiresInSeconds: number | null): Promise<{ token: string; info: TokenInfo }> {
    parseName('token', name);
    if (expiresInSeconds !== null && (!Number.isInteger(expiresInSeconds) || expiresInSeconds <= 0)) {
      throw badRequest('expiresInSeconds must be a positive whole number of seconds', { field: 'expiresInSeconds' });
    }
    return this.store.transaction((tx) => this.insertToken(tx, actor, principalId, name, expiresInSeconds));
  }

  private async insertToken(tx: Tx, actor: Actor, principalId: PrincipalId, name: string, expiresInSeconds: number | null, scope: TokenScope | null = null): Promise<{ token: string; info: TokenInfo }> {
    const t = generateToken();
    const info: TokenInfo = {
      id: this.ids.next('token'),
      principalId,
      name,
      prefix: t.displayPrefix,
      createdAt: this.now(),
      expiresAt: expiresInSeconds === null ? null : new Date(this.clock.now() + expiresInSeconds * 1000).toISOString(),
      revokedAt: null,
      lastUsedAt: null,
    };
    await tx
      .insertInto('tokens')
      .values({ id: info.id, principal_id: principalId, name, hash: t.hash, prefix: info.prefix, created_at: info.createdAt, created_by: actorId(actor), expires_at: info.expiresAt, revoked_at: null, last_used_at: null, scope: scope === null ? null : JSON.stringify(scope) })
      .execute();
    // The audit entry records the token's id and prefix, never the secret or its hash.
    await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'token.create', resource: `principal/${principalId}`, after: info, details: { tokenId: info.id, name, expiresAt: info.expiresAt, ...(scope === null ? {} : { scope }) } });
    return { token: t.token, info };
  }

  /**
   * A token limited to `scope` (e.g. one job attempt's run), owned by the built-in service account
   * `strata-jobs`, which holds no roles: the token can do only what its scope allows. Revoke it
   * (revokeToken) when the work it was made for ends; it also expires.
   */
  async createScopedToken(actor: Actor, scope: TokenScope, name: string, expiresInSeconds: number): Promise<{ token: string; info: TokenInfo }> {
    parseName('token', name);
    return this.store.transaction(async (tx) => {
      let owner = await tx.selectFrom('principals').select(['id', 'kind', 'platform_admin']).where('name', '=', SCOPED_TOKEN_OWNER).executeTakeFirst();
      if (owner !== undefined) {
        // The owner must be the role-less service account made here, not an account someone named so.
        const roles = await tx.selectFrom('role_bindings').select('id').where('principal_id', '=', owner.id).executeTakeFirst();
        if (owner.kind !== 'service_account' || owner.platform_admin !== 0 || roles !== undefined) {
          throw new StrataError('conflict', `the account name '${SCOPED_TOKEN_OWNER}' is reserved for job tokens but belongs to an account with roles; rename or disable that account`);
        }
      } else {
        const id = this.ids.next('principal');
        await tx
          .insertInto('principals')
          .values({ id, kind: 'service_account', name: SCOPED_TOKEN_OWNER, display_name: 'Strata job attempts (scoped tokens only)', platform_admin: 0, created_at: this.now(), disabled_at: null })
          .execute();
        await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'principal.create', resource: `principal/${id}`, details: { kind: 'service_account', name: SCOPED_TOKEN_OWNER } });
        owner = { id, kind: 'service_account', platform_admin: 0 };
      }
      return this.insertToken(tx, actor, owner.id as PrincipalId, name, expiresInSeconds, scope);
    });
  }

  /** Revokes every unrevoked token issued for exactly this scope; returns how many. */
  async revokeScopedTokens(actor: Actor, scope: TokenScope): Promise<number> {
    const key = JSON.stringify(scope);
    return this.store.transaction(async (tx) => {
      const live = await tx.selectFrom('tokens').select(['id', 'principal_id']).where('scope', '=', key).where('revoked_at', 'is', null).execute();
      const revokedAt = this.now();
      for (const t of live) {
        await tx.updateTable('tokens').set({ revoked_at: revokedAt }).where('id', '=', t.id).execute();
        await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'token.revoke', resource: `principal/${t.principal_id}`, details: { tokenId: t.id, scope } });
      }
      if (live.length > 0) this.invalidateAuth();
      return live.length;
    });
  }

  async listTokens(principalId: PrincipalId): Promise<TokenInfo[]> {
    const rows = await this.store.db.selectFrom('tokens').selectAll().where('principal_id', '=', principalId).orderBy('created_at').execute();
    return rows.map(toTokenInfo);
  }

  async getToken(id: string): Promise<TokenInfo> {
    const row = await this.store.db.selectFrom('tokens').selectAll().where('id', '=', id).executeTakeFirst();
    if (row === undefined) throw notFound('token', id);
    return toTokenInfo(row);
  }

  async revokeToken(actor: Actor, id: string): Promise<TokenInfo> {
    return this.store.transaction(async (tx) => {
      const before = await tx.selectFrom('tokens').selectAll().where('id', '=', id).executeTakeFirst();
      if (before === undefined) throw notFound('token', id);
      if (before.revoked_at !== null) return toTokenInfo(before);
      const revokedAt = this.now();
      await tx.updateTable('tokens').set({ revoked_at: revokedAt }).where('id', '=', id).execute();
      this.invalidateAuth();
      const after = { ...toTokenInfo(before), revokedAt };
      await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'token.revoke', resource: `principal/${before.principal_id}`, before: toTokenInfo(before), after, details: { tokenId: id } });
      return after;
    });
  }
}

/** The project an authorised project resource names (for services that take a Project). */
export function projectOfResource(r: Resource): Project {
  if (r.kind !== 'project') throw new StrataError('internal', `expected a project resource, got ${r.kind}`);
  return { id: r.projectId, teamId: r.teamId, name: r.name, team: '', createdAt: '' };
}

function findBinding(tx: Tx, principalId: string, scopeKind: ScopeKind, scopeId: string) {
  return tx.selectFrom('role_bindings').selectAll().where('principal_id', '=', principalId).where('scope_kind', '=', scopeKind).where('scope_id', '=', scopeId).executeTakeFirst();
}

function toPrincipalInfo(r: { id: string; kind: string; name: string; display_name: string; platform_admin: number; created_at: string; disabled_at: string | null }): PrincipalInfo {
  return { id: r.id as PrincipalId, kind: r.kind as PrincipalKind, name: r.name, displayName: r.display_name, platformAdmin: r.platform_admin === 1, createdAt: r.created_at, disabledAt: r.disabled_at };
}

function toTokenInfo(r: { id: string; principal_id: string; name: string; prefix: string; created_at: string; expires_at: string | null; revoked_at: string | null; last_used_at: string | null }): TokenInfo {
  return { id: r.id as TokenId, principalId: r.principal_id as PrincipalId, name: r.name, prefix: r.prefix, createdAt: r.created_at, expiresAt: r.expires_at, revokedAt: r.revoked_at, lastUsedAt: r.last_used_at };
}
