// The heap's lazy `add` (ordered at the next read, one by one or by a rebuild) against a sorted-list model.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Heap } from './heap.ts';

type Op = { readonly kind: 'push' | 'add'; readonly value: number } | { readonly kind: 'pop' | 'peek' } | { readonly kind: 'retain'; readonly mod: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constantFrom('push' as const, 'add' as const), value: fc.integer({ min: 0, max: 50 }) }),
  fc.record({ kind: fc.constantFrom('pop' as const, 'peek' as const) }),
  fc.record({ kind: fc.constant('retain' as const), mod: fc.integer({ min: 2, max: 4 }) }),
);

test('a heap read after any mix of push, lazy add, pop and retain yields the minimum, as a sorted list would', () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
      const h = new Heap<number>((a, b) => a < b);
      let model: number[] = [];
      for (const o of ops) {
        switch (o.kind) {
          case 'push':
            h.push(o.value);
            model.push(o.value);
            break;
          case 'add':
            h.add(o.value);
            model.push(o.value);
            break;
          case 'pop': {
            model.sort((a, b) => a - b);
            assert.equal(h.pop(), model.shift());
            break;
          }
          case 'peek':
            assert.equal(h.peek(), model.length === 0 ? undefined : Math.min(...model));
            break;
          case 'retain':
            h.retain((x) => x % o.mod !== 0);
            model = model.filter((x) => x % o.mod !== 0);
            break;
        }
        assert.equal(h.size, model.length);
      }
      model.sort((a, b) => a - b);
      const drained: number[] = [];
      for (let x = h.pop(); x !== undefined; x = h.pop()) drained.push(x);
      assert.deepEqual(drained, model);
    }),
    { numRuns: 300 },
  );
});

test('a large batch of lazy adds is ordered at the first read', () => {
  const h = new Heap<number>((a, b) => a < b);
  for (let i = 0; i < 1000; i++) h.add((i * 7919) % 1000);
  h.push(-1);
  for (let i = -1; i < 1000; i++) assert.equal(h.pop(), i);
  assert.equal(h.pop(), undefined);
});
