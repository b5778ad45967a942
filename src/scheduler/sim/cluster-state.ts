// Mutable state of a simulated GPU cluster: free CPU, memory and per-GPU milli-GPU of every node,
// what is allocated where, and the cluster's fragmentation, kept up to date incrementally.
//
// Nodes in identical states (same model, free CPU, free memory and multiset of free GPU shares —
// and GPU-shape tags when the policy reads them) score identically under every policy, so they are
// kept in buckets and a placement scores each distinct state once: thousands of nodes, but far
// fewer distinct states. Exact ties are broken uniformly at random over nodes with the seeded RNG,
// or — given a node priority (`nodeRank`) — in favour of the node ranked first. The latter is how
// the FGD authors' simulator breaks ties: its Kubernetes fork picks, among the best-scoring nodes,
// the one whose name sorts first, and it prefixes node names with a seeded random permutation
// (pkg/simulator/simulator.go, syncClusterResourceList), so ties go to a fixed random order of nodes.
import { badRequest, StrataError } from '../../kernel/index.ts';
import { MILLI, gpuShapeTag, nodeFragmentation } from '../placement/index.ts';
import type { GpuNodeView, PlacementPolicy, PlacementRequest, TargetWorkload } from '../placement/index.ts';

/** A node of the cluster description. */
export interface ClusterNode {
  readonly id: string;
  /** GPU model ('' without GPUs). */
  readonly gpuModel: string;
  readonly cpuMilli: number;
  readonly memoryMiB: number;
  readonly gpuCount: number;
  /** Power model (watts): idle draw, plus CPU and per-GPU draw at full allocation, linear between. */
  readonly power?: { readonly idleWatts: number; readonly cpuWatts: number; readonly gpuWatts: number };
  /** Carbon intensity of the node's electricity, gCO2e/kWh. */
  readonly carbonGPerKWh?: number;
}

/** Where a request was placed: the node index and the physical GPU indices used. */
export interface Allocation {
  readonly node: number;
  readonly gpus: readonly number[];
  readonly request: PlacementRequest;
}

interface Bucket {
  readonly key: string;
  readonly view: GpuNodeView;
  readonly members: number[];
}

/**
 * A seeded random tie-break order for `ClusterState`'s `nodeRank`: a uniformly random permutation,
 * rank[i] being node i's place (the authors' simulator draws one per run, see the header).
 */
export function randomNodeRank(n: number, random: () => number): number[] {
  const rank = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [rank[i], rank[j]] = [rank[j] as number, rank[i] as number];
  }
  return rank;
}

/** Relative tolerance under which two scores are a tie. */
const TIE = 1e-12;

export class ClusterState {
  readonly nodes: readonly ClusterNode[];
  readonly gpuCapacityMilli: number;
  readonly cpuCapacityMilli: number;
  private readonly cpuFree: Float64Array;
  private readonly memFree: Float64Array;
  private readonly gpuOffset: Int32Array;
  private readonly gpuFree: Int32Array;
  private readonly tags: Map<string, number>[] | undefined;
  private readonly frag: Float64Array;
  private readonly keys: string[];
  private readonly slot: Int32Array;
  private readonly buckets = new Map<string, Bucket>();
  private allocatedGpu = 0;
  private allocatedCpu = 0;
  private fragTotal = 0;

  /**
   * @param nodes the cluster description (ids must be unique)
   * @param options.withTags keep GPU-shape tags per node (for GPU clustering)
   * @param options.workload measure fragmentation against this target workload
   * @param options.nodeRank a priority per node (lower first) that breaks ties instead of the RNG
   */
  constructor(nodes: readonly ClusterNode[], private readonly options: { withTags?: boolean; workload?: TargetWorkload; nodeRank?: readonly number[] } = {}) {
    if (nodes.length === 0) throw badRequest('the cluster has no nodes');
    const ids = new Set<string>();
    for (const n of nodes) {
      if (ids.has(n.id)) throw badRequest(`node id '${n.id}' appears twice in the cluster description`);
      ids.add(n.id);
    }
    this.nodes = nodes;
    const count = nodes.length;
    if (options.nodeRank !== undefined && options.nodeRank.length !== count) throw badRequest(`nodeRank has ${options.nodeRank.length} entries for ${count} nodes`);
    this.cpuFree = Float64Array.from(nodes, (n) => n.cpuMilli);
    this.memFree = Float64Array.from(nodes, (n) => n.memoryMiB);
    this.gpuOffset = new Int32Array(count + 1);
    nodes.forEach((n, i) => (this.gpuOffset[i + 1] = (this.gpuOffset[i] as number) + n.gpuCount));
    this.gpuFree = new Int32Array(this.gpuOffset[count] as number).fill(MILLI);
    this.gpuCapacityMilli = (this.gpuOffset[count] as number) * MILLI;
    this.cpuCapacityMilli = nodes.reduce((a, n) => a + n.cpuMilli, 0);
    this.tags = options.withTags === true ? nodes.map(() => new Map<string, number>()) : undefined;
    this.frag = new Float64Array(count);
    this.keys = new Array<string>(count).fill('');
    this.slot = new Int32Array(count);
    for (let i = 0; i < count; i++) this.refresh(i, true);
  }

  /** Milli-GPU allocated now. */
  get allocatedGpuMilli(): number {
    return this.allocatedGpu;
  }
  /** Milli-CPU allocated now. */
  get allocatedCpuMilli(): number {
    return this.allocatedCpu;
  }
  /** Cluster fragmentation now, milli-GPU (0 without a workload). */
  get fragmentationMilli(): number {
    return this.fragTotal;
  }
  /** Number of distinct node states (buckets). */
  get distinctStates(): number {
    return this.buckets.size;
  }

  /** Free GPU shares of node i, physical order. */
  gpuFreeOf(i: number): number[] {
    return Array.from(this.gpuFree.subarray(this.gpuOffset[i] as number, this.gpuOffset[i + 1] as number));
  }
  cpuFreeOf(i: number): number {
    return this.cpuFree[i] as number;
  }
  memoryFreeOf(i: number): number {
    return this.memFree[i] as number;
  }
  /** Allocated milli-GPU on node i. */
  gpuAllocatedOf(i: number): number {
    return ((this.gpuOffset[i + 1] as number) - (this.gpuOffset[i] as number)) * MILLI - this.gpuFreeOf(i).reduce((a, b) => a + b, 0);
  }

  /** Snapshot of node i as policies see it (GPUs in physical order). */
  view(i: number): GpuNodeView {
    const n = this.nodes[i] as ClusterNode;
    const tags = this.tags?.[i];
    return {
      id: n.id,
      gpuModel: n.gpuModel,
      cpuMilli: n.cpuMilli,
      memoryMiB: n.memoryMiB,
      cpuFree: this.cpuFree[i] as number,
      memoryFree: this.memFree[i] as number,
      gpuFree: this.gpuFreeOf(i),
      ...(tags === undefined ? {} : { gpuTags: new Map(tags) }),
    };
  }

  /** Physical GPU indices of node i ordered by free share, descending (stable): the bucket order. */
  private canonicalOrder(i: number): number[] {
    const free = this.gpuFreeOf(i);
    return free.map((_, k) => k).sort((a, b) => (free[b] as number) - (free[a] as number) || a - b);
  }

  private keyOf(i: number): string {
    const n = this.nodes[i] as ClusterNode;
    const sorted = this.gpuFreeOf(i).sort((a, b) => b - a);
    let key = `${n.gpuModel}|${this.cpuFree[i]}|${this.memFree[i]}|${sorted.join(',')}`;
    const tags = this.tags?.[i];
    if (tags !== undefined && tags.size > 0) key += `|${[...tags].filter(([, c]) => c > 0).map(([t]) => t).sort().join(',')}`;
    return key;
  }

  /** Moves node i to the bucket of its current state and updates its fragmentation. */
  private refresh(i: number, initial = false): void {
    if (!initial) {
      const old = this.buckets.get(this.keys[i] as string);
      if (old !== undefined) {
        const s = this.slot[i] as number;
        const last = old.members.pop() as number;
        if (last !== i) {
          old.members[s] = last;
          this.slot[last] = s;
        }
        if (old.members.length === 0) this.buckets.delete(old.key);
      }
    }
    const key = this.keyOf(i);
    this.keys[i] = key;
    let b = this.buckets.get(key);
    if (b === undefined) {
      const v = this.view(i);
      const order = this.canonicalOrder(i);
      b = { key, view: { ...v, gpuFree: order.map((k) => v.gpuFree[k] as number) }, members: [] };
      this.buckets.set(key, b);
    }
    this.slot[i] = b.members.length;
    b.members.push(i);
    if (this.options.workload !== undefined) {
      const f = nodeFragmentation(b.view, this.options.workload);
      this.fragTotal += f - (this.frag[i] as number);
      this.frag[i] = f;
    }
  }

  /**
   * Asks the policy for the best node for a request: every distinct node state is scored once;
   * among the lowest scores (exact ties) the node ranked first by `nodeRank` wins, or without a
   * rank a node drawn uniformly with `random`. The policy then picks the GPUs on the chosen node as
   * it is laid out (GPU index order can matter to it). Returns the node index and the physical GPUs
   * to use, or undefined when the request fits nowhere.
   */
  select(policy: PlacementPolicy, request: PlacementRequest, random: () => number): { node: number; gpus: number[] } | undefined {
    let bestScore = Infinity;
    let tied: { bucket: Bucket; gpus: readonly number[] }[] = [];
    let tiedNodes = 0;
    for (const b of this.buckets.values()) {
      const c = policy.choose(b.view, request);
      if (c === undefined) continue;
      const tol = TIE * Math.max(1, Math.abs(c.score), Math.abs(bestScore === Infinity ? 0 : bestScore));
      if (c.score < bestScore - tol) {
        bestScore = c.score;
        tied = [{ bucket: b, gpus: c.gpus }];
        tiedNodes = b.members.length;
      } else if (Math.abs(c.score - bestScore) <= tol) {
        tied.push({ bucket: b, gpus: c.gpus });
        tiedNodes += b.members.length;
      }
    }
    if (tied.length === 0) return undefined;
    const node = this.tieBreak(tied, tiedNodes, random);
    const onNode = policy.choose(this.view(node), request);
    if (onNode === undefined) throw new StrataError('internal', `policy ${policy.name} scored node ${this.nodes[node]?.id} but cannot place there`);
    return { node, gpus: [...onNode.gpus] };
  }

  /** The node that wins a tie among the members of the tied buckets (see `select`). */
  private tieBreak(tied: readonly { bucket: Bucket }[], tiedNodes: number, random: () => number): number {
    const rank = this.options.nodeRank;
    if (rank !== undefined) {
      let best = -1;
      for (const t of tied) for (const m of t.bucket.members) if (best < 0 || (rank[m] as number) < (rank[best] as number)) best = m;
      return best;
    }
    let pick = Math.floor(random() * tiedNodes);
    for (const t of tied) {
      if (pick < t.bucket.members.length) return t.bucket.members[pick] as number;
      pick -= t.bucket.members.length;
    }
    throw new StrataError('internal', 'tie-break fell outside the tied buckets');
  }

  /** True when the request fits node i as it is now. */
  fits(i: number, r: PlacementRequest): boolean {
    if ((this.cpuFree[i] as number) < r.cpuMilli || (this.memFree[i] as number) < r.memoryMiB) return false;
    if (r.gpuCount === 0) return true;
    const n = this.nodes[i] as ClusterNode;
    if (r.gpuModels !== undefined && r.gpuModels.length > 0 && !r.gpuModels.includes(n.gpuModel)) return false;
    let ok = 0;
    for (let k = this.gpuOffset[i] as number; k < (this.gpuOffset[i + 1] as number); k++) if ((this.gpuFree[k] as number) >= r.gpuMilli) ok += 1;
    return ok >= r.gpuCount;
  }

  /** Physical GPUs a request would use on node i by best fit (for placements without a policy). */
  bestFitGpus(i: number, r: PlacementRequest): number[] {
    const free = this.gpuFreeOf(i);
    const idx = free.map((_, k) => k).filter((k) => (free[k] as number) >= r.gpuMilli);
    idx.sort((a, b) => (free[a] as number) - (free[b] as number) || a - b);
    return idx.slice(0, r.gpuCount);
  }

  /** Places a request on node i's physical GPUs; throws `internal` on any over-allocation. */
  allocate(i: number, r: PlacementRequest, gpus: readonly number[]): Allocation {
    const n = this.nodes[i];
    if (n === undefined) throw new StrataError('internal', `no node ${i}`);
    if ((this.cpuFree[i] as number) < r.cpuMilli || (this.memFree[i] as number) < r.memoryMiB) throw new StrataError('internal', `over-allocation of CPU or memory on node ${n.id}`);
    if (gpus.length !== r.gpuCount || new Set(gpus).size !== gpus.length) throw new StrataError('internal', `request for ${r.gpuCount} GPU(s) given [${gpus.join(',')}] on node ${n.id}`);
    if (r.gpuCount > 0 && r.gpuModels !== undefined && r.gpuModels.length > 0 && !r.gpuModels.includes(n.gpuModel)) throw new StrataError('internal', `node ${n.id} has ${n.gpuModel}, request accepts ${r.gpuModels.join('|')}`);
    const base = this.gpuOffset[i] as number;
    for (const g of gpus) {
      if (g < 0 || g >= n.gpuCount || (this.gpuFree[base + g] as number) < r.gpuMilli) throw new StrataError('internal', `over-allocation of GPU ${g} on node ${n.id}`);
    }
    for (const g of gpus) this.gpuFree[base + g] = (this.gpuFree[base + g] as number) - r.gpuMilli;
    this.cpuFree[i] = (this.cpuFree[i] as number) - r.cpuMilli;
    this.memFree[i] = (this.memFree[i] as number) - r.memoryMiB;
    this.allocatedGpu += r.gpuCount * r.gpuMilli;
    this.allocatedCpu += r.cpuMilli;
    const tags = this.tags?.[i];
    if (tags !== undefined && r.gpuCount > 0) tags.set(gpuShapeTag(r), (tags.get(gpuShapeTag(r)) ?? 0) + 1);
    this.refresh(i);
    return { node: i, gpus: [...gpus], request: r };
  }

  /** Frees an allocation made by `allocate`. */
  release(a: Allocation): void {
    const i = a.node;
    const r = a.request;
    const base = this.gpuOffset[i] as number;
    for (const g of a.gpus) {
      const f = (this.gpuFree[base + g] as number) + r.gpuMilli;
      if (f > MILLI) throw new StrataError('internal', `release would free more than a whole GPU ${g} on node ${this.nodes[i]?.id}`);
      this.gpuFree[base + g] = f;
    }
    this.cpuFree[i] = (this.cpuFree[i] as number) + r.cpuMilli;
    this.memFree[i] = (this.memFree[i] as number) + r.memoryMiB;
    this.allocatedGpu -= r.gpuCount * r.gpuMilli;
    this.allocatedCpu -= r.cpuMilli;
    const tags = this.tags?.[i];
    if (tags !== undefined && r.gpuCount > 0) {
      const t = gpuShapeTag(r);
      const c = (tags.get(t) ?? 0) - 1;
      if (c > 0) tags.set(t, c);
      else tags.delete(t);
    }
    this.refresh(i);
  }

  /** Throws when any node is over-allocated or the totals disagree with the per-node state. */
  checkInvariants(): void {
    let gpuUsed = 0;
    let cpuUsed = 0;
    this.nodes.forEach((n, i) => {
      const cf = this.cpuFree[i] as number;
      const mf = this.memFree[i] as number;
      if (cf < 0 || cf > n.cpuMilli || mf < -1e-9 || mf > n.memoryMiB + 1e-9) throw new StrataError('internal', `node ${n.id}: CPU or memory out of range`);
      cpuUsed += n.cpuMilli - cf;
      for (const f of this.gpuFreeOf(i)) {
        if (f < 0 || f > MILLI) throw new StrataError('internal', `node ${n.id}: a GPU has ${f} milli free`);
        gpuUsed += MILLI - f;
      }
    });
    if (gpuUsed !== this.allocatedGpu || cpuUsed !== this.allocatedCpu) throw new StrataError('internal', 'allocated totals disagree with the nodes');
  }
}
