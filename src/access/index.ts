// Access: principals, tokens, teams, projects, roles, authorize(), the audit log, secrets.
export * from './model.ts';
export { POLICY, authorize, mayGrant, effectiveRole, canSee, isAction } from './authorize.ts';
export type { Action } from './authorize.ts';
export { AccessService, projectOfResource } from './access-service.ts';
export type { Actor, Team, Project, PrincipalInfo, TokenInfo, Member } from './access-service.ts';
export { AuditLog } from './audit-log.ts';
export type { AuditInput } from './audit-log.ts';
export { SecretsService, MAX_SECRET_BYTES } from './secrets-service.ts';
export type { SecretInfo, SecretVersionInfo } from './secrets-service.ts';
export { generateToken, hashToken, looksLikeToken, TOKEN_PREFIX } from './tokens.ts';
export * as audit from './audit/index.ts';
export * as secrets from './secrets/index.ts';
export * from './route.ts';
export { accessRoutes } from './routes.ts';
export type { AccessRoutesDeps } from './routes.ts';
