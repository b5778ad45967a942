// The scheduler: pure placement policy. Today first-fit; the hybrid scheduler replaces it.
export { firstFit, nodeMatches } from './first-fit.ts';
export type { JobView, NodeView, Placement } from './first-fit.ts';
