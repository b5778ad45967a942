// Branded ids: distinct at compile time, plain strings at run time. Created only by the id
// generator or by boundary parsers (HTTP schemas, row mappers).
import { randomBytes } from 'node:crypto';

declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

export type TeamId = Brand<string, 'TeamId'>;
export type ProjectId = Brand<string, 'ProjectId'>;
export type PrincipalId = Brand<string, 'PrincipalId'>;
export type TokenId = Brand<string, 'TokenId'>;
export type BindingId = Brand<string, 'BindingId'>;
export type RequestId = Brand<string, 'RequestId'>;
export type JobId = Brand<string, 'JobId'>;
export type AttemptId = Brand<string, 'AttemptId'>;
export type NodeId = Brand<string, 'NodeId'>;

export const ID_PREFIX = {
  team: 'team',
  project: 'prj',
  principal: 'pr',
  token: 'tok',
  binding: 'rb',
  request: 'req',
  job: 'job',
  attempt: 'att',
  node: 'node',
} as const;
export type IdKind = keyof typeof ID_PREFIX;

interface IdOf {
  team: TeamId;
  project: ProjectId;
  principal: PrincipalId;
  token: TokenId;
  binding: BindingId;
  request: RequestId;
  job: JobId;
  attempt: AttemptId;
  node: NodeId;
}

/** Generates ids; injected so tests and the simulator can be deterministic. */
export interface IdGenerator {
  next<K extends IdKind>(kind: K): IdOf[K];
}

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case

function base32(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += ALPHABET[b & 31];
  return out;
}

/** Random ids: `prefix_` + 20 base32 characters (100 bits). */
export const randomIds: IdGenerator = {
  next<K extends IdKind>(kind: K): IdOf[K] {
    return `${ID_PREFIX[kind]}_${base32(randomBytes(20))}` as IdOf[K];
  },
};

/** Deterministic ids for tests: `prefix_000001`, `prefix_000002`, ... */
export function sequentialIds(): IdGenerator {
  let n = 0;
  return {
    next<K extends IdKind>(kind: K): IdOf[K] {
      n += 1;
      return `${ID_PREFIX[kind]}_${String(n).padStart(6, '0')}` as IdOf[K];
    },
  };
}
