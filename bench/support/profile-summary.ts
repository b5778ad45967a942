// Summarises a V8 CPU profile (`node --cpu-prof`): the top functions by self time, and the total
// time (self + everything below) spent under functions of the project's own files.
//
//   node --import tsx bench/support/profile-summary.ts FILE.cpuprofile [TOP]
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

const [file, topArg] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: profile-summary.ts FILE.cpuprofile [TOP]');
const top = Number(topArg ?? 25);
const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const selfUs = new Map<number, number>();
for (let i = 0; i < p.samples.length; i++) {
  const id = p.samples[i] as number;
  selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
}
const short = (url: string): string => url.replace(/^file:\/\/.*?\/(node_modules|src|dist|bench)\//, '$1/').replace(/^node:/, 'node:');
const label = (n: ProfileNode): string => `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;

const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
const idle = [...selfUs.entries()].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((a, [, v]) => a + v, 0);
const busy = total - idle;
const self = new Map<string, number>();
const inclusive = new Map<string, number>();
for (const [id, us] of selfUs) {
  const n = byId.get(id);
  if (n === undefined || n.callFrame.functionName === '(idle)') continue;
  self.set(label(n), (self.get(label(n)) ?? 0) + us);
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const c = byId.get(cur);
    if (c === undefined) break;
    const l = label(c);
    if (!seen.has(l)) {
      seen.add(l);
      inclusive.set(l, (inclusive.get(l) ?? 0) + us);
    }
  }
}
const pc = (us: number): string => `${((us / busy) * 100).toFixed(1).padStart(5)} %`;
process.stdout.write(`${file}: ${(total / 1e6).toFixed(2)} s profiled, ${(busy / 1e6).toFixed(2)} s busy (not idle)\n\ntop ${top} by self time (% of busy):\n`);
for (const [l, us] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`  ${pc(us)}  ${(us / 1000).toFixed(0).padStart(6)} ms  ${l}\n`);
process.stdout.write(`\ntop ${top} project functions (src/, or dist/ when compiled) by inclusive time (% of busy):\n`);
for (const [l, us] of [...inclusive.entries()].filter(([l]) => l.includes(' src/') || l.includes(' dist/')).sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`  ${pc(us)}  ${(us / 1000).toFixed(0).padStart(6)} ms  ${l}\n`);
