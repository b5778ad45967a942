// Hybrid QAOA: a classical optimiser (Nelder–Mead, in this process) drives QAOA circuit evaluations
// that run as `quantum-circuit` jobs on Strata's quantum pool, and logs the optimisation curve to
// its own tracking run. Runs as a Strata job (see job.yaml) or from a shell:
//
//   STRATA_SERVER=http://127.0.0.1:7070 STRATA_SUBMIT_TOKEN=$(cat .strata/admin.token) node driver.mjs
//
// Environment: STRATA_SERVER; STRATA_SUBMIT_TOKEN (a token that may submit jobs in the project —
// inject it as a project secret); STRATA_PROJECT (default "default"); QAOA_ITERATIONS (default
// 12); QUANTUM_POOL=1 to ask for the quantum-sim pool; MLFLOW_TRACKING_URI / MLFLOW_RUN_ID /
// MLFLOW_TRACKING_TOKEN (set by Strata for a job) to log the curve.
const server = process.env.STRATA_SERVER ?? process.env.MLFLOW_TRACKING_URI;
const token = process.env.STRATA_SUBMIT_TOKEN;
const project = process.env.STRATA_PROJECT ?? 'default';
const iterations = Number(process.env.QAOA_ITERATIONS ?? 12);
if (server === undefined || token === undefined) throw new Error('set STRATA_SERVER and STRATA_SUBMIT_TOKEN');

// MaxCut on the 8-node ring, QAOA depth 1: <C> = sum over edges of (1 - <Z_u Z_v>) / 2.
const N = 8;
const edges = Array.from({ length: N }, (_, i) => [i, (i + 1) % N]);
const qasm = ['OPENQASM 2.0;', 'include "qelib1.inc";', `qreg q[${N}];`, 'h q;', ...edges.map(([u, v]) => `rzz(-gamma) q[${u}], q[${v}];`), 'rx(2*beta) q;'].join('\n');
const observables = edges.map(([u, v]) => `Z${u} Z${v}`);

const api = async (method, path, body) => {
  const res = await fetch(server + path, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return text === '' ? {} : JSON.parse(text);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let evaluation = 0;
/** Runs one circuit evaluation as a job on the quantum pool; returns the expected cut <C>. */
async function expectedCut([gamma, beta]) {
  evaluation += 1;
  const job = await api('POST', `/api/v1/projects/${project}/jobs`, {
    name: `qaoa-eval-${evaluation}`,
    kind: 'quantum-circuit',
    quantum: { qasm, parameters: { gamma, beta }, observables },
    resources: { cpu: '500m', memory: '256Mi', ...(process.env.QUANTUM_POOL === '1' ? { accelerators: { kind: 'quantum-sim', count: 1 } } : {}) },
    labels: { driver: process.env.STRATA_JOB_ID ?? 'shell' },
  });
  for (;;) {
    const j = await api('GET', `/api/v1/projects/${project}/jobs/${job.id}`);
    if (j.state === 'succeeded') break;
    if (j.state === 'failed' || j.state === 'cancelled') throw new Error(`evaluation ${evaluation} (${job.id}) ${j.state}: ${j.reason}`);
    await sleep(100);
  }
  const res = await fetch(`${server}/api/v1/projects/${project}/jobs/${job.id}/artifacts/output/result.json`, { headers: { authorization: `Bearer ${token}` } });
  const result = await res.json();
  return observables.reduce((c, o) => c + (1 - result.expectations[o]) / 2, 0);
}

// Logs one point of the curve to this job's own run (when it has one).
async function logPoint(step, cut, [gamma, beta]) {
  const uri = process.env.MLFLOW_TRACKING_URI;
  const run = process.env.MLFLOW_RUN_ID;
  const t = process.env.MLFLOW_TRACKING_TOKEN;
  if (uri === undefined || run === undefined || t === undefined) return;
  const timestamp = Date.now();
  const metrics = [
    { key: 'expected_cut', value: cut, timestamp, step },
    { key: 'approximation_ratio', value: cut / edges.length, timestamp, step },
    { key: 'gamma', value: gamma, timestamp, step },
    { key: 'beta', value: beta, timestamp, step },
  ];
  const res = await fetch(`${uri}/api/2.0/mlflow/runs/log-batch`, { method: 'POST', headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' }, body: JSON.stringify({ run_id: run, metrics }) });
  if (!res.ok) console.error(`logging step ${step} failed: HTTP ${res.status}`);
}

// Nelder–Mead minimising -<C> over (gamma, beta).
const f = async (x) => -(await expectedCut(x));
let simplex = [[0.4, 0.2], [0.9, 0.2], [0.4, 0.6]];
let values = [];
for (const x of simplex) values.push(await f(x));
for (let it = 1; it <= iterations; it++) {
  const order = values.map((v, i) => i).sort((a, b) => values[a] - values[b]);
  simplex = order.map((i) => simplex[i]);
  values = order.map((i) => values[i]);
  const best = simplex[0];
  console.log(`iteration ${it}: <C> = ${(-values[0]).toFixed(4)} (ratio ${(-values[0] / edges.length).toFixed(4)}) at gamma=${best[0].toFixed(4)} beta=${best[1].toFixed(4)}`);
  await logPoint(it, -values[0], best);
  const centroid = [0, 1].map((d) => (simplex[0][d] + simplex[1][d]) / 2);
  const worst = simplex[2];
  const reflect = centroid.map((c, d) => c + (c - worst[d]));
  const fr = await f(reflect);
  if (fr < values[0]) {
    const expand = centroid.map((c, d) => c + 2 * (c - worst[d]));
    const fe = await f(expand);
    [simplex[2], values[2]] = fe < fr ? [expand, fe] : [reflect, fr];
  } else if (fr < values[1]) {
    [simplex[2], values[2]] = [reflect, fr];
  } else {
    const contract = centroid.map((c, d) => c + 0.5 * (worst[d] - c));
    const fc = await f(contract);
    if (fc < values[2]) [simplex[2], values[2]] = [contract, fc];
    else {
      for (const i of [1, 2]) {
        simplex[i] = simplex[i].map((x, d) => simplex[0][d] + 0.5 * (x - simplex[0][d]));
        values[i] = await f(simplex[i]);
      }
    }
  }
}
const bestIndex = values.indexOf(Math.min(...values));
console.log(`best <C> = ${(-values[bestIndex]).toFixed(4)} of ${edges.length} edges (ratio ${(-values[bestIndex] / edges.length).toFixed(4)}; depth-1 optimum on an even ring is 0.75) after ${evaluation} circuit jobs`);
