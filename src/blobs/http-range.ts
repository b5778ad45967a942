// HTTP details of serving stored files, shared by every route that streams blobs (job artifacts,
// run artifacts, MLflow's artifact proxy): single byte ranges (RFC 9110 §14: 206 with
// Content-Range, 416 with `Content-Range: bytes */size`) and the attachment header that makes a
// browser save, never render, what a user uploaded (an HTML or SVG artifact served inline would
// run script in the API's origin).
import { StrataError } from '../kernel/index.ts';

/**
 * `bytes=a-b`, `bytes=a-` or `bytes=-n` → [start, end); undefined without a Range header. Several
 * ranges, other units and ranges outside the file are refused with 416 (`range_not_satisfiable`).
 */
export function parseRangeHeader(header: string | string[] | undefined, size: number): { start: number; end: number } | undefined {
  if (header === undefined) return undefined;
  const text = Array.isArray(header) ? header.join(',') : header;
  const m = /^bytes=(\d{0,16})-(\d{0,16})$/.exec(text.trim());
  if (m === null || (m[1] === '' && m[2] === '')) {
    throw new StrataError('range_not_satisfiable', `Range must be one byte range such as "bytes=0-1023" (got ${JSON.stringify(text.slice(0, 100))})`, { details: { size } });
  }
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size : Math.min(size, Number(m[2]) + 1);
    if (m[2] !== '' && Number(m[2]) < start) throw new StrataError('range_not_satisfiable', `the range ${text} ends before it starts`, { details: { size } });
  }
  if (!(start < end) || start >= size) throw new StrataError('range_not_satisfiable', `the range ${text} is outside the file's ${size} bytes`, { details: { size } });
  return { start, end };
}

/** `Content-Disposition: attachment` with the file's base name (RFC 6266, RFC 8187 for non-ASCII). */
export function attachmentDisposition(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const ascii = base.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(base)}`;
}
