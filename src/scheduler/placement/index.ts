// GPU placement: the typed node/request model with fractional GPUs, the FGD fragmentation measure,
// and the node scorers (Random-fit, Best-fit, Dot-product, GPU-packing, GPU-clustering, FGD, and
// Strata's policy). Pure; the engine plugs a `Scorer` in, the simulator drives `PlacementPolicy`.
export { MILLI, candidateGpuSets, fitsNode, gpuModelAccepted, gpuShapeTag, gpusWithFree, isSharingRequest, placeOnView, requestGpuMilli, validateRequest } from './model.ts';
export type { GpuNodeView, NodeChoice, PlacementRequest } from './model.ts';
export { FGD_TYPICAL_TASKS, clusterFragmentation, nodeFragmentation, targetWorkload, taskFragmentation, workloadFromShapes } from './fragmentation.ts';
export type { FragmentationInput, TargetWorkload, TargetWorkloadOptions, WorkloadShape } from './fragmentation.ts';
export { POLICY_NAMES, STRATA_WORKLOAD, bestFit, createPolicy, dotProduct, fgd, gpuClustering, gpuPacking, isPolicyName, randomFit, strataPlacement } from './policies.ts';
export type { PlacementPolicy, PolicyName, PolicyOptions, Scorer } from './policies.ts';
