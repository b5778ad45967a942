// Table types for Kysely. Times are ISO-8601 text in both databases (sortable, identical on the
// wire); booleans are integers 0/1 so one schema serves SQLite and PostgreSQL.
import type { Generated } from 'kysely';

export interface MetaTable {
  key: string;
  value: string;
}

export interface TeamsTable {
  id: string;
  name: string;
  created_at: string;
}

export interface ProjectsTable {
  id: string;
  name: string;
  team_id: string;
  created_at: string;
}

export interface PrincipalsTable {
  id: string;
  kind: string; // 'user' | 'service_account' | 'node'
  name: string;
  display_name: string;
  platform_admin: number;
  created_at: string;
  disabled_at: string | null;
}

export interface TokensTable {
  id: string;
  principal_id: string;
  name: string;
  hash: string;
  prefix: string;
  created_at: string;
  created_by: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
}

export interface RoleBindingsTable {
  id: string;
  principal_id: string;
  role: string; // 'viewer' | 'editor' | 'admin'
  scope_kind: string; // 'team' | 'project'
  scope_id: string;
  created_at: string;
  created_by: string;
}

export interface AuditEventsTable {
  seq: number;
  v: number;
  time: string;
  actor: string;
  action: string;
  resource: string;
  project: string | null;
  outcome: string;
  request_id: string | null;
  before_hash: string | null;
  after_hash: string | null;
  details: string; // JSON
  leaf_hash: string; // hex
}

export interface SecretsTable {
  project_id: string;
  name: string;
  version: number;
  ciphertext: string | null; // null once destroyed
  wrapped_key: string | null;
  kek_version: number;
  created_at: string;
  created_by: string;
  destroyed_at: string | null;
}

export interface Database {
  strata_meta: MetaTable;
  teams: TeamsTable;
  projects: ProjectsTable;
  principals: PrincipalsTable;
  tokens: TokensTable;
  role_bindings: RoleBindingsTable;
  audit_events: AuditEventsTable;
  secrets: SecretsTable;
}

/** Marker so unused-import lint does not strip Generated when a later table needs it. */
export type _Generated<T> = Generated<T>;
