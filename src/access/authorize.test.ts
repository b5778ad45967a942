// The policy table tested as data: every action × role × scope.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { POLICY, authorize, mayGrant, effectiveRole } from './authorize.ts';
import type { Action } from './authorize.ts';
import type { Principal, Resource, RoleBinding } from './model.ts';
import { ROLES, roleRank } from './model.ts';
import type { NodeId, PrincipalId, ProjectId, TeamId } from '../kernel/index.ts';

const team: Resource = { kind: 'team', teamId: 't1' as TeamId, name: 'ml' };
const otherTeam: Resource = { kind: 'team', teamId: 't2' as TeamId, name: 'other' };
const project: Resource = { kind: 'project', projectId: 'p1' as ProjectId, teamId: 't1' as TeamId, name: 'vision' };
const otherProject: Resource = { kind: 'project', projectId: 'p2' as ProjectId, teamId: 't2' as TeamId, name: 'secret-stuff' };
const sibling: Resource = { kind: 'project', projectId: 'p3' as ProjectId, teamId: 't1' as TeamId, name: 'nlp' };

const who = (bindings: RoleBinding[], platformAdmin = false): Principal => ({ id: 'u1' as PrincipalId, kind: 'user', name: 'u', platformAdmin, bindings, tokenId: null });

test('every action in the policy names a resource kind and a requirement', () => {
  for (const [action, rule] of Object.entries(POLICY)) {
    assert.ok(['platform', 'team', 'project', 'principal', 'node'].includes(rule.on), action);
    assert.ok(['authenticated', 'platform-admin', 'self', 'node', 'node-self', ...ROLES].includes(rule.need), action);
  }
});

test('project role matrix: allowed exactly when the role reaches the requirement', () => {
  for (const [action, rule] of Object.entries(POLICY) as [Action, (typeof POLICY)[Action]][]) {
    if (rule.on !== 'project') continue;
    for (const role of ROLES) {
      const d = authorize(who([{ role, scopeKind: 'project', scopeId: 'p1' }]), action, project);
      const expected: boolean = roleRank(role) >= roleRank(rule.need);
      assert.equal(d.allow, expected, `${role} ${action}`);
      if (!d.allow) assert.equal(d.hide, false, 'a member who lacks the role sees 403, not 404');
      // The same binding never reaches another team's project, and that denial hides existence.
      const other = authorize(who([{ role, scopeKind: 'project', scopeId: 'p1' }]), action, otherProject);
      assert.equal(other.allow, false);
      assert.equal(!other.allow && other.hide, true, 'cross-project access answers 404');
      // A project role does not leak to a sibling project of the same team.
      assert.equal(authorize(who([{ role, scopeKind: 'project', scopeId: 'p1' }]), action, sibling).allow, false);
    }
  }
});

test('team roles flow down to the team\'s projects but not to other teams', () => {
  const p = who([{ role: 'editor', scopeKind: 'team', scopeId: 't1' }]);
  assert.equal(effectiveRole(p, project), 'editor');
  assert.equal(effectiveRole(p, sibling), 'editor');
  assert.equal(effectiveRole(p, otherProject), null);
  assert.equal(authorize(p, 'secret.write', project).allow, true);
  assert.equal(authorize(p, 'secret.destroy', project).allow, false);
  assert.equal(authorize(p, 'team.members.write', team).allow, false);
  assert.equal(authorize(p, 'team.read', otherTeam).allow, false);
});

test('the highest binding wins when a principal has several', () => {
  const p = who([
    { role: 'viewer', scopeKind: 'team', scopeId: 't1' },
    { role: 'admin', scopeKind: 'project', scopeId: 'p1' },
  ]);
  assert.equal(effectiveRole(p, project), 'admin');
  assert.equal(effectiveRole(p, sibling), 'viewer');
});

test('platform-admin actions need the flag; a team admin is not enough', () => {
  const teamAdmin = who([{ role: 'admin', scopeKind: 'team', scopeId: 't1' }]);
  for (const action of ['team.create', 'principal.create', 'principal.list', 'audit.read', 'audit.checkpoint', 'secret.keys.rotate'] as const) {
    assert.equal(authorize(teamAdmin, action, { kind: 'platform' }).allow, false, action);
    assert.equal(authorize(who([], true), action, { kind: 'platform' }).allow, true, action);
  }
});

test('self actions apply only to the caller (or anyone, for a platform admin)', () => {
  const p = who([]);
  const mine: Resource = { kind: 'principal', principalId: 'u1' as PrincipalId };
  const theirs: Resource = { kind: 'principal', principalId: 'u2' as PrincipalId };
  assert.equal(authorize(p, 'token.create', mine).allow, true);
  const d = authorize(p, 'token.create', theirs);
  assert.equal(d.allow, false);
  assert.equal(!d.allow && d.hide, true);
  assert.equal(authorize(who([], true), 'token.revoke', theirs).allow, true);
});

test('an action applied to the wrong kind of resource is denied', () => {
  assert.equal(authorize(who([], true), 'secret.write', team).allow, false);
});

test('nobody grants a role above their own (escalation guard)', () => {
  for (const have of ROLES) {
    for (const grant of ROLES) {
      const d = mayGrant(who([{ role: have, scopeKind: 'project', scopeId: 'p1' }]), grant, project);
      assert.equal(d.allow, roleRank(grant) <= roleRank(have), `${have} granting ${grant}`);
      assert.equal(mayGrant(who([{ role: have, scopeKind: 'project', scopeId: 'p1' }]), grant, otherProject).allow, false);
    }
  }
  assert.equal(mayGrant(who([], true), 'admin', otherProject).allow, true);
});

test('agent actions need a node identity; node identities can do nothing else', () => {
  const node: Principal = { id: 'n1' as PrincipalId, kind: 'node', name: 'gpu-01', platformAdmin: false, bindings: [], tokenId: null };
  const mine: Resource = { kind: 'node', nodeId: 'node_1' as NodeId, principalId: 'n1' as PrincipalId };
  const theirs: Resource = { kind: 'node', nodeId: 'node_2' as NodeId, principalId: 'n2' as PrincipalId };
  assert.equal(authorize(node, 'agent.register', { kind: 'platform' }).allow, true);
  assert.equal(authorize(node, 'agent.work', mine).allow, true);
  const other = authorize(node, 'agent.work', theirs);
  assert.equal(other.allow, false);
  // Users — even platform admins — cannot act as agents, and agents cannot act as users.
  assert.equal(authorize(who([], true), 'agent.register', { kind: 'platform' }).allow, false);
  assert.equal(authorize(who([], true), 'agent.work', mine).allow, false);
  for (const [action, rule] of Object.entries(POLICY) as [Action, (typeof POLICY)[Action]][]) {
    if (rule.need === 'node' || rule.need === 'node-self') continue;
    const on: string = rule.on;
    const r: Resource = on === 'project' ? project : on === 'team' ? team : on === 'principal' ? { kind: 'principal', principalId: 'n1' as PrincipalId } : { kind: 'platform' };
    assert.equal(authorize({ ...node, platformAdmin: true }, action, r).allow, false, `node token used for ${action}`);
  }
});

test('a run-scoped token may only read and write tracking data in its own project, whatever its owner may do', () => {
  const scope = { kind: 'run' as const, projectId: 'p1' as ProjectId, runId: 'r1' };
  // Even a platform admin's scoped token is limited to its scope.
  for (const admin of [false, true]) {
    const p: Principal = { ...who([{ role: 'admin', scopeKind: 'team', scopeId: 't1' }], admin), scope };
    for (const action of Object.keys(POLICY) as Action[]) {
      const rule = POLICY[action];
      const r: Resource = rule.on === 'project' ? project : rule.on === 'team' ? team : rule.on === 'principal' ? { kind: 'principal', principalId: 'u1' as PrincipalId } : rule.on === 'node' ? { kind: 'node', nodeId: 'n1' as NodeId, principalId: 'u1' as PrincipalId } : { kind: 'platform' };
      const d = authorize(p, action, r);
      const expected = (action === 'experiment.read' || action === 'experiment.write') && rule.on === 'project';
      assert.equal(d.allow, expected, `${action} (admin ${String(admin)})`);
    }
    const elsewhere = authorize(p, 'experiment.write', sibling);
    assert.equal(elsewhere.allow, false);
    assert.equal(!elsewhere.allow && elsewhere.hide, true, 'another project answers 404');
  }
});
