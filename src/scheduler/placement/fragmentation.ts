// The fragmentation measure of FGD (Weng et al., "Beware of Fragmentation", USENIX ATC'23, §4):
// the expected number of a node's free GPUs that the next task cannot use, where the next task is
// drawn from the target workload's distribution of task shapes.
//
// For one task shape m on node n:
//   - m cannot run on n at all (too little CPU, too few GPUs with enough free, or a GPU model it
//     does not accept): every free milli-GPU of n is a fragment to m;
//   - m can run on n: the free milli-GPU of the GPUs that individually have less free than m's
//     per-GPU demand are fragments to m (a 0.5-GPU task cannot use a GPU with 0.3 free).
//   - a task that asks for no GPU can use none of them: all free milli-GPU are fragments to it
//     (so CPU-only shapes add a term that, for one task, is the same on every node; they are left
//     out of `targetWorkload` by default, while the authors' experiments keep them, together with
//     only the most popular shapes: FGD_TYPICAL_TASKS).
// F(n) = Σ_m p_m · frag_m(n), in milli-GPU; the cluster's fragmentation is Σ_n F(n).
// By default memory is not part of the measure (the authors' definition uses CPU and GPU; memory
// is still enforced when placing). A memory-aware workload (`memoryAware`) also counts a node's
// GPUs as fragments to a task that lacks memory there — on openb, memory is what most often strands
// GPUs. Pure and allocation-free on the hot path.
import type { GpuNodeView, PlacementRequest } from './model.ts';
import { badRequest } from '../../kernel/index.ts';

/** One task shape of the target workload with its probability. */
export interface WorkloadShape {
  readonly cpuMilli: number;
  /** Memory demand (0 when the workload is not memory-aware). */
  readonly memoryMiB: number;
  readonly gpuCount: number;
  readonly gpuMilli: number;
  /** Acceptable GPU models, sorted and de-duplicated; empty means any. */
  readonly gpuModels: readonly string[];
  /** Probability of the shape; the shapes' weights sum to 1. */
  readonly weight: number;
}

/** Shapes sharing (gpuCount, gpuMilli, models), sorted by CPU with cumulative weights. */
interface ShapeGroup {
  readonly gpuCount: number;
  readonly gpuMilli: number;
  readonly models: ReadonlySet<string> | undefined;
  readonly cpu: Float64Array;
  readonly memory: Float64Array;
  readonly weights: Float64Array;
  /** True when some shape of the group asks for memory (then fit is checked shape by shape). */
  readonly usesMemory: boolean;
  /** cumWeight[i] = Σ weight of shapes 0..i of the group (by ascending CPU). */
  readonly cumWeight: Float64Array;
  readonly weight: number;
}

/** The distribution of task shapes that fragmentation is measured against. */
export interface TargetWorkload {
  readonly shapes: readonly WorkloadShape[];
  readonly groups: readonly ShapeGroup[];
}

/** What the measure reads of a node (memory is not part of it). */
export interface FragmentationInput {
  readonly gpuModel: string;
  readonly cpuFree: number;
  /** Free memory; only read by memory-aware workloads (absent = unlimited). */
  readonly memoryFree?: number;
  readonly gpuFree: ArrayLike<number>;
}

const modelsKey = (models: readonly string[] | undefined): string[] => [...new Set(models ?? [])].sort();

/**
 * Builds a target workload from shapes with (unnormalised, positive) weights; equal shapes merge.
 * Throws `bad_request` when there is no shape with positive weight.
 */
export function workloadFromShapes(shapes: Iterable<{ cpuMilli: number; memoryMiB?: number; gpuCount: number; gpuMilli: number; gpuModels?: readonly string[]; weight: number }>): TargetWorkload {
  const merged = new Map<string, { cpuMilli: number; memoryMiB: number; gpuCount: number; gpuMilli: number; gpuModels: string[]; weight: number }>();
  for (const s of shapes) {
    if (!(s.weight > 0)) continue;
    const gpuModels = s.gpuCount === 0 ? [] : modelsKey(s.gpuModels);
    const memoryMiB = s.memoryMiB ?? 0;
    const key = `${s.cpuMilli}/${memoryMiB}/${s.gpuCount}/${s.gpuMilli}/${gpuModels.join('|')}`;
    const m = merged.get(key);
    if (m === undefined) merged.set(key, { cpuMilli: s.cpuMilli, memoryMiB, gpuCount: s.gpuCount, gpuMilli: s.gpuMilli, gpuModels, weight: s.weight });
    else m.weight += s.weight;
  }
  const total = [...merged.values()].reduce((a, s) => a + s.weight, 0);
  if (!(total > 0)) throw badRequest('the target workload is empty: give at least one task shape with positive weight');
  const list: WorkloadShape[] = [...merged.values()]
    .map((s) => ({ ...s, weight: s.weight / total }))
    .sort((a, b) => b.weight - a.weight || a.gpuCount - b.gpuCount || a.gpuMilli - b.gpuMilli || a.cpuMilli - b.cpuMilli);

  const byGroup = new Map<string, WorkloadShape[]>();
  for (const s of list) {
    const key = `${s.gpuCount}/${s.gpuMilli}/${s.gpuModels.join('|')}`;
    const g = byGroup.get(key);
    if (g === undefined) byGroup.set(key, [s]);
    else g.push(s);
  }
  const groups: ShapeGroup[] = [...byGroup.values()].map((members) => {
    const sorted = [...members].sort((a, b) => a.cpuMilli - b.cpuMilli);
    const cpu = Float64Array.from(sorted, (s) => s.cpuMilli);
    const memory = Float64Array.from(sorted, (s) => s.memoryMiB);
    const weights = Float64Array.from(sorted, (s) => s.weight);
    const cumWeight = new Float64Array(sorted.length);
    let acc = 0;
    sorted.forEach((s, i) => {
      acc += s.weight;
      cumWeight[i] = acc;
    });
    const first = sorted[0] as WorkloadShape;
    return {
      gpuCount: first.gpuCount,
      gpuMilli: first.gpuMilli,
      models: first.gpuModels.length === 0 ? undefined : new Set(first.gpuModels),
      cpu,
      memory,
      weights,
      usesMemory: sorted.some((s) => s.memoryMiB > 0),
      cumWeight,
      weight: acc,
    };
  });
  return { shapes: list, groups };
}

export interface TargetWorkloadOptions {
  /** Keep CPU-only tasks in the distribution (default false). */
  readonly includeCpuOnly?: boolean;
  /** Keep only the most frequent shapes covering this share of tasks, in (0, 1] (default 1). */
  readonly popularity?: number;
  /** Shapes carry memory and a task lacking memory on a node counts the node's GPUs as fragments. */
  readonly memoryAware?: boolean;
  /** Weight shapes by frequency × √(GPUs asked) instead of frequency alone. */
  readonly gpuWeighted?: boolean;
}

/**
 * The typical tasks of the authors' FGD experiments (their generate_config_and_run.py defaults:
 * CPU-only tasks included, the most frequent shapes covering 95 % of tasks, step 1, no GPU weight).
 * On openb_pod_list_default that keeps 35 of 91 shapes and no multi-GPU shape.
 */
export const FGD_TYPICAL_TASKS = { includeCpuOnly: true, popularity: 0.95 } as const;

/**
 * The target workload of a trace: each distinct (CPU, GPU count, milli-GPU, models) shape weighted
 * by how often it occurs. CPU-only tasks are left out unless `includeCpuOnly` (they change every
 * placement's fragmentation by the same amount, see the header).
 */
export function targetWorkload(requests: Iterable<PlacementRequest>, options: TargetWorkloadOptions = {}): TargetWorkload {
  const counts = new Map<string, { cpuMilli: number; memoryMiB: number; gpuCount: number; gpuMilli: number; gpuModels: string[]; weight: number }>();
  let totalWeight = 0;
  for (const r of requests) {
    if (r.gpuCount === 0 && options.includeCpuOnly !== true) continue;
    const gpuModels = r.gpuCount === 0 ? [] : modelsKey(r.gpuModels);
    const memoryMiB = options.memoryAware === true ? r.memoryMiB : 0;
    const key = `${r.cpuMilli}/${memoryMiB}/${r.gpuCount}/${r.gpuMilli}/${gpuModels.join('|')}`;
    // GPU-weighted: a task counts by the square root of its GPU demand, so rare large tasks (whose
    // failure strands many GPUs) weigh more than their frequency alone.
    const w = options.gpuWeighted === true ? Math.sqrt(Math.max(1, (r.gpuCount * r.gpuMilli) / 1000)) : 1;
    const c = counts.get(key);
    if (c === undefined) counts.set(key, { cpuMilli: r.cpuMilli, memoryMiB, gpuCount: r.gpuCount, gpuMilli: r.gpuMilli, gpuModels, weight: w });
    else c.weight += w;
    totalWeight += w;
  }
  const popularity = options.popularity ?? 1;
  if (!(popularity > 0 && popularity <= 1)) throw badRequest(`popularity must be in (0, 1], got ${popularity}`);
  // The most frequent shapes that together cover `popularity` of the tasks; among equally frequent
  // shapes the larger (CPU, then milli-GPU, GPU count, models) ranks first, as in the authors'
  // GetTypicalPods (a reverse sort of their TargetPodList).
  const ranked = [...counts.values()].sort(
    (a, b) => b.weight - a.weight || b.cpuMilli - a.cpuMilli || b.gpuMilli - a.gpuMilli || b.gpuCount - a.gpuCount || (a.gpuModels.join('|') < b.gpuModels.join('|') ? 1 : a.gpuModels.join('|') > b.gpuModels.join('|') ? -1 : 0),
  );
  const kept: typeof ranked = [];
  let covered = 0;
  for (const s of ranked) {
    if (covered >= popularity * totalWeight - 1e-9) break;
    kept.push(s);
    covered += s.weight;
  }
  return workloadFromShapes(kept);
}

/** Σ weight of the group's shapes whose CPU demand is at most `cpuFree` (binary search). */
function weightFittingCpu(g: ShapeGroup, cpuFree: number): number {
  let lo = 0;
  let hi = g.cpu.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((g.cpu[mid] as number) <= cpuFree) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? 0 : (g.cumWeight[lo - 1] as number);
}

/** Σ weight of the group's shapes that fit both the free CPU and the free memory. */
function weightFittingCpuAndMemory(g: ShapeGroup, cpuFree: number, memoryFree: number): number {
  let w = 0;
  for (let i = 0; i < g.cpu.length && (g.cpu[i] as number) <= cpuFree; i++) if ((g.memory[i] as number) <= memoryFree) w += g.weights[i] as number;
  return w;
}

/** Fragmentation of one node against the target workload: expected unusable milli-GPU. */
export function nodeFragmentation(node: FragmentationInput, workload: TargetWorkload): number {
  const free = node.gpuFree;
  const n = free.length;
  let total = 0;
  for (let i = 0; i < n; i++) total += free[i] as number;
  if (total === 0) return 0;
  let frag = 0;
  for (const g of workload.groups) {
    if (g.gpuCount === 0) {
      frag += g.weight * total;
      continue;
    }
    if (g.models !== undefined && !g.models.has(node.gpuModel)) {
      frag += g.weight * total;
      continue;
    }
    let usable = 0;
    let partial = 0;
    for (let i = 0; i < n; i++) {
      const f = free[i] as number;
      if (f >= g.gpuMilli) usable += 1;
      else partial += f;
    }
    if (usable < g.gpuCount) {
      frag += g.weight * total;
      continue;
    }
    const wFit = g.usesMemory ? weightFittingCpuAndMemory(g, node.cpuFree, node.memoryFree ?? Infinity) : weightFittingCpu(g, node.cpuFree);
    frag += wFit * partial + (g.weight - wFit) * total;
  }
  return frag;
}

/** Fragmentation of a node to one task shape (frag_m(n) in the header), in milli-GPU. */
export function taskFragmentation(node: FragmentationInput, shape: Pick<WorkloadShape, 'cpuMilli' | 'gpuCount' | 'gpuMilli' | 'gpuModels'> & { readonly memoryMiB?: number }): number {
  return nodeFragmentation(node, workloadFromShapes([{ ...shape, weight: 1 }]));
}

/** Cluster fragmentation: Σ over nodes, in milli-GPU. */
export function clusterFragmentation(nodes: Iterable<GpuNodeView>, workload: TargetWorkload): number {
  let s = 0;
  for (const n of nodes) s += nodeFragmentation(n, workload);
  return s;
}
