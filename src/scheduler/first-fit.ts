// First-fit placement: the simple policy that stands behind the scheduler's interface until the
// hybrid scheduler (quotas, fair share, gangs, carbon) replaces it. Pure: data in, decisions out.

export interface NodeView {
  readonly id: string;
  readonly region: string;
  readonly pool: string;
  /** Pool technology and flavor of the node's devices. */
  readonly kind: string;
  readonly flavor: string;
  readonly regionTags: readonly string[];
  readonly free: { cpuMillis: number; memoryBytes: number; devices: number };
}

export interface JobView {
  readonly id: string;
  readonly cpuMillis: number;
  readonly memoryBytes: number;
  /** Accelerator kind and count; undefined for CPU-only work. */
  readonly accelerator?: { readonly kind: string; readonly count: number; readonly flavors: readonly string[] };
  readonly regions: readonly string[];
  readonly dataResidency: readonly string[];
}

export type Placement = { readonly jobId: string; readonly nodeId: string };

/** True when the node is of a kind, flavor, region and residency the job accepts (ignoring free capacity). */
export function nodeMatches(job: JobView, node: Pick<NodeView, 'region' | 'kind' | 'flavor' | 'regionTags'>): boolean {
  if (job.regions.length > 0 && !job.regions.includes(node.region)) return false;
  if (!job.dataResidency.every((t) => node.regionTags.includes(t))) return false;
  if (job.accelerator === undefined) return node.kind === 'cpu' || node.kind === 'quantum-sim' || node.kind === 'neuromorphic' || node.kind === 'gpu';
  if (job.accelerator.kind !== node.kind) return false;
  return job.accelerator.flavors.length === 0 || job.accelerator.flavors.includes(node.flavor);
}

/**
 * Places jobs in the given order on the first node with room, preferring CPU pools for CPU-only
 * work. Free capacity is consumed as jobs are placed, so one call never over-commits a node.
 */
export function firstFit(jobs: readonly JobView[], nodes: readonly NodeView[]): Placement[] {
  const free = new Map(nodes.map((n) => [n.id, { ...n.free }]));
  const ordered = [...nodes].sort((a, b) => Number(b.kind === 'cpu') - Number(a.kind === 'cpu'));
  const out: Placement[] = [];
  for (const job of jobs) {
    for (const node of ordered) {
      const f = free.get(node.id);
      if (f === undefined || !nodeMatches(job, node)) continue;
      const devices = job.accelerator?.count ?? 0;
      if (f.cpuMillis < job.cpuMillis || f.memoryBytes < job.memoryBytes || f.devices < devices) continue;
      f.cpuMillis -= job.cpuMillis;
      f.memoryBytes -= job.memoryBytes;
      f.devices -= devices;
      out.push({ jobId: job.id, nodeId: node.id });
      break;
    }
  }
  return out;
}
