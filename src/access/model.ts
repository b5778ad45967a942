// Access model: who (principals), on what (resources), may do which action, by which role.
import type { NodeId, PrincipalId, ProjectId, TeamId } from '../kernel/index.ts';

export const ROLES = ['viewer', 'editor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export const PRINCIPAL_KINDS = ['user', 'service_account', 'node'] as const;
export type PrincipalKind = (typeof PRINCIPAL_KINDS)[number];

export type ScopeKind = 'team' | 'project';

export interface RoleBinding {
  readonly role: Role;
  readonly scopeKind: ScopeKind;
  readonly scopeId: string;
}

/**
 * What a scoped token may reach instead of its principal's roles: `run` — read the project's
 * experiments and runs and write to this one run (the token a job attempt gets for MLflow).
 */
export interface TokenScope {
  readonly kind: 'run';
  readonly projectId: ProjectId;
  readonly runId: string;
}

/** An authenticated caller with everything authorize() needs to decide. */
export interface Principal {
  readonly id: PrincipalId;
  readonly kind: PrincipalKind;
  readonly name: string;
  readonly platformAdmin: boolean;
  readonly bindings: readonly RoleBinding[];
  /** The token this request came with (for "revoke my own token" and audit). */
  readonly tokenId: string | null;
  /** Set when the token is scoped: it may act only within this scope, whatever the principal's roles. */
  readonly scope?: TokenScope;
}

/** What an action is about. Project resources carry their team so team roles apply to them. */
export type Resource =
  | { readonly kind: 'platform' }
  | { readonly kind: 'team'; readonly teamId: TeamId; readonly name: string }
  | { readonly kind: 'project'; readonly projectId: ProjectId; readonly teamId: TeamId; readonly name: string }
  | { readonly kind: 'principal'; readonly principalId: PrincipalId }
  /** A registered machine; `principalId` is the node identity that registered it. */
  | { readonly kind: 'node'; readonly nodeId: NodeId; readonly principalId: PrincipalId };

export function roleRank(role: Role): number {
  return ROLES.indexOf(role);
}

export function isRole(s: unknown): s is Role {
  return typeof s === 'string' && (ROLES as readonly string[]).includes(s);
}

/** A decision is data: allow, or deny with the reason and whether to hide existence (404). */
export type Decision =
  | { readonly allow: true }
  | { readonly allow: false; readonly reason: string; readonly hide: boolean };

/** Describes a resource for audit records and messages: `project/prj_x`. */
export function resourceKey(r: Resource): string {
  switch (r.kind) {
    case 'platform':
      return 'platform';
    case 'team':
      return `team/${r.teamId}`;
    case 'project':
      return `project/${r.projectId}`;
    case 'principal':
      return `principal/${r.principalId}`;
    case 'node':
      return `node/${r.nodeId}`;
  }
}
