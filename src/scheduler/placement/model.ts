// The typed node/request model of GPU placement with fractional GPUs (GPU sharing), as in the
// Alibaba openb trace and the FGD paper (Weng et al., USENIX ATC'23): a task asks for CPU, memory
// and either no GPU, a share 0 < g < 1 of one GPU (in milli-GPU), or k whole GPUs, optionally
// restricted to a set of GPU models. A node offers CPU, memory and a list of GPUs, each with its
// own free milli-GPU. Pure: data in, data out.
import { badRequest } from '../../kernel/index.ts';

/** 1 GPU = 1000 milli-GPU. */
export const MILLI = 1000;

/** A node as a placement policy sees it: an immutable snapshot of capacity and free resources. */
export interface GpuNodeView {
  readonly id: string;
  /** GPU model of every device on the node ('' when the node has no GPU). */
  readonly gpuModel: string;
  readonly cpuMilli: number;
  readonly memoryMiB: number;
  readonly cpuFree: number;
  readonly memoryFree: number;
  /** Free milli-GPU of each device, 0..1000, one entry per GPU. */
  readonly gpuFree: readonly number[];
  /**
   * Tags of the GPU tasks running on the node with their counts (see `gpuShapeTag`). Only the
   * GPU-clustering policy reads them; leave undefined otherwise.
   */
  readonly gpuTags?: ReadonlyMap<string, number>;
}

/** What a task asks for. */
export interface PlacementRequest {
  readonly cpuMilli: number;
  readonly memoryMiB: number;
  /** Number of GPUs: 0 (CPU only), 1 (a share or a whole GPU), or k > 1 whole GPUs. */
  readonly gpuCount: number;
  /** Milli-GPU per GPU: 0 without GPU, 1..1000 for one GPU, exactly 1000 when gpuCount > 1. */
  readonly gpuMilli: number;
  /** Acceptable GPU models; empty or absent means any model. */
  readonly gpuModels?: readonly string[];
}

/** A decision on one node: its score (lower is better) and the GPUs (indices into gpuFree) to use. */
export interface NodeChoice {
  readonly score: number;
  readonly gpus: readonly number[];
}

/** Total milli-GPU a request asks for. */
export const requestGpuMilli = (r: PlacementRequest): number => r.gpuCount * r.gpuMilli;

/** True for a fractional (GPU-sharing) request: one GPU, less than all of it. */
export const isSharingRequest = (r: PlacementRequest): boolean => r.gpuCount === 1 && r.gpuMilli < MILLI;

/**
 * Tag used by GPU clustering: tasks with the same tag are clustered on the same nodes. As in the
 * authors' simulator (GetGpuAffinityFromPodAnnotation), every shared-GPU task has one tag, and
 * whole-GPU tasks have one tag per GPU count; CPU-only tasks have none ('').
 */
export const gpuShapeTag = (r: PlacementRequest): string => (r.gpuCount === 0 ? '' : isSharingRequest(r) ? 'share' : `${r.gpuCount}-gpu`);

/**
 * Checks a request's shape and throws a `bad_request` StrataError naming the problem.
 * The rules are the openb trace's: k > 1 GPUs are whole GPUs; a single GPU may be shared.
 */
export function validateRequest(r: PlacementRequest, what = 'request'): void {
  const int = (x: number): boolean => Number.isInteger(x) && x >= 0;
  if (!int(r.cpuMilli)) throw badRequest(`${what}: cpuMilli must be a non-negative integer, got ${r.cpuMilli}`);
  if (!(Number.isFinite(r.memoryMiB) && r.memoryMiB >= 0)) throw badRequest(`${what}: memoryMiB must be a non-negative number, got ${r.memoryMiB}`);
  if (!int(r.gpuCount)) throw badRequest(`${what}: gpuCount must be a non-negative integer, got ${r.gpuCount}`);
  if (r.gpuCount === 0 && r.gpuMilli !== 0) throw badRequest(`${what}: gpuMilli must be 0 when no GPU is requested, got ${r.gpuMilli}`);
  if (r.gpuCount === 1 && !(int(r.gpuMilli) && r.gpuMilli >= 1 && r.gpuMilli <= MILLI)) throw badRequest(`${what}: gpuMilli must be an integer in 1..1000 for one GPU, got ${r.gpuMilli}`);
  if (r.gpuCount > 1 && r.gpuMilli !== MILLI) throw badRequest(`${what}: a request for ${r.gpuCount} GPUs must take whole GPUs (gpuMilli 1000), got ${r.gpuMilli}`);
}

/** True when the node's GPU model is acceptable to the request (always true without GPUs asked). */
export function gpuModelAccepted(node: Pick<GpuNodeView, 'gpuModel'>, r: PlacementRequest): boolean {
  if (r.gpuCount === 0 || r.gpuModels === undefined || r.gpuModels.length === 0) return true;
  return r.gpuModels.includes(node.gpuModel);
}

/** Number of GPUs on which at least `milli` is free. */
export function gpusWithFree(gpuFree: readonly number[], milli: number): number {
  let n = 0;
  for (const f of gpuFree) if (f >= milli) n += 1;
  return n;
}

/** True when the request fits on the node's free CPU, memory and GPUs (model included). */
export function fitsNode(node: GpuNodeView, r: PlacementRequest): boolean {
  if (node.cpuFree < r.cpuMilli || node.memoryFree < r.memoryMiB) return false;
  if (r.gpuCount === 0) return true;
  if (!gpuModelAccepted(node, r)) return false;
  return gpusWithFree(node.gpuFree, r.gpuMilli) >= r.gpuCount;
}

/**
 * The GPU sets worth considering for a request on a node (assumed to fit): for a shared GPU, one
 * candidate per distinct free amount that can hold it (GPUs with equal free amounts are
 * interchangeable); for whole GPUs, the first `gpuCount` fully free GPUs; for none, the empty set.
 */
export function candidateGpuSets(node: GpuNodeView, r: PlacementRequest): number[][] {
  if (r.gpuCount === 0) return [[]];
  if (isSharingRequest(r)) {
    const seen = new Set<number>();
    const out: number[][] = [];
    node.gpuFree.forEach((f, i) => {
      if (f >= r.gpuMilli && !seen.has(f)) {
        seen.add(f);
        out.push([i]);
      }
    });
    return out;
  }
  const picked: number[] = [];
  for (let i = 0; i < node.gpuFree.length && picked.length < r.gpuCount; i++) if ((node.gpuFree[i] ?? 0) >= r.gpuMilli) picked.push(i);
  return picked.length === r.gpuCount ? [picked] : [];
}

/** The node after placing the request on the given GPUs (pure; throws if it does not fit). */
export function placeOnView(node: GpuNodeView, r: PlacementRequest, gpus: readonly number[]): GpuNodeView {
  if (node.cpuFree < r.cpuMilli || node.memoryFree < r.memoryMiB) throw badRequest(`request does not fit on node ${node.id}: not enough CPU or memory`);
  if (gpus.length !== r.gpuCount || new Set(gpus).size !== gpus.length) throw badRequest(`request for ${r.gpuCount} GPU(s) was given GPUs [${gpus.join(',')}] on node ${node.id}`);
  const gpuFree = [...node.gpuFree];
  for (const g of gpus) {
    const f = gpuFree[g];
    if (f === undefined || f < r.gpuMilli) throw badRequest(`GPU ${g} of node ${node.id} has ${f ?? 'no'} milli-GPU free, ${r.gpuMilli} needed`);
    gpuFree[g] = f - r.gpuMilli;
  }
  let gpuTags = node.gpuTags;
  if (gpuTags !== undefined && r.gpuCount > 0) {
    const t = new Map(gpuTags);
    const tag = gpuShapeTag(r);
    t.set(tag, (t.get(tag) ?? 0) + 1);
    gpuTags = t;
  }
  return {
    ...node,
    cpuFree: node.cpuFree - r.cpuMilli,
    memoryFree: node.memoryFree - r.memoryMiB,
    gpuFree,
    ...(gpuTags === undefined ? {} : { gpuTags }),
  };
}
