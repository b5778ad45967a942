// `strata sim`: replay a trace against a cluster description offline, on a virtual clock (no server
// needed): through the placement policies (replay, inflate) or through the scheduler engine with
// team quotas, fair share, priorities and preemption (engine). This file reads the CSV files; the
// simulator core (scheduler/sim) only sees their text.
//
//   strata sim --trace pods.csv --cluster nodes.csv [--policy strata|fgd|best-fit|...|all]
//              [--mode replay|inflate|engine] [--seed 1] [--target-ratio 1.3] [--team-weights a=1,b=2]
//              [--quotas a=0.6,b=0.4] [--no-borrowing] [--class-priorities LS=high,BE=low]
//              [--retry-every 60] [--json]
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { PRIORITY_CLASS_VALUES, placement, sim } from '../scheduler/index.ts';

const { POLICY_NAMES, isPolicyName } = placement;
const { DEFAULT_LEVELS, parseClusterCsv, parseTraceCsv, runEngineReplay, runInflation, runReplay } = sim;
type PolicyName = placement.PolicyName;
type EngineReplayResult = sim.EngineReplayResult;
type InflationResult = sim.InflationResult;
type ReplayResult = sim.ReplayResult;
import type { Out } from './output.ts';
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
  quotas?: string;
  borrowing: boolean;
  classPriorities?: string;
  retryEvery?: string;
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

function quotas(spec: string | undefined): Record<string, number> | undefined {
  if (spec === undefined) return undefined;
  const out: Record<string, number> = {};
  for (const part of spec.split(',')) {
    const [team, q] = part.split('=');
    const share = Number(q);
    if (team === undefined || team.trim() === '' || !(share > 0 && share <= 1)) throw new Error(`--quotas takes team=share pairs, each share a fraction of the cluster's GPUs in (0, 1], e.g. research=0.6,prod=0.4; got '${part}'`);
    out[team.trim()] = share;
  }
  return out;
}

const CLASS_NAMES = Object.keys(PRIORITY_CLASS_VALUES) as (keyof typeof PRIORITY_CLASS_VALUES)[];

function classPriorities(spec: string | undefined): Record<string, number> | undefined {
  if (spec === undefined) return undefined;
  const out: Record<string, number> = {};
  for (const part of spec.split(',')) {
    const [cls, p] = part.split('=').map((x) => x.trim());
    const named = CLASS_NAMES.find((c) => c === p);
    const value = named === undefined ? Number(p === '' ? NaN : p) : PRIORITY_CLASS_VALUES[named];
    if (cls === undefined || cls === '' || !Number.isFinite(value)) throw new Error(`--class-priorities takes class=priority pairs, the priority a number or one of ${CLASS_NAMES.join(', ')}, e.g. LS=high,BE=low; got '${part}'`);
    out[cls] = value;
  }
  return out;
}

const f1 = (x: number): string => x.toFixed(1);
const f2 = (x: number): string => x.toFixed(2);

function printEngine(out: Out, r: EngineReplayResult, nodes: number, quotaSpec: Record<string, number> | undefined, borrowing: boolean): void {
  const quotaText = quotaSpec === undefined ? 'no team quotas' : `quotas ${Object.entries(quotaSpec).map(([t, q]) => `${t}=${f2(q)}`).join(', ')} (cohort borrowing ${borrowing ? 'on' : 'off'})`;
  out.line(`engine: ${r.jobs} tasks on ${nodes} nodes (${r.gpuCapacity} GPUs) over ${f1(r.makespanSeconds / 3600)} h simulated; ${quotaText}; ${r.cycles} scheduling cycles`);
  out.line(`  GPU utilisation ${f2(r.gpuUtilisationPct)} % (peak ${f2(r.peakGpuAllocationPct)} %), unallocated ${f2(r.unallocatedGpuPct)} %, CPU ${f2(r.cpuUtilisationPct)} %`);
  out.line(`  completed ${r.completed}, never started ${r.neverStarted} (unschedulable ${r.unschedulable}); JCT mean ${f1(r.jctSeconds.mean)} s, p99 ${f1(r.jctSeconds.p99)} s`);
  out.line(`  admissions ${r.admissions.total} (borrowing ${r.admissions.borrowing}, backfill ${r.admissions.backfill}, on the engine's timer ${r.admissions.onTimer})`);
  out.line(`  preemptions ${r.preemptions.total} (within-team priority ${r.preemptions.withinTeamPriority}, quota reclaim ${r.preemptions.reclaimBorrowedQuota}); wasted ${f2(r.wastedGpuHours)} GPU h`);
  out.table(
    r.queueDelaySeconds,
    Object.entries(r.queueDelaySeconds).map(([c, d]) => ({ class: c, tasks: d.count, 'mean delay s': f1(d.mean), 'p99 delay s': f1(d.p99), 'max delay s': f1(d.max) })),
    ['class', 'tasks', 'mean delay s', 'p99 delay s', 'max delay s'],
  );
  out.table(
    r.fairness,
    r.fairness.map((t) => ({ team: t.team, quota: t.quota === undefined ? '-' : f2(t.quota), 'gpu h': f1(t.gpuHours), share: f2(t.share), entitlement: f2(t.entitlement), ratio: f2(t.ratio), evicted: t.evicted, 'wasted gpu h': f2(t.wastedGpuHours) })),
    ['team', 'quota', 'gpu h', 'share', 'entitlement', 'ratio', 'evicted', 'wasted gpu h'],
  );
  const pending = Object.entries(r.notCompleted);
  if (pending.length > 0) {
    out.line('  not completed, by the engine\'s pending reason:');
    out.table(r.notCompleted, pending.map(([reason, tasks]) => ({ reason, tasks })), ['reason', 'tasks']);
  }
  out.line(`  Jain's index ${r.jainIndex.toFixed(3)}${r.energyKWh === undefined ? '' : `; energy ${f1(r.energyKWh)} kWh`}${r.carbonKg === undefined ? '' : `; carbon ${f1(r.carbonKg)} kg CO2e`}`);
}

/** Registers `strata sim` on the program. */
export function registerSim(program: Command): void {
  program
    .command('sim')
    .description('simulate a trace on a cluster (offline, virtual clock) through the placement policies or the scheduler engine: utilisation, unallocated and fragmented GPUs, JCT, queueing, fairness, preemption, energy, carbon')
    .requiredOption('--trace <file>', 'tasks CSV (openb pod-list columns: cpu_milli, memory_mib, num_gpu, gpu_milli, gpu_spec, qos, creation_time, deletion_time; optional team, class, duration)')
    .requiredOption('--cluster <file>', 'nodes CSV (openb node-list columns: sn, cpu_milli, memory_mib, gpu, model; optional idle_watts, cpu_watts, gpu_watts, carbon_g_per_kwh)')
    .option('--policy <name>', `placement policy: ${POLICY_NAMES.join(', ')}; a comma-separated list; or all`, 'strata')
    .option(
      '--mode <mode>',
      "replay (arrivals and durations on a virtual clock, placed by --policy), inflate (the FGD paper's experiment: random arrivals, no departures, until the cluster is full) or engine (replay through the scheduler engine: team quotas, fair share, priorities, preemption, gangs; GPUs counted in milli-GPU)",
      'replay',
    )
    .option('--seed <n>', 'seed of the random tie-breaks and (inflate) the arrival order', '1')
    .option('--target-ratio <x>', 'inflate: requested GPUs as a multiple of capacity', '1.3')
    .option('--levels <list>', `inflate: arrived-workload levels to report, % of GPU capacity (default ${DEFAULT_LEVELS.join(',')})`)
    .option('--team-weights <pairs>', 'replay, engine: entitlement weights for the fairness report (engine: also fair-share weights), e.g. research=2,prod=1 (default: equal)')
    .option('--quotas <pairs>', "engine: each team's nominal quota as a fraction of the cluster, e.g. research=0.6,prod=0.4; teams not listed share the rest (default: no quotas)")
    .option('--no-borrowing', 'engine: teams with quotas do not borrow each other\'s unused quota (no cohort)')
    .option('--class-priorities <pairs>', `engine: priority per trace class/QoS, a number or ${CLASS_NAMES.join('|')}, e.g. LS=high,BE=low (default: classes named like those, else normal)`)
    .option('--retry-every <seconds>', 'engine: how often the engine retries every parked task (virtual seconds; larger simulates faster, less faithfully)', '60')
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
      const weights = teamWeights(flags.teamWeights);
      if (flags.mode === 'engine') {
        if (cmd.getOptionValueSource('policy') === 'cli') throw new Error('--policy chooses a placement policy for --mode replay or inflate; --mode engine places with the scheduler engine (bin-packing): leave --policy out');
        const q = quotas(flags.quotas);
        const retry = numberFlag(flags.retryEvery ?? '60', '--retry-every');
        if (!(retry >= 0)) throw new Error(`--retry-every must be ≥ 0 seconds, got ${retry}`);
        const priorities = classPriorities(flags.classPriorities);
        const result = runEngineReplay({
          nodes,
          jobs,
          borrowing: flags.borrowing,
          fullRetryEveryMs: retry * 1000,
          ...(q === undefined ? {} : { quotas: q }),
          ...(weights === undefined ? {} : { teamWeights: weights }),
          ...(priorities === undefined ? {} : { classPriorities: priorities }),
        });
        if (out.json) return out.record({ mode: 'engine', result });
        printEngine(out, result, nodes.length, q, flags.borrowing);
        return;
      }
      if (flags.mode !== 'replay') throw new Error(`--mode must be replay, inflate or engine, got '${flags.mode}'`);
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
