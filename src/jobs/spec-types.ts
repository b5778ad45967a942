// The job specification after parsing: readonly, every default filled in, every quantity an
// integer in a stated unit, every path normalised. What `strata run -f job.yaml` and
// `POST /api/v1/projects/{p}/jobs` accept is described on each field; `normaliseJobSpec` turns that
// input into this shape. The shape is plain JSON (no Dates, no bigints), so it can be stored as is.

/** Scheduling priority classes, lowest first. Default `normal`. */
export const PRIORITY_CLASSES = ['low', 'normal', 'high', 'critical'] as const;
export type PriorityClass = (typeof PRIORITY_CLASSES)[number];

/** Device technologies a job can ask for (the pool kinds other than `cpu`). */
export const ACCELERATOR_KINDS = ['gpu', 'tpu', 'fpga', 'ipu', 'quantum-sim', 'neuromorphic'] as const;
export type AcceleratorKind = (typeof ACCELERATOR_KINDS)[number];

/** Fields shared by every accelerator request. */
interface AcceleratorBase {
  /** Devices per replica; integer ≥ 1, default 1. */
  readonly count: number;
  /** Acceptable flavors in order of preference (e.g. `nvidia-h100`, `nvidia-a100`); empty = any. */
  readonly flavors: readonly string[];
}

/** Accelerators per replica: a discriminated union on `kind`. */
export type AcceleratorRequest =
  | (AcceleratorBase & { readonly kind: 'gpu' | 'tpu' | 'fpga' | 'ipu' })
  /** A quantum-circuit simulator; `qubits` is the circuit width it must hold. */
  | (AcceleratorBase & { readonly kind: 'quantum-sim'; readonly qubits?: number })
  /** A spiking-network simulator; `neurons` is the network size it must hold. */
  | (AcceleratorBase & { readonly kind: 'neuromorphic'; readonly neurons?: number });

/** Resources per replica. */
export interface Resources {
  /** CPU in millicores (input `cpu: 100m | 0.5 | 2`); default 1000 (one core). */
  readonly cpuMillis: number;
  /** Memory in bytes (input `memory: 64Mi | 1Gi | 500M | 1e9`); default 512 MiB. */
  readonly memoryBytes: number;
  /** Accelerators per replica (input `accelerators: {kind, count, flavors}`); absent = none. */
  readonly accelerators?: AcceleratorRequest;
}

/** Retry backoff: attempt n waits min(maxSeconds, initialSeconds × 2^(n−1)), with jitter. */
export interface Backoff {
  /** Default 5. */
  readonly initialSeconds: number;
  /** Default 300; never below `initialSeconds`. */
  readonly maxSeconds: number;
}

/** A small file written into the attempt's working directory before the command starts. */
export interface InlineFile {
  /** Relative to the attempt's working directory; normalised, never leaves it. */
  readonly path: string;
  /** UTF-8 text. */
  readonly content: string;
  /** Written with mode 0755 instead of 0644. Default false. */
  readonly executable: boolean;
}

/** A project secret injected as an environment variable. */
export interface SecretRef {
  /** The project secret's name (same rule as every name). */
  readonly name: string;
  /** The variable it is given as; default the name in UPPER_SNAKE (`db-password` → `DB_PASSWORD`). */
  readonly env: string;
}

/**
 * What runs: `process` (the command), or one of the built-in engines, which the agent runs as the
 * process `strata job-exec <kind> payload.json` (so cancellation, logs, usage and energy work the
 * same way) and whose result lands in the job's run and as the output `result.json`.
 */
export const JOB_KINDS = ['process', 'quantum-circuit', 'spiking-network'] as const;
export type JobKind = (typeof JOB_KINDS)[number];
/** The spec field holding a built-in kind's input. */
export const KIND_PAYLOAD_FIELD: Readonly<Record<Exclude<JobKind, 'process'>, 'quantum' | 'spiking'>> = { 'quantum-circuit': 'quantum', 'spiking-network': 'spiking' };

/** A validated, normalised job specification. */
export interface JobSpec {
  /** Kernel name rule: 1–63 lower-case letters, digits, '-', '_', '.'. */
  readonly name: string;
  /** Default `process`. */
  readonly kind: JobKind;
  /** A built-in kind's input (spec field `quantum` or `spiking`), as its engine's parser normalised it. */
  readonly payload?: Readonly<Record<string, unknown>>;
  /**
   * Without `shell`: the program and its first arguments, run directly (no shell). With
   * `shell: true`: exactly one element, a script for `/bin/sh -c`.
   */
  readonly command: readonly string[];
  /** Further arguments (with `shell`, the script's $1, $2, …). Default []. */
  readonly args: readonly string[];
  /** Run `command` through `/bin/sh -c`. Default false. */
  readonly shell: boolean;
  /** Directory the command starts in, relative to the attempt's working directory. Default `.`. */
  readonly workingDir: string;
  /** Inline files, sorted by path. Default []. */
  readonly files: readonly InlineFile[];
  /** Environment variables, sorted by name. Default {}. */
  readonly env: Readonly<Record<string, string>>;
  readonly resources: Resources;
  /** Replicas started together as a gang (all or nothing) when > 1. Default 1. */
  readonly replicas: number;
  /** A gang's placement within one rack or block (node labels `rack`, `block`). Absent = anywhere in the pool. */
  readonly topology?: GangTopology;
  /** Default `normal`. */
  readonly priorityClass: PriorityClass;
  /** May be preempted by higher-priority work (and placed on spot capacity). Default false. */
  readonly preemptible: boolean;
  /** Attempts before the job fails, 1..20. Default 3. */
  readonly maxAttempts: number;
  readonly backoff: Backoff;
  /** An attempt running longer is stopped; at most 30 days. Absent = no limit. */
  readonly maxRuntimeSeconds?: number;
  /** Must have finished by then (ISO 8601, normalised to UTC `…Z`). Absent = none. */
  readonly deadline?: string;
  /** May wait this long after submission before starting (carbon shifting). Absent = start when possible. */
  readonly maxStartDelaySeconds?: number;
  /** Allowed region names; [] = any region. Default []. */
  readonly regions: readonly string[];
  /** Data-residency tags a region must carry; default []. */
  readonly dataResidency: readonly string[];
  /** Checkpoint directory (relative) given back to the next attempt as STRATA_CHECKPOINT_DIR. Absent = none. */
  readonly checkpointDir?: string;
  /** Project secrets to inject. Default []. */
  readonly secrets: readonly SecretRef[];
  /** Relative paths uploaded after the attempt. Default []. */
  readonly outputs: readonly string[];
  /** Free-form labels, sorted by key. Default {}. */
  readonly labels: Readonly<Record<string, string>>;
}

/** Keep a gang's replicas in one rack or block: `required` never splits it; `preferred` tries rack, then block, then anywhere. */
export interface GangTopology {
  readonly level: 'rack' | 'block';
  readonly mode: 'preferred' | 'required';
}

/** Options of `parseJobSpec` / `normaliseJobSpec`. */
export interface JobSpecOptions {
  /** Reads `files[].fromFile` (the CLI passes a reader relative to the spec file); without it, fromFile is refused. */
  readonly readFile?: (path: string) => string;
  /**
   * Validators of built-in kinds' payloads (the engines' own parsers, passed in by the server so
   * jobs need not import the engines). A kind without one is accepted as an object and checked
   * by the engine when it runs.
   */
  readonly kindValidators?: Partial<Readonly<Record<Exclude<JobKind, 'process'>, (raw: unknown) => unknown>>>;
  /** `auto` (default): JSON when the text is a JSON object, YAML otherwise. */
  readonly format?: 'yaml' | 'json' | 'auto';
  /** Let the spec set variables in DANGEROUS_ENV (platform admins only). Default false. */
  readonly allowDangerousEnv?: boolean;
}
