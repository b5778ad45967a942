// Job spec parsing through the module's public surface: the minimal spec from issue 3, a full
// spec, every field's bad input (with its exact field path), dangerous env, traversal paths
// (research §2.3), YAML bombs and duplicate keys, JSON input, size limits, suggestions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { StrataError } from '../kernel/index.ts';
import {
  DANGEROUS_ENV,
  JOB_SPEC_DEFAULTS,
  JOB_SPEC_LIMITS,
  gangEnv,
  jobArgv,
  jobSpecToInput,
  normaliseJobSpec,
  parseJobSpec,
} from './index.ts';
import type { JobSpec, JobSpecOptions } from './index.ts';

const MINIMAL = `name: hello
command: [sh, -c, "echo hello from strata"]
resources: {cpu: 100m, memory: 64Mi}
`;

const BASE = { name: 'x', command: ['run'] } as const;

/** The StrataError a call throws (fails the test if it returns or throws something else). */
function refusal(fn: () => unknown): StrataError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof StrataError, `expected a StrataError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a refusal');
}

interface Problem {
  field: string;
  message: string;
}
function problems(e: StrataError): Problem[] {
  const p = e.details['problems'];
  assert.ok(Array.isArray(p), 'details.problems is a list');
  return p as Problem[];
}

/** Normalising BASE + patch fails with exactly one problem at `field` whose message matches `re`. */
function refusedAt(patch: Record<string, unknown>, field: string, re: RegExp, opts: JobSpecOptions = {}): void {
  const e = refusal(() => normaliseJobSpec({ ...BASE, ...patch }, opts));
  assert.equal(e.code, 'bad_request');
  assert.equal(e.status, 400);
  assert.deepEqual(problems(e).map((p) => p.field), [field], `${JSON.stringify(patch)} → ${e.message}`);
  assert.equal(e.details['field'], field);
  assert.ok(e.message.startsWith(`${field}: `), e.message);
  assert.match(e.message, re);
}

test('the minimal spec from issue 3 is accepted exactly as written, with defaults filled in', () => {
  const spec = parseJobSpec(MINIMAL);
  const want: JobSpec = {
    name: 'hello',
    kind: 'process',
    command: ['sh', '-c', 'echo hello from strata'],
    args: [],
    shell: false,
    workingDir: '.',
    files: [],
    env: {},
    resources: { cpuMillis: 100, memoryBytes: 64 * 1024 * 1024 },
    replicas: 1,
    priorityClass: 'normal',
    preemptible: false,
    maxAttempts: 3,
    backoff: { initialSeconds: 5, maxSeconds: 300 },
    regions: [],
    dataResidency: [],
    secrets: [],
    outputs: [],
    labels: {},
  };
  assert.deepEqual(spec, want);
  assert.deepEqual(jobArgv(spec), ['sh', '-c', 'echo hello from strata']);
  assert.ok(Object.isFrozen(spec) && Object.isFrozen(spec.resources) && Object.isFrozen(spec.command));
  // Same spec, other spellings: YAML as JSON, explicit formats, a byte-order mark, CRLF line ends.
  const json = JSON.stringify({ name: 'hello', command: ['sh', '-c', 'echo hello from strata'], resources: { cpu: '100m', memory: '64Mi' } });
  assert.deepEqual(parseJobSpec(json), want);
  assert.deepEqual(parseJobSpec(json, { format: 'json' }), want);
  assert.deepEqual(parseJobSpec(json, { format: 'yaml' }), want);
  assert.deepEqual(parseJobSpec(MINIMAL, { format: 'yaml' }), want);
  assert.deepEqual(parseJobSpec(`\uFEFF${MINIMAL.replace(/\n/g, '\r\n')}`), want);
  assert.deepEqual(parseJobSpec('{name: hello, command: [sh, -c, "echo hello from strata"], resources: {cpu: 100m, memory: 64Mi}}'), want);
  assert.deepEqual(normaliseJobSpec(JSON.parse(json)), want);
  // Defaults when resources are left out.
  const bare = parseJobSpec('name: x\ncommand: ["true"]');
  assert.deepEqual(bare.resources, { cpuMillis: JOB_SPEC_DEFAULTS.cpuMillis, memoryBytes: JOB_SPEC_DEFAULTS.memoryBytes });
});

const FULL = `
name: train-resnet
command: [python, train.py]
args: [--epochs, "10", "--lr=0.1"]
workingDir: ./src/
files:
  - path: src/train.py
    content: |
      print("training")
  - {path: run.sh, content: "#!/bin/sh\\necho hi\\n", executable: true}
env:
  LOG_LEVEL: debug
  CUDA_VISIBLE_DEVICES: "0,1"
resources:
  cpu: 2
  memory: 16Gi
  accelerators: {kind: gpu, count: 2, flavors: [nvidia-h100, nvidia-a100]}
replicas: 4
priorityClass: high
preemptible: true
maxAttempts: 5
backoff: {initialSeconds: 1, maxSeconds: 60}
maxRuntimeSeconds: 86400
deadline: 2026-03-01T13:00:00+01:00
maxStartDelaySeconds: 3600
regions: [east, west]
dataResidency: [eu]
checkpointDir: ckpt//latest
secrets:
  - db-password
  - {name: hf.token, env: HF_TOKEN}
outputs: [model.pt, results/]
labels: {team: vision, app.kubernetes.io/part-of: strata}
`;

test('a full spec: every field, normalised', () => {
  const spec = parseJobSpec(FULL);
  assert.deepEqual(spec, {
    name: 'train-resnet',
    kind: 'process',
    command: ['python', 'train.py'],
    args: ['--epochs', '10', '--lr=0.1'],
    shell: false,
    workingDir: 'src',
    files: [
      { path: 'run.sh', content: '#!/bin/sh\necho hi\n', executable: true },
      { path: 'src/train.py', content: 'print("training")\n', executable: false },
    ],
    env: { CUDA_VISIBLE_DEVICES: '0,1', LOG_LEVEL: 'debug' },
    resources: { cpuMillis: 2000, memoryBytes: 16 * 2 ** 30, accelerators: { kind: 'gpu', count: 2, flavors: ['nvidia-h100', 'nvidia-a100'] } },
    replicas: 4,
    priorityClass: 'high',
    preemptible: true,
    maxAttempts: 5,
    backoff: { initialSeconds: 1, maxSeconds: 60 },
    maxRuntimeSeconds: 86400,
    deadline: '2026-03-01T12:00:00.000Z',
    maxStartDelaySeconds: 3600,
    regions: ['east', 'west'],
    dataResidency: ['eu'],
    checkpointDir: 'ckpt/latest',
    secrets: [
      { name: 'db-password', env: 'DB_PASSWORD' },
      { name: 'hf.token', env: 'HF_TOKEN' },
    ],
    outputs: ['model.pt', 'results'],
    labels: { 'app.kubernetes.io/part-of': 'strata', team: 'vision' },
  });
  // Normalising is idempotent through the input form (what `strata jobs describe` shows).
  const input = jobSpecToInput(spec);
  assert.deepEqual((input['resources'] as Record<string, unknown>)['memory'], '16Gi');
  assert.deepEqual(normaliseJobSpec(JSON.parse(JSON.stringify(input))), spec);
  assert.deepEqual(normaliseJobSpec(jobSpecToInput(parseJobSpec(MINIMAL))), parseJobSpec(MINIMAL));
});

test('experimental accelerators: qubits for quantum-sim, neurons for neuromorphic, count defaults to 1', () => {
  const q = normaliseJobSpec({ ...BASE, resources: { accelerators: { kind: 'quantum-sim', qubits: 24 } } });
  assert.deepEqual(q.resources.accelerators, { kind: 'quantum-sim', count: 1, flavors: [], qubits: 24 });
  const n = normaliseJobSpec({ ...BASE, resources: { accelerators: { kind: 'neuromorphic', neurons: 100_000, count: 2 } } });
  assert.deepEqual(n.resources.accelerators, { kind: 'neuromorphic', count: 2, flavors: [], neurons: 100_000 });
  for (const kind of ['gpu', 'tpu', 'fpga', 'ipu'] as const) {
    assert.equal(normaliseJobSpec({ ...BASE, resources: { accelerators: { kind } } }).resources.accelerators?.kind, kind);
  }
});

test('shell: a string command needs shell: true; args are never spliced into the script', () => {
  refusedAt({ command: 'echo hi' }, 'command', /single string; give a list such as \[sh, -c, "echo hi"\].*shell: true/);
  const spec = normaliseJobSpec({ name: 'sh-job', shell: true, command: 'echo "$1"; ls $2', args: ['a b', '; rm -rf / #'] });
  assert.deepEqual(spec.command, ['echo "$1"; ls $2']);
  assert.deepEqual(jobArgv(spec), ['/bin/sh', '-c', 'echo "$1"; ls $2', 'sh-job', 'a b', '; rm -rf / #']);
  assert.deepEqual(normaliseJobSpec({ ...BASE, shell: true, command: ['echo hi'] }).command, ['echo hi']);
  refusedAt({ shell: true, command: ['echo', 'hi'] }, 'command', /one script string \(2 items given\)/);
  refusedAt({ shell: true, command: '   ' }, 'command', /script is empty/);
  // Without a shell, metacharacters are plain bytes in argv (research §2.3, Jobs API).
  const literal = normaliseJobSpec({ ...BASE, command: ['echo', '$(id)', '`id`', '; id', '| id', '&& id', '> /tmp/x'] });
  assert.deepEqual(jobArgv(literal), ['echo', '$(id)', '`id`', '; id', '| id', '&& id', '> /tmp/x']);
});

test("every field's bad input names the exact field path and what is allowed", () => {
  const cases: ReadonlyArray<readonly [Record<string, unknown>, string, RegExp]> = [
    [{ name: undefined }, 'name', /is required; use 1–63 lower-case/],
    [{ name: 'Hello' }, 'name', /"Hello" is not a valid name; use 1–63 lower-case letters/],
    [{ name: 'a..b' }, 'name', /not a valid name/],
    [{ name: 'x'.repeat(64) }, 'name', /longer than 63 bytes/],
    [{ name: 7 }, 'name', /expected a name, got 7; quote it/],
    [{ command: undefined }, 'command', /is required/],
    [{ command: [] }, 'command', /must not be empty/],
    [{ command: [''] }, 'command[0]', /program name is empty/],
    [{ command: ['python', 3] }, 'command[1]', /expected text, got 3; quote it \("3"\)/],
    [{ command: { a: 1 } }, 'command', /expected a list such as \[python, train\.py\], got a mapping/],
    [{ args: '--x' }, 'args', /expected a list/],
    [{ args: ['--lr', 0.1] }, 'args[1]', /expected text, got 0\.1; quote it/],
    [{ shell: 'yes' }, 'shell', /expected true or false, got "yes"/],
    [{ workingDir: '../up' }, 'workingDir', /may not leave the working directory/],
    [{ files: {} }, 'files', /expected a list/],
    [{ files: [{ path: 'a' }] }, 'files[0].content', /is required/],
    [{ files: [{ content: 'a' }] }, 'files[0].path', /is required/],
    [{ files: [{ path: 'a', content: 1 }] }, 'files[0].content', /expected text/],
    [{ files: [{ path: 'a', content: '', executable: 'yes' }] }, 'files[0].executable', /true or false/],
    [{ files: [{ path: 'a', content: '' }, { path: './a', content: '' }] }, 'files[1].path', /"a" is listed twice/],
    [{ files: [{ path: 'a', content: '' }, { path: 'a/b', content: '' }] }, 'files[1].path', /cannot both be files/],
    [{ files: ['a'] }, 'files[0]', /expected a mapping with fields path, content, fromFile, executable/],
    [{ env: ['A=1'] }, 'env', /expected a mapping of variable names to text/],
    [{ env: { '1A': 'x' } }, 'env["1A"]', /not a valid variable name/],
    [{ env: { 'A-B': 'x' } }, 'env["A-B"]', /not a valid variable name/],
    [{ env: { A: 1 } }, 'env.A', /expected text, got 1; quote it/],
    [{ env: { A: true } }, 'env.A', /expected text, got true; quote it/],
    [{ env: { A: null } }, 'env.A', /expected text, got null/],
    [{ resources: 'big' }, 'resources', /expected a mapping with fields cpu, memory, accelerators/],
    [{ resources: { cpu: '100x' } }, 'resources.cpu', /"100x" is not a quantity; use e\.g\. 100m, 0\.5 or 2/],
    [{ resources: { cpu: 0 } }, 'resources.cpu', /greater than zero/],
    [{ resources: { memory: '64Mb' } }, 'resources.memory', /^resources\.memory: "64Mb" is not a quantity; use e\.g\. 64Mi, 1Gi or 500M$/],
    [{ resources: { memory: '512m' } }, 'resources.memory', /fraction of a byte/],
    [{ resources: { gpu: 1 } }, 'resources.gpu', /accelerators: \{kind: gpu, count: 1\}/],
    [{ resources: { accelerators: { count: 1 } } }, 'resources.accelerators.kind', /is required; one of gpu, tpu/],
    [{ resources: { accelerators: { kind: 'gpus' } } }, 'resources.accelerators.kind', /did you mean "gpu"/],
    [{ resources: { accelerators: { kind: 'gpu', count: 0 } } }, 'resources.accelerators.count', /0 is out of range; allowed 1 to 1024/],
    [{ resources: { accelerators: { kind: 'gpu', count: 1.5 } } }, 'resources.accelerators.count', /whole number/],
    [{ resources: { accelerators: { kind: 'gpu', flavors: ['H100'] } } }, 'resources.accelerators.flavors[0]', /not a valid name/],
    [{ resources: { accelerators: { kind: 'gpu', flavors: ['a', 'a'] } } }, 'resources.accelerators.flavors[1]', /listed twice/],
    [{ resources: { accelerators: { kind: 'gpu', qubits: 4 } } }, 'resources.accelerators.qubits', /only for kind quantum-sim/],
    [{ resources: { accelerators: { kind: 'gpu', neurons: 4 } } }, 'resources.accelerators.neurons', /only for kind neuromorphic/],
    [{ resources: { accelerators: { kind: 'quantum-sim', qubits: 0 } } }, 'resources.accelerators.qubits', /out of range/],
    [{ replicas: 0 }, 'replicas', /0 is out of range; allowed 1 to 4096/],
    [{ replicas: '2' }, 'replicas', /expected a whole number from 1 to 4096, got "2"/],
    [{ priorityClass: 'urgent' }, 'priorityClass', /"urgent" is not allowed; use one of low, normal, high, critical/],
    [{ priorityClass: 'hgh' }, 'priorityClass', /did you mean "high"/],
    [{ preemptible: 1 }, 'preemptible', /true or false/],
    [{ maxAttempts: 21 }, 'maxAttempts', /21 is out of range; allowed 1 to 20/],
    [{ maxAttempts: 0 }, 'maxAttempts', /out of range/],
    [{ backoff: 5 }, 'backoff', /expected a mapping with fields initialSeconds, maxSeconds/],
    [{ backoff: { initialSeconds: -1 } }, 'backoff.initialSeconds', /out of range/],
    [{ backoff: { initialSeconds: 10, maxSeconds: 5 } }, 'backoff.maxSeconds', /5 is less than initialSeconds \(10\)/],
    [{ backoff: { initial: 1 } }, 'backoff.initial', /did you mean "initialSeconds"/],
    [{ maxRuntimeSeconds: 0 }, 'maxRuntimeSeconds', /out of range; allowed more than 0/],
    [{ maxRuntimeSeconds: 31 * 86400 }, 'maxRuntimeSeconds', /out of range/],
    [{ maxRuntimeSeconds: '1h' }, 'maxRuntimeSeconds', /expected a number of seconds/],
    [{ deadline: 'tomorrow' }, 'deadline', /not an ISO 8601 time with a zone; use e\.g\. 2026-03-01T12:00:00Z/],
    [{ deadline: '2026-03-01T12:00:00' }, 'deadline', /with a zone/],
    [{ deadline: '2026-02-30T12:00:00Z' }, 'deadline', /not an ISO 8601 time/],
    [{ deadline: '2026-01-01T24:00:00Z' }, 'deadline', /not an ISO 8601 time/],
    [{ deadline: 1767225600000 }, 'deadline', /expected an ISO 8601 time/],
    [{ maxStartDelaySeconds: -5 }, 'maxStartDelaySeconds', /out of range/],
    [{ regions: [] }, 'regions', /is empty; list at least one region, or leave regions out/],
    [{ regions: 'east' }, 'regions', /expected a list such as \[east, west\]/],
    [{ regions: ['East'] }, 'regions[0]', /not a valid name/],
    [{ regions: ['east', 'east'] }, 'regions[1]', /listed twice/],
    [{ dataResidency: ['EU'] }, 'dataResidency[0]', /not a valid name/],
    [{ checkpointDir: '/abs' }, 'checkpointDir', /is absolute/],
    [{ checkpointDir: 3 }, 'checkpointDir', /expected true, false or a relative path/],
    [{ secrets: 'db' }, 'secrets', /expected a list/],
    [{ secrets: ['Bad_Name'] }, 'secrets[0]', /not a valid name/],
    [{ secrets: [{ env: 'X' }] }, 'secrets[0].name', /is required/],
    [{ secrets: [{ name: 'db', env: '1X' }] }, 'secrets[0].env', /not a valid variable name/],
    [{ secrets: [{ name: 'db', value: 'x' }] }, 'secrets[0].value', /unknown field; allowed: name, env/],
    [{ secrets: ['1pass'] }, 'secrets[0].env', /default variable name "1PASS".*set env/],
    [{ secrets: ['db', { name: 'db2', env: 'DB' }] }, 'secrets[1].env', /DB is given by two secrets/],
    [{ env: { DB: 'x' }, secrets: ['db'] }, 'secrets[0].env', /DB is also set in env/],
    [{ outputs: ['a', 'a/'] }, 'outputs[1]', /listed twice/],
    [{ outputs: ['.'] }, 'outputs[0]', /names the working directory itself/],
    [{ labels: { 'bad key': 'x' } }, 'labels["bad key"]', /not a valid label key/],
    [{ labels: { team: 7 } }, 'labels.team', /expected text/],
    [{ labels: { team: 'x'.repeat(257) } }, 'labels.team', /longer than 256 bytes/],
    [{ labels: { team: 'a\u0007b' } }, 'labels.team', /control character/],
  ];
  for (const [patch, field, re] of cases) refusedAt(patch, field, re);
});

test('problems are collected and reported together, up to ten', () => {
  const e = refusal(() => parseJobSpec('name: Bad\ncomand: [x]\nresources: {cpu: lots, memory: 64Mb}\nreplicas: 0\n'));
  assert.deepEqual(problems(e).map((p) => p.field), ['comand', 'name', 'command', 'resources.cpu', 'resources.memory', 'replicas']);
  assert.equal(e.details['field'], 'comand');
  assert.equal(e.message.split('; ').filter((part) => /^[a-z][\w.[\]"]*: /.test(part)).length, 6);
  assert.match(e.message, /resources\.memory: "64Mb" is not a quantity; use e\.g\. 64Mi, 1Gi or 500M/);
  const many = refusal(() => normaliseJobSpec({ ...BASE, env: Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`V${i}`, i])) }));
  assert.equal(problems(many).length, 10);
  assert.match(many.message, /; and 5 more problems$/);
});

test('unknown fields are errors that suggest the intended field and list the allowed ones', () => {
  const cases: ReadonlyArray<readonly [Record<string, unknown>, string, string]> = [
    [{ comand: ['x'] }, 'comand', 'command'],
    [{ max_attempts: 2 }, 'max_attempts', 'maxAttempts'],
    [{ 'priority-class': 'low' }, '["priority-class"]', 'priorityClass'],
    [{ Env: {} }, 'Env', 'env'],
    [{ resources: { cpus: 1 } }, 'resources.cpus', 'cpu'],
    [{ resources: { memroy: '1Gi' } }, 'resources.memroy', 'memory'],
    [{ resources: { accelerators: { kind: 'gpu', flavours: [] } } }, 'resources.accelerators.flavours', 'flavors'],
    [{ files: [{ path: 'a', contents: 'x' }] }, 'files[0].contents', 'content'],
  ];
  for (const [patch, field, guess] of cases) {
    const input: Record<string, unknown> = { ...BASE, ...patch };
    if ('comand' in patch) delete input['command'];
    const e = refusal(() => normaliseJobSpec(input));
    const p = problems(e).find((x) => x.field === field || x.field.endsWith(field));
    assert.ok(p !== undefined, `${field} in ${e.message}`);
    assert.match(p.message, new RegExp(`unknown field; did you mean "${guess}"\\? allowed: `));
  }
  const top = refusal(() => normaliseJobSpec({ ...BASE, image: 'python:3' }));
  assert.match(top.message, /^image: unknown field; allowed: name, kind, quantum, spiking, command, args, shell, workingDir, files, env, resources, replicas/);
  // The suggestion also works in YAML, where the typo is most likely.
  assert.match(refusal(() => parseJobSpec('name: x\ncomand: [true]\n')).message, /comand: unknown field; did you mean "command"\?/);
});

test('dangerous env variables are refused, naming the variable and why, unless a platform admin asks', () => {
  const named = [...DANGEROUS_ENV.keys(), 'DYLD_INSERT_LIBRARIES', 'LD_BIND_NOW', 'BASH_FUNC_x', 'STRATA_TOKEN', 'STRATA_SERVER', 'MLFLOW_TRACKING_URI', 'MLFLOW_TRACKING_TOKEN'];
  for (const n of ['LD_PRELOAD', 'LD_LIBRARY_PATH', 'LD_AUDIT', 'NODE_OPTIONS', 'NODE_PATH', 'PYTHONPATH', 'PYTHONSTARTUP', 'PERL5OPT', 'RUBYOPT', 'BASH_ENV', 'ENV', 'PROMPT_COMMAND']) {
    assert.ok(DANGEROUS_ENV.has(n), n);
  }
  for (const n of named) {
    const e = refusal(() => normaliseJobSpec({ ...BASE, env: { [n]: 'x' } }));
    assert.equal(e.details['field'], `env.${n}`);
    assert.match(e.message, new RegExp(`^env\\.${n}: ${n} may not be set: .+; only platform admins may set it$`));
    assert.equal(normaliseJobSpec({ ...BASE, env: { [n]: 'x' } }, { allowDangerousEnv: true }).env[n], 'x');
    // The same rule for the variable a secret is injected as.
    const s = refusal(() => normaliseJobSpec({ ...BASE, secrets: [{ name: 'k', env: n }] }));
    assert.equal(s.details['field'], 'secrets[0].env');
  }
  assert.match(refusal(() => parseJobSpec('name: x\ncommand: [node]\nenv: {NODE_OPTIONS: "--require /tmp/evil.js"}\n')).message, /NODE_OPTIONS may not be set: it injects options such as --require/);
  assert.match(refusal(() => normaliseJobSpec({ ...BASE, secrets: ['strata-token'] })).message, /secrets\[0\]\.env: STRATA_TOKEN may not be set: the platform sets STRATA_\* variables itself/);
  // Ordinary variables, including look-alikes, are fine.
  const ok = { PATH: '/usr/bin', HOME: '/tmp', LDFLAGS: '-O2', MY_LD_PRELOAD: 'x', CUDA_VISIBLE_DEVICES: '0', _private: 'x', STRATAX: 'x', MLFLOW_EXPERIMENT_NAME: 'e' };
  assert.deepEqual(Object.keys(normaliseJobSpec({ ...BASE, env: ok }).env), Object.keys(ok).sort());
  refusedAt({ env: JSON.parse('{"__proto__": "x"}') as unknown }, 'env.__proto__', /not a valid variable name/);
  // YAML's `true` is a boolean, so an unquoted `command: [true]` gets a hint to quote it.
  refusedAt({ command: [true] }, 'command[0]', /expected text, got true; quote it \("true"\)/);
});

const TRAVERSALS = [
  '../', '../x', '..\\x', '..\\', '....//', '....//x', '..%2f', '..%2fx', '%2e%2e%2f', '%2e%2e/', '%252e%252e%252f', '..%c0%af',
  '．．／', '．．/x', 'a/．．/b', 'x\u0000y', '%00', './../x', 'a/../../b', 'a/..', '..', '...', '/etc/passwd', '//proc/self/root/etc/passwd',
  'C:\\Windows\\win.ini', 'C:/Windows/win.ini', '\\\\host\\share\\x', '／etc／passwd', 'a\nb', '', '.', './', 'x'.repeat(1025), `${'y'.repeat(256)}/z`,
];
const LOOKALIKES: ReadonlyArray<readonly [string, string]> = [
  ['foo..bar.txt', 'foo..bar.txt'], ['..foo/bar', '..foo/bar'], ['foo../bar', 'foo../bar'], ['.hidden', '.hidden'], ['a/.b/c', 'a/.b/c'],
  ['./a//b/', 'a/b'], ['100%.txt', '100%.txt'], ['données/été.csv', 'données/été.csv'], ['a b/c d', 'a b/c d'],
];

test('traversal paths are refused in files, outputs, checkpointDir and workingDir; look-alikes work', () => {
  for (const bad of TRAVERSALS) {
    refusedAt({ files: [{ path: bad, content: '' }] }, 'files[0].path', /./);
    refusedAt({ outputs: [bad] }, 'outputs[0]', /./);
    refusedAt({ checkpointDir: bad }, 'checkpointDir', /./);
    if (!['.', './', ''].includes(bad) || bad === '') refusedAt({ workingDir: bad }, 'workingDir', /./);
  }
  assert.match(refusal(() => normaliseJobSpec({ ...BASE, outputs: ['．．／x'] })).message, /after Unicode normalisation/);
  assert.match(refusal(() => normaliseJobSpec({ ...BASE, outputs: ['%2e%2e%2f'] })).message, /percent-escape/);
  assert.match(refusal(() => normaliseJobSpec({ ...BASE, outputs: ['x\u0000y'] })).message, /NUL/);
  for (const [good, normal] of LOOKALIKES) {
    const spec = normaliseJobSpec({ ...BASE, files: [{ path: good, content: 'x' }], outputs: [good], checkpointDir: good, workingDir: good });
    assert.equal(spec.files[0]?.path, normal);
    assert.deepEqual(spec.outputs, [normal]);
    assert.equal(spec.checkpointDir, normal);
    assert.equal(spec.workingDir, normal);
  }
  assert.equal(normaliseJobSpec({ ...BASE, workingDir: './' }).workingDir, '.');
  assert.equal(normaliseJobSpec({ ...BASE, checkpointDir: true }).checkpointDir, JOB_SPEC_DEFAULTS.checkpointDir);
  assert.equal(normaliseJobSpec({ ...BASE, checkpointDir: false }).checkpointDir, undefined);
});

const BOMB = `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
name: x
command: *g
`;

test('YAML alias bombs, duplicate keys, multiple documents and deep nesting are refused', () => {
  const bomb = refusal(() => parseJobSpec(BOMB));
  assert.equal(bomb.code, 'bad_request');
  assert.match(bomb.message, /^spec: too many YAML alias expansions/);
  // A handful of aliases is ordinary YAML and still works.
  const reuse = parseJobSpec('name: x\ncommand: &c [echo, hi]\nargs: *c\nlabels: &l {team: a}\n');
  assert.deepEqual(reuse.args, ['echo', 'hi']);
  const dup = refusal(() => parseJobSpec('name: a\ncommand: [x]\nname: b\n'));
  assert.match(dup.message, /^spec: duplicate key "name" at line 3, column 1; each field may appear only once$/);
  assert.equal(dup.details['line'], 3);
  assert.match(refusal(() => parseJobSpec('name: a\ncommand: [x]\nresources:\n  cpu: 1\n  cpu: 2\n')).message, /duplicate key "cpu" at line 5/);
  assert.match(refusal(() => parseJobSpec('{"name":"a","command":["x"],"name":"b"}')).message, /duplicate key "name"/);
  assert.match(refusal(() => parseJobSpec('{"name":"a","command":["x"],"env":{"A":"1","A":"2"}}', { format: 'json' })).message, /duplicate key "A"/);
  assert.match(refusal(() => parseJobSpec('name: a\ncommand: [x]\n---\nname: b\n')).message, /^spec: holds more than one YAML document at line 3, column 1; remove the '---'/);
  assert.match(refusal(() => parseJobSpec('name: [unclosed\n')).message, /^spec: not valid YAML at line 2, column 1: Flow sequence/);
  // Deep nesting is refused before yaml's recursive composer runs: the second 100k-deep `[[[…` in one
  // process used to abort Node ("RegExpCompiler Allocation failed"), not throw.
  for (let i = 0; i < 2; i++) assert.match(refusal(() => parseJobSpec('['.repeat(100_000))).message, /^spec: nested more than 32 levels deep/);
  const deep = [`${'{"a":'.repeat(2_000)}1${'}'.repeat(2_000)}`, `${'- '.repeat(2_000)}x`, `${'{a: '.repeat(40)}1${'}'.repeat(40)}`, `a:\n${Array.from({ length: 40 }, (_, i) => `${' '.repeat(i + 1)}k:`).join('\n')} 1`];
  for (const text of deep) assert.match(refusal(() => parseJobSpec(text)).message, /^spec: nested more than 32 levels deep/);
  for (const format of ['json', 'yaml'] as const) assert.match(refusal(() => parseJobSpec(`${'['.repeat(40)}${']'.repeat(40)}`, { format })).message, /^spec: (nested more than 32|not valid JSON)/);
  // Legitimate nesting (4 levels here) is nowhere near the limit.
  assert.equal(parseJobSpec('name: x\ncommand: [x]\nresources: {accelerators: {kind: gpu, flavors: [a]}}\n').resources.accelerators?.flavors[0], 'a');
  // YAML 1.2: `yes`/`no`/`on` are text, so they are not silently booleans; 1.10 would be a number.
  assert.match(refusal(() => parseJobSpec('name: x\ncommand: [x]\npreemptible: yes\n')).message, /preemptible: expected true or false, got "yes"/);
  assert.match(refusal(() => parseJobSpec('name: x\ncommand: [x]\nenv: {VERSION: 1.10}\n')).message, /env\.VERSION: expected text, got 1\.1; quote it/);
  // YAML 1.1 merge keys are not special.
  assert.match(refusal(() => parseJobSpec('name: x\ncommand: [x]\nbackoff: {<<: {initialSeconds: 1}}\n')).message, /backoff\["<<"\]: unknown field/);
});

test('JSON input: strict syntax, prototype poisoning refused, YAML flow mappings still accepted', () => {
  const spec = parseJobSpec('{"name":"j","command":["a","b"],"resources":{"cpu":0.25,"memory":1e9},"env":{"A":"1"}}', { format: 'json' });
  assert.deepEqual(spec.resources, { cpuMillis: 250, memoryBytes: 1e9 });
  assert.deepEqual(spec.env, { A: '1' });
  assert.match(refusal(() => parseJobSpec('{"name":"j","command":["a"],}', { format: 'json' })).message, /^spec: not valid JSON/);
  assert.match(refusal(() => parseJobSpec('name: j', { format: 'json' })).message, /^spec: not valid JSON/);
  for (const poison of ['{"name":"j","command":["a"],"__proto__":{"polluted":1}}', '{"name":"j","command":["a"],"env":{"constructor":{"prototype":{"polluted":1}}}}']) {
    assert.match(refusal(() => parseJobSpec(poison)).message, /^spec: contains a "__proto__" or "constructor\.prototype" key/);
  }
  // A `__proto__` key in YAML is just an unknown field, and nothing is polluted.
  assert.match(refusal(() => parseJobSpec('name: j\ncommand: [a]\n__proto__: {polluted: 1}\n')).message, /__proto__: unknown field/);
  assert.match(refusal(() => parseJobSpec('name: j\ncommand: [a]\nenv: {__proto__: x}\n')).message, /env\.__proto__: "__proto__" is not a valid variable name/);
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  // Trailing comma: not JSON, but valid YAML flow syntax, so `auto` reads it as YAML.
  assert.equal(parseJobSpec('{"name":"j","command":["a"],}').name, 'j');
  assert.match(refusal(() => parseJobSpec('[1, 2]')).message, /^spec: expected a mapping \(object\) with at least name and command/);
  assert.match(refusal(() => parseJobSpec('"just text"')).message, /^spec: expected a mapping/);
  assert.match(refusal(() => parseJobSpec('   \n')).message, /^spec: is empty/);
  assert.match(refusal(() => normaliseJobSpec(null)).message, /^spec: expected a mapping/);
});

test('sizes are bounded and NUL bytes are refused everywhere', () => {
  const big = refusal(() => parseJobSpec(`name: x\ncommand: [x]\nlabels: {a: "${'x'.repeat(JOB_SPEC_LIMITS.specBytes)}"}\n`));
  assert.equal(big.code, 'payload_too_large');
  assert.equal(big.status, 413);
  assert.match(big.message, /^spec: is \d+ bytes; at most 262144/);
  assert.match(refusal(() => parseJobSpec('name: x\u0000\ncommand: [x]')).message, /^spec: contains a NUL byte/);
  const env = (n: number): Record<string, string> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`V${i}`, 'x']));
  assert.equal(Object.keys(normaliseJobSpec({ ...BASE, env: env(256) }).env).length, 256);
  refusedAt({ env: env(257) }, 'env', /has 257 variables; at most 256/);
  refusedAt({ env: { A: 'x'.repeat(32 * 1024 + 1) } }, 'env.A', /longer than 32768 bytes/);
  refusedAt({ env: { A: 'a\u0000b' } }, 'env.A', /NUL/);
  const files = (n: number, size = 1): unknown[] => Array.from({ length: n }, (_, i) => ({ path: `f${i}`, content: 'x'.repeat(size) }));
  assert.equal(normaliseJobSpec({ ...BASE, files: files(64) }).files.length, 64);
  refusedAt({ files: files(65) }, 'files', /has 65 items; at most 64/);
  refusedAt({ files: files(2, 600 * 1024) }, 'files', /contents total 1228800 bytes; at most 1048576/);
  refusedAt({ files: [{ path: 'a', content: 'a\u0000' }] }, 'files[0].content', /NUL/);
  refusedAt({ command: ['x'], args: Array.from({ length: 1024 }, () => 'a') }, 'args', /1025 items together; at most 1024/);
  refusedAt({ args: Array.from({ length: 1025 }, () => 'a') }, 'args', /has 1025 items; at most 1024/);
  refusedAt({ args: ['x'.repeat(64 * 1024 + 1)] }, 'args[0]', /longer than 65536 bytes/);
  refusedAt({ args: ['a\u0000b'] }, 'args[0]', /NUL/);
  refusedAt({ command: ['a\u0000b'] }, 'command[0]', /NUL/);
  refusedAt({ labels: { a: 'a\u0000' } }, 'labels.a', /NUL/);
  refusedAt({ name: 'a\u0000' }, 'name', /NUL/);
  refusedAt({ args: Array.from({ length: 20 }, () => 'x'.repeat(60 * 1024)) }, 'env', /command, args and env together are \d+ bytes; at most 1048576/);
  refusedAt({ labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`l${i}`, 'x'])) }, 'labels', /at most 64/);
  refusedAt({ outputs: Array.from({ length: 65 }, (_, i) => `o${i}`) }, 'outputs', /at most 64/);
  refusedAt({ secrets: Array.from({ length: 65 }, (_, i) => `s${i}`) }, 'secrets', /at most 64/);
});

test('deadline and delays: ISO times with a zone are normalised to UTC', () => {
  assert.equal(normaliseJobSpec({ ...BASE, deadline: '2026-03-01T12:00:00Z' }).deadline, '2026-03-01T12:00:00.000Z');
  assert.equal(normaliseJobSpec({ ...BASE, deadline: '2026-03-01T07:30:00.250-04:30' }).deadline, '2026-03-01T12:00:00.250Z');
  assert.equal(normaliseJobSpec({ ...BASE, deadline: '2028-02-29T00:00Z' }).deadline, '2028-02-29T00:00:00.000Z');
  // YAML 1.2 leaves an unquoted timestamp as text, so it reaches the same check.
  assert.equal(parseJobSpec('name: x\ncommand: [x]\ndeadline: 2026-03-01T12:00:00Z\nmaxStartDelaySeconds: 0\n').deadline, '2026-03-01T12:00:00.000Z');
  refusedAt({ deadline: '2027-02-29T00:00:00Z' }, 'deadline', /not an ISO 8601 time/);
  refusedAt({ deadline: '1969-12-31T00:00:00Z' }, 'deadline', /not an ISO 8601 time/);
  const bo = normaliseJobSpec({ ...BASE, backoff: { initialSeconds: 600 } }).backoff;
  assert.deepEqual(bo, { initialSeconds: 600, maxSeconds: 600 });
  assert.deepEqual(normaliseJobSpec({ ...BASE, backoff: { maxSeconds: 10 } }).backoff, { initialSeconds: 5, maxSeconds: 10 });
});

test('gangEnv gives each replica RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, LOCAL_RANK and LOCAL_WORLD_SIZE as strings', () => {
  const spec = normaliseJobSpec({ ...BASE, replicas: 4 });
  assert.deepEqual(gangEnv(spec, 3, 4, '10.0.0.1', 29500, 1, 2), { RANK: '3', WORLD_SIZE: '4', MASTER_ADDR: '10.0.0.1', MASTER_PORT: '29500', LOCAL_RANK: '1', LOCAL_WORLD_SIZE: '2' });
  for (const bad of [
    () => gangEnv(spec, 4, 4, 'h', 29500, 0),
    () => gangEnv(spec, -1, 4, 'h', 29500, 0),
    () => gangEnv(spec, 0, 3, 'h', 29500, 0),
    () => gangEnv(spec, 0, 4, '', 29500, 0),
    () => gangEnv(spec, 0, 4, 'h h', 29500, 0),
    () => gangEnv(spec, 0, 4, 'h', 70000, 0),
    () => gangEnv(spec, 0, 4, 'h', 29500, 4),
    () => gangEnv(spec, 0, 4, 'h', 29500, 2, 2),
    () => gangEnv(spec, 0, 4, 'h', 29500, 0, 5),
  ]) {
    assert.equal(refusal(bad).code, 'internal');
  }
});

test('topology: a gang may ask for one rack or block; a single replica or a built-in kind may not be a gang', () => {
  assert.deepEqual(normaliseJobSpec({ ...BASE, replicas: 4, topology: { level: 'rack' } }).topology, { level: 'rack', mode: 'preferred' });
  assert.deepEqual(normaliseJobSpec({ ...BASE, replicas: 2, topology: { level: 'block', mode: 'required' } }).topology, { level: 'block', mode: 'required' });
  assert.equal(normaliseJobSpec({ ...BASE, replicas: 2 }).topology, undefined);
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ topology: { level: 'rack' } }, 'topology', /applies to gangs only/],
    [{ replicas: 2, topology: { mode: 'required' } }, 'topology.level', /is required: rack or block/],
    [{ replicas: 2, topology: { level: 'zone' } }, 'topology.level', /"zone" is not allowed; use one of rack, block/],
    [{ replicas: 2, topology: { level: 'rack', mode: 'strict' } }, 'topology.mode', /use one of preferred, required/],
  ];
  for (const [patch, field, re] of cases) {
    const p = problems(refusal(() => normaliseJobSpec({ ...BASE, ...patch })));
    assert.ok(p.some((x) => x.field === field && re.test(x.message)), `${JSON.stringify(patch)} → ${JSON.stringify(p)}`);
  }
  const q = problems(refusal(() => normaliseJobSpec({ name: 'q', kind: 'quantum-circuit', quantum: { qubits: 2, ops: [] }, replicas: 2 })));
  assert.ok(q.some((x) => x.field === 'replicas' && /runs as one replica/.test(x.message)), JSON.stringify(q));
  const round = normaliseJobSpec({ ...BASE, replicas: 3, topology: { level: 'rack', mode: 'required' } });
  assert.deepEqual(normaliseJobSpec(jobSpecToInput(round)), round);
});

test('property: arbitrary input never throws anything but a StrataError', () => {
  const field = fc.constantFrom('name', 'command', 'args', 'shell', 'workingDir', 'files', 'env', 'resources', 'replicas', 'priorityClass', 'preemptible', 'maxAttempts', 'backoff', 'maxRuntimeSeconds', 'deadline', 'maxStartDelaySeconds', 'regions', 'dataResidency', 'checkpointDir', 'secrets', 'outputs', 'labels');
  const check = (fn: () => unknown): void => {
    try {
      const spec = fn() as JobSpec;
      assert.deepEqual(normaliseJobSpec(jobSpecToInput(spec)), spec);
    } catch (e) {
      assert.ok(e instanceof StrataError, `${String(e)}`);
    }
  };
  fc.assert(fc.property(fc.string({ maxLength: 200 }), (s) => check(() => parseJobSpec(s))), { numRuns: 500 });
  fc.assert(fc.property(fc.anything(), (v) => check(() => normaliseJobSpec(v))), { numRuns: 500 });
  fc.assert(
    fc.property(fc.dictionary(field, fc.anything({ maxDepth: 2 }), { maxKeys: 6 }), (patch) => check(() => normaliseJobSpec({ ...BASE, ...patch }))),
    { numRuns: 1000 },
  );
  const fragments = fc.constantFrom('name: x\n', 'command: [a]\n', 'env: {A: b}\n', '&a [1]\n', '*a\n', '- ', '{', '}', '[', ']', ': ', '"', "'", '\n', '  ', '!!binary ', '? ', '<<: ', '%YAML 1.2\n', '---\n', 'resources: {cpu: 1}\n');
  fc.assert(fc.property(fc.array(fragments, { maxLength: 30 }), (parts) => check(() => parseJobSpec(parts.join('')))), { numRuns: 1000 });
});

test('built-in kinds: the payload goes in its own field, command is implied, validators run, mistakes are named', () => {
  const q = normaliseJobSpec({ name: 'bell', kind: 'quantum-circuit', quantum: { qasm: 'qreg q[2]; h q[0]; cx q[0],q[1];', shots: 100 } });
  assert.equal(q.kind, 'quantum-circuit');
  assert.deepEqual(q.command, ['strata', 'job-exec', 'quantum-circuit', 'payload.json']);
  assert.deepEqual(q.payload, { qasm: 'qreg q[2]; h q[0]; cx q[0],q[1];', shots: 100 });
  assert.deepEqual(normaliseJobSpec(jobSpecToInput(q)), q);
  const seen: unknown[] = [];
  const validated = normaliseJobSpec({ name: 'net', kind: 'spiking-network', spiking: { network: { populations: [] } } }, { kindValidators: { 'spiking-network': (raw) => (seen.push(raw), { normalised: true }) } });
  assert.deepEqual(validated.payload, { normalised: true });
  assert.equal(seen.length, 1);
  const cases: [unknown, string, RegExp][] = [
    [{ name: 'x', kind: 'quantum-circuit' }, 'quantum', /is required for kind quantum-circuit/],
    [{ name: 'x', kind: 'quantum-circuit', quantum: { qasm: 'h q[0];' }, command: ['python'] }, 'command', /leave out command/],
    [{ name: 'x', command: ['true'], spiking: { network: {} } }, 'spiking', /belongs to kind: spiking-network/],
    [{ name: 'x', kind: 'teleport', command: ['true'] }, 'kind', /process|quantum-circuit|spiking-network/],
  ];
  const expectProblem = (fn: () => unknown, field: string, re: RegExp): void => {
    const e = refusal(fn);
    const p = problems(e).find((x) => x.field === field);
    assert.ok(p !== undefined, `${field} in ${e.message}`);
    assert.match(p.message, re);
  };
  for (const [spec, field, re] of cases) expectProblem(() => normaliseJobSpec(spec), field, re);
  const refuse = (): never => {
    throw new Error('OpenQASM line 1, column 1: expected a statement');
  };
  expectProblem(() => normaliseJobSpec({ name: 'x', kind: 'quantum-circuit', quantum: { qasm: 'nonsense' } }, { kindValidators: { 'quantum-circuit': refuse } }), 'quantum', /OpenQASM line 1, column 1/);
});

test('files[].fromFile is read by the submitting client; the server refuses it', () => {
  const spec = { name: 'x', command: ['node', 'driver.mjs'], files: [{ path: 'driver.mjs', fromFile: 'local/driver.mjs' }] };
  const read: string[] = [];
  const s = normaliseJobSpec(spec, { readFile: (p) => (read.push(p), 'console.log(1)\n') });
  assert.deepEqual(read, ['local/driver.mjs']);
  assert.deepEqual(s.files, [{ path: 'driver.mjs', content: 'console.log(1)\n', executable: false }]);
  refusedAt({ files: [{ path: 'a', fromFile: 'a' }] }, 'files[0].fromFile', /read by `strata run -f`/);
  refusedAt({ files: [{ path: 'a', fromFile: 'a', content: 'x' }] }, 'files[0].fromFile', /not both/, { readFile: () => '' });
  refusedAt({ files: [{ path: 'a', fromFile: 'missing' }] }, 'files[0].fromFile', /cannot read "missing": ENOENT/, {
    readFile: () => {
      throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
    },
  });
});
