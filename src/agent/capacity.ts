// What this machine offers the scheduler: CPUs, memory, NVIDIA GPUs (from `nvidia-smi` when it is
// installed) and the capacity of the built-in simulators (qubits for the state-vector engine,
// neurons for the spiking engine). Several agents on one machine may each advertise a slice
// (`--cpus 1 --memory 4Gi`). Probes are injected so tests feed captured `nvidia-smi` output.
import { execFile } from 'node:child_process';
import { availableParallelism, freemem, hostname, networkInterfaces, totalmem } from 'node:os';
import { badRequest } from '../kernel/index.ts';

/** One NVIDIA GPU as `nvidia-smi` reports it. */
export interface GpuInfo {
  readonly index: number;
  readonly name: string;
  readonly uuid: string;
  readonly memoryBytes: number;
  /** Board power limit in watts; null when the driver reports `[N/A]`. */
  readonly powerLimitWatts: number | null;
  /** Scheduler flavor, e.g. `nvidia-h100`. */
  readonly flavor: string;
}

/** Capacity of the built-in simulators on this machine (or slice). */
export interface SimulatorCapacity {
  readonly quantum: { readonly flavor: 'statevector'; readonly maxQubits: number };
  readonly spiking: { readonly flavor: 'lif'; readonly maxNeurons: number; readonly synapsesPerNeuron: number; readonly bytesPerNeuron: number };
}

/** What an agent advertises when it registers. */
export interface MachineCapacity {
  readonly cpuMillicores: number;
  readonly memoryBytes: number;
  readonly gpus: readonly GpuInfo[];
  /** Devices by flavor, e.g. `{ 'nvidia-h100': 8 }` (GPUs only; simulators are in `simulators`). */
  readonly devices: Readonly<Record<string, number>>;
  readonly simulators: SimulatorCapacity;
}

/** A share of the machine for one of several agents on it; absent fields mean "all of it". */
export interface Slice {
  readonly cpuMillicores?: number;
  readonly memoryBytes?: number;
}

/** The query `detectCapacity` sends to `nvidia-smi`. */
export const NVIDIA_SMI_GPU_QUERY = ['--query-gpu=index,name,uuid,memory.total,power.limit', '--format=csv,noheader,nounits'] as const;

/**
 * Runs `nvidia-smi` with `args`; resolves to its stdout, or null when the binary is missing or
 * fails (no driver, no GPU). Never throws. Bounded by a 10 s timeout so a hung driver cannot stall
 * agent registration.
 */
export function runNvidiaSmi(args: readonly string[]): Promise<string | null> {
  return new Promise((resolvePromise) => {
    execFile('nvidia-smi', [...args], { timeout: 10_000, encoding: 'utf8', windowsHide: true }, (err, stdout) => {
      resolvePromise(err === null ? stdout : null);
    });
  });
}

const notAvailable = (s: string): boolean => s === '' || /^\[.*\]$/.test(s) || /^n\/?a$/i.test(s);

/**
 * Parses `nvidia-smi --query-gpu=index,name,uuid,memory.total,power.limit --format=csv,noheader,nounits`
 * (memory in MiB, power in W). "No devices were found" means none; other lines that do not have
 * five fields are rejected with their number.
 */
export function parseNvidiaSmiGpus(text: string): GpuInfo[] {
  const out: GpuInfo[] = [];
  if (/^\s*No devices were found/i.test(text)) return out;
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    const f = line.split(',').map((s) => s.trim());
    if (f.length !== 5) throw badRequest(`nvidia-smi output line ${i + 1}: expected 5 comma-separated fields (index, name, uuid, memory.total, power.limit), got ${f.length}: ${JSON.stringify(line)}`);
    const [index, name, uuid, mem, power] = f as [string, string, string, string, string];
    const idx = Number(index);
    const mib = Number(mem);
    if (!Number.isInteger(idx) || idx < 0 || !Number.isFinite(mib) || mib < 0) throw badRequest(`nvidia-smi output line ${i + 1}: index and memory.total must be numbers: ${JSON.stringify(line)}`);
    const watts = notAvailable(power) ? null : Number(power);
    out.push({ index: idx, name, uuid, memoryBytes: Math.round(mib * 1024 * 1024), powerLimitWatts: watts === null || !Number.isFinite(watts) ? null : watts, flavor: gpuFlavor(name) });
  });
  return out;
}

/**
 * Scheduler flavor from an NVIDIA product name: the model number of data-centre parts
 * ("NVIDIA H100 80GB HBM3" → `nvidia-h100`, "Tesla T4" → `nvidia-t4`, "NVIDIA A100-SXM4-80GB" →
 * `nvidia-a100`, "NVIDIA A10G" → `nvidia-a10g`, "NVIDIA GH200 480GB" → `nvidia-gh200`); other names
 * become a slug of the whole name without vendor words ("NVIDIA GeForce RTX 4090" → `nvidia-geforce-rtx-4090`).
 */
export function gpuFlavor(name: string): string {
  const lower = name.toLowerCase();
  const model = /\b(gh\d{3}|gb\d{3}|[abhklptv]\d{1,3}[a-z]?)\b/.exec(lower);
  if (model?.[1] !== undefined) return `nvidia-${model[1]}`;
  const slug = lower
    .replace(/\b(nvidia|tesla)\b/g, ' ')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return slug === '' ? 'nvidia-unknown' : `nvidia-${slug}`;
}

/** Bytes of one complex128 amplitude. An n-qubit state vector is 16·2^n bytes. */
const AMPLITUDE_BYTES = 16;
/**
 * The engine keeps the state in one interleaved Float64Array of 2·2^n elements; Node 20 allocates
 * 2^31 elements and refuses 2^32 (research/emerging-compute.md §1.1), so 30 qubits is the ceiling.
 */
const MAX_ENGINE_QUBITS = 30;

/**
 * Spiking-engine memory model (an assumption until src/spiking/ measures its own): a LIF neuron
 * keeps membrane potential, synaptic current, refractory countdown and last-spike time (4 × 8 B)
 * plus a ring buffer of 4 delay slots (4 × 8 B) = 64 B; a CSR synapse is a 4 B target index, an
 * 8 B weight and a 2 B delay, padded to 16 B. 100 synapses per neuron is between COBA (p = 0.02 of
 * 4,000 ≈ 80) and denser cortical models (Brunel 2000: 1,250).
 */
/** Bytes of one LIF neuron's state, delay ring buffer included (see above). */
export const SPIKING_BYTES_PER_NEURON_STATE = 64;
/** Bytes of one CSR synapse (target, weight, delay, padding). */
export const SPIKING_BYTES_PER_SYNAPSE = 16;
/** Fan-out assumed when sizing neuron capacity. */
export const DEFAULT_SYNAPSES_PER_NEURON = 100;

/** Fraction of available memory a simulator may plan to use; the rest is headroom for the runtime and other work. */
export const SIMULATOR_MEMORY_FRACTION = 0.5;

/**
 * Simulator capacity for `availableBytes` of memory, of which at most half is planned for one
 * simulation: the largest n with 16·2^n bytes in budget (capped at 30 qubits), and the number of
 * neurons at 64 B + synapsesPerNeuron × 16 B each.
 */
export function simulatorCapacity(availableBytes: number, synapsesPerNeuron = DEFAULT_SYNAPSES_PER_NEURON): SimulatorCapacity {
  const budget = Math.max(0, availableBytes) * SIMULATOR_MEMORY_FRACTION;
  let qubits = 0;
  while (qubits < MAX_ENGINE_QUBITS && AMPLITUDE_BYTES * 2 ** (qubits + 1) <= budget) qubits++;
  if (AMPLITUDE_BYTES * 2 ** qubits > budget) qubits = 0;
  const bytesPerNeuron = SPIKING_BYTES_PER_NEURON_STATE + synapsesPerNeuron * SPIKING_BYTES_PER_SYNAPSE;
  return {
    quantum: { flavor: 'statevector', maxQubits: qubits },
    spiking: { flavor: 'lif', maxNeurons: Math.floor(budget / bytesPerNeuron), synapsesPerNeuron, bytesPerNeuron },
  };
}

// Quantity parsing. src/jobs/quantity.ts (parseCpu/parseMemory) is being written in parallel; this
// small local copy avoids depending on unfinished work and is to be replaced by it when both land.

/** CPU quantity as millicores: `1` → 1000, `0.5` → 500, `250m` → 250. */
export function parseCpuQuantity(s: string, field = 'cpus'): number {
  const m = /^(\d+(?:\.\d+)?|\.\d+)(m?)$/.exec(s.trim());
  const n = m === null ? NaN : Number(m[1]);
  const exact = m?.[2] === 'm' ? n : n * 1000;
  const milli = Math.round(exact);
  if (!Number.isFinite(exact) || milli <= 0 || Math.abs(exact - milli) > 1e-6) {
    throw badRequest(`--${field} ${JSON.stringify(s)}: use a positive number of CPUs (e.g. 1, 0.5) or millicores (e.g. 500m), in whole millicores`, { field });
  }
  return milli;
}

const MEMORY_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  k: 1e3,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/** Memory quantity in bytes, Kubernetes style: `4Gi`, `512Mi`, `1G`, `1048576`. */
export function parseMemoryQuantity(s: string, field = 'memory'): number {
  const m = /^(\d+(?:\.\d+)?)([kKMGT]i?|)$/.exec(s.trim());
  const unit = m === null ? undefined : MEMORY_UNITS[m[2] ?? ''];
  const bytes = m === null || unit === undefined ? NaN : Math.round(Number(m[1]) * unit);
  if (!Number.isFinite(bytes) || bytes <= 0) {
    throw badRequest(`--${field} ${JSON.stringify(s)}: use a positive size in bytes with an optional unit Ki, Mi, Gi, Ti (binary) or k, M, G, T (decimal), e.g. 4Gi`, { field });
  }
  return bytes;
}

/** Parses the agent's slice flags as the CLI receives them (`--cpus 1 --memory 4Gi`). */
export function parseSlice(flags: { readonly cpus?: string | undefined; readonly memory?: string | undefined }): Slice {
  return {
    ...(flags.cpus === undefined ? {} : { cpuMillicores: parseCpuQuantity(flags.cpus, 'cpus') }),
    ...(flags.memory === undefined ? {} : { memoryBytes: parseMemoryQuantity(flags.memory, 'memory') }),
  };
}

/** Where capacity facts come from; the default reads this machine. */
export interface CapacityProbe {
  cpus(): number;
  totalMemoryBytes(): number;
  freeMemoryBytes(): number;
  /** Stdout of `nvidia-smi` with these args, or null when it is not installed or fails. */
  nvidiaSmi(args: readonly string[]): Promise<string | null>;
}

/** Reads this machine through `node:os` and `nvidia-smi`. */
export const systemCapacityProbe: CapacityProbe = {
  cpus: () => availableParallelism(),
  totalMemoryBytes: () => totalmem(),
  freeMemoryBytes: () => freemem(),
  nvidiaSmi: runNvidiaSmi,
};

/**
 * Detects what this machine (or `slice` of it) offers. A slice larger than the machine is refused,
 * naming the flag. Simulator capacity is sized from the smaller of the slice's memory and the
 * memory free now. GPUs are advertised whole (slices do not split them).
 */
export async function detectCapacity(probe: CapacityProbe = systemCapacityProbe, slice: Slice = {}): Promise<MachineCapacity> {
  const machineMillicores = probe.cpus() * 1000;
  const machineMemory = probe.totalMemoryBytes();
  if (slice.cpuMillicores !== undefined && slice.cpuMillicores > machineMillicores) {
    throw badRequest(`--cpus asks for ${slice.cpuMillicores / 1000} CPUs but this machine has ${machineMillicores / 1000}`, { field: 'cpus' });
  }
  if (slice.memoryBytes !== undefined && slice.memoryBytes > machineMemory) {
    throw badRequest(`--memory asks for ${slice.memoryBytes} bytes but this machine has ${machineMemory}`, { field: 'memory' });
  }
  const smi = await probe.nvidiaSmi(NVIDIA_SMI_GPU_QUERY);
  const gpus = smi === null ? [] : parseNvidiaSmiGpus(smi);
  const devices: Record<string, number> = {};
  for (const g of gpus) devices[g.flavor] = (devices[g.flavor] ?? 0) + 1;
  const memoryBytes = slice.memoryBytes ?? machineMemory;
  return {
    cpuMillicores: slice.cpuMillicores ?? machineMillicores,
    memoryBytes,
    gpus,
    devices,
    simulators: simulatorCapacity(Math.min(memoryBytes, probe.freeMemoryBytes())),
  };
}

/**
 * The address other nodes reach this machine at, for gangs whose rank 0 runs here: the first
 * non-internal IPv4 address, else the first non-internal IPv6 one, else the host name.
 */
export function defaultNodeAddress(interfaces: ReturnType<typeof networkInterfaces> = networkInterfaces(), host: string = hostname()): string {
  const all = Object.values(interfaces).flatMap((list) => list ?? []).filter((i) => !i.internal);
  const v4 = all.find((i) => i.family === 'IPv4');
  const v6 = all.find((i) => i.family === 'IPv6' && !i.address.startsWith('fe80'));
  return v4?.address ?? v6?.address ?? host;
}
