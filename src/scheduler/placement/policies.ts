// Node-scoring policies for GPU placement, on the model of model.ts. Each policy scores one node
// for one request — lower is better, undefined when the request does not fit — and says which GPUs
// of the node it would use. The caller takes the node with the lowest score and breaks exact ties
// itself (the simulator picks uniformly among them with its seeded RNG).
//
// The baselines are the ones the FGD paper compares against (§6.1), re-derived from their
// descriptions: Random-fit; Best-fit (least weighted leftover CPU+GPU); Dot-product (Tetris-style:
// smallest dot product of the node's free vector and the request); GPU-packing (prefer partly used
// GPUs, then partly used nodes, then the smallest idle node); GPU-clustering (put tasks of the same
// GPU shape together). FGD places where the node's fragmentation (fragmentation.ts) grows least.
// 'strata' is Strata's policy: FGD steered by a memory-aware, GPU-weighted target workload
// (STRATA_WORKLOAD: memory is what most often strands GPUs on openb, and a large task that cannot
// be placed strands more GPUs than a small one), with near-ties (< 1e-4 GPU of fragmentation)
// broken by best fit instead of at random, so equally fragmenting choices still pack. On the
// openb trace it leaves ~11 % fewer GPUs unallocated than plain FGD (bench/fgd.ts).
import { badRequest } from '../../kernel/index.ts';
import { nodeFragmentation } from './fragmentation.ts';
import type { TargetWorkload } from './fragmentation.ts';
import { MILLI, candidateGpuSets, fitsNode, gpuShapeTag, isSharingRequest, requestGpuMilli } from './model.ts';
import type { GpuNodeView, NodeChoice, PlacementRequest } from './model.ts';

export const POLICY_NAMES = ['random', 'best-fit', 'dot-product', 'gpu-packing', 'gpu-clustering', 'fgd', 'strata'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

/** The engine's plug: score of a node for a request, lower is better, undefined = does not fit. */
export type Scorer = (node: GpuNodeView, request: PlacementRequest) => number | undefined;

export interface PlacementPolicy {
  readonly name: PolicyName;
  /** True when the policy reads `GpuNodeView.gpuTags` (callers may omit them otherwise). */
  readonly usesGpuTags: boolean;
  /** Score and GPU choice on one node, or undefined when the request does not fit there. */
  choose(node: GpuNodeView, request: PlacementRequest): NodeChoice | undefined;
  /** `choose(...)?.score`, shaped for the engine. */
  readonly score: Scorer;
}

export interface PolicyOptions {
  /** Target workload for 'fgd' and 'strata' (required for them). */
  readonly workload?: TargetWorkload;
  /** Seeded RNG in [0, 1) for 'random' (which GPU to share); required for it. */
  readonly random?: () => number;
  /** Normalisers of Best-fit and Dot-product: the largest node's CPU and GPU (default 128 cores, 8 GPUs). */
  readonly maxCpuMilli?: number;
  readonly maxGpuMilli?: number;
}

/** True when `name` is a policy name. */
export const isPolicyName = (name: string): name is PolicyName => (POLICY_NAMES as readonly string[]).includes(name);

const totalFree = (node: GpuNodeView): number => node.gpuFree.reduce((a, b) => a + b, 0);

/** For a shared GPU: the fitting GPU with the least free milli-GPU (best fit inside the node). */
function bestFitGpu(node: GpuNodeView, r: PlacementRequest): number[] {
  let best = -1;
  node.gpuFree.forEach((f, i) => {
    if (f >= r.gpuMilli && (best < 0 || f < (node.gpuFree[best] ?? Infinity))) best = i;
  });
  return [best];
}

/** Whole GPUs and no GPUs have one candidate; a shared GPU is chosen by best fit. */
function packedGpus(node: GpuNodeView, r: PlacementRequest): number[] {
  if (isSharingRequest(r)) return bestFitGpu(node, r);
  return candidateGpuSets(node, r)[0] ?? [];
}

function policy(name: PolicyName, usesGpuTags: boolean, choose: (node: GpuNodeView, r: PlacementRequest) => NodeChoice | undefined): PlacementPolicy {
  const guarded = (node: GpuNodeView, r: PlacementRequest): NodeChoice | undefined => (fitsNode(node, r) ? choose(node, r) : undefined);
  return { name, usesGpuTags, choose: guarded, score: (node, r) => guarded(node, r)?.score };
}

/** Random-fit: every fitting node scores 0, so the caller's tie-break picks uniformly; random GPU. */
export function randomFit(random: () => number): PlacementPolicy {
  return policy('random', false, (node, r) => {
    if (!isSharingRequest(r)) return { score: 0, gpus: candidateGpuSets(node, r)[0] ?? [] };
    const fitting: number[] = [];
    node.gpuFree.forEach((f, i) => {
      if (f >= r.gpuMilli) fitting.push(i);
    });
    return { score: 0, gpus: [fitting[Math.floor(random() * fitting.length)] ?? (fitting[0] as number)] };
  });
}

/** Best-fit: ½·leftover CPU/maxCpu + ½·leftover GPU/maxGpu after placing; least leftover wins. */
export function bestFit(maxCpuMilli = 128_000, maxGpuMilli = 8 * MILLI): PlacementPolicy {
  return policy('best-fit', false, (node, r) => ({ score: bestFitScore(node, r, maxCpuMilli, maxGpuMilli), gpus: packedGpus(node, r) }));
}

function bestFitScore(node: GpuNodeView, r: PlacementRequest, maxCpuMilli: number, maxGpuMilli: number): number {
  return (0.5 * (node.cpuFree - r.cpuMilli)) / maxCpuMilli + (0.5 * (totalFree(node) - requestGpuMilli(r))) / maxGpuMilli;
}

/**
 * Dot-product (Tetris-style alignment, as the FGD paper's baseline applies it): the dot product of
 * the node's normalised free (CPU, GPU) vector with the request's, smallest wins; for a shared GPU
 * the GPU dimension is the chosen GPU's free share, and the GPU minimising the product is used.
 */
export function dotProduct(maxCpuMilli = 128_000, maxGpuMilli = 8 * MILLI): PlacementPolicy {
  return policy('dot-product', false, (node, r) => {
    const cpu = (node.cpuFree / maxCpuMilli) * (r.cpuMilli / maxCpuMilli);
    if (!isSharingRequest(r)) {
      const gpu = (totalFree(node) / maxGpuMilli) * (requestGpuMilli(r) / maxGpuMilli);
      return { score: (cpu + gpu) / 2, gpus: candidateGpuSets(node, r)[0] ?? [] };
    }
    let best: NodeChoice | undefined;
    for (const [g] of candidateGpuSets(node, r)) {
      const gpu = ((node.gpuFree[g as number] ?? 0) / MILLI) * (r.gpuMilli / MILLI);
      const score = (cpu + gpu) / 2;
      if (best === undefined || score < best.score) best = { score, gpus: [g as number] };
    }
    return best;
  });
}

/**
 * GPU-packing, in three tiers (lower is better): 0.x — the request fits on GPUs already in use
 * (less free on them is better); 1.x — it needs fully free GPUs of a node already in use (fewer
 * is better); 2.x — the node is idle (fewer GPUs is better). CPU-only requests score 0 everywhere.
 */
export function gpuPacking(): PlacementPolicy {
  return policy('gpu-packing', false, (node, r) => {
    if (r.gpuCount === 0) return { score: 0, gpus: [] };
    const gpus = packedGpus(node, r);
    const n = node.gpuFree.length;
    if (node.gpuFree.every((f) => f === MILLI)) return { score: 2 + n / 1000, gpus };
    const fullyFreeUsed = gpus.filter((g) => node.gpuFree[g] === MILLI).length;
    if (fullyFreeUsed > 0) return { score: 1 + fullyFreeUsed / 1000, gpus };
    const freeOnUsed = gpus.reduce((a, g) => a + (node.gpuFree[g] ?? 0), 0);
    return { score: freeOnUsed / (MILLI * Math.max(1, n) + 1), gpus };
  });
}

/**
 * GPU-clustering: tasks of the same GPU shape (gpuShapeTag) go together. Tiers (lower is better):
 * 0 — the node runs only that shape; 1 — it runs that shape among others; 2 — it runs no GPU
 * task; 3 — it runs only other shapes. Within a tier, less free GPU is better. Reads gpuTags.
 */
export function gpuClustering(maxGpuMilli = 8 * MILLI): PlacementPolicy {
  return policy('gpu-clustering', true, (node, r) => {
    if (r.gpuCount === 0) return { score: 0, gpus: [] };
    const tags = node.gpuTags;
    const tag = gpuShapeTag(r);
    let kinds = 0;
    if (tags !== undefined) for (const c of tags.values()) if (c > 0) kinds += 1;
    const has = (tags?.get(tag) ?? 0) > 0;
    const tier = has ? (kinds === 1 ? 0 : 1) : kinds === 0 ? 2 : 3;
    return { score: tier + Math.min(0.999, totalFree(node) / (maxGpuMilli + 1)), gpus: packedGpus(node, r) };
  });
}

/**
 * FGD: score = growth of the node's fragmentation (in GPUs) if the request is placed there, on the
 * GPU that makes it grow least. `tieBreak` adds a tiny secondary term (used by 'strata').
 */
function fragmentationGradient(name: 'fgd' | 'strata', workload: TargetWorkload, tieBreak: ((node: GpuNodeView, r: PlacementRequest) => number) | undefined): PlacementPolicy {
  // Fragmentation before placement depends only on the (immutable) view: cache it per view object.
  const before = new WeakMap<GpuNodeView, number>();
  let scratch = new Float64Array(16);
  return policy(name, false, (node, r) => {
    let f0 = before.get(node);
    if (f0 === undefined) {
      f0 = nodeFragmentation(node, workload);
      before.set(node, f0);
    }
    const n = node.gpuFree.length;
    if (scratch.length < n) scratch = new Float64Array(n);
    const view = scratch.subarray(0, n);
    const after = { gpuModel: node.gpuModel, cpuFree: node.cpuFree - r.cpuMilli, memoryFree: node.memoryFree - r.memoryMiB, gpuFree: view };
    let best: NodeChoice | undefined;
    for (const gpus of candidateGpuSets(node, r)) {
      for (let i = 0; i < n; i++) view[i] = node.gpuFree[i] as number;
      for (const g of gpus) view[g] = (view[g] as number) - r.gpuMilli;
      const delta = (nodeFragmentation(after, workload) - f0) / MILLI;
      if (best === undefined || delta < best.score) best = { score: delta, gpus };
    }
    if (best !== undefined && tieBreak !== undefined) best = { score: best.score + 1e-4 * tieBreak(node, r), gpus: best.gpus };
    return best;
  });
}

/** FGD (Weng et al., ATC'23): place where fragmentation against `workload` grows least. */
export function fgd(workload: TargetWorkload): PlacementPolicy {
  return fragmentationGradient('fgd', workload, undefined);
}

/** How Strata's policy builds its target workload from a trace (see targetWorkload). */
export const STRATA_WORKLOAD = { memoryAware: true, gpuWeighted: true } as const;

/**
 * Strata's policy: FGD against a memory-aware, GPU-weighted target workload (build it with
 * `targetWorkload(requests, STRATA_WORKLOAD)`), near-ties broken by best fit (see the header).
 */
export function strataPlacement(workload: TargetWorkload, maxCpuMilli = 128_000, maxGpuMilli = 8 * MILLI): PlacementPolicy {
  return fragmentationGradient('strata', workload, (node, r) => Math.max(0, Math.min(1, bestFitScore(node, r, maxCpuMilli, maxGpuMilli))));
}

/** Builds a policy by name; throws `bad_request` when a policy's required option is missing. */
export function createPolicy(name: PolicyName, options: PolicyOptions = {}): PlacementPolicy {
  const maxCpu = options.maxCpuMilli ?? 128_000;
  const maxGpu = options.maxGpuMilli ?? 8 * MILLI;
  const needWorkload = (): TargetWorkload => {
    if (options.workload === undefined) throw badRequest(`policy '${name}' needs a target workload (the distribution of task shapes)`);
    return options.workload;
  };
  switch (name) {
    case 'random': {
      if (options.random === undefined) throw badRequest("policy 'random' needs a seeded random source");
      return randomFit(options.random);
    }
    case 'best-fit':
      return bestFit(maxCpu, maxGpu);
    case 'dot-product':
      return dotProduct(maxCpu, maxGpu);
    case 'gpu-packing':
      return gpuPacking();
    case 'gpu-clustering':
      return gpuClustering(maxGpu);
    case 'fgd':
      return fgd(needWorkload());
    case 'strata':
      return strataPlacement(needWorkload(), maxCpu, maxGpu);
  }
}
