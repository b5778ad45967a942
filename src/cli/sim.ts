// `strata sim`: replay a trace against a cluster description offline, with the scheduler's
// placement policies, on a virtual clock (no server needed). This file reads the CSV files; the
// simulator core (scheduler/sim) only sees their text.
//
//   strata sim --trace pods.csv --cluster nodes.csv [--policy strata|fgd|best-fit|...|all]
//              [--mode replay|inflate] [--seed 1] [--target-ratio 1.3] [--team-weights a=1,b=2] [--json]
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { placement, sim } from '../scheduler/index.ts';

const { POLICY_NAMES, isPolicyName } = placement;
const { DEFAULT_LEVELS, parseClusterCsv, parseTraceCsv, runInflation, runReplay } = sim;
type PolicyName = placement.PolicyName;
type InflationResult = sim.InflationResult;
type ReplayResult = sim.ReplayResult;
import { makeOut } from './output.ts';

interface SimFlags {
  trace: string;
  cluster: string;
  policy: string;
  mode: string;
  seed: string;
  targetRatio: string;
  levels?: string;
  teamWeights?: string;
  json?: boolean;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read the ${what} file ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function policies(spec: string): PolicyName[] {
  if (spec === 'all') return [...POLICY_NAMES];
  const names = spec.split(',').map((s) => s.trim());
  for (const n of names) if (!isPolicyName(n)) throw new Error(`unknown policy '${n}': use one of ${POLICY_NAMES.join(', ')}, a comma-separated list, or 'all'`);
  return names as PolicyName[];
}

function numberFlag(value: string, flag: string): number {
  const x = Number(value);
  if (!Number.isFinite(x)) throw new Error(`${flag} must be a number, got '${value}'`);
  return x;
}

function teamWeights(spec: string | undefined): Record<string, number> | undefined {
  if (spec === undefined) return undefined;
  const out: Record<string, number> = {};
  for (const part of spec.split(',')) {
    const [team, w] = part.split('=');
    const weight = Number(w);
    if (team === undefined || team.trim() === '' || !(weight > 0)) throw new Error(`--team-weights takes team=weight pairs with positive weights, e.g. research=2,prod=1; got '${part}'`);
    out[team.trim()] = weight;
  }
  return out;
}

const f1 = (x: number): string => x.toFixed(1);
const f2 = (x: number): string => x.toFixed(2);

/** Registers `strata sim` on the program. */
export function registerSim(program: Command): void {
  program
    .command('sim')
    .description('simulate placement of a trace on a cluster (offline, virtual clock): utilisation, unallocated and fragmented GPUs, JCT, queueing, fairness, energy, carbon')
    .requiredOption('--trace <file>', 'tasks CSV (openb pod-list columns: cpu_milli, memory_mib, num_gpu, gpu_milli, gpu_spec, qos, creation_time, deletion_time; optional team, class, duration)')
    .requiredOption('--cluster <file>', 'nodes CSV (openb node-list columns: sn, cpu_milli, memory_mib, gpu, model; optional idle_watts, cpu_watts, gpu_watts, carbon_g_per_kwh)')
    .option('--policy <name>', `placement policy: ${POLICY_NAMES.join(', ')}; a comma-separated list; or all`, 'strata')
    .option('--mode <mode>', "replay (arrivals and durations on a virtual clock) or inflate (the FGD paper's experiment: random arrivals, no departures, until the cluster is full)", 'replay')
    .option('--seed <n>', 'seed of the random tie-breaks and (inflate) the arrival order', '1')
    .option('--target-ratio <x>', 'inflate: requested GPUs as a multiple of capacity', '1.3')
    .option('--levels <list>', `inflate: arrived-workload levels to report, % of GPU capacity (default ${DEFAULT_LEVELS.join(',')})`)
    .option('--team-weights <pairs>', 'replay: entitlement weights for the fairness report, e.g. research=2,prod=1 (default: equal)')
    .action((_opts: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<SimFlags>();
      const out = makeOut(flags.json === true);
      const nodes = parseClusterCsv(readText(flags.cluster, 'cluster'));
      const jobs = parseTraceCsv(readText(flags.trace, 'trace'));
      const seed = numberFlag(flags.seed, '--seed');
      const names = policies(flags.policy);
      if (flags.mode === 'inflate') {
        const levels = flags.levels?.split(',').map((s) => numberFlag(s.trim(), '--levels'));
        const results: InflationResult[] = names.map((policy) =>
          runInflation({ nodes, jobs, policy, seed, targetRatio: numberFlag(flags.targetRatio, '--target-ratio'), ...(levels === undefined ? {} : { levels }) }),
        );
        if (out.json) return out.record({ mode: 'inflate', results });
        out.line(`inflation: ${jobs.length} trace tasks on ${nodes.length} nodes (${results[0]?.gpuCapacity ?? 0} GPUs), seed ${seed}; unallocated GPU % (fragmented GPU %) by arrived workload`);
        const rows = results.map((r) => ({
          policy: r.policy,
          ...Object.fromEntries(r.points.map((p) => [`${p.arrivedPct}%`, `${f2(p.unallocatedPct)} (${f1(p.fragmentedPct)})`])),
          failed: r.failed,
        }));
        out.table(results, rows, ['policy', ...(results[0]?.points.map((p) => `${p.arrivedPct}%`) ?? []), 'failed']);
        return;
      }
      if (flags.mode !== 'replay') throw new Error(`--mode must be replay or inflate, got '${flags.mode}'`);
      const weights = teamWeights(flags.teamWeights);
      const results: ReplayResult[] = names.map((policy) => runReplay({ nodes, jobs, policy, seed, ...(weights === undefined ? {} : { teamWeights: weights }) }));
      if (out.json) return out.record({ mode: 'replay', results });
      for (const r of results) {
        out.line(`policy ${r.policy}: ${r.jobs} tasks on ${nodes.length} nodes (${r.gpuCapacity} GPUs) over ${f1(r.makespanSeconds / 3600)} h simulated`);
        out.line(`  GPU utilisation ${f2(r.gpuUtilisationPct)} % (peak ${f2(r.peakGpuAllocationPct)} %), unallocated ${f2(r.unallocatedGpuPct)} %, fragmented ${f2(r.fragmentedGpuPct)} %, CPU ${f2(r.cpuUtilisationPct)} %`);
        out.line(`  completed ${r.completed}, never started ${r.neverStarted} (unschedulable ${r.unschedulable}); JCT mean ${f1(r.jctSeconds.mean)} s, p99 ${f1(r.jctSeconds.p99)} s`);
        out.table(
          r.queueDelaySeconds,
          Object.entries(r.queueDelaySeconds).map(([c, d]) => ({ class: c, tasks: d.count, 'mean delay s': f1(d.mean), 'p99 delay s': f1(d.p99), 'max delay s': f1(d.max) })),
          ['class', 'tasks', 'mean delay s', 'p99 delay s', 'max delay s'],
        );
        out.table(
          r.fairness,
          r.fairness.map((t) => ({ team: t.team, 'gpu h': f1(t.gpuHours), share: f2(t.share), entitlement: f2(t.entitlement), ratio: f2(t.ratio) })),
          ['team', 'gpu h', 'share', 'entitlement', 'ratio'],
        );
        out.line(`  Jain's index ${r.jainIndex.toFixed(3)}${r.energyKWh === undefined ? '' : `; energy ${f1(r.energyKWh)} kWh`}${r.carbonKg === undefined ? '' : `; carbon ${f1(r.carbonKg)} kg CO2e`}`);
      }
    });
}
