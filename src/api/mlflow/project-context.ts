// Which Strata project an MLflow call is for. MLflow has no projects: a run-scoped token (a job
// attempt's) is bound to its project; otherwise the `x-strata-project` header names it; otherwise
// the caller's only project. Shared by the tracking, logged-model and registry endpoints.
import type { AccessService, Principal, Resource } from '../../access/index.ts';
import { StrataError, badRequest } from '../../kernel/index.ts';
import type { TrackingService } from '../../tracking/index.ts';
import type { MlflowInput } from './protocol.ts';
import { headerOf } from './protocol.ts';

export const PROJECT_HEADER = 'x-strata-project';

export type ProjectResource = Extract<Resource, { kind: 'project' }>;

export interface ProjectContext {
  /** The project resource of a project id (404 when there is none). */
  readonly resourceOf: (projectId: string) => Promise<ProjectResource>;
  /** The project of a call that names no run, experiment or model. */
  readonly contextProject: (input: MlflowInput, principal: Principal) => Promise<ProjectResource>;
}

export function projectContext(access: AccessService, tracking: TrackingService): ProjectContext {
  const resourceOf = async (projectId: string): Promise<ProjectResource> => {
    const p = await tracking.project(projectId);
    if (p === undefined) throw new StrataError('not_found', `project '${projectId}' was not found (or you cannot see it)`);
    return { kind: 'project', projectId: p.projectId, teamId: p.teamId, name: p.name };
  };
  const contextProject = async (input: MlflowInput, principal: Principal): Promise<ProjectResource> => {
    if (principal.scope !== undefined) return resourceOf(principal.scope.projectId);
    const named = headerOf(input, PROJECT_HEADER);
    if (named !== undefined && named !== '') return access.projectResource(named);
    const projects = [...new Set(principal.bindings.filter((b) => b.scopeKind === 'project').map((b) => b.scopeId))];
    if (projects.length === 1) return resourceOf(projects[0] as string);
    throw badRequest(
      projects.length === 0
        ? `Which Strata project is this for? Send the '${PROJECT_HEADER}' header, or use the token of a service account with a role on exactly one project`
        : `This token has roles on ${projects.length} projects: send the '${PROJECT_HEADER}' header to say which one`,
    );
  };
  return { resourceOf, contextProject };
}
