// An index of items by a small non-negative integer key (free devices or free cores of a node, free
// units of a rack), answering "the item with the smallest/largest key ≥ k" in time independent of
// the number of items: one Set per key and a bitset of non-empty keys. Key ranges are small (a node
// has at most a few hundred cores), so a bitset scan is a handful of machine words. Iteration order
// within a key is insertion order, so results are deterministic.

export class BucketIndex<T> {
  private buckets: (Set<T> | undefined)[] = [];
  private words = new Uint32Array(4);
  private readonly keyOf = new Map<T, number>();

  /** Number of items. */
  get size(): number {
    return this.keyOf.size;
  }

  /** The item's key, or undefined when absent. */
  key(item: T): number | undefined {
    return this.keyOf.get(item);
  }

  /** Inserts the item or moves it to a new key (negative keys count as 0, fractions round down). */
  set(item: T, rawKey: number): void {
    const key = rawKey > 0 ? Math.floor(rawKey) : 0;
    const old = this.keyOf.get(item);
    if (old === key) return;
    if (old !== undefined) this.unlink(item, old);
    this.keyOf.set(item, key);
    if (key >= this.buckets.length) this.buckets.length = key + 1;
    let b = this.buckets[key];
    if (b === undefined) this.buckets[key] = b = new Set();
    b.add(item);
    if ((key >>> 5) >= this.words.length) {
      const grown = new Uint32Array(Math.max(this.words.length * 2, (key >>> 5) + 1));
      grown.set(this.words);
      this.words = grown;
    }
    this.words[key >>> 5]! |= 1 << (key & 31);
  }

  /** Removes the item (no-op when absent). */
  delete(item: T): void {
    const old = this.keyOf.get(item);
    if (old === undefined) return;
    this.unlink(item, old);
    this.keyOf.delete(item);
  }

  private unlink(item: T, key: number): void {
    const b = this.buckets[key];
    if (b === undefined) return;
    b.delete(item);
    if (b.size === 0) this.words[key >>> 5]! &= ~(1 << (key & 31));
  }

  /** The smallest non-empty key ≥ from, or -1. */
  nextKey(from: number): number {
    const k = from > 0 ? Math.floor(from) : 0;
    let w = k >>> 5;
    if (w >= this.words.length) return -1;
    let bits = this.words[w]! & (~0 << (k & 31));
    for (;;) {
      if (bits !== 0) return (w << 5) + (31 - Math.clz32(bits & -bits));
      w++;
      if (w >= this.words.length) return -1;
      bits = this.words[w]!;
    }
  }

  /** The largest non-empty key ≤ from (Infinity = no bound), or -1. */
  prevKey(from = Infinity): number {
    const top = this.words.length * 32 - 1;
    const k = Math.min(top, Math.floor(from));
    if (k < 0) return -1;
    let w = k >>> 5;
    const shift = 31 - (k & 31);
    let bits = shift === 0 ? this.words[w]! : this.words[w]! & (~0 >>> shift);
    for (;;) {
      if (bits !== 0) return (w << 5) + (31 - Math.clz32(bits));
      w--;
      if (w < 0) return -1;
      bits = this.words[w]!;
    }
  }

  /** The largest key present, or -1 when empty. */
  maxKey(): number {
    return this.prevKey();
  }

  /**
   * Visits items with key ≥ min, smallest key first; stops and returns true as soon as `visit`
   * returns true.
   */
  ascending(min: number, visit: (item: T, key: number) => boolean): boolean {
    for (let k = this.nextKey(min); k >= 0; k = this.nextKey(k + 1)) {
      for (const item of this.buckets[k] ?? []) if (visit(item, k)) return true;
    }
    return false;
  }

  /** Visits items with key ≥ min, largest key first; stops and returns true as soon as `visit` does. */
  descending(min: number, visit: (item: T, key: number) => boolean): boolean {
    for (let k = this.prevKey(); k >= min && k >= 0; k = this.prevKey(k - 1)) {
      for (const item of this.buckets[k] ?? []) if (visit(item, k)) return true;
    }
    return false;
  }

  /** Visits items with key ≤ max, smallest key first; stops and returns true as soon as `visit` does. */
  upTo(max: number, visit: (item: T, key: number) => boolean): boolean {
    for (let k = this.nextKey(0); k >= 0 && k <= max; k = this.nextKey(k + 1)) {
      for (const item of this.buckets[k] ?? []) if (visit(item, k)) return true;
    }
    return false;
  }
}
