// Quota accounting and fair share. Each team has, per flavor, a nominal quota, an optional borrowing
// limit and an optional lending limit (Kueue's ClusterQueue/Cohort model). Within a cohort, the part
// of nominal a team does not lend is guaranteed to it alone; the lendable parts of all members form
// a shared pool, and any usage above a team's guaranteed part is drawn from that pool:
//
//   usage_t ≤ nominal_t + borrowingLimit_t                      (per team)
//   Σ_t max(0, usage_t − guaranteed_t) ≤ Σ_t lendable_t         (per cohort)
//
// with lendable_t = min(nominal_t, lendingLimit_t) and guaranteed_t = nominal_t − lendable_t, for
// every flavor and resource. A team outside a cohort is bounded by its nominal quota.
//
// Fair share is the team's dominant resource share (max over flavor × resource of usage / cluster
// capacity), blended with a time-decayed average of that share (half-life configurable, like Kueue's
// admission fair sharing and Slurm's decayed usage) and divided by the team's weight.
import type { TeamId } from '../../kernel/index.ts';
import { badRequest } from '../../kernel/index.ts';
import type { FlavorOutcome, ResourceName, ResourceVector, TeamSpec } from './model.ts';
import { RESOURCES } from './model.ts';
import type { MutableVector } from './resources.ts';
import { addInto, copy, isValidVector } from './resources.ts';

/** A cohort's shared pool for one flavor. */
export interface CohortFlavorState {
  readonly cap: MutableVector;
  readonly used: MutableVector;
  /** Teams whose usage of this flavor is above nominal in some resource. */
  readonly borrowers: Set<TeamState>;
}

/** One team's quota and usage of one flavor. */
export interface TeamFlavorState {
  readonly flavor: string;
  nominal: ResourceVector;
  borrowingLimit: ResourceVector | undefined;
  lendable: MutableVector;
  guaranteed: MutableVector;
  readonly usage: MutableVector;
  borrowing: boolean;
}

/** A team's accounting state. */
export interface TeamState {
  readonly id: TeamId;
  /** Registration order: the final tie-break of every ordering. */
  readonly index: number;
  weight: number;
  cohort: string | undefined;
  readonly flavors: Map<string, TeamFlavorState>;
  /** Current dominant share (0–1+). */
  share: number;
  /** Time-decayed average of `share`, as of `emaAt`. */
  ema: number;
  emaAt: number;
}

/** The outcome of a quota check. */
export type QuotaCheck = { readonly ok: true; readonly borrowing: boolean } | { readonly ok: false; readonly outcome: FlavorOutcome };

/** Fair-share settings. */
export interface FairShareOptions {
  /** Half-life of the decayed historical usage, in ms. Default 1 hour. */
  readonly halfLifeMs: number;
  /** Weight of history in the ordering share, in [0, 1]: 0 = current usage only. Default 0.5. */
  readonly historyWeight: number;
}

const OK_BORROWING: QuotaCheck = Object.freeze({ ok: true, borrowing: true });
const OK_NOMINAL: QuotaCheck = Object.freeze({ ok: true, borrowing: false });

export const DEFAULT_FAIR_SHARE: FairShareOptions = { halfLifeMs: 3_600_000, historyWeight: 0.5 };

export class QuotaLedger {
  readonly teams = new Map<TeamId, TeamState>();
  private readonly cohorts = new Map<string, Map<string, CohortFlavorState>>();
  private readonly cohortMembers = new Map<string, Set<TeamState>>();
  /** Cluster capacity per flavor: the denominators of dominant share. */
  private readonly capacity = new Map<string, MutableVector>();

  constructor(private readonly fair: FairShareOptions) {
    if (!(fair.halfLifeMs > 0)) throw badRequest('fairShare.halfLifeMs must be > 0');
    if (!(fair.historyWeight >= 0 && fair.historyWeight <= 1)) throw badRequest('fairShare.historyWeight must be within [0, 1]');
  }

  /** Adds or reconfigures a team; its usage is kept. */
  setTeam(spec: TeamSpec, now: number): TeamState {
    const weight = spec.weight ?? 1;
    if (!(weight > 0) || !Number.isFinite(weight)) throw badRequest(`team ${spec.id}: weight must be a positive number`, { team: spec.id });
    for (const [flavor, q] of Object.entries(spec.quotas)) {
      for (const v of [q.nominal, q.borrowingLimit, q.lendingLimit]) {
        if (v !== undefined && !isValidVector(v)) throw badRequest(`team ${spec.id}: quota for flavor ${flavor} must be finite and ≥ 0 in every resource`, { team: spec.id, flavor });
      }
    }
    let t = this.teams.get(spec.id);
    const oldCohort = t?.cohort;
    if (t === undefined) {
      const h = spec.history;
      if (h !== undefined && !(Number.isFinite(h.decayedShare) && h.decayedShare >= 0 && Number.isFinite(h.at) && h.at <= now)) {
        throw badRequest(`team ${spec.id}: history must be a finite share ≥ 0 at a time not after now`, { team: spec.id });
      }
      t = { id: spec.id, index: this.teams.size, weight, cohort: spec.cohort, flavors: new Map(), share: 0, ema: h?.decayedShare ?? 0, emaAt: h?.at ?? now };
      this.teams.set(spec.id, t);
    } else {
      this.decay(t, now);
      t.weight = weight;
      t.cohort = spec.cohort;
    }
    for (const [flavor, q] of Object.entries(spec.quotas)) {
      const lendable = { cpuMillis: 0, memoryBytes: 0, devices: 0 };
      const guaranteed = { cpuMillis: 0, memoryBytes: 0, devices: 0 };
      for (const r of RESOURCES) {
        lendable[r] = Math.min(q.nominal[r], q.lendingLimit?.[r] ?? Infinity);
        guaranteed[r] = q.nominal[r] - lendable[r];
      }
      const f = t.flavors.get(flavor);
      if (f === undefined) {
        t.flavors.set(flavor, { flavor, nominal: q.nominal, borrowingLimit: q.borrowingLimit, lendable, guaranteed, usage: { cpuMillis: 0, memoryBytes: 0, devices: 0 }, borrowing: false });
      } else {
        f.nominal = q.nominal;
        f.borrowingLimit = q.borrowingLimit;
        f.lendable = lendable;
        f.guaranteed = guaranteed;
      }
    }
    for (const [flavor, f] of t.flavors) {
      if (!(flavor in spec.quotas)) {
        // Quota withdrawn: keep the usage on the books (running work stays), entitle nothing more.
        f.nominal = { cpuMillis: 0, memoryBytes: 0, devices: 0 };
        f.borrowingLimit = { cpuMillis: 0, memoryBytes: 0, devices: 0 };
        f.lendable = { cpuMillis: 0, memoryBytes: 0, devices: 0 };
        f.guaranteed = { cpuMillis: 0, memoryBytes: 0, devices: 0 };
      }
    }
    if (oldCohort !== undefined && oldCohort !== t.cohort) {
      this.cohortMembers.get(oldCohort)?.delete(t);
      this.rebuildCohort(oldCohort);
    }
    if (t.cohort !== undefined) {
      let m = this.cohortMembers.get(t.cohort);
      if (m === undefined) this.cohortMembers.set(t.cohort, (m = new Set()));
      m.add(t);
      this.rebuildCohort(t.cohort);
    }
    for (const f of t.flavors.values()) this.refreshBorrowing(t, f);
    this.refreshShare(t);
    return t;
  }

  private rebuildCohort(name: string): void {
    const flavors = new Map<string, CohortFlavorState>();
    for (const m of this.cohortMembers.get(name) ?? []) {
      for (const [flavor, f] of m.flavors) {
        let c = flavors.get(flavor);
        if (c === undefined) flavors.set(flavor, (c = { cap: { cpuMillis: 0, memoryBytes: 0, devices: 0 }, used: { cpuMillis: 0, memoryBytes: 0, devices: 0 }, borrowers: new Set() }));
        for (const r of RESOURCES) {
          c.cap[r] += f.lendable[r];
          c.used[r] += Math.max(0, f.usage[r] - f.guaranteed[r]);
        }
        if (f.borrowing) c.borrowers.add(m);
      }
    }
    this.cohorts.set(name, flavors);
  }

  /** Cohort pool of a team's flavor, if the team is in a cohort. */
  cohortFlavor(t: TeamState, flavor: string): CohortFlavorState | undefined {
    return t.cohort === undefined ? undefined : this.cohorts.get(t.cohort)?.get(flavor);
  }

  /** Members of a team's cohort (just the team when it has none). */
  cohortOf(t: TeamState): ReadonlySet<TeamState> {
    return t.cohort === undefined ? new Set([t]) : (this.cohortMembers.get(t.cohort) ?? new Set([t]));
  }

  /** Can `t` take `amount` more of `flavor` within its quota (borrowing where permitted)? */
  check(t: TeamState, flavor: string, amount: ResourceVector): QuotaCheck {
    const f = t.flavors.get(flavor);
    if (f === undefined) return { ok: false, outcome: { flavor, kind: 'no-quota' } };
    const pool = this.cohortFlavor(t, flavor);
    let borrowing = false;
    for (const r of RESOURCES) {
      const want = amount[r];
      if (want === 0) {
        if (f.usage[r] > f.nominal[r]) borrowing = true;
        continue;
      }
      const next = f.usage[r] + want;
      if (next > f.nominal[r]) borrowing = true;
      if (pool === undefined) {
        if (next > f.nominal[r]) return { ok: false, outcome: over(flavor, r, 'nominal', want, f.nominal[r] - f.usage[r]) };
        continue;
      }
      const bl = f.borrowingLimit?.[r];
      if (bl !== undefined && next > f.nominal[r] + bl) return { ok: false, outcome: over(flavor, r, 'borrowing-limit', want, f.nominal[r] + bl - f.usage[r]) };
      const g = f.guaranteed[r];
      const delta = Math.max(0, next - g) - Math.max(0, f.usage[r] - g);
      if (pool.used[r] + delta > pool.cap[r]) {
        const privateLeft = Math.max(0, g - f.usage[r]);
        return { ok: false, outcome: over(flavor, r, 'cohort', want, privateLeft + Math.max(0, pool.cap[r] - pool.used[r])) };
      }
    }
    return borrowing ? OK_BORROWING : OK_NOMINAL;
  }

  /** The most `t` could add of `flavor` right now, per resource (what `check` would accept). */
  headroom(t: TeamState, flavor: string): ResourceVector {
    const f = t.flavors.get(flavor);
    if (f === undefined) return { cpuMillis: 0, memoryBytes: 0, devices: 0 };
    const pool = this.cohortFlavor(t, flavor);
    const room = (r: ResourceName): number => Math.max(0, roomOf(f, pool, r));
    return { cpuMillis: room('cpuMillis'), memoryBytes: room('memoryBytes'), devices: room('devices') };
  }

  /**
   * What `t` could add of `flavor` in resource `r` right now, without the floor at zero: negative
   * when the team holds more than it may now (quota shrunk, cohort over-lent). It grows one for one
   * with what the team releases, which is what a quota reservation projects.
   */
  room(t: TeamState, flavor: string, r: ResourceName): number {
    const f = t.flavors.get(flavor);
    return f === undefined ? 0 : roomOf(f, this.cohortFlavor(t, flavor), r);
  }

  /**
   * Is `amount` of `flavor` within what `t` is entitled to — its nominal quota? That much it can
   * always get back (borrowers of it are reclaimed); borrowing beyond it is never guaranteed.
   */
  withinNominal(t: TeamState, flavor: string, amount: ResourceVector): boolean {
    const f = t.flavors.get(flavor);
    return f !== undefined && amount.cpuMillis <= f.nominal.cpuMillis && amount.memoryBytes <= f.nominal.memoryBytes && amount.devices <= f.nominal.devices;
  }

  /** Adds (sign 1) or releases (sign −1) usage. Call `decay` first when time has moved. */
  apply(t: TeamState, flavor: string, amount: ResourceVector, sign: 1 | -1): void {
    let f = t.flavors.get(flavor);
    if (f === undefined) {
      // Usage restored for a flavor the team has no quota for (quota withdrawn while running).
      f = { flavor, nominal: { cpuMillis: 0, memoryBytes: 0, devices: 0 }, borrowingLimit: { cpuMillis: 0, memoryBytes: 0, devices: 0 }, lendable: { cpuMillis: 0, memoryBytes: 0, devices: 0 }, guaranteed: { cpuMillis: 0, memoryBytes: 0, devices: 0 }, usage: { cpuMillis: 0, memoryBytes: 0, devices: 0 }, borrowing: false };
      t.flavors.set(flavor, f);
    }
    const pool = this.cohortFlavor(t, flavor);
    for (const r of RESOURCES) {
      const before = f.usage[r];
      const after = before + sign * amount[r];
      f.usage[r] = after;
      if (pool !== undefined) pool.used[r] += Math.max(0, after - f.guaranteed[r]) - Math.max(0, before - f.guaranteed[r]);
    }
    this.refreshBorrowing(t, f);
    const cap = this.capacity.get(flavor);
    if (sign === 1 && cap !== undefined) {
      // Usage only grew in this flavor: the dominant share can only rise to this flavor's share.
      for (const r of RESOURCES) if (cap[r] > 0) t.share = Math.max(t.share, f.usage[r] / cap[r]);
    } else this.refreshShare(t);
  }

  private refreshBorrowing(t: TeamState, f: TeamFlavorState): void {
    f.borrowing = f.usage.cpuMillis > f.nominal.cpuMillis || f.usage.memoryBytes > f.nominal.memoryBytes || f.usage.devices > f.nominal.devices;
    const pool = this.cohortFlavor(t, f.flavor);
    if (pool === undefined) return;
    if (f.borrowing) pool.borrowers.add(t);
    else pool.borrowers.delete(t);
  }

  /** Registers node capacity of a flavor (sign −1 when a node leaves). */
  addCapacity(flavor: string, v: ResourceVector, sign: 1 | -1): void {
    let c = this.capacity.get(flavor);
    if (c === undefined) this.capacity.set(flavor, (c = copy({ cpuMillis: 0, memoryBytes: 0, devices: 0 })));
    addInto(c, v, sign);
    for (const t of this.teams.values()) if (t.flavors.has(flavor)) this.refreshShare(t);
  }

  private refreshShare(t: TeamState): void {
    let s = 0;
    for (const [flavor, f] of t.flavors) {
      const cap = this.capacity.get(flavor);
      if (cap === undefined) continue;
      for (const r of RESOURCES) if (cap[r] > 0) s = Math.max(s, f.usage[r] / cap[r]);
    }
    t.share = s;
  }

  /** Brings the team's decayed average up to `now` (exact for a share constant since `emaAt`). */
  decay(t: TeamState, now: number): void {
    const dt = now - t.emaAt;
    if (dt <= 0) return;
    const d = Math.pow(2, -dt / this.fair.halfLifeMs);
    t.ema = t.ema * d + t.share * (1 - d);
    t.emaAt = now;
  }

  /** The ordering key of fair sharing: lower goes first. */
  fairKey(t: TeamState): number {
    const h = this.fair.historyWeight;
    return ((1 - h) * t.share + h * t.ema) / t.weight;
  }

  /** Usage of a team's flavor (zero when unused). */
  usage(t: TeamState, flavor: string): ResourceVector {
    return t.flavors.get(flavor)?.usage ?? { cpuMillis: 0, memoryBytes: 0, devices: 0 };
  }
}

function over(flavor: string, resource: ResourceName, limit: 'nominal' | 'borrowing-limit' | 'cohort', requested: number, available: number): FlavorOutcome {
  return { flavor, kind: 'over-quota', resource, limit, requested, available: Math.max(0, available) };
}

/**
 * What a team could add of one resource of a flavor, unfloored: its nominal quota left alone, or
 * with a cohort the lesser of its borrowing limit and its unused guarantee plus the cohort's room.
 */
function roomOf(f: TeamFlavorState, pool: CohortFlavorState | undefined, r: ResourceName): number {
  if (pool === undefined) return f.nominal[r] - f.usage[r];
  const bl = f.borrowingLimit?.[r];
  const byLimit = bl === undefined ? Infinity : f.nominal[r] + bl - f.usage[r];
  return Math.min(byLimit, Math.max(0, f.guaranteed[r] - f.usage[r]) + pool.cap[r] - pool.used[r]);
}
