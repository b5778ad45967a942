// The one authorisation decision point (OPA-style: decision separate from enforcement). Pure: it
// takes the principal with its bindings, an action and a resource, and returns a Decision. Every
// HTTP route reaches it through the gate in api/ (deny by default); the policy table is data and
// is tested as data.
import type { Decision, Principal, Resource, Role, TokenScope } from './model.ts';
import { roleRank } from './model.ts';

/**
 * Each action names the resource kind it applies to and the least role that allows it there.
 * `platform-admin` actions need the platform-admin flag; `authenticated` ones only a valid token;
 * `self` ones apply to the caller's own principal (or to anyone for a platform admin).
 */
export const POLICY = {
  'team.list': { on: 'platform', need: 'authenticated' },
  'team.create': { on: 'platform', need: 'platform-admin' },
  'team.read': { on: 'team', need: 'viewer' },
  'team.members.read': { on: 'team', need: 'viewer' },
  'team.members.write': { on: 'team', need: 'admin' },
  'project.list': { on: 'platform', need: 'authenticated' },
  'project.create': { on: 'team', need: 'admin' },
  'project.read': { on: 'project', need: 'viewer' },
  'project.members.read': { on: 'project', need: 'viewer' },
  'project.members.write': { on: 'project', need: 'admin' },
  'secret.list': { on: 'project', need: 'viewer' },
  'secret.write': { on: 'project', need: 'editor' },
  'secret.reveal': { on: 'project', need: 'editor' },
  'secret.destroy': { on: 'project', need: 'admin' },
  'secret.keys.rotate': { on: 'platform', need: 'platform-admin' },
  'principal.list': { on: 'platform', need: 'platform-admin' },
  'principal.create': { on: 'platform', need: 'platform-admin' },
  'principal.read': { on: 'principal', need: 'self' },
  'token.list': { on: 'principal', need: 'self' },
  'token.create': { on: 'principal', need: 'self' },
  'token.revoke': { on: 'principal', need: 'self' },
  'audit.read': { on: 'platform', need: 'platform-admin' },
  'job.list': { on: 'project', need: 'viewer' },
  'job.read': { on: 'project', need: 'viewer' },
  'job.submit': { on: 'project', need: 'editor' },
  'job.cancel': { on: 'project', need: 'editor' },
  'experiment.read': { on: 'project', need: 'viewer' },
  'experiment.write': { on: 'project', need: 'editor' },
  'model.read': { on: 'project', need: 'viewer' },
  'model.write': { on: 'project', need: 'editor' },
  'model.gates.write': { on: 'project', need: 'admin' },
  'node.list': { on: 'platform', need: 'authenticated' },
  'carbon.read': { on: 'platform', need: 'authenticated' },
  'node.create': { on: 'platform', need: 'platform-admin' },
  'node.drain': { on: 'platform', need: 'platform-admin' },
  'node.reclaim': { on: 'platform', need: 'platform-admin' },
  'agent.register': { on: 'platform', need: 'node' },
  'agent.work': { on: 'node', need: 'node-self' },
  'audit.checkpoint': { on: 'platform', need: 'platform-admin' },
  'blobs.gc': { on: 'platform', need: 'platform-admin' },
} as const satisfies Record<string, { on: Resource['kind']; need: Need }>;

/**
 * `node`: only node identities (agents); `node-self`: the node identity that registered the node.
 * Node identities may do nothing else, and user tokens may not do agent work.
 */
type Need = Role | 'authenticated' | 'platform-admin' | 'self' | 'node' | 'node-self';

export type Action = keyof typeof POLICY;

export function isAction(s: string): s is Action {
  return Object.hasOwn(POLICY, s);
}

/** The caller's effective role on a team or project (team roles flow down to the team's projects). */
export function effectiveRole(p: Principal, r: Resource): Role | null {
  let best: Role | null = null;
  const consider = (role: Role): void => {
    if (best === null || roleRank(role) > roleRank(best)) best = role;
  };
  for (const b of p.bindings) {
    if (r.kind === 'team' && b.scopeKind === 'team' && b.scopeId === r.teamId) consider(b.role);
    if (r.kind === 'project') {
      if (b.scopeKind === 'project' && b.scopeId === r.projectId) consider(b.role);
      if (b.scopeKind === 'team' && b.scopeId === r.teamId) consider(b.role);
    }
  }
  return best;
}

/** True when the principal can see that the resource exists at all. */
export function canSee(p: Principal, r: Resource): boolean {
  if (p.platformAdmin) return true;
  switch (r.kind) {
    case 'platform':
      return true;
    case 'principal':
      return r.principalId === p.id;
    case 'node':
      return r.principalId === p.id;
    case 'team':
      // A member of any project in the team can see the team's name: callers pass such bindings in.
      return effectiveRole(p, r) !== null || p.bindings.some((b) => b.scopeKind === 'team' && b.scopeId === r.teamId);
    case 'project':
      return effectiveRole(p, r) !== null;
  }
}

const ALLOW: Decision = { allow: true };

/** Decides whether `p` may perform `action` on `r`. Deny by default. */
/** What a run-scoped token may do: tracking reads and writes in its own project (the run itself is checked where runs are resolved). */
const RUN_SCOPED_ACTIONS: ReadonlySet<Action> = new Set<Action>(['experiment.read', 'experiment.write']);

function authorizeScoped(scope: TokenScope, action: Action, r: Resource): Decision {
  if (!RUN_SCOPED_ACTIONS.has(action)) return { allow: false, reason: `this token is limited to logging to run ${scope.runId}; ${action} needs a user or service-account token`, hide: false };
  if (r.kind !== 'project' || r.projectId !== scope.projectId) return { allow: false, reason: `this token is limited to run ${scope.runId}`, hide: true };
  return ALLOW;
}

export function authorize(p: Principal, action: Action, r: Resource): Decision {
  const rule: { on: Resource['kind']; need: Need } = POLICY[action];
  if (rule.on !== r.kind) {
    return { allow: false, reason: `action ${action} does not apply to a ${r.kind}`, hide: false };
  }
  // Agent routes refuse user tokens and user routes refuse node tokens — platform admins included.
  const agentAction = rule.need === 'node' || rule.need === 'node-self';
  if (agentAction !== (p.kind === 'node')) {
    return { allow: false, reason: agentAction ? `${action} is for agents: use a node token` : `node tokens may only be used by agents, not for ${action}`, hide: false };
  }
  if (p.scope !== undefined) return authorizeScoped(p.scope, action, r);
  if (p.platformAdmin) return ALLOW;
  switch (rule.need) {
    case 'node':
      return ALLOW;
    case 'node-self':
      return r.kind === 'node' && r.principalId === p.id ? ALLOW : { allow: false, reason: `${action}: this node belongs to another agent`, hide: true };
    case 'authenticated':
      return ALLOW;
    case 'platform-admin':
      return { allow: false, reason: `${action} needs a platform administrator`, hide: false };
    case 'self':
      return r.kind === 'principal' && r.principalId === p.id
        ? ALLOW
        : { allow: false, reason: `${action} is only allowed on your own account`, hide: true };
    case 'viewer':
    case 'editor':
    case 'admin': {
      const have = effectiveRole(p, r);
      if (have === null) return { allow: false, reason: `no role on ${r.kind} ${'name' in r ? r.name : ''}`.trim(), hide: true };
      if (roleRank(have) >= roleRank(rule.need)) return ALLOW;
      return { allow: false, reason: `${action} needs role ${rule.need} on ${r.kind} ${'name' in r ? r.name : ''}; you have ${have}`, hide: false };
    }
  }
}

/**
 * Privilege-escalation guard (Kubernetes RBAC rule): the grantor must already hold at least the
 * role being granted at that scope. Platform admins may grant anything.
 */
export function mayGrant(grantor: Principal, role: Role, scope: Resource): Decision {
  if (grantor.platformAdmin) return ALLOW;
  const have = effectiveRole(grantor, scope);
  if (have !== null && roleRank(have) >= roleRank(role)) return ALLOW;
  return { allow: false, reason: `you cannot grant ${role}: it is above your own role (${have ?? 'none'}) on this ${scope.kind}`, hide: false };
}
