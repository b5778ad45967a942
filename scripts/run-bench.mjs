#!/usr/bin/env node
// Runs one benchmark: `npm run bench -- <name> [--quick] [--json]` executes bench/<name>.ts under
// tsx with the flags passed through. With no name (or an unknown one) it lists the benchmarks.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const benchDir = join(root, 'bench');
const available = existsSync(benchDir)
  ? readdirSync(benchDir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')).map((f) => f.slice(0, -3)).sort()
  : [];

const args = process.argv.slice(2);
const name = args.find((a) => !a.startsWith('-'));
const flags = args.filter((a) => a !== name);

if (name === undefined || !available.includes(name)) {
  if (name !== undefined) console.error(`no benchmark named '${name}'`);
  console.error('usage: npm run bench -- <name> [--quick] [--json]\n\navailable benchmarks:');
  for (const b of available) console.error(`  ${b}`);
  process.exit(name === undefined ? 0 : 2);
}

const res = spawnSync(process.execPath, ['--import', 'tsx', join(benchDir, `${name}.ts`), ...flags], { stdio: 'inherit', cwd: root });
if (res.error !== undefined) {
  console.error(`cannot run bench/${name}.ts: ${res.error.message}`);
  process.exit(1);
}
process.exit(res.status ?? 1);
