// Node capacity and placement search. Nodes are indexed per pool by free "units" (free devices for
// accelerator flavors, free whole cores for CPU flavors) in bucket indexes, and so are racks and
// blocks by the sum of their nodes' units. A placement therefore looks at the few nodes (or racks)
// whose free units can hold the request instead of scanning the pool: the cost of a decision depends
// on how many candidates fail the remaining checks (memory, reservations), not on the node count.
//
// Bin-packing visits nodes from the least free that can hold the request up; spreading from the most
// free down; a `scored` pool takes a bounded number of fitting candidates and asks the NodeScorer.
// Gangs are placed all-or-nothing: a plan is computed without touching state and applied whole.
import type { JobId, NodeId } from '../../kernel/index.ts';
import { badRequest, conflict } from '../../kernel/index.ts';
import { BucketIndex } from './bucket-index.ts';
import type { NodeScorer, NodeSpec, NodeView, PoolSpec, ResourceVector, TopologyConstraint } from './model.ts';
import { RESOURCES } from './model.ts';
import type { MutableVector } from './resources.ts';
import { addInto, copy, howMany, isValidVector } from './resources.ts';

export interface BlockState {
  readonly id: string;
  readonly racks: BucketIndex<RackState>;
  units: number;
}

export interface RackState {
  readonly id: string;
  readonly pool: PoolState;
  readonly block: BlockState;
  readonly nodes: BucketIndex<NodeState>;
  units: number;
}

export interface NodeState {
  readonly id: NodeId;
  readonly spec: NodeSpec;
  readonly pool: PoolState;
  readonly rack: RackState;
  readonly free: MutableVector;
  /** Replicas of each job on the node. */
  readonly jobs: Map<JobId, number>;
  /** Capacity held for a job's future start; others may use it only if they end by `reservedUntil`. */
  reservedFor: JobId | undefined;
  reservedUntil: number;
}

/** A request shape the search failed to place, remembered until capacity is freed in the pool. */
interface FailedShape {
  readonly per: ResourceVector;
  readonly replicas: number;
  /** 0 none, 1 preferred, 2 required block, 3 required rack: larger is stricter. */
  readonly strictness: number;
  readonly endsBy: number;
  readonly failure: PlaceFailure;
}

export interface PoolState {
  readonly spec: PoolSpec;
  readonly index: number;
  /** Fixed per flavor by the first node seen: devices when it has any, else whole cores. */
  unit: 'devices' | 'cores';
  readonly nodes: BucketIndex<NodeState>;
  readonly racks: BucketIndex<RackState>;
  readonly blocks: BucketIndex<BlockState>;
  readonly rackById: Map<string, RackState>;
  readonly blockById: Map<string, BlockState>;
  readonly all: Set<NodeState>;
  /** Largest node capacity per resource: a replica larger than this can never be placed here. */
  readonly maxCapacity: MutableVector;
  memo: FailedShape[];
}

/** A placement request within one pool. */
export interface PlaceQuery {
  readonly jobId: JobId;
  readonly per: ResourceVector;
  readonly replicas: number;
  readonly topology: TopologyConstraint | undefined;
  /** When the job would end if started now (now + max runtime), or Infinity when undeclared. */
  readonly endsBy: number;
  /** The job holds a reservation (its failures are not remembered: it may use its reserved nodes). */
  readonly holdsReservation: boolean;
}

export interface PlanItem {
  readonly node: NodeState;
  readonly replicas: number;
}

export type PlaceFailure =
  | { readonly kind: 'too-large' }
  | { readonly kind: 'no-capacity' }
  | { readonly kind: 'gang-incomplete'; readonly placeable: number }
  | { readonly kind: 'topology'; readonly level: 'rack' | 'block' }
  | { readonly kind: 'reserved'; readonly heldFor: JobId; readonly until: number };

export type PlaceResult = { readonly ok: true; readonly items: readonly PlanItem[]; readonly backfill: boolean } | { readonly ok: false; readonly failure: PlaceFailure };

const MEMO_LIMIT = 8;

/** Options of the search. */
export interface CapacityOptions {
  readonly scorer: NodeScorer | undefined;
  /** How many fitting candidates a `scored` pool hands to the scorer per replica. */
  readonly scorerCandidates: number;
}

export class CapacityIndex {
  readonly pools = new Map<string, PoolState>();
  readonly nodes = new Map<NodeId, NodeState>();
  readonly poolsByFlavor = new Map<string, PoolState[]>();
  private readonly flavorUnit = new Map<string, 'devices' | 'cores'>();

  constructor(private readonly opts: CapacityOptions) {}

  /** Adds a pool (without nodes). */
  addPool(spec: PoolSpec): PoolState {
    if (this.pools.has(spec.name)) throw conflict(`pool ${spec.name} already exists`, { pool: spec.name });
    if (spec.strategy === 'scored' && this.opts.scorer === undefined) throw badRequest(`pool ${spec.name} uses strategy 'scored' but the engine has no node scorer`, { pool: spec.name });
    const p: PoolState = {
      spec,
      index: this.pools.size,
      unit: this.flavorUnit.get(spec.flavor) ?? 'devices',
      nodes: new BucketIndex(),
      racks: new BucketIndex(),
      blocks: new BucketIndex(),
      rackById: new Map(),
      blockById: new Map(),
      all: new Set(),
      maxCapacity: { cpuMillis: 0, memoryBytes: 0, devices: 0 },
      memo: [],
    };
    this.pools.set(spec.name, p);
    const list = this.poolsByFlavor.get(spec.flavor) ?? [];
    list.push(p);
    this.poolsByFlavor.set(spec.flavor, list);
    return p;
  }

  /** Units a request or free vector amounts to for a flavor (devices, or whole cores). */
  unitsFor(flavor: string, v: ResourceVector): number {
    return (this.flavorUnit.get(flavor) ?? 'devices') === 'devices' ? v.devices : Math.floor(v.cpuMillis / 1000);
  }

  /** Units a free vector offers in a pool. */
  units(p: PoolState, v: ResourceVector): number {
    return p.unit === 'devices' ? v.devices : Math.floor(v.cpuMillis / 1000);
  }

  /** Adds a node (empty: nothing runs on it yet). */
  addNode(spec: NodeSpec): NodeState {
    if (this.nodes.has(spec.id)) throw conflict(`node ${spec.id} already exists`, { node: spec.id });
    const p = this.pools.get(spec.pool);
    if (p === undefined) throw badRequest(`node ${spec.id} names unknown pool ${spec.pool}`, { node: spec.id, pool: spec.pool });
    if (!isValidVector(spec.capacity)) throw badRequest(`node ${spec.id}: capacity must be finite and ≥ 0`, { node: spec.id });
    if (!this.flavorUnit.has(p.spec.flavor)) {
      const unit = spec.capacity.devices > 0 ? 'devices' : 'cores';
      this.flavorUnit.set(p.spec.flavor, unit);
      for (const q of this.poolsByFlavor.get(p.spec.flavor) ?? []) q.unit = unit;
    }
    const blockId = spec.block ?? spec.rack ?? spec.id;
    const rackId = `${blockId}/${spec.rack ?? spec.id}`;
    let block = p.blockById.get(blockId);
    if (block === undefined) {
      block = { id: blockId, racks: new BucketIndex(), units: 0 };
      p.blockById.set(blockId, block);
    }
    let rack = p.rackById.get(rackId);
    if (rack === undefined) {
      rack = { id: spec.rack ?? spec.id, pool: p, block, nodes: new BucketIndex(), units: 0 };
      p.rackById.set(rackId, rack);
    }
    const n: NodeState = { id: spec.id, spec, pool: p, rack, free: copy(spec.capacity), jobs: new Map(), reservedFor: undefined, reservedUntil: 0 };
    this.nodes.set(spec.id, n);
    p.all.add(n);
    for (const r of RESOURCES) p.maxCapacity[r] = Math.max(p.maxCapacity[r], spec.capacity[r]);
    const u = this.units(p, n.free);
    p.nodes.set(n, u);
    rack.nodes.set(n, u);
    this.moveUnits(rack, u);
    p.memo = [];
    return n;
  }

  /** Removes an idle node (the engine evicts its jobs first). */
  removeNode(n: NodeState): void {
    if (n.jobs.size > 0) throw conflict(`node ${n.id} still runs jobs`, { node: n.id });
    const p = n.pool;
    const u = p.nodes.key(n) ?? 0;
    p.nodes.delete(n);
    n.rack.nodes.delete(n);
    this.moveUnits(n.rack, -u);
    p.all.delete(n);
    this.nodes.delete(n.id);
    if (p.all.size === 0 || RESOURCES.some((r) => n.spec.capacity[r] >= p.maxCapacity[r])) {
      for (const r of RESOURCES) p.maxCapacity[r] = 0;
      for (const m of p.all) for (const r of RESOURCES) p.maxCapacity[r] = Math.max(p.maxCapacity[r], m.spec.capacity[r]);
    }
  }

  private moveUnits(rack: RackState, delta: number): void {
    if (delta === 0) return;
    rack.units += delta;
    rack.pool.racks.set(rack, rack.units);
    rack.block.racks.set(rack, rack.units);
    rack.block.units += delta;
    rack.pool.blocks.set(rack.block, rack.block.units);
  }

  /** Takes `replicas × per` on a node for a job. */
  allocate(n: NodeState, jobId: JobId, per: ResourceVector, replicas: number): void {
    addInto(n.free, per, -replicas);
    n.jobs.set(jobId, (n.jobs.get(jobId) ?? 0) + replicas);
    this.reindex(n);
  }

  /** Gives back everything a job holds on a node; returns how many replicas it had there. */
  release(n: NodeState, jobId: JobId, per: ResourceVector): number {
    const k = n.jobs.get(jobId) ?? 0;
    if (k === 0) return 0;
    n.jobs.delete(jobId);
    addInto(n.free, per, k);
    this.reindex(n);
    n.pool.memo = [];
    return k;
  }

  private reindex(n: NodeState): void {
    const p = n.pool;
    const before = p.nodes.key(n) ?? 0;
    const u = this.units(p, n.free);
    if (u === before) return;
    p.nodes.set(n, u);
    n.rack.nodes.set(n, u);
    this.moveUnits(n.rack, u - before);
  }

  /** A read-only view of a node for scorers and callers. */
  view(n: NodeState): NodeView {
    return { id: n.id, pool: n.pool.spec.name, flavor: n.pool.spec.flavor, region: n.pool.spec.region, block: n.rack.block.id, rack: n.rack.id, capacity: n.spec.capacity, free: { ...n.free } };
  }

  /**
   * Finds where all replicas of a request go in one pool, without changing anything. Remembers
   * failures per pool until capacity there is freed, so the same or a larger shape fails in O(1).
   */
  place(p: PoolState, q: PlaceQuery): PlaceResult {
    if (RESOURCES.some((r) => q.per[r] > p.maxCapacity[r])) return { ok: false, failure: { kind: 'too-large' } };
    const strictness = q.topology === undefined ? 0 : q.topology.mode === 'preferred' ? 1 : q.topology.level === 'block' ? 2 : 3;
    for (const f of p.memo) {
      if (f.replicas <= q.replicas && f.strictness <= strictness && f.endsBy <= q.endsBy && dominates(q.per, f.per)) return { ok: false, failure: f.failure };
    }
    const s = new Search(this, p, q, this.opts);
    const r = s.run();
    if (!r.ok && !q.holdsReservation) {
      p.memo = p.memo.filter((f) => !(q.replicas <= f.replicas && strictness <= f.strictness && q.endsBy >= f.endsBy && dominates(f.per, q.per)));
      if (p.memo.length < MEMO_LIMIT) p.memo.push({ per: q.per, replicas: q.replicas, strictness, endsBy: q.endsBy, failure: r.failure });
    }
    return r;
  }
}

/** How many replicas of a query a node can take now (0 when it is reserved for a job ending later). */
export function roomOn(n: NodeState, q: Pick<PlaceQuery, 'jobId' | 'per' | 'endsBy'>): number {
  const k = howMany(q.per, n.free);
  if (k < 1) return 0;
  if (n.reservedFor !== undefined && n.reservedFor !== q.jobId && q.endsBy > n.reservedUntil) return 0;
  return k;
}

/** a ≥ b in every resource. */
const dominates = (a: ResourceVector, b: ResourceVector): boolean => a.cpuMillis >= b.cpuMillis && a.memoryBytes >= b.memoryBytes && a.devices >= b.devices;

/** One placement search: accumulates a plan and remembers why nodes were passed over. */
class Search {
  private readonly need: number;
  private blockedBy: { heldFor: JobId; until: number } | undefined;
  private backfill = false;

  constructor(
    private readonly cap: CapacityIndex,
    private readonly p: PoolState,
    private readonly q: PlaceQuery,
    private readonly opts: CapacityOptions,
  ) {
    this.need = cap.units(p, q.per);
  }

  /** How many replicas the node can take for this job now (0 when reserved for someone else). */
  private room(n: NodeState): number {
    const k = howMany(this.q.per, n.free);
    if (k < 1) return 0;
    if (n.reservedFor !== undefined && n.reservedFor !== this.q.jobId && this.q.endsBy > n.reservedUntil) {
      this.blockedBy ??= { heldFor: n.reservedFor, until: n.reservedUntil };
      return 0;
    }
    return k;
  }

  private taken(items: readonly PlanItem[]): void {
    for (const it of items) if (it.node.reservedFor !== undefined && it.node.reservedFor !== this.q.jobId) this.backfill = true;
  }

  run(): PlaceResult {
    const { q, p } = this;
    if (q.replicas === 1 && p.spec.strategy === 'scored') {
      const n = this.scored();
      if (n !== undefined) return this.ok([{ node: n, replicas: 1 }]);
    } else if (q.topology === undefined) {
      const items = this.collect(p.nodes, q.replicas, []);
      if (items !== undefined) return this.ok(items);
    } else {
      const { level, mode } = q.topology;
      const found =
        (level === 'rack' ? this.inRacks(p.racks) : undefined) ??
        (level === 'block' || mode === 'preferred' ? this.inBlocks() : undefined) ??
        (mode === 'preferred' ? this.collect(p.nodes, q.replicas, []) : undefined);
      if (found !== undefined) return this.ok(found);
    }
    return { ok: false, failure: this.classify() };
  }

  private ok(items: readonly PlanItem[]): PlaceResult {
    this.taken(items);
    return { ok: true, items, backfill: this.backfill };
  }

  /**
   * Takes replicas from nodes of an index in strategy order. Bin-packing fills each node as far as
   * it goes; spreading puts one replica per node first. Returns undefined when they do not all fit.
   */
  private collect(idx: BucketIndex<NodeState>, replicas: number, into: PlanItem[]): PlanItem[] | undefined {
    let left = replicas;
    if (this.p.spec.strategy === 'spread') {
      const seen: { node: NodeState; room: number }[] = [];
      idx.descending(this.need, (n) => {
        const k = this.room(n);
        if (k < 1) return false;
        seen.push({ node: n, room: k - 1 });
        return --left === 0;
      });
      const counts = seen.map(() => 1);
      for (let i = 0; left > 0 && i < seen.length; i++) {
        const extra = Math.min(left, seen[i]!.room);
        counts[i]! += extra;
        left -= extra;
      }
      if (left > 0) return undefined;
      seen.forEach((s, i) => into.push({ node: s.node, replicas: counts[i]! }));
      return into;
    }
    idx.ascending(this.need, (n) => {
      const k = Math.min(left, this.room(n));
      if (k < 1) return false;
      into.push({ node: n, replicas: k });
      left -= k;
      return left === 0;
    });
    return left === 0 ? into : undefined;
  }

  private inRacks(racks: BucketIndex<RackState>): PlanItem[] | undefined {
    const total = this.need * this.q.replicas;
    let found: PlanItem[] | undefined;
    const visit = (r: RackState): boolean => (found = this.collect(r.nodes, this.q.replicas, [])) !== undefined;
    if (this.p.spec.strategy === 'spread') racks.descending(total, visit);
    else racks.ascending(total, visit);
    return found;
  }

  private inBlocks(): PlanItem[] | undefined {
    const total = this.need * this.q.replicas;
    let found: PlanItem[] | undefined;
    const visit = (b: BlockState): boolean => {
      const items: PlanItem[] = [];
      let left = this.q.replicas;
      const take = (r: RackState): boolean => {
        left -= this.collectUpTo(r.nodes, left, items);
        return left === 0;
      };
      if (this.p.spec.strategy === 'spread') b.racks.descending(0, take);
      else b.racks.ascending(0, take);
      if (left === 0) found = items;
      return found !== undefined;
    };
    if (this.p.spec.strategy === 'spread') this.p.blocks.descending(total, visit);
    else this.p.blocks.ascending(total, visit);
    return found;
  }

  /** Like collect, but takes as many as fit (up to `max`) and reports how many. */
  private collectUpTo(idx: BucketIndex<NodeState>, max: number, into: PlanItem[]): number {
    let left = max;
    const visit = (n: NodeState): boolean => {
      const k = Math.min(left, this.room(n));
      if (k < 1) return false;
      into.push({ node: n, replicas: k });
      left -= k;
      return left === 0;
    };
    if (this.p.spec.strategy === 'spread') idx.descending(this.need, visit);
    else idx.ascending(this.need, visit);
    return max - left;
  }

  private scored(): NodeState | undefined {
    const scorer = this.opts.scorer;
    if (scorer === undefined) return undefined;
    let best: NodeState | undefined;
    let bestScore = -Infinity;
    let seen = 0;
    const request = { jobId: this.q.jobId, perReplica: this.q.per, flavor: this.p.spec.flavor };
    this.p.nodes.ascending(this.need, (n) => {
      if (this.room(n) < 1) return false;
      seen++;
      const s = scorer(this.cap.view(n), request);
      if (s !== undefined && s > bestScore) {
        best = n;
        bestScore = s;
      }
      return seen >= this.opts.scorerCandidates;
    });
    return best;
  }

  /** Why the search failed: not enough replicas fit anywhere, or they fit but not together. */
  private classify(): PlaceFailure {
    if (this.q.replicas === 1 && this.q.topology === undefined) return this.blockedBy === undefined ? { kind: 'no-capacity' } : { kind: 'reserved', ...this.blockedBy };
    const items: PlanItem[] = [];
    const placeable = this.collectUpTo(this.p.nodes, this.q.replicas, items);
    if (placeable >= this.q.replicas && this.q.topology !== undefined) return { kind: 'topology', level: this.q.topology.level };
    if (this.blockedBy !== undefined) return { kind: 'reserved', ...this.blockedBy };
    if (placeable > 0 && placeable < this.q.replicas) return { kind: 'gang-incomplete', placeable };
    return { kind: 'no-capacity' };
  }
}
