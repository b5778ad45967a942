// The scheduler policy engine's public surface: create a SchedulerEngine, feed it pools, nodes,
// teams and jobs, and call schedule(). Pure: it imports only the kernel.
export { SchedulerEngine } from './engine.ts';
export type { EngineConfig, EngineOptions, EngineProfiler, RunningJob } from './engine.ts';
export { PRIORITY_CLASS_VALUES, RESOURCES } from './model.ts';
export type {
  Assignment,
  CycleResult,
  Decision,
  EngineEvent,
  EvictionCause,
  FlavorOutcome,
  FlavorQuota,
  JobRequest,
  JobStatus,
  NodeScorer,
  NodeSpec,
  NodeView,
  PendingReason,
  PlacementStrategy,
  PoolSpec,
  ReplicaRequest,
  ResourceName,
  ResourceVector,
  TeamSpec,
  TopologyConstraint,
} from './model.ts';
export { DEFAULT_FAIR_SHARE } from './quota.ts';
export type { FairShareOptions } from './quota.ts';
