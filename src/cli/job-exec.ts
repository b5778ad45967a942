// `strata job-exec <kind> <payload.json>` (hidden): how an agent runs a built-in job kind. The
// engine runs in this process, which the agent's process executor started like any job's command,
// so cancellation, logs, CPU and memory, and energy work as for any process. It prints a summary,
// writes the full result to result.json (uploaded as the job's output) and, when the attempt has a
// tracking run (MLFLOW_TRACKING_URI, MLFLOW_RUN_ID, MLFLOW_TRACKING_TOKEN), logs the summary
// numbers to it as metrics.
import { readFileSync, writeFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import type { Command } from 'commander';
import { BUILTIN_RESULT_FILE } from '../jobs/index.ts';
import { closeWorkerPools, parseQuantumCircuitJobSpec, runQuantumCircuitJob } from '../quantum/index.ts';
import { parseSpikingJob, runSpikingJob } from '../spiking/index.ts';

/** MLflow metric keys: letters, digits and _ - . / and space. */
const metricKey = (k: string): string => k.replace(/[^A-Za-z0-9_\-./ ]/g, '_').slice(0, 250);

async function logMetrics(metrics: Readonly<Record<string, number>>): Promise<string> {
  const uri = process.env['MLFLOW_TRACKING_URI'];
  const run = process.env['MLFLOW_RUN_ID'];
  const token = process.env['MLFLOW_TRACKING_TOKEN'];
  if (uri === undefined || run === undefined || token === undefined) return 'no tracking run: metrics not logged';
  const timestamp = Math.round(performance.timeOrigin + performance.now());
  const list = Object.entries(metrics)
    .filter(([, v]) => Number.isFinite(v))
    .map(([k, v]) => ({ key: metricKey(k), value: v, timestamp, step: 0 }));
  for (let i = 0; i < list.length; i += 1000) {
    const res = await fetch(`${uri}/api/2.0/mlflow/runs/log-batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ run_id: run, metrics: list.slice(i, i + 1000) }),
    });
    if (!res.ok) return `logging metrics to run ${run} failed: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`;
  }
  return `logged ${list.length} metrics to run ${run}`;
}

/** Stores the result as an artifact of the attempt's run, through MLflow's artifact proxy. */
async function uploadResult(text: string): Promise<string> {
  const uri = process.env['MLFLOW_TRACKING_URI'];
  const run = process.env['MLFLOW_RUN_ID'];
  const experiment = process.env['MLFLOW_EXPERIMENT_ID'];
  const token = process.env['MLFLOW_TRACKING_TOKEN'];
  if (uri === undefined || run === undefined || experiment === undefined || token === undefined) return 'no tracking run: result not stored as a run artifact';
  const res = await fetch(`${uri}/api/2.0/mlflow-artifacts/artifacts/${encodeURIComponent(experiment)}/${encodeURIComponent(run)}/artifacts/${BUILTIN_RESULT_FILE}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: text,
  });
  if (!res.ok) return `storing ${BUILTIN_RESULT_FILE} in run ${run} failed: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`;
  return `stored ${BUILTIN_RESULT_FILE} as an artifact of run ${run}`;
}

export function registerJobExec(program: Command): void {
  program
    .command('job-exec', { hidden: true })
    .argument('<kind>', 'quantum-circuit or spiking-network')
    .argument('<payload>', 'the job payload (JSON file)')
    .description('run a built-in job kind (used by agents)')
    .action(async (kind: string, payloadFile: string) => {
      const payload: unknown = JSON.parse(readFileSync(payloadFile, 'utf8'));
      let result: unknown;
      let metrics: Record<string, number>;
      if (kind === 'quantum-circuit') {
        const spec = parseQuantumCircuitJobSpec(payload);
        try {
          const r = await runQuantumCircuitJob(spec, { memoryLimitBytes: Math.floor(totalmem() * 0.75) });
          result = r;
          metrics = { 'quantum/qubits': r.qubits, 'quantum/shots': r.shots, 'quantum/gates': r.metrics.gates, 'quantum/simulate_seconds': r.metrics.simulateSeconds, 'quantum/state_bytes': r.metrics.stateBytes };
          for (const [obs, v] of Object.entries(r.expectations ?? {})) metrics[`quantum/expectation/${obs}`] = v;
          const top = Object.entries(r.probabilities).sort((a, b) => b[1] - a[1]).slice(0, 8);
          process.stdout.write(`${r.qubits} qubits, ${r.metrics.gates} gates, ${r.metrics.simulateSeconds.toFixed(3)} s\n`);
          for (const [bits, p] of top) process.stdout.write(`  ${bits}  ${p.toFixed(6)}${r.counts?.[bits] === undefined ? '' : `  (${r.counts[bits]} of ${r.shots} shots)`}\n`);
        } finally {
          await closeWorkerPools();
        }
      } else if (kind === 'spiking-network') {
        const job = parseSpikingJob(payload);
        const r = runSpikingJob(job);
        result = r.result;
        metrics = Object.fromEntries(Object.entries(r.metrics).map(([k, v]) => [`spiking/${k}`, v]));
        for (const [k, v] of Object.entries(r.metrics)) process.stdout.write(`  ${k} ${v}\n`);
      } else {
        throw new Error(`unknown built-in kind '${kind}': use quantum-circuit or spiking-network`);
      }
      const text = `${JSON.stringify(result, null, 2)}\n`;
      writeFileSync(BUILTIN_RESULT_FILE, text);
      process.stdout.write(`result written to ${BUILTIN_RESULT_FILE}; ${await logMetrics(metrics)}; ${await uploadResult(text)}\n`);
    });
}
