// A binary min-heap with a caller-supplied order: the pending queues of teams and the team order of a
// scheduling cycle. Ties must be broken by the comparator itself (ids, sequence numbers) so that the
// order never depends on insertion history.

export class Heap<T> {
  private readonly items: T[] = [];
  constructor(private readonly before: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(x: T): void {
    const a = this.items;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(x, a[p]!)) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = x;
  }

  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
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
    for (const x of kept) this.push(x);
  }

  /** The items in no particular order. */
  values(): readonly T[] {
    return this.items;
  }
}
