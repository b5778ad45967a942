// The scheduler: pure placement policy. Today first-fit; the hybrid scheduler replaces it.
export { firstFit, nodeMatches } from './first-fit.ts';
export type { JobView, NodeView, Placement } from './first-fit.ts';
// Carbon- and cost-aware placement in time and space (pure; Carbon Aware SDK shaped answers).
export { bestLocation, bestPlacement, bestSlots, bestWindow, caBestByLocations, caForecastCurrent, combineTimelines, constantTimeline, meanOver, prepareTimeline, seriesFromSignal, totalOverRuns } from './carbon/index.ts';
export type { CaEmissionsData, CaEmissionsForecast, LocationChoice, PlacementChoice, PlacementObjective, PlacementRequest, RegionOption, RegionTimeline, Schedule, Series, ShiftRequest, Timeline } from './carbon/index.ts';
// Fragmentation-aware GPU placement (FGD and the baselines it is compared with) and the trace simulator.
export * as placement from './placement/index.ts';
export * as sim from './sim/index.ts';
