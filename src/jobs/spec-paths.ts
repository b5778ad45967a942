// Relative paths inside an attempt's working directory (inline files, outputs, the checkpoint
// directory, the starting directory). The executor joins them onto a directory it created, so a path
// that could leave that directory is refused here, at the edge — path traversal (CWE-22; Zip Slip,
// CVE-2018-1002201; node-tar absolute entries, CVE-2021-32804). Inputs from research §2.3:
// `../`, `..\`, `....//`, `..%2f`, `%2e%2e%2f`, `%252e%252e%252f`, `..%c0%af`, fullwidth `．．／`,
// NUL, absolute and drive/UNC paths. Look-alikes such as `foo..bar.txt` and `..foo/bar` are
// ordinary names and stay accepted.

/** Outcome of a path check: the normalised path or why it was refused. */
export type PathResult = { readonly ok: true; readonly path: string } | { readonly ok: false; readonly reason: string };

/** Longest relative path accepted, in UTF-8 bytes (Linux PATH_MAX is 4096). */
export const MAX_PATH_BYTES = 1024;
/** Longest path segment accepted, in UTF-8 bytes (NAME_MAX on common file systems). */
export const MAX_SEGMENT_BYTES = 255;

// eslint-disable-next-line no-control-regex -- control characters are exactly what this refuses
const CONTROL_RE = /[\u0000-\u001f\u007f]/;
const PERCENT_ESCAPE_RE = /%[0-9A-Fa-f]{2}/;
const DRIVE_RE = /^[A-Za-z]:/;
const ONLY_DOTS_RE = /^\.{2,}$/;

const HINT = "use a relative path such as 'data/input.csv'";

/** Structural checks shared by the text as written and its Unicode-compatibility (NFKC) form. */
function structuralProblem(p: string): string | undefined {
  if (p.includes('\\')) return `contains '\\'; use '/' to separate directories`;
  if (p.startsWith('/')) return `is absolute; ${HINT}`;
  if (DRIVE_RE.test(p)) return `starts with a drive letter; ${HINT}`;
  for (const seg of p.split('/')) {
    if (ONLY_DOTS_RE.test(seg)) return `contains '${seg}'; paths may not leave the working directory`;
  }
  return undefined;
}

/**
 * Checks and normalises a path relative to the attempt's working directory. Removes `.` and empty
 * segments (`./a//b/` → `a/b`). Refuses: non-strings; NUL and other control characters; `\`;
 * absolute, drive-letter and UNC paths; any segment made only of dots (`..`, `...`, which some
 * sanitisers turn back into `..`); percent-escapes (`%2e`: paths are not URLs, and a later decode
 * must not be able to create `..`); and text whose NFKC form breaks any of these (fullwidth
 * `．．／` is `../`). `allowRoot` lets the result be `.` (the working directory itself).
 */
export function checkRelativePath(value: unknown, allowRoot = false): PathResult {
  if (typeof value !== 'string') return { ok: false, reason: `expected a path (text), got ${value === null ? 'null' : typeof value}` };
  if (value.includes('\u0000')) return { ok: false, reason: 'contains a NUL byte' };
  if (CONTROL_RE.test(value)) return { ok: false, reason: 'contains a control character' };
  if (value === '') return { ok: false, reason: `is empty; ${HINT}` };
  if (Buffer.byteLength(value, 'utf8') > MAX_PATH_BYTES) return { ok: false, reason: `is longer than ${MAX_PATH_BYTES} bytes` };
  if (PERCENT_ESCAPE_RE.test(value)) return { ok: false, reason: 'contains a percent-escape such as %2e; write the characters themselves' };
  const direct = structuralProblem(value);
  if (direct !== undefined) return { ok: false, reason: direct };
  const compat = value.normalize('NFKC');
  if (compat !== value) {
    const viaCompat = structuralProblem(compat);
    if (viaCompat !== undefined) return { ok: false, reason: `${viaCompat} (after Unicode normalisation)` };
  }
  const segments = value.split('/').filter((s) => s !== '' && s !== '.');
  for (const seg of segments) {
    if (Buffer.byteLength(seg, 'utf8') > MAX_SEGMENT_BYTES) return { ok: false, reason: `has a segment longer than ${MAX_SEGMENT_BYTES} bytes` };
  }
  if (segments.length === 0) {
    return allowRoot ? { ok: true, path: '.' } : { ok: false, reason: `names the working directory itself; ${HINT}` };
  }
  return { ok: true, path: segments.join('/') };
}
