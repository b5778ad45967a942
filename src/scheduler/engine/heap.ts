// A binary min-heap with a caller-supplied order: the pending queues of teams and the team order of a
// scheduling cycle. Ties must be broken by the comparator itself (ids, sequence numbers) so that the
// order never depends on insertion history.

export class Heap<T> {
  private readonly items: T[] = [];
  /** items[0..ordered) is a heap; items after it were `add`ed and are ordered on the next read. */
  private ordered = 0;
  constructor(private readonly before: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    if (this.ordered < this.items.length) this.order();
    return this.items[0];
  }

  push(x: T): void {
    if (this.ordered < this.items.length) this.order();
    this.items.push(x);
    this.siftUp(this.items.length - 1);
    this.ordered = this.items.length;
  }

  /**
   * Adds without ordering yet: a batch of adds (a cycle's parked jobs) is ordered at the next read
   * in O(n) instead of O(log n) each. Same order of reads as `push`.
   */
  add(x: T): void {
    this.items.push(x);
  }

  private siftUp(i: number): void {
    const a = this.items;
    const x = a[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(x, a[p]!)) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = x;
  }

  private siftDown(i: number): void {
    const a = this.items;
    const n = a.length;
    const x = a[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.before(a[r]!, a[l]!) ? r : l;
      if (!this.before(a[c]!, x)) break;
      a[i] = a[c]!;
      i = c;
    }
    a[i] = x;
  }

  /** Orders what was added since the last read: sifted up one by one when few, else the whole heap rebuilt. */
  private order(): void {
    const n = this.items.length;
    const added = n - this.ordered;
    if (added * Math.log2(n + 1) < n) {
      for (let i = this.ordered; i < n; i++) this.siftUp(i);
    } else {
      for (let i = (n >> 1) - 1; i >= 0; i--) this.siftDown(i);
    }
    this.ordered = n;
  }

  pop(): T | undefined {
    if (this.ordered < this.items.length) this.order();
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    this.ordered = a.length;
    if (a.length === 0 || last === undefined) return top;
    const n = a.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.before(a[r]!, a[l]!) ? r : l;
      if (!this.before(a[c]!, last)) break;
      a[i] = a[c]!;
      i = c;
    }
    a[i] = last;
    return top;
  }

  /** Keeps only the items matching `keep` (O(n)). */
  retain(keep: (x: T) => boolean): void {
    const kept = this.items.filter(keep);
    this.items.length = 0;
    for (const x of kept) this.items.push(x);
    this.ordered = 0;
  }

  /** The items in no particular order. */
  values(): readonly T[] {
    return this.items;
  }
}
