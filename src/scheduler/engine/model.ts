// The scheduler engine's public data: what the caller describes (pools, nodes, teams, jobs), what the
// engine decides (admissions with node assignments, evictions) and why a job is still pending. All of
// it is plain readonly data, so decisions can be compared, logged and audited as they are.
import type { JobId, NodeId, TeamId } from '../../kernel/index.ts';

/** An amount of the three resources the engine accounts: CPU, memory and accelerator devices. */
export interface ResourceVector {
  readonly cpuMillis: number;
  readonly memoryBytes: number;
  /** Whole accelerator devices of the flavor (GPUs, TPUs, QPUs, ...); 0 for CPU-only work. */
  readonly devices: number;
}

/** The resource dimensions, in a fixed order (used in explanations). */
export const RESOURCES = ['cpuMillis', 'memoryBytes', 'devices'] as const;
export type ResourceName = (typeof RESOURCES)[number];

/** How a pool chooses among nodes that fit: fill the fullest first, the emptiest first, or ask a scorer. */
export type PlacementStrategy = 'binpack' | 'spread' | 'scored';

/** A pool: nodes of one resource flavor, bought one way, in one region. */
export interface PoolSpec {
  readonly name: string;
  readonly region: string;
  /**
   * The resource flavor quotas are written against, e.g. `nvidia-h100`, `spot:nvidia-a100`, `cpu`.
   * Several pools (e.g. one per region) may share a flavor.
   */
  readonly flavor: string;
  readonly capacityType: 'on-demand' | 'spot';
  readonly strategy: PlacementStrategy;
  /** Data-residency tags of the pool's region (`eu`, `gdpr`, ...); a job's residency must be a subset. */
  readonly residency?: readonly string[];
}

/** A node: one machine of a pool, with its topology position. */
export interface NodeSpec {
  readonly id: NodeId;
  readonly pool: string;
  /** Topology: the block (e.g. a spine or NVLink domain) and rack the node sits in. Default: its own. */
  readonly block?: string;
  readonly rack?: string;
  readonly capacity: ResourceVector;
}

/** A team's quota for one flavor (Kueue's ResourceFlavor quota within a ClusterQueue). */
export interface FlavorQuota {
  /** What the team is entitled to. */
  readonly nominal: ResourceVector;
  /**
   * How much above `nominal` the team may borrow from its cohort's unused quota. Absent: no limit
   * (bounded by what the cohort lends). Ignored (no borrowing) for a team outside any cohort.
   */
  readonly borrowingLimit?: ResourceVector;
  /** How much of `nominal` others in the cohort may borrow while the team does not use it. Absent: all. */
  readonly lendingLimit?: ResourceVector;
}

/** A team: holds quota per flavor, belongs to at most one cohort, and has a fair-share weight. */
export interface TeamSpec {
  readonly id: TeamId;
  /** Teams in the same cohort lend each other unused quota. */
  readonly cohort?: string;
  /** Fair-share weight (> 0), default 1: a team with weight 2 is entitled to twice the share. */
  readonly weight?: number;
  /** Quota per flavor; a flavor not listed cannot be used by the team. */
  readonly quotas: Readonly<Record<string, FlavorQuota>>;
  /**
   * The team's time-decayed share as of `at` (from `SchedulerEngine.share(...).decayed` of an
   * earlier engine): lets a caller that rebuilds the engine keep fair-share history. Default none.
   */
  readonly history?: { readonly decayedShare: number; readonly at: number };
}

/** Topology constraint of a gang: keep every replica within one rack or one block. */
export interface TopologyConstraint {
  readonly level: 'rack' | 'block';
  /** `required`: never split across domains. `preferred`: try rack, then block, then anywhere in the pool. */
  readonly mode: 'required' | 'preferred';
}

/** A unit of work to admit and place: one job, possibly a gang of identical replicas. */
export interface JobRequest {
  readonly id: JobId;
  readonly team: TeamId;
  /** Higher runs first and may preempt lower (see PRIORITY_CLASS_VALUES for the named classes). */
  readonly priority: number;
  /** May this job be preempted by a higher priority or a quota reclaim? Default true. */
  readonly preemptible?: boolean;
  /** Replicas placed all-or-nothing (a gang when > 1); default 1. */
  readonly replicas?: number;
  /** Resources of one replica. */
  readonly perReplica: ResourceVector;
  /** Acceptable flavors in order of preference, e.g. `nvidia-h100`, `nvidia-a100`, `spot:nvidia-a100`. */
  readonly flavors: readonly string[];
  /** Regions the job may run in; absent or empty = any. */
  readonly regions?: readonly string[];
  /** Residency tags every chosen pool must carry. */
  readonly residency?: readonly string[];
  readonly topology?: TopologyConstraint;
  /** Declared maximum runtime: makes the job eligible for backfill and bounds reservations. */
  readonly maxRuntimeMs?: number;
  /** Do not start before this time (epoch ms), e.g. a low-carbon window chosen by carbon shifting. */
  readonly notBefore?: number;
  /** When the job was submitted (epoch ms): the first-come order within a priority. */
  readonly submittedAt: number;
  /** Opaque checkpoint reference, kept across evictions and requeues. */
  readonly checkpoint?: string;
}

/** A node view handed to a node scorer: live free capacity and position. */
export interface NodeView {
  readonly id: NodeId;
  readonly pool: string;
  readonly flavor: string;
  readonly region: string;
  readonly block: string;
  readonly rack: string;
  readonly capacity: ResourceVector;
  readonly free: ResourceVector;
}

/** What one replica asks for, as a node scorer sees it. */
export interface ReplicaRequest {
  readonly jobId: JobId;
  readonly perReplica: ResourceVector;
  readonly flavor: string;
}

/**
 * A pluggable node scorer for pools whose strategy is `scored` (e.g. fragmentation-gradient
 * descent): higher is better; `undefined` means the node must not be used for this request. It is
 * only called for nodes that fit, and only for a bounded number of candidates per decision.
 */
export type NodeScorer = (node: NodeView, request: ReplicaRequest) => number | undefined;

/** Replicas of one job on one node. */
export interface Assignment {
  readonly nodeId: NodeId;
  readonly replicas: number;
}

/** Why a running job was evicted. Every eviction keeps the job's checkpoint and requeues it. */
export type EvictionCause =
  | { readonly kind: 'preempted'; readonly by: JobId; readonly rule: 'within-team-priority' | 'reclaim-borrowed-quota' }
  | { readonly kind: 'spot-reclaimed'; readonly nodeId: NodeId }
  | { readonly kind: 'node-lost'; readonly nodeId: NodeId };

/** A decision for the caller to carry out. */
export type Decision =
  | {
      readonly kind: 'admit';
      readonly jobId: JobId;
      readonly team: TeamId;
      readonly flavor: string;
      readonly pool: string;
      readonly region: string;
      readonly assignments: readonly Assignment[];
      /** The admission uses quota borrowed from the cohort (reclaimable by its owners). */
      readonly borrowing: boolean;
      /** Placed on capacity reserved for another job, ending before that job's reserved start. */
      readonly backfill: boolean;
      /** Jobs evicted to make room; start this job once they have stopped. */
      readonly preempted: readonly JobId[];
    }
  | {
      readonly kind: 'evict';
      readonly jobId: JobId;
      readonly team: TeamId;
      readonly cause: EvictionCause;
      /** Always true: the job goes back to the queue. */
      readonly requeue: true;
      readonly checkpoint: string | undefined;
    };

/** How one acceptable flavor failed for a pending job. */
export type FlavorOutcome =
  | { readonly flavor: string; readonly kind: 'no-quota' }
  | { readonly flavor: string; readonly kind: 'over-quota'; readonly resource: ResourceName; readonly limit: 'nominal' | 'borrowing-limit' | 'cohort'; readonly requested: number; readonly available: number }
  | { readonly flavor: string; readonly kind: 'no-pool' }
  | { readonly flavor: string; readonly kind: 'too-large' }
  | { readonly flavor: string; readonly kind: 'no-capacity' }
  | { readonly flavor: string; readonly kind: 'gang-incomplete'; readonly placeable: number; readonly replicas: number }
  | { readonly flavor: string; readonly kind: 'topology'; readonly level: 'rack' | 'block' }
  | { readonly flavor: string; readonly kind: 'reserved'; readonly heldFor: JobId; readonly until: number }
  /**
   * The team's quota of the flavor is held for an earlier (or higher-priority) job of the same team
   * that it would delay: until the time its declared-runtime jobs free enough for it, or — without
   * `until` — until running jobs without a declared runtime end.
   */
  | { readonly flavor: string; readonly kind: 'quota-reserved'; readonly heldFor: JobId; readonly until?: number };

/**
 * The current reason a job is not running. `attempts` lists every acceptable flavor in order with
 * how it failed, so `strata jobs describe` can show the whole story.
 */
export type PendingReason =
  | { readonly kind: 'queued' }
  | { readonly kind: 'waiting-for-window'; readonly until: number }
  | {
      readonly kind: 'over-quota';
      readonly attempts: readonly FlavorOutcome[];
      /**
       * The job is its team's head of line for this flavor and holds the team's quota of it: later
       * jobs of the team use it only if they end before `expectedStart` (absent: unknown, running
       * jobs of the team without a declared runtime must end first). See `quota-reservation`.
       */
      readonly holds?: { readonly flavor: string; readonly expectedStart?: number };
    }
  | { readonly kind: 'no-capacity'; readonly attempts: readonly FlavorOutcome[] }
  | { readonly kind: 'gang-incomplete'; readonly replicas: number; readonly placeable: number; readonly attempts: readonly FlavorOutcome[] }
  | { readonly kind: 'topology'; readonly level: 'rack' | 'block'; readonly attempts: readonly FlavorOutcome[] }
  | { readonly kind: 'backfill-reservation'; readonly heldFor: JobId; readonly until: number; readonly attempts: readonly FlavorOutcome[] }
  | { readonly kind: 'reserved'; readonly pool: string; readonly expectedStart: number; readonly nodes: number; readonly attempts: readonly FlavorOutcome[] }
  /** The team's quota of `flavor` is held for an earlier job of the team, `heldFor`, until `until` if known. */
  | { readonly kind: 'quota-reservation'; readonly heldFor: JobId; readonly flavor: string; readonly until?: number; readonly attempts: readonly FlavorOutcome[] }
  | { readonly kind: 'unschedulable'; readonly attempts: readonly FlavorOutcome[] };

/** An event the caller records in the audit log: every eviction and every change of a delay reason. */
export type EngineEvent =
  | { readonly kind: 'evicted'; readonly at: number; readonly jobId: JobId; readonly team: TeamId; readonly cause: EvictionCause }
  | { readonly kind: 'delayed'; readonly at: number; readonly jobId: JobId; readonly team: TeamId; readonly reason: PendingReason };

/** What a scheduling cycle (or an event such as a spot reclaim) decided. */
export interface CycleResult {
  readonly at: number;
  readonly decisions: readonly Decision[];
  readonly events: readonly EngineEvent[];
  /** The earliest future time something time-based happens (a window opens, a reservation lapses). */
  readonly nextWakeAt: number | undefined;
}

/** Where a job stands. */
export type JobStatus =
  | { readonly state: 'pending'; readonly reason: PendingReason; readonly requeues: number }
  | {
      readonly state: 'running';
      readonly flavor: string;
      readonly pool: string;
      readonly assignments: readonly Assignment[];
      readonly startedAt: number;
      readonly borrowing: boolean;
      readonly requeues: number;
    };

/** Priority values for the job system's named classes (jobs/spec-types.ts PRIORITY_CLASSES). */
export const PRIORITY_CLASS_VALUES: Readonly<Record<'low' | 'normal' | 'high' | 'critical', number>> = {
  low: 0,
  normal: 100,
  high: 1000,
  critical: 10_000,
};
