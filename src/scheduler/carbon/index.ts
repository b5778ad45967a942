// Carbon- and cost-aware placement in time and space (issue 4 item 5): the public surface of
// scheduler/carbon. Pure functions over prepared timelines; answers shaped like the Green
// Software Foundation Carbon Aware SDK for the HTTP layer.
export { HOUR_MS, prepareTimeline, buildTimeline, combineTimelines, constantTimeline, integralOver, meanOver, seriesFromSignal } from './series.ts';
export type { IntensitySource, PrepareOptions, Series, SeriesPoint, Timeline, WeightedTimeline } from './series.ts';
export { bestSlots, bestWindow, checkShiftRequest, totalOverRuns } from './shift.ts';
export type { Run, Schedule, ShiftRequest, SlotOptions } from './shift.ts';
export { bestLocation, bestPlacement } from './placement.ts';
export type { LocationChoice, LocationOption, LocationRequest, PlacementChoice, PlacementObjective, PlacementRequest, RegionOption, RegionPlan, RegionTimeline } from './placement.ts';
export { caBestByLocations, caForecastCurrent, timeSpan } from './carbon-aware-sdk.ts';
export type { CaBestQuery, CaEmissionsData, CaEmissionsForecast, CaForecastDataPoint, CaForecastQuery } from './carbon-aware-sdk.ts';
export { finishDeadline, generateMlJobs, replaySpatioTemporal, replayTemporal } from './wait-awhile.ts';
export type { DeadlineOptions, FlexibilityRule, MlJob, MlWorkloadOptions, ReplayOptions, ReplayResult, SpatialReplayResult } from './wait-awhile.ts';
