// Per-project secrets over the store: versioned values sealed with envelope AES-256-GCM
// (secrets/envelope.ts), check-and-set writes (Vault KV v2 `cas`: a lost update is a 409, never a
// silent overwrite), audited reveals, permanent destroy, master-key rotation and rewrap. Values never
// reach logs, error bodies or audit entries: the audit records names and versions only.
import type { Clock } from '../kernel/index.ts';
import { StrataError, badRequest, conflict, notFound, parseName } from '../kernel/index.ts';
import type { PrecompiledQuery, Store } from '../store/index.ts';
import { isUniqueViolation, precompile } from '../store/index.ts';
import type { Actor, Project } from './access-service.ts';
import type { AuditLog } from './audit-log.ts';
import type { Keyring, KeyringSource } from './secrets/index.ts';
import { open, persistKeyring, rewrap, rotate, seal, setMinDecryptionVersion } from './secrets/index.ts';

export const MAX_SECRET_BYTES = 64 * 1024;

export interface SecretVersionInfo {
  readonly version: number;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly destroyed: boolean;
}
export interface SecretInfo {
  readonly name: string;
  readonly currentVersion: number;
  readonly updatedAt: string;
  readonly destroyed: boolean;
  readonly versions?: readonly SecretVersionInfo[];
}

const actorId = (a: Actor): string => a.principal?.id ?? 'system';

export class SecretsService {
  /** The two statements of every write, compiled once (the write path is hot: see bench/api.ts). */
  private readonly currentVersion: PrecompiledQuery<'project' | 'name', { v: number | string | null }>;
  private readonly insertVersion: PrecompiledQuery<'project_id' | 'name' | 'version' | 'ciphertext' | 'wrapped_key' | 'kek_version' | 'created_at' | 'created_by', unknown>;

  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    private keyring: Keyring,
    private readonly keyringSource: KeyringSource,
  ) {
    this.currentVersion = precompile(store.db, ['project', 'name'] as const, (db, p) =>
      db.selectFrom('secrets').select((eb) => eb.fn.max('version').as('v')).where('project_id', '=', p.project).where('name', '=', p.name),
    );
    this.insertVersion = precompile(store.db, ['project_id', 'name', 'version', 'ciphertext', 'wrapped_key', 'kek_version', 'created_at', 'created_by'] as const, (db, p) =>
      db.insertInto('secrets').values({ ...p, destroyed_at: null }),
    );
  }

  get keyVersion(): number {
    return this.keyring.current;
  }

  /**
   * Writes a new version. `expectedVersion` (check-and-set) must equal the current version
   * (0 = the secret must not exist yet); without it the write always appends.
   */
  async put(actor: Actor, project: Project, name: string, value: string, expectedVersion?: number): Promise<SecretInfo> {
    parseName('secret', name);
    if (typeof value !== 'string') throw badRequest('value must be a string', { field: 'value' });
    const bytes = Buffer.from(value, 'utf8');
    if (bytes.length > MAX_SECRET_BYTES) throw badRequest(`the value is ${bytes.length} bytes; secrets hold at most ${MAX_SECRET_BYTES} bytes`, { field: 'value' });
    try {
      return await this.store.transaction(async (tx) => {
        const cur = (await this.currentVersion(tx, { project: project.id, name })).rows[0];
        const current = cur?.v === null || cur?.v === undefined ? 0 : Number(cur.v);
        if (expectedVersion !== undefined && expectedVersion !== current) {
          throw conflict(`secret '${name}' is at version ${current}, not ${expectedVersion}: read it again and retry with the current version`, { currentVersion: current });
        }
        const version = current + 1;
        const sealed = seal(this.keyring, bytes, { project: project.id, name, version });
        const createdAt = new Date(this.clock.now()).toISOString();
        await this.insertVersion(tx, { project_id: project.id, name, version, ciphertext: sealed.ciphertext, wrapped_key: sealed.wrappedKey, kek_version: sealed.kekVersion, created_at: createdAt, created_by: actorId(actor) });
        await this.audit.append(tx, {
          actor: actorId(actor),
          requestId: actor.requestId,
          action: 'secret.write',
          resource: `project/${project.id}/secret/${name}`,
          project: project.id,
          details: { name, version, kekVersion: sealed.kekVersion },
        });
        return { name, currentVersion: version, updatedAt: createdAt, destroyed: false };
      });
    } catch (e) {
      // Two writers computed the same next version: exactly one insert wins.
      if (isUniqueViolation(e)) throw conflict(`secret '${name}' was changed concurrently; read it again and retry`, {});
      throw e;
    } finally {
      bytes.fill(0);
    }
  }

  async list(project: Project): Promise<SecretInfo[]> {
    const rows = await this.store.db
      .selectFrom('secrets')
      .select(['name', 'version', 'created_at', 'destroyed_at'])
      .where('project_id', '=', project.id)
      .orderBy('name')
      .orderBy('version')
      .execute();
    const byName = new Map<string, SecretInfo>();
    for (const r of rows) byName.set(r.name, { name: r.name, currentVersion: Number(r.version), updatedAt: r.created_at, destroyed: r.destroyed_at !== null });
    return [...byName.values()];
  }

  async describe(project: Project, name: string): Promise<SecretInfo> {
    const rows = await this.store.db
      .selectFrom('secrets')
      .select(['version', 'created_at', 'created_by', 'destroyed_at'])
      .where('project_id', '=', project.id)
      .where('name', '=', name)
      .orderBy('version')
      .execute();
    const last = rows.at(-1);
    if (last === undefined) throw notFound('secret', name);
    return {
      name,
      currentVersion: Number(last.version),
      updatedAt: last.created_at,
      destroyed: last.destroyed_at !== null,
      versions: rows.map((r) => ({ version: Number(r.version), createdAt: r.created_at, createdBy: r.created_by, destroyed: r.destroyed_at !== null })),
    };
  }

  /** Decrypts a version (the latest by default). Every reveal is audited. */
  async reveal(actor: Actor, project: Project, name: string, version?: number): Promise<{ name: string; version: number; value: string }> {
    let q = this.store.db.selectFrom('secrets').selectAll().where('project_id', '=', project.id).where('name', '=', name);
    q = version === undefined ? q.orderBy('version', 'desc').limit(1) : q.where('version', '=', version);
    const row = await q.executeTakeFirst();
    if (row === undefined) throw notFound('secret', version === undefined ? name : `${name}@${version}`);
    if (row.ciphertext === null || row.wrapped_key === null) {
      throw new StrataError('not_found', `secret '${name}' version ${row.version} was destroyed`, { details: { name, version: Number(row.version) } });
    }
    const plain = open(this.keyring, { ciphertext: row.ciphertext, wrappedKey: row.wrapped_key }, { project: project.id, name, version: Number(row.version) });
    try {
      await this.audit.appendAlone({
        actor: actorId(actor),
        requestId: actor.requestId,
        action: 'secret.reveal',
        resource: `project/${project.id}/secret/${name}`,
        project: project.id,
        details: { name, version: Number(row.version) },
      });
      return { name, version: Number(row.version), value: plain.toString('utf8') };
    } finally {
      plain.fill(0);
    }
  }

  /** Permanently wipes the ciphertext of every version (metadata stays, so numbering continues). */
  async destroy(actor: Actor, project: Project, name: string): Promise<SecretInfo> {
    return this.store.transaction(async (tx) => {
      const rows = await tx.selectFrom('secrets').select(['version']).where('project_id', '=', project.id).where('name', '=', name).execute();
      if (rows.length === 0) throw notFound('secret', name);
      const now = new Date(this.clock.now()).toISOString();
      await tx
        .updateTable('secrets')
        .set({ ciphertext: null, wrapped_key: null, destroyed_at: now })
        .where('project_id', '=', project.id)
        .where('name', '=', name)
        .where('destroyed_at', 'is', null)
        .execute();
      const max = Math.max(...rows.map((r) => Number(r.version)));
      await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'secret.destroy', resource: `project/${project.id}/secret/${name}`, project: project.id, details: { name, versions: rows.length } });
      return { name, currentVersion: max, updatedAt: now, destroyed: true };
    });
  }

  /** Adds a new master-key version for new seals. Needs a file-backed keyring (env keys are the operator's to rotate). */
  async rotateKey(actor: Actor): Promise<{ keyVersion: number }> {
    const path = this.keyringPath();
    const next = rotate(this.keyring);
    persistKeyring(next, path);
    this.keyring = next;
    await this.audit.appendAlone({ actor: actorId(actor), requestId: actor.requestId, action: 'secret.keys.rotate', resource: 'platform', details: { keyVersion: next.current } });
    return { keyVersion: next.current };
  }

  /** Re-wraps every data key under the current master key; values are never decrypted. */
  async rewrapAll(actor: Actor, retireOld: boolean): Promise<{ rewrapped: number; keyVersion: number; minDecryptionVersion: number }> {
    const current = this.keyring.current;
    let rewrapped = 0;
    for (;;) {
      const batch = await this.store.db
        .selectFrom('secrets')
        .selectAll()
        .where('kek_version', '<', current)
        .where('destroyed_at', 'is', null)
        .limit(500)
        .execute();
      if (batch.length === 0) break;
      await this.store.transaction(async (tx) => {
        for (const r of batch) {
          if (r.ciphertext === null || r.wrapped_key === null) continue;
          const s = rewrap(this.keyring, { ciphertext: r.ciphertext, wrappedKey: r.wrapped_key }, { project: r.project_id, name: r.name, version: Number(r.version) });
          await tx
            .updateTable('secrets')
            .set({ wrapped_key: s.wrappedKey, kek_version: s.kekVersion })
            .where('project_id', '=', r.project_id)
            .where('name', '=', r.name)
            .where('version', '=', r.version)
            .execute();
          rewrapped += 1;
        }
      });
    }
    if (retireOld && this.keyring.minDecryptionVersion < current) {
      const next = setMinDecryptionVersion(this.keyring, current);
      persistKeyring(next, this.keyringPath());
      this.keyring = next;
    }
    await this.audit.appendAlone({
      actor: actorId(actor),
      requestId: actor.requestId,
      action: 'secret.keys.rewrap',
      resource: 'platform',
      details: { rewrapped, keyVersion: current, minDecryptionVersion: this.keyring.minDecryptionVersion },
    });
    return { rewrapped, keyVersion: current, minDecryptionVersion: this.keyring.minDecryptionVersion };
  }

  private keyringPath(): string {
    if (this.keyringSource.kind === 'env') {
      throw badRequest('the master key comes from STRATA_MASTER_KEY and cannot be rotated by the server: use a key file (STRATA_MASTER_KEY_FILE) to rotate');
    }
    return this.keyringSource.path;
  }
}
