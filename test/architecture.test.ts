// The architecture map as a test (../shared/ARCHITECTURE.md, "Dependency direction"): which module
// may import which, only through a module's public index.ts, and no cycles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname, sep } from 'node:path';

const SRC = resolve(import.meta.dirname, '..', 'src');

/** Allowed direct dependencies of each module (transitive closure is not implied). */
const ALLOWED: Record<string, readonly string[]> = {
  kernel: [],
  store: ['kernel'],
  blobs: ['kernel'],
  access: ['kernel', 'store', 'blobs'],
  compute: ['kernel', 'store', 'blobs', 'access'],
  scheduler: ['kernel'],
  // Pure engines: data in, results out; no I/O module.
  quantum: ['kernel'],
  spiking: ['kernel'],
  jobs: ['kernel', 'store', 'blobs', 'access', 'compute', 'scheduler'],
  tracking: ['kernel', 'store', 'blobs', 'access'],
  registry: ['kernel', 'store', 'blobs', 'access', 'tracking'],
  sdk: ['kernel'],
  // The agent talks to the server only through the SDK; it may use pure helpers of compute (carbon signal types).
  agent: ['kernel', 'blobs', 'sdk', 'jobs', 'compute', 'quantum', 'spiking'],
  api: ['kernel', 'store', 'blobs', 'access', 'compute', 'scheduler', 'jobs', 'sdk', 'agent', 'tracking', 'registry', 'quantum', 'spiking'],
  cli: ['kernel', 'sdk', 'api', 'access', 'jobs', 'agent', 'scheduler', 'quantum', 'spiking', 'registry'],
};

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const moduleOf = (file: string): string => relative(SRC, file).split(sep)[0] ?? '';

interface Edge {
  readonly from: string;
  readonly file: string;
  readonly target: string;
}

function edges(): Edge[] {
  const out: Edge[] = [];
  for (const file of walk(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
      const target = resolve(dirname(file), m[1] as string);
      out.push({ from: moduleOf(file), file: relative(SRC, file), target: relative(SRC, target) });
    }
  }
  return out;
}

test('every module under src/ is on the map', () => {
  for (const name of readdirSync(SRC)) {
    if (statSync(join(SRC, name)).isDirectory()) assert.ok(name in ALLOWED, `src/${name} is not in the dependency map; add it here and to ARCHITECTURE.md`);
  }
});

test('modules import only what the dependency direction allows', () => {
  const bad = edges().filter((e) => {
    const to = e.target.split(sep)[0] ?? '';
    return to !== e.from && !(ALLOWED[e.from] ?? []).includes(to);
  });
  assert.deepEqual(bad.map((e) => `${e.file} → ${e.target}`), []);
});

test('other modules are imported only through their public index.ts', () => {
  const bad = edges().filter((e) => {
    const to = e.target.split(sep)[0] ?? '';
    return to !== e.from && !e.target.endsWith(`${sep}index.ts`);
  });
  // The CLI's `server` command loads the server entry lazily; that is the one allowed deep import.
  const allowed = new Set([`cli${sep}server.ts → api${sep}server.ts`]);
  assert.deepEqual(bad.map((e) => `${e.file} → ${e.target}`).filter((s) => !allowed.has(s)), []);
});

test('the module graph has no cycles', () => {
  const graph = new Map<string, Set<string>>();
  for (const e of edges()) {
    const to = e.target.split(sep)[0] ?? '';
    if (to === e.from) continue;
    if (!graph.has(e.from)) graph.set(e.from, new Set());
    graph.get(e.from)?.add(to);
  }
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (n: string, path: string[]): void => {
    if (state.get(n) === 'done') return;
    assert.notEqual(state.get(n), 'visiting', `cycle: ${[...path, n].join(' → ')}`);
    state.set(n, 'visiting');
    for (const m of graph.get(n) ?? []) visit(m, [...path, n]);
    state.set(n, 'done');
  };
  for (const n of graph.keys()) visit(n, []);
});

test('pure engines import no I/O: the audit core and the secrets crypto touch neither store nor api', () => {
  for (const e of edges()) {
    if (e.file.startsWith(`access${sep}audit${sep}`) || e.file.startsWith(`access${sep}secrets${sep}`)) {
      assert.ok(!e.target.startsWith('store') && !e.target.startsWith('api'), `${e.file} → ${e.target}`);
    }
  }
});
