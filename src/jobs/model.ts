// Job and attempt states, and the views the API returns.
import type { AttemptId, JobId, NodeId } from '../kernel/index.ts';
import type { JobSpec } from './spec-types.ts';

export const JOB_STATES = ['queued', 'admitted', 'placed', 'running', 'succeeded', 'failed', 'cancelled', 'preempted'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const TERMINAL_STATES: ReadonlySet<JobState> = new Set(['succeeded', 'failed', 'cancelled']);
export const isTerminal = (s: JobState): boolean => TERMINAL_STATES.has(s);

export const ATTEMPT_STATES = ['running', 'succeeded', 'failed', 'lost', 'cancelled', 'preempted'] as const;
export type AttemptState = (typeof ATTEMPT_STATES)[number];

/** Priority value per class (higher runs first). */
export const PRIORITY_VALUE = { low: 0, normal: 10, high: 20, critical: 30 } as const;

/** What a node offers; stored as JSON on the node. */
export interface NodeCapacity {
  readonly cpuMillis: number;
  readonly memoryBytes: number;
  /** Devices of the pool's kind (GPUs, simulator slots); 0 for CPU pools. */
  readonly devices: number;
  readonly flavor?: string;
  readonly qubits?: number;
  readonly neurons?: number;
}

export interface NodeInfo {
  readonly id: NodeId;
  readonly name: string;
  readonly region: string;
  readonly pool: string;
  readonly capacity: NodeCapacity;
  readonly labels: Readonly<Record<string, string>>;
  readonly state: 'ready' | 'draining' | 'lost';
  readonly registeredAt: string;
  readonly heartbeatAt: string;
  readonly agentVersion: string;
  /** Host or IP other nodes reach it at (the MASTER_ADDR of gangs whose rank 0 runs here); null: its name is used. */
  readonly address: string | null;
}

/** Resource use and energy measured by the agent for one attempt. */
export interface AttemptUsage {
  readonly cpuSeconds?: number;
  readonly peakMemoryBytes?: number;
  readonly wallSeconds?: number;
  readonly energy?: Readonly<Record<string, unknown>>;
  readonly carbon?: Readonly<Record<string, unknown>>;
}

export interface AttemptInfo {
  readonly id: AttemptId;
  readonly number: number;
  /** The replica (rank) of a gang this attempt row ran; 0 for a single-replica job. */
  readonly replica: number;
  readonly nodeId: NodeId;
  readonly node: string;
  readonly state: AttemptState;
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly leaseExpiresAt: string;
  readonly exitCode: number | null;
  readonly reason: string;
  readonly usage: AttemptUsage;
}

export interface JobInfo {
  readonly id: JobId;
  readonly project: string;
  readonly name: string;
  readonly state: JobState;
  readonly reason: string;
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly nodeId: NodeId | null;
  readonly exitCode: number | null;
  readonly cancelRequested: boolean;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly updatedAt: string;
  readonly finishedAt: string | null;
  readonly spec: JobSpec;
  /** A placed or running gang: where each replica runs (nodeId is rank 0's node). */
  readonly placement?: readonly ReplicaPlacement[];
}

export interface JobEvent {
  readonly seq: number;
  readonly time: string;
  readonly from: string;
  readonly to: string;
  readonly reason: string;
}

export interface LogChunk {
  readonly seq: number;
  readonly attempt: number;
  /** The gang replica (rank) that wrote it; 0 for a single-replica job. */
  readonly replica: number;
  readonly time: string;
  readonly stream: 'stdout' | 'stderr' | 'system';
  readonly data: string;
}

/** What an agent receives when it leases an attempt. */
export type ArtifactKind = 'output' | 'checkpoint';
export const ARTIFACT_KINDS: readonly ArtifactKind[] = ['output', 'checkpoint'];

/** One file of an attempt's outputs or checkpoint. */
export interface ArtifactFile {
  /** Relative path inside the outputs or the checkpoint directory. */
  readonly path: string;
  /** `sha256:<hex>` in the project's blob store. */
  readonly digest: string;
  readonly size: number;
}

/** A stored artifact with where it came from. */
export interface JobArtifact extends ArtifactFile {
  readonly attempt: number;
  readonly kind: ArtifactKind;
  readonly createdAt: string;
}

/** The checkpoint an attempt starts from: the latest one an earlier attempt committed. */
export interface CheckpointManifest {
  readonly attempt: number;
  readonly files: readonly ArtifactFile[];
}

/** Where a job attempt logs its metrics: its tracking run, and a token that can only log to it. */
export interface AttemptTracking {
  readonly runId: string;
  readonly experimentId: string;
  /** A run-scoped token (revoked when the attempt ends). */
  readonly token: string;
}

/**
 * The job system's port to experiment tracking (implemented by the platform over the tracking
 * service): every attempt gets a run; its end closes the run with the attempt's system metrics.
 */
export interface AttemptRuns {
  start(input: { readonly projectId: string; readonly jobId: string; readonly jobName: string; readonly attempt: number; readonly submittedBy: string; readonly labels: Readonly<Record<string, string>>; readonly tokenSeconds: number }): Promise<AttemptTracking>;
  finish(input: { readonly projectId: string; readonly runId: string; readonly status: 'FINISHED' | 'FAILED' | 'KILLED'; readonly endTimeMs: number; readonly metrics: Readonly<Record<string, number>>; readonly tags: Readonly<Record<string, string>> }): Promise<void>;
}

/** A gang replica's place in the gang: the torch.distributed env:// rendezvous variables. */
export interface GangRank {
  readonly rank: number;
  readonly worldSize: number;
  /** Index among the gang's replicas on this node, and how many run here. */
  readonly localRank: number;
  readonly localWorldSize: number;
  /** Address of the node running rank 0, and the port rank 0 listens on for this attempt. */
  readonly masterAddr: string;
  readonly masterPort: number;
}

/** A gang's replica placement, shown on the job. */
export interface ReplicaPlacement {
  readonly replica: number;
  readonly nodeId: NodeId;
  /** The replica's attempt once leased. */
  readonly attemptId: AttemptId | null;
}

export interface LeasedAttempt {
  readonly attemptId: AttemptId;
  readonly jobId: JobId;
  readonly project: string;
  readonly number: number;
  /** Set for a gang replica (replicas > 1): its rank and the rendezvous point. */
  readonly gang?: GangRank;
  readonly leaseToken: string;
  readonly leaseExpiresAt: string;
  readonly leaseSeconds: number;
  readonly spec: JobSpec;
  /** Declared secrets, resolved for this attempt only. */
  readonly secretEnv: Readonly<Record<string, string>>;
  /** The attempt's tracking run (MLFLOW_RUN_ID) and its run-scoped token; absent when tracking is unavailable. */
  readonly tracking?: AttemptTracking;
  /** The checkpoint to restore into STRATA_CHECKPOINT_DIR before starting (spec.checkpointDir set and an earlier attempt committed one). */
  readonly checkpoint?: CheckpointManifest;
}
