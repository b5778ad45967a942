// An index of items by a small non-negative integer key (free devices or free cores of a node, free
// units of a rack), answering "the item with the smallest/largest key ≥ k" in time independent of
// the number of items: one list per key and a bitset of non-empty keys. Key ranges are small (a node
// has at most a few hundred cores), so a bitset scan is a handful of machine words. Iteration order
// within a key is insertion order, so results are deterministic.
//
// Each item has one entry, linked into the list of its key: moving an item to another key (a node
// whose free units change on every placement) relinks it without allocating, where a set per key
// would grow and shrink its hash table.

interface Entry<T> {
  readonly item: T;
  key: number;
  prev: Entry<T> | undefined;
  next: Entry<T> | undefined;
}

export class BucketIndex<T> {
  /** First and last entry of each key's list (insertion order). */
  private readonly heads: (Entry<T> | undefined)[] = [];
  private readonly tails: (Entry<T> | undefined)[] = [];
  private words = new Uint32Array(4);
  private readonly entries = new Map<T, Entry<T>>();

  /** Number of items. */
  get size(): number {
    return this.entries.size;
  }

  /** The item's key, or undefined when absent. */
  key(item: T): number | undefined {
    return this.entries.get(item)?.key;
  }

  /** Inserts the item or moves it to a new key (negative keys count as 0, fractions round down). */
  set(item: T, rawKey: number): void {
    const key = rawKey > 0 ? Math.floor(rawKey) : 0;
    let e = this.entries.get(item);
    if (e !== undefined) {
      if (e.key === key) return;
      this.unlink(e);
      e.key = key;
    } else {
      e = { item, key, prev: undefined, next: undefined };
      this.entries.set(item, e);
    }
    if (key >= this.heads.length) {
      this.heads.length = key + 1;
      this.tails.length = key + 1;
    }
    const tail = this.tails[key];
    e.prev = tail;
    e.next = undefined;
    if (tail === undefined) this.heads[key] = e;
    else tail.next = e;
    this.tails[key] = e;
    if (key >>> 5 >= this.words.length) {
      const grown = new Uint32Array(Math.max(this.words.length * 2, (key >>> 5) + 1));
      grown.set(this.words);
      this.words = grown;
    }
    this.words[key >>> 5]! |= 1 << (key & 31);
  }

  /** Removes the item (no-op when absent). */
  delete(item: T): void {
    const e = this.entries.get(item);
    if (e === undefined) return;
    this.unlink(e);
    this.entries.delete(item);
  }

  private unlink(e: Entry<T>): void {
    const key = e.key;
    if (e.prev === undefined) this.heads[key] = e.next;
    else e.prev.next = e.next;
    if (e.next === undefined) this.tails[key] = e.prev;
    else e.next.prev = e.prev;
    e.prev = e.next = undefined;
    if (this.heads[key] === undefined) this.words[key >>> 5]! &= ~(1 << (key & 31));
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

  /** Visits the items of one key in insertion order until `visit` returns true (it must not change the index). */
  private visitKey(k: number, visit: (item: T, key: number) => boolean): boolean {
    for (let e = this.heads[k]; e !== undefined; e = e.next) if (visit(e.item, k)) return true;
    return false;
  }

  /**
   * Visits items with key ≥ min, smallest key first; stops and returns true as soon as `visit`
   * returns true. `visit` must not change the index.
   */
  ascending(min: number, visit: (item: T, key: number) => boolean): boolean {
    for (let k = this.nextKey(min); k >= 0; k = this.nextKey(k + 1)) if (this.visitKey(k, visit)) return true;
    return false;
  }

  /** Visits items with key ≥ min, largest key first; stops and returns true as soon as `visit` does. */
  descending(min: number, visit: (item: T, key: number) => boolean): boolean {
    for (let k = this.prevKey(); k >= min && k >= 0; k = this.prevKey(k - 1)) if (this.visitKey(k, visit)) return true;
    return false;
  }

  /** Visits items with key ≤ max, smallest key first; stops and returns true as soon as `visit` does. */
  upTo(max: number, visit: (item: T, key: number) => boolean): boolean {
    for (let k = this.nextKey(0); k >= 0 && k <= max; k = this.nextKey(k + 1)) if (this.visitKey(k, visit)) return true;
    return false;
  }
}
