// The local agent that `strata server` starts for its own machine (unless --no-local-agent): the
// same Agent code as `strata agent`, speaking HTTP to the server over loopback with a node identity
// of its own. Its token is re-issued at every start and earlier ones are revoked.
import { hostname } from 'node:os';
import { Agent, detectCapacity } from '../agent/index.ts';
import { StrataClient } from '../sdk/index.ts';
import type { Platform } from './platform.ts';

export function localAgentName(): string {
  const h = hostname().toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '').slice(0, 40);
  return `agent-${h === '' ? 'local' : h}`;
}

/** Starts the in-process agent against `url`; it stops before the platform closes. */
export async function startLocalAgent(platform: Platform, url: string, opts: { pool?: string; log?: (m: string) => void } = {}): Promise<Agent> {
  const system = { principal: null, requestId: null };
  const name = localAgentName();
  let principal = await platform.access.getPrincipalByName(name).catch(() => undefined);
  principal ??= await platform.access.createPrincipal(system, { kind: 'node', name, displayName: 'Local agent of strata server' });
  for (const t of await platform.access.listTokens(principal.id)) if (t.revokedAt === null) await platform.access.revokeToken(system, t.id);
  const { token } = await platform.access.createToken(system, principal.id, 'local-agent', null);
  const pool = platform.compute.pools.find((p) => p.name === opts.pool) ?? platform.compute.pools.find((p) => p.kind === 'cpu') ?? platform.compute.pools[0];
  if (pool === undefined) throw new Error('the compute configuration has no pools for the local agent');
  const cap = await detectCapacity();
  const agent = new Agent({
    client: new StrataClient({ server: url, token }),
    name,
    region: pool.region,
    pool: pool.name,
    capacity: { cpuMillis: cap.cpuMillicores, memoryBytes: cap.memoryBytes, devices: 0 },
    labels: { local: 'true' },
    // Its gangs rendezvous on this machine.
    address: '127.0.0.1',
    workRoot: platform.paths.work,
    ...(opts.log === undefined ? {} : { log: opts.log }),
  });
  await agent.start();
  platform.onClose(() => agent.stop(5));
  return agent;
}
