// CSV parsing of traces and cluster descriptions, including the errors users will hit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseClusterCsv, parseCsvRows, parseTraceCsv } from './csv.ts';

const OPENB_PODS = `name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time
openb-pod-0000,12000,16384,1,1000,,LS,Running,0,12537496,0
openb-pod-0001,6000,12288,1,460,,BE,Running,427061,12902960,427061
openb-pod-0035,16000,32768,1,1000,V100M16|V100M32|V100M32,LS,Running,9967058,9968575,9967063
openb-pod-9999,88000,327680,8,1000,,Burstable,Pending,100,400,
`;

test('parses openb pods: shares, whole GPUs, model sets, classes and durations', () => {
  const jobs = parseTraceCsv(OPENB_PODS);
  assert.equal(jobs.length, 4);
  assert.deepEqual(jobs[1]?.request, { cpuMilli: 6000, memoryMiB: 12288, gpuCount: 1, gpuMilli: 460 });
  assert.deepEqual(jobs[2]?.request.gpuModels, ['V100M16', 'V100M32']);
  assert.equal(jobs[2]?.duration, 9968575 - 9967063);
  assert.equal(jobs[3]?.duration, 300); // never scheduled: deletion − creation
  assert.equal(jobs[3]?.request.gpuCount, 8);
  assert.equal(jobs[1]?.jobClass, 'BE');
  assert.equal(jobs[0]?.team, 'default');
});

test('parses an openb node list and the optional power and carbon columns', () => {
  const nodes = parseClusterCsv('sn,cpu_milli,memory_mib,gpu,model,idle_watts,gpu_watts,carbon_g_per_kwh\nn0,64000,262144,2,P100,100,250,400\nn1,32000,131072,0,,50,,\n');
  assert.deepEqual(nodes[0], { id: 'n0', gpuModel: 'P100', cpuMilli: 64000, memoryMiB: 262144, gpuCount: 2, power: { idleWatts: 100, cpuWatts: 0, gpuWatts: 250 }, carbonGPerKWh: 400 });
  assert.equal(nodes[1]?.gpuModel, '');
  assert.equal(nodes[1]?.carbonGPerKWh, undefined);
});

test('RFC 4180 quoting, CRLF and blank lines', () => {
  assert.deepEqual(
    parseCsvRows('a,b\r\n"x, y","say ""hi"""\r\n\r\n3,\n').map((r) => r.fields),
    [
      ['a', 'b'],
      ['x, y', 'say "hi"'],
      ['3', ''],
    ],
  );
  assert.throws(() => parseCsvRows('a,b\n"open,1\n'), /quoted field is not closed/);
});

test('reports the line and column of bad input', () => {
  const head = 'name,cpu_milli,memory_mib,num_gpu,gpu_milli\n';
  assert.throws(() => parseTraceCsv(`${head}p,abc,1,1,500\n`), /line 2: 'cpu_milli' is 'abc', not a number/);
  assert.throws(() => parseTraceCsv(`${head}p,1000,1,2,500\n`), /line 2 .*2 GPUs must take whole GPUs/);
  assert.throws(() => parseTraceCsv(`${head}p,1000,1,1,1500\n`), /gpuMilli must be an integer in 1..1000/);
  assert.throws(() => parseTraceCsv(`${head}p,1000,1,1\n`), /line 2: 4 fields, the header has 5/);
  assert.throws(() => parseTraceCsv(`${head}p,-5,1,0,0\n`), /'cpu_milli' is negative/);
  assert.throws(() => parseTraceCsv('name,memory_mib\np,1\n'), /no 'cpu_milli' column/);
  assert.throws(() => parseTraceCsv(head), /header but no tasks/);
  assert.throws(() => parseTraceCsv(''), /empty/);
  assert.throws(() => parseClusterCsv('sn,cpu_milli,gpu,model\na,1000,2,\n'), /has 2 GPU\(s\) but no 'model'/);
  assert.throws(() => parseClusterCsv('sn,cpu_milli,gpu,model\na,1000,0,\na,1000,0,\n'), /lists node 'a' twice/);
  assert.throws(() => parseClusterCsv('sn,cpu_milli,gpu\na,1000,1.5\n'), /whole number/);
});
