// The scheduler: pure placement policy. Today first-fit; the hybrid scheduler replaces it.
export { firstFit, nodeMatches } from './first-fit.ts';
export type { JobView, NodeView, Placement } from './first-fit.ts';
// Carbon- and cost-aware placement in time and space (pure; Carbon Aware SDK shaped answers).
export { bestLocation, bestPlacement, bestSlots, bestWindow, caBestByLocations, caForecastCurrent, combineTimelines, constantTimeline, meanOver, prepareTimeline, seriesFromSignal, totalOverRuns } from './carbon/index.ts';
export type { CaEmissionsData, CaEmissionsForecast, LocationChoice, PlacementChoice, PlacementObjective, PlacementRequest, RegionOption, RegionTimeline, Schedule, Series, ShiftRequest, Timeline } from './carbon/index.ts';
// Fragmentation-aware GPU placement (FGD and the baselines it is compared with) and the trace simulator.
export * as placement from './placement/index.ts';
export * as sim from './sim/index.ts';
// The hybrid scheduler's policy engine: quotas in cohorts, fair share, priorities, preemption,
// gangs and topology, flavors in order, bin-pack/spread/scored placement, spot, backfill.
export { DEFAULT_FAIR_SHARE, PRIORITY_CLASS_VALUES, RESOURCES, SchedulerEngine } from './engine/index.ts';
export type {
  Assignment, CycleResult, Decision, EngineConfig, EngineEvent, EngineOptions, EngineProfiler, EvictionCause,
  FairShareOptions, FlavorOutcome, FlavorQuota, JobRequest, JobStatus, NodeScorer, NodeSpec,
  NodeView as EngineNodeView, PendingReason, PlacementStrategy, PoolSpec, ReplicaRequest, ResourceName,
  ResourceVector, RunningJob, TeamSpec, TopologyConstraint,
} from './engine/index.ts';
