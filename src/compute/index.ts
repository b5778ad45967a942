// Compute: the capability registry's static part (regions and pools from config) and the
// CarbonSignal port with its constant and CSV implementations.
export {
  loadComputeConfig,
  parseComputeConfig,
  DEFAULT_COMPUTE_CONFIG,
  DEFAULT_PUE,
  WORLD_AVERAGE_G_CO2_PER_KWH,
  REGION_ROLES,
  POOL_KINDS,
  CAPACITY_TYPES,
} from './regions.ts';
export type { Region, Pool, ComputeConfig, RegionRole, PoolKind, CapacityType, CarbonSignalSpec, ParseComputeConfigOptions, QuotaAmount, FlavorQuotaSpec, TeamQuota } from './regions.ts';
export { ConstantCarbonSignal, CsvCarbonSignal, createCarbonSignal, integrateEmissions } from './carbon.ts';
export type { CarbonSignal, EnergySample, CarbonReplay, CsvCarbonOptions } from './carbon.ts';
