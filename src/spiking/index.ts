// Public surface of the spiking-network engine (pure: no I/O, no wall clock unless given one).
//   parseNetwork(description) → Network          validate a parsed JSON/YAML description
//   simulate(network, { durationMs, seed }) → SimulationResult
//   summarise / spikingMetrics / estimateMemoryBytes   for the CLI, jobs and admission
//   parseSpikingJob / runSpikingJob               the `spiking-network` job kind
export { parseNetwork } from './parse.ts';
export type { ParseNetworkOptions } from './parse.ts';
export { simulate, phi } from './engine.ts';
export type { PlasticityResult, PopulationResult, SimulateOptions, SimulationResult, SpikeRecord, StateRecord } from './engine.ts';
export { SPIKING_LIMITS, toSteps } from './network.ts';
export type {
  ConnectRule,
  Distribution,
  LifCondModel,
  LifModel,
  Network,
  NeuronModel,
  PoissonInput,
  PoissonModel,
  Population,
  Projection,
  Receptor,
  SpikeMonitor,
  SpikingLimits,
  StateMonitor,
  Stdp,
} from './network.ts';
export type { Problem as NetworkProblem } from '../kernel/index.ts';
export { SPIKING_RESULT_VERSION, estimateMemoryBytes, spikingMetrics, summarise } from './result.ts';
export type { SimulationSummary } from './result.ts';
export { parseSpikingJob, runSpikingJob } from './job.ts';
export type { SpikingJob } from './job.ts';
