// Unit tests of the engine's small data structures: the bucket index (smallest/largest key ≥ k,
// moves, deletes, growth past the initial bitset) against a sorted-array model, and the heap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BucketIndex } from './bucket-index.ts';
import { Heap } from './heap.ts';
import { RecencyList } from './recency-list.ts';

test('bucket index agrees with a sorted model under random sets, moves and deletes', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined })), { maxLength: 200 }), fc.integer({ min: 0, max: 310 }), (ops, probe) => {
      const idx = new BucketIndex<number>();
      const model = new Map<number, number>();
      for (const [item, key] of ops) {
        if (key === undefined) {
          idx.delete(item);
          model.delete(item);
        } else {
          idx.set(item, key);
          model.set(item, key);
        }
      }
      assert.equal(idx.size, model.size);
      const keys = [...model.values()].sort((a, b) => a - b);
      assert.equal(idx.nextKey(probe), keys.find((k) => k >= probe) ?? -1);
      assert.equal(idx.prevKey(probe), [...keys].reverse().find((k) => k <= probe) ?? -1);
      assert.equal(idx.maxKey(), keys.at(-1) ?? -1);
      const asc: number[] = [];
      idx.ascending(probe, (_item, k) => {
        asc.push(k);
        return false;
      });
      assert.deepEqual(asc, keys.filter((k) => k >= probe));
      const desc: number[] = [];
      idx.descending(probe, (_item, k) => {
        desc.push(k);
        return false;
      });
      assert.deepEqual(desc, keys.filter((k) => k >= probe).reverse());
      const upTo: number[] = [];
      idx.upTo(probe, (_item, k) => {
        upTo.push(k);
        return false;
      });
      assert.deepEqual(upTo, keys.filter((k) => k <= probe));
    }),
    { numRuns: 300 },
  );
});

test('bucket index stops visiting when the visitor says so, and keeps insertion order within a key', () => {
  const idx = new BucketIndex<string>();
  idx.set('a', 3);
  idx.set('b', 3);
  idx.set('c', 5);
  const seen: string[] = [];
  assert.equal(
    idx.ascending(0, (x) => {
      seen.push(x);
      return x === 'b';
    }),
    true,
  );
  assert.deepEqual(seen, ['a', 'b']);
  idx.set('a', 5);
  const order: string[] = [];
  idx.ascending(0, (x) => {
    order.push(x);
    return false;
  });
  assert.deepEqual(order, ['b', 'c', 'a']);
});

test('heap pops in comparator order and retains only what it is told to', () => {
  fc.assert(
    fc.property(fc.array(fc.integer(), { maxLength: 200 }), (xs) => {
      const h = new Heap<number>((a, b) => a < b);
      for (const x of xs) h.push(x);
      h.retain((x) => x % 3 !== 0);
      const out: number[] = [];
      for (let x = h.pop(); x !== undefined; x = h.pop()) out.push(x);
      assert.deepEqual(out, xs.filter((x) => x % 3 !== 0).sort((a, b) => a - b));
    }),
    { numRuns: 200 },
  );
});

test('recency list keeps start order and the sum of its members', () => {
  const l = new RecencyList<string>();
  const one = { cpuMillis: 1000, memoryBytes: 1, devices: 1 };
  const a = l.push('a', one);
  l.push('b', one);
  const c = l.push('c', one);
  l.remove(a, one);
  assert.equal(l.head?.value, 'b');
  assert.equal(l.tail?.value, 'c');
  l.remove(c, one);
  assert.equal(l.tail?.value, 'b');
  assert.deepEqual(l.sum, one);
  assert.equal(l.size, 1);
});
