// Machine capacity: nvidia-smi parsing on realistic output, GPU flavors, simulator sizing, slices.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism, totalmem } from 'node:os';
import { detectCapacity, gpuFlavor, parseCpuQuantity, parseMemoryQuantity, parseNvidiaSmiGpus, parseSlice, simulatorCapacity, systemCapacityProbe, NVIDIA_SMI_GPU_QUERY } from './index.ts';
import type { CapacityProbe } from './index.ts';

// Output shaped exactly like `nvidia-smi --query-gpu=index,name,uuid,memory.total,power.limit
// --format=csv,noheader,nounits` (", " separators, MiB, watts with two decimals). Written for the
// test (this machine has no GPU); names and memory sizes are those the drivers report for these boards.
const DGX_H100 = Array.from({ length: 8 }, (_, i) => `${i}, NVIDIA H100 80GB HBM3, GPU-${['3f1b6c2e', '8a0d4e71', 'c52e9b10', '1d7f3a64', '6b9c0e2f', 'e4a81d37', '2c6f5b98', '9e3d7a05'][i]}-5b2c-11ee-9c4d-0242ac120002, 81559, 700.00`).join('\n') + '\n';
const G4DN = '0, Tesla T4, GPU-6d5e2b4a-9c1f-3e8d-b7a2-0f4c6e8a1b3d, 15360, 70.00\n';
const MIXED = ['0, NVIDIA A100-SXM4-80GB, GPU-0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d, 81920, 400.00', '1, NVIDIA A10G, GPU-1b2c3d4e-5f6a-7b8c-9d0e-1f2a3b4c5d6e, 23028, [N/A]', ''].join('\r\n');

test('parses nvidia-smi GPU rows: 8 × H100', () => {
  const gpus = parseNvidiaSmiGpus(DGX_H100);
  assert.equal(gpus.length, 8);
  assert.deepEqual(gpus[0], {
    index: 0,
    name: 'NVIDIA H100 80GB HBM3',
    uuid: 'GPU-3f1b6c2e-5b2c-11ee-9c4d-0242ac120002',
    memoryBytes: 81559 * 1024 * 1024,
    powerLimitWatts: 700,
    flavor: 'nvidia-h100',
  });
  assert.deepEqual(gpus.map((g) => g.index), [0, 1, 2, 3, 4, 5, 6, 7]);
});

test('parses T4, A100 and a power limit the driver cannot report', () => {
  assert.deepEqual(parseNvidiaSmiGpus(G4DN).map((g) => [g.flavor, g.memoryBytes, g.powerLimitWatts]), [['nvidia-t4', 15360 * 2 ** 20, 70]]);
  const mixed = parseNvidiaSmiGpus(MIXED);
  assert.deepEqual(mixed.map((g) => [g.index, g.flavor, g.powerLimitWatts]), [
    [0, 'nvidia-a100', 400],
    [1, 'nvidia-a10g', null],
  ]);
  assert.deepEqual(parseNvidiaSmiGpus(''), []);
});

test('malformed nvidia-smi output is refused with the line number', () => {
  assert.deepEqual(parseNvidiaSmiGpus('No devices were found\n'), []);
  assert.throws(() => parseNvidiaSmiGpus(`${G4DN}1, Tesla T4, GPU-2\n`), /line 2: expected 5 comma-separated fields/);
  assert.throws(() => parseNvidiaSmiGpus('x, Tesla T4, GPU-1, 15360, 70.00'), /line 1: index and memory.total must be numbers/);
});

test('GPU names map to flavors', () => {
  const cases: [string, string][] = [
    ['NVIDIA H100 80GB HBM3', 'nvidia-h100'],
    ['NVIDIA H100 PCIe', 'nvidia-h100'],
    ['NVIDIA H200', 'nvidia-h200'],
    ['Tesla T4', 'nvidia-t4'],
    ['NVIDIA A100-SXM4-80GB', 'nvidia-a100'],
    ['NVIDIA A100-PCIE-40GB', 'nvidia-a100'],
    ['Tesla V100-SXM2-16GB', 'nvidia-v100'],
    ['NVIDIA L4', 'nvidia-l4'],
    ['NVIDIA L40S', 'nvidia-l40s'],
    ['NVIDIA A10G', 'nvidia-a10g'],
    ['Tesla K80', 'nvidia-k80'],
    ['NVIDIA GH200 480GB', 'nvidia-gh200'],
    ['NVIDIA B200', 'nvidia-b200'],
    ['NVIDIA GeForce RTX 4090', 'nvidia-geforce-rtx-4090'],
    ['NVIDIA RTX A6000', 'nvidia-rtx-a6000'],
    ['Quadro RTX 8000', 'nvidia-quadro-rtx-8000'],
    ['NVIDIA', 'nvidia-unknown'],
  ];
  for (const [name, flavor] of cases) assert.equal(gpuFlavor(name), flavor, name);
});

test('simulator capacity: 16·2^n bytes within half the memory, capped at 30 qubits; neurons at 1,664 B', () => {
  const gib = 2 ** 30;
  // 24 GB free → 12 GB budget → 2^29 amplitudes (8 GiB); 2^30 (16 GiB) does not fit.
  assert.equal(simulatorCapacity(24e9).quantum.maxQubits, 29);
  // 1 GiB → 512 MiB budget = exactly 16·2^25.
  assert.equal(simulatorCapacity(gib).quantum.maxQubits, 25);
  assert.equal(simulatorCapacity(gib - 1).quantum.maxQubits, 24);
  assert.equal(simulatorCapacity(2 ** 50).quantum.maxQubits, 30, 'the engine cap');
  assert.equal(simulatorCapacity(100).quantum.maxQubits, 1);
  assert.equal(simulatorCapacity(0).quantum.maxQubits, 0);
  const snn = simulatorCapacity(gib).spiking;
  assert.deepEqual(snn, { flavor: 'lif', maxNeurons: Math.floor(gib / 2 / 1664), synapsesPerNeuron: 100, bytesPerNeuron: 1664 });
  assert.equal(simulatorCapacity(gib, 1000).spiking.bytesPerNeuron, 16_064);
});

test('quantities: CPUs and memory, Kubernetes style; errors name the flag', () => {
  assert.equal(parseCpuQuantity('1'), 1000);
  assert.equal(parseCpuQuantity('0.5'), 500);
  assert.equal(parseCpuQuantity('1.001'), 1001);
  assert.equal(parseCpuQuantity('250m'), 250);
  for (const bad of ['0', '-1', 'abc', '1.5m', '', '0.0001', '2 cpus']) assert.throws(() => parseCpuQuantity(bad), /--cpus .*millicores/, bad);
  assert.equal(parseMemoryQuantity('4Gi'), 4 * 2 ** 30);
  assert.equal(parseMemoryQuantity('512Mi'), 512 * 2 ** 20);
  assert.equal(parseMemoryQuantity('1.5Gi'), 1.5 * 2 ** 30);
  assert.equal(parseMemoryQuantity('1G'), 1e9);
  assert.equal(parseMemoryQuantity('64k'), 64_000);
  assert.equal(parseMemoryQuantity('1048576'), 1_048_576);
  for (const bad of ['4GB', '-1Gi', '0', 'Gi', '4gi']) assert.throws(() => parseMemoryQuantity(bad), /--memory .*Ki, Mi, Gi, Ti/, bad);
  assert.deepEqual(parseSlice({ cpus: '1', memory: '4Gi' }), { cpuMillicores: 1000, memoryBytes: 4 * 2 ** 30 });
  assert.deepEqual(parseSlice({}), {});
  assert.deepEqual(parseSlice({ cpus: undefined, memory: '1Gi' }), { memoryBytes: 2 ** 30 });
});

const fakeProbe = (smi: string | null, over: Partial<CapacityProbe> = {}): CapacityProbe & { asked: (readonly string[])[] } => {
  const asked: (readonly string[])[] = [];
  return {
    asked,
    cpus: () => 8,
    totalMemoryBytes: () => 64 * 2 ** 30,
    freeMemoryBytes: () => 48 * 2 ** 30,
    nvidiaSmi: (args) => {
      asked.push(args);
      return Promise.resolve(smi);
    },
    ...over,
  };
};

test('detectCapacity: whole machine with GPUs, counted by flavor', async () => {
  const probe = fakeProbe(DGX_H100);
  const cap = await detectCapacity(probe);
  assert.deepEqual(probe.asked, [NVIDIA_SMI_GPU_QUERY]);
  assert.equal(cap.cpuMillicores, 8000);
  assert.equal(cap.memoryBytes, 64 * 2 ** 30);
  assert.deepEqual(cap.devices, { 'nvidia-h100': 8 });
  assert.equal(cap.gpus.length, 8);
  assert.equal(cap.simulators.quantum.maxQubits, 30, '24 GiB budget fits 2^30 × 16 B = 16 GiB');
});

test('detectCapacity: a slice advertises its share; simulators size from min(slice, free)', async () => {
  const cap = await detectCapacity(fakeProbe(null), parseSlice({ cpus: '1', memory: '4Gi' }));
  assert.equal(cap.cpuMillicores, 1000);
  assert.equal(cap.memoryBytes, 4 * 2 ** 30);
  assert.deepEqual(cap.gpus, []);
  assert.deepEqual(cap.devices, {});
  assert.equal(cap.simulators.quantum.maxQubits, 27, '2 GiB budget = 16·2^27');
  const tight = await detectCapacity(fakeProbe(null, { freeMemoryBytes: () => 2 ** 30 }), parseSlice({ memory: '4Gi' }));
  assert.equal(tight.simulators.quantum.maxQubits, 25, 'free memory is smaller than the slice');
  await assert.rejects(detectCapacity(fakeProbe(null), parseSlice({ cpus: '16' })), /--cpus asks for 16 CPUs but this machine has 8/);
  await assert.rejects(detectCapacity(fakeProbe(null), parseSlice({ memory: '1Ti' })), /--memory asks for/);
});

test('detectCapacity on this machine', async (t) => {
  const cap = await detectCapacity(systemCapacityProbe);
  assert.equal(cap.cpuMillicores, availableParallelism() * 1000);
  assert.equal(cap.memoryBytes, totalmem());
  assert.ok(cap.simulators.quantum.maxQubits > 10);
  t.diagnostic(`cpus=${availableParallelism()} memory=${totalmem()} gpus=${cap.gpus.length} qubits=${cap.simulators.quantum.maxQubits} neurons=${cap.simulators.spiking.maxNeurons}`);
});
