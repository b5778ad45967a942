// Built-in job kinds checked at submit with the engines' own parsers, so a malformed circuit or
// network is refused with its line, column or field path before it is queued (issue 6, "Bad input").
import type { JobSpecOptions } from '../jobs/index.ts';
import { parseQasm, parseQuantumCircuitJobSpec } from '../quantum/index.ts';
import { parseSpikingJob } from '../spiking/index.ts';

export const engineKindValidators: NonNullable<JobSpecOptions['kindValidators']> = {
  'quantum-circuit': (raw) => {
    const spec = parseQuantumCircuitJobSpec(raw);
    parseQasm(spec.qasm);
    return raw;
  },
  'spiking-network': (raw) => {
    parseSpikingJob(raw);
    return raw;
  },
};
