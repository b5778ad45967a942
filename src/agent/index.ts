// Agent: what this machine offers (capacity) and what an attempt used (energy and carbon).
// Registration, heartbeats, leasing and executors are added by the lead.
export {
  detectCapacity,
  systemCapacityProbe,
  parseNvidiaSmiGpus,
  gpuFlavor,
  simulatorCapacity,
  parseSlice,
  parseCpuQuantity,
  parseMemoryQuantity,
  runNvidiaSmi,
  NVIDIA_SMI_GPU_QUERY,
  SIMULATOR_MEMORY_FRACTION,
  SPIKING_BYTES_PER_NEURON_STATE,
  SPIKING_BYTES_PER_SYNAPSE,
  DEFAULT_SYNAPSES_PER_NEURON,
  defaultNodeAddress,
} from './capacity.ts';
export type { GpuInfo, SimulatorCapacity, MachineCapacity, Slice, CapacityProbe } from './capacity.ts';
export {
  EnergyMeter,
  carbonReport,
  raplDeltaJoules,
  readRaplSysfs,
  procCpuSeconds,
  parseGpuPowerDraw,
  systemEnergyReaders,
  NVIDIA_SMI_POWER_QUERY,
  DEFAULT_TDP_WATTS_PER_CORE,
  DEFAULT_MEMORY_WATTS_PER_GIB,
  DEFAULT_SAMPLE_INTERVAL_MS,
} from './energy.ts';
export type { EnergyReaders, EnergyMeterOptions, EnergyReport, EnergyMethod, RaplZone, CarbonReport, SystemEnergyReaderOptions } from './energy.ts';
export { Agent } from './agent.ts';
export type { AgentOptions } from './agent.ts';
export { startProcess } from './executors/process.ts';
export type { ProcessResult, RunOptions, RunningProcess } from './executors/process.ts';
