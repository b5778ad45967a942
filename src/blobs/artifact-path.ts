// Path policy for user-visible artifact trees. A project's (run's, job's) artifacts are a mapping
// logical path → digest kept in the database; the paths come from users (MLflow clients, the CLI,
// archive entries, job outputs) and end up as URL segments, database keys and, when downloaded,
// file names on someone's disk. So a path is checked once, here, and then trusted everywhere:
//
// - `normaliseArtifactPath` accepts plain relative POSIX paths and refuses (400, with a precise
//   `reason`) anything that is, or would become after some layer decodes it, a traversal, an
//   absolute or Windows path, a URI, or otherwise ambiguous. Regression inputs: MLflow
//   `validate_path_is_safe` (CVE-2023-30172, -6831, CVE-2024-1560, -3848) and the traversal lists
//   of security-reliability.md §2.3.
// - `resolveInside` maps a checked path onto a real directory and refuses symlink escapes
//   (CVE-2023-6977 and MLflow PR #18964: a symlink must not lead out of the artifact root).
import { lstat, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { badRequest, type Brand, type StrataError } from '../kernel/index.ts';

/** A relative artifact path that passed `normaliseArtifactPath` (NFC, '/'-separated). */
export type ArtifactPath = Brand<string, 'ArtifactPath'>;

export interface ArtifactPathLimits {
  /** Whole path, in UTF-8 bytes (S3 keys allow 1,024). */
  readonly maxBytes: number;
  /** One segment, in UTF-8 bytes (NAME_MAX on common filesystems). */
  readonly maxSegmentBytes: number;
  /** Number of segments. */
  readonly maxDepth: number;
}

export const DEFAULT_ARTIFACT_PATH_LIMITS: ArtifactPathLimits = { maxBytes: 1024, maxSegmentBytes: 255, maxDepth: 64 };

/** Why a path was refused; `details.reason` of the 400. */
export type ArtifactPathProblem =
  | 'not_a_string'
  | 'empty'
  | 'too_long'
  | 'segment_too_long'
  | 'too_deep'
  | 'absolute'
  | 'drive_letter'
  | 'uri'
  | 'backslash'
  | 'traversal'
  | 'dot_segment'
  | 'empty_segment'
  | 'encoded_separator'
  | 'nul'
  | 'control_character'
  | 'reserved_character'
  | 'invalid_encoding';

export type ArtifactPathVerdict =
  | { readonly ok: true; readonly path: ArtifactPath }
  | { readonly ok: false; readonly reason: ArtifactPathProblem; readonly message: string };

export interface ArtifactPathOptions {
  readonly limits?: Partial<ArtifactPathLimits>;
}

/** Decoding stops here, as MLflow's `uri._decode` does; a value still changing after 10 rounds is refused. */
const MAX_DECODE_ROUNDS = 10;
/** Bound on the distinct decoded forms examined (each round at most doubles them). */
const MAX_FORMS = 64;
/** What the WHATWG URL parser silently removes from a URL. */
const WHATWG_STRIPPED = /[\t\r\n]/g;
/** A lone UTF-16 surrogate (ES2024 `isWellFormed`, which lib ES2023 lacks). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const ESCAPE_RUN = /(?:%[0-9A-Fa-f]{2})+/g;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** One round of lenient percent-decoding (`%zz` and a lone `%` stay literal); undefined for invalid UTF-8 such as overlong `%c0%af`. */
function decodeOnce(s: string): string | undefined {
  let invalid = false;
  const out = s.replace(ESCAPE_RUN, (run) => {
    try {
      return utf8.decode(Buffer.from(run.replaceAll('%', ''), 'hex'));
    } catch {
      invalid = true;
      return run;
    }
  });
  return invalid ? undefined : out;
}

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;
const DRIVE = /^[A-Za-z]:/;
const DOTS_AND_SPACES = /^[. ]+$/;

const utf8Length = (s: string): number => Buffer.byteLength(s, 'utf8');

/** C0 controls, DEL and C1 controls (NUL is reported on its own). */
function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c >= 0x01 && c <= 0x1f) || (c >= 0x7f && c <= 0x9f)) return true;
  }
  return false;
}

type Check = { reason: ArtifactPathProblem; message: string } | undefined;

/**
 * The structural rules, applied to the path itself and to every form a decoding layer could turn
 * it into. Windows strips trailing dots and spaces from names, so a segment of only dots and
 * spaces ('...', '.. ') is a traversal there; look-alikes such as 'foo..bar.txt' or '..foo' pass.
 */
function structural(s: string, shown: string): Check {
  if (s.includes('\u0000')) return { reason: 'nul', message: `artifact path ${shown} contains a NUL byte` };
  if (s.includes('\\')) return { reason: 'backslash', message: `artifact path ${shown} contains a backslash: separate segments with '/'` };
  if (s.startsWith('/')) return { reason: 'absolute', message: `artifact path ${shown} is absolute: give a path relative to the artifact root` };
  if (DRIVE.test(s)) return { reason: 'drive_letter', message: `artifact path ${shown} starts with a Windows drive letter: give a relative path` };
  if (SCHEME.test(s)) return { reason: 'uri', message: `artifact path ${shown} is a URI: give a path relative to the artifact root, not a location` };
  if (s.includes('#') || s.includes('?')) {
    return { reason: 'reserved_character', message: `artifact path ${shown} contains '#' or '?', which URLs would cut off: rename the file` };
  }
  for (const seg of s.split('/')) {
    if (seg === '') return { reason: 'empty_segment', message: `artifact path ${shown} has an empty segment ('//' or a trailing '/')` };
    if (seg === '.') return { reason: 'dot_segment', message: `artifact path ${shown} has a '.' segment: remove it` };
    if (DOTS_AND_SPACES.test(seg)) return { reason: 'traversal', message: `artifact path ${shown} has a '..' segment (or one of only dots and spaces): paths may not leave their root` };
  }
  return undefined;
}

/**
 * Checks an artifact path without throwing. Accepted paths are returned NFC-normalised (two
 * spellings of 'é' would otherwise collide on macOS disks); nothing else is rewritten — a literal
 * '%' stays literal (MLflow logs files such as `dog%step%100%timestamp%100`).
 */
export function checkArtifactPath(input: unknown, options: ArtifactPathOptions = {}): ArtifactPathVerdict {
  const limits = { ...DEFAULT_ARTIFACT_PATH_LIMITS, ...options.limits };
  const fail = (reason: ArtifactPathProblem, message: string): ArtifactPathVerdict => ({ ok: false, reason, message });
  if (typeof input !== 'string') return fail('not_a_string', `artifact path must be a string, got ${input === null ? 'null' : typeof input}`);
  const shown = JSON.stringify(input.length > 120 ? `${input.slice(0, 120)}…` : input);
  if (input === '') return fail('empty', 'artifact path is empty: name a file or directory under the artifact root');
  if (LONE_SURROGATE.test(input)) return fail('invalid_encoding', `artifact path ${shown} is not valid Unicode (lone surrogate)`);
  if (utf8Length(input) > limits.maxBytes) return fail('too_long', `artifact path is longer than ${limits.maxBytes} bytes`);
  const path = input.normalize('NFC');

  const own = structural(path, shown);
  if (own !== undefined) return fail(own.reason, own.message);
  if (hasControlCharacter(path)) return fail('control_character', `artifact path ${shown} contains a control character`);
  const segments = path.split('/');
  if (segments.length > limits.maxDepth) return fail('too_deep', `artifact path ${shown} has more than ${limits.maxDepth} segments`);
  for (const seg of segments) {
    if (utf8Length(seg) > limits.maxSegmentBytes) return fail('segment_too_long', `a segment of artifact path ${shown} is longer than ${limits.maxSegmentBytes} bytes`);
  }

  // What could some other layer make of it? Decode to a fixpoint (CVE-2024-1560 used a double
  // encoding to bypass the CVE-2023-6831 fix), also with TAB/CR/LF removed at every step as WHATWG
  // URL parsing does (MLflow's `%2%0952e` vector), and look at NFKC forms ('．．／' is '../').
  const seen = new Set<string>([path]);
  let frontier = [path];
  for (let round = 0; frontier.length > 0; round++) {
    if (round > MAX_DECODE_ROUNDS || seen.size > MAX_FORMS) {
      return fail('invalid_encoding', `artifact path ${shown} keeps changing under percent-decoding: send it encoded at most once`);
    }
    const next: string[] = [];
    for (const form of frontier) {
      for (const variant of new Set([form, form.replace(WHATWG_STRIPPED, '')])) {
        const decoded = decodeOnce(variant);
        if (decoded === undefined) {
          return fail('invalid_encoding', `artifact path ${shown} contains a percent-encoding that is not valid UTF-8 (such as an overlong '%c0%af')`);
        }
        for (const candidate of [variant, decoded]) {
          if (seen.has(candidate) && candidate !== path) continue;
          seen.add(candidate);
          for (const f of new Set([candidate, candidate.normalize('NFKC')])) {
            const c = f === path ? undefined : structural(f, shown);
            if (c !== undefined) return fail(c.reason, `${c.message} once decoded or normalised`);
            if (f.split('/').length !== segments.length) {
              return fail('encoded_separator', `artifact path ${shown} contains an encoded or look-alike '/': use a literal '/' between segments`);
            }
          }
          if (candidate !== form) next.push(candidate);
        }
      }
    }
    frontier = next;
  }
  return { ok: true, path: path as ArtifactPath };
}

/**
 * Boundary parser for artifact paths: returns the checked path or throws a 400 StrataError whose
 * `details` carry `field` and `reason` (an `ArtifactPathProblem`).
 */
export function normaliseArtifactPath(input: unknown, options: ArtifactPathOptions & { readonly field?: string } = {}): ArtifactPath {
  const verdict = checkArtifactPath(input, options);
  if (verdict.ok) return verdict.path;
  throw badRequest(verdict.message, { field: options.field ?? 'path', reason: verdict.reason });
}

/** Joins checked paths ('model' + 'weights/a.bin'); the result is re-checked against the limits. */
export function joinArtifactPath(...parts: readonly ArtifactPath[]): ArtifactPath {
  return normaliseArtifactPath(parts.join('/'));
}

/** True when `child` is `root` or lies beneath it (both absolute, already resolved). */
export function isInsideDirectory(root: string, child: string): boolean {
  const rel = relative(root, child);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

export interface ResolveInsideOptions extends ArtifactPathOptions {
  /** 'inside' (default) follows symlinks that stay under the root; 'refuse' follows none. */
  readonly symlinks?: 'inside' | 'refuse';
}

const errno = (e: unknown): string | undefined =>
  typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined;

function escapes(path: string, why: string): StrataError {
  return badRequest(`artifact path ${JSON.stringify(path)} ${why}: paths must stay inside their root`, { field: 'path', reason: 'escapes_root' });
}

/**
 * Maps `relativePath` (checked with `normaliseArtifactPath`) onto the real directory `root` and
 * returns the absolute path, refusing with a 400 (`reason: 'escapes_root'`) when any existing
 * component is a symlink leading outside the root (after `realpath`), a dangling symlink, or a
 * non-directory in the middle. Components that do not exist yet are returned joined (they cannot
 * be symlinks at the time of the check). Callers writing the result should still open the final
 * component with O_NOFOLLOW | O_EXCL, since a concurrent process could plant a link afterwards.
 */
export async function resolveInside(root: string, relativePath: unknown, options: ResolveInsideOptions = {}): Promise<string> {
  const path = normaliseArtifactPath(relativePath, options);
  const rootReal = await realpath(root);
  let current = rootReal;
  const segments = path.split('/');
  for (const [i, seg] of segments.entries()) {
    const next = join(current, seg);
    let st;
    try {
      st = await lstat(next);
    } catch (e) {
      if (errno(e) === 'ENOENT') return join(current, ...segments.slice(i));
      if (errno(e) === 'ENOTDIR') throw escapes(path, 'goes through something that is not a directory');
      throw e;
    }
    if (st.isSymbolicLink()) {
      if (options.symlinks === 'refuse') throw escapes(path, 'goes through a symbolic link');
      let target: string;
      try {
        target = await realpath(next);
      } catch (e) {
        if (errno(e) === 'ENOENT' || errno(e) === 'ELOOP') throw escapes(path, 'goes through a dangling or looping symbolic link');
        throw e;
      }
      if (!isInsideDirectory(rootReal, target)) throw escapes(path, 'goes through a symbolic link that leads outside the root');
      current = target;
    } else {
      current = next;
    }
    if (i < segments.length - 1) {
      const dir = await lstat(current);
      if (!dir.isDirectory()) throw escapes(path, 'goes through something that is not a directory');
    }
  }
  return current;
}
