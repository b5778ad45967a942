// The scheduling simulator core: pure (CSV text in, figures out; no I/O, no wall clock).
// `runReplay` replays a trace on a virtual clock through a placement policy; `runEngineReplay`
// through the scheduler engine (quotas, fair share, priorities, preemption, gangs);
// `runInflation` is the FGD paper's experiment.
export { ClusterState, randomNodeRank } from './cluster-state.ts';
export type { Allocation, ClusterNode } from './cluster-state.ts';
export { parseClusterCsv, parseCsvRows, parseTraceCsv } from './csv.ts';
export type { TraceJob } from './csv.ts';
export { runEngineReplay } from './engine-replay.ts';
export type { EngineReplayOptions, EngineReplayResult, EngineTeamFairness, EngineTraceJob } from './engine-replay.ts';
export { DEFAULT_LEVELS, inflatedArrivals, runInflation } from './inflation.ts';
export type { InflationOptions, InflationPoint, InflationResult } from './inflation.ts';
export { distribution, runReplay } from './replay.ts';
export type { Distribution, ReplayOptions, ReplayResult, TeamFairness } from './replay.ts';
