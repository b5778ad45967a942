// Names of user-visible things (teams, projects, secrets, users). One rule everywhere: they are
// safe as path segments, file names and URL segments, so no traversal or look-alike can hide in one.

import { badRequest } from './errors.ts';

/** DNS-label-like: lower-case letters, digits, '-', '_' and '.'; starts with a letter or digit; 1–63 chars; no '..'. */
export const NAME_PATTERN = '^[a-z0-9](?:[a-z0-9._-]{0,61}[a-z0-9])?$';
const NAME_RE = new RegExp(NAME_PATTERN);

export function isValidName(s: string): boolean {
  return NAME_RE.test(s) && !s.includes('..');
}

/** Throws a 400 that says what a valid name looks like. */
export function parseName(kind: string, s: unknown): string {
  if (typeof s !== 'string' || !isValidName(s)) {
    throw badRequest(
      `invalid ${kind} name ${JSON.stringify(s)}: use 1–63 lower-case letters, digits, '-', '_' or '.', starting and ending with a letter or digit, without '..'`,
      { field: kind },
    );
  }
  return s;
}
