// Safe-extraction policy for tar and zip uploads (model directories, checkpoints, datasets): a pure
// validator of entry headers, fed one header at a time by whatever reads the archive, before any
// byte of the entry is stored. It refuses the attacks of security-reliability.md §2.3:
// - Zip Slip (CVE-2018-1002201): '../' and every encoded, Windows or absolute spelling of it, via
//   `normaliseArtifactPath`; absolute names (node-tar CVE-2021-32804) included.
// - Links (node-tar CVE-2021-32803, CVE-2021-37701): symlink and hardlink entries are refused, so no
//   later entry can be written through one; device files and FIFOs too.
// - Collisions (node-tar CVE-2021-37712): two entries equal up to case or Unicode normalisation,
//   or a file where another entry needs a directory, are refused.
// - setuid/setgid/sticky bits and group/world write are cleared from the modes handed back.
// - Bombs: entry count, per-entry and total declared size, and compression ratio are bounded.
//   Declared sizes can lie, so the extractor must enforce `AdmittedEntry.size` on the actual bytes
//   (pass it as `maxBytes` to `BlobStore.put` and check the stored size equals it). Nested archives
//   are stored as files, never extracted recursively.
import { StrataError, badRequest } from '../kernel/index.ts';
import { checkArtifactPath, type ArtifactPath, type ArtifactPathLimits } from './artifact-path.ts';

export type ArchiveEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'character-device' | 'block-device' | 'fifo' | 'other';

/** What an archive reader knows about an entry before reading its content. */
export interface ArchiveEntryHeader {
  /** The name as stored in the archive (tar `path`, zip file name). */
  readonly name: string;
  readonly type: ArchiveEntryType;
  /** Declared uncompressed size in bytes. */
  readonly size: number;
  /** Compressed size (zip); omit for tar. */
  readonly compressedSize?: number;
  /** Unix mode bits from the header, if any. */
  readonly mode?: number;
  /** Link target for symlink/hardlink entries (shown in the refusal). */
  readonly linkName?: string;
}

export interface ArchiveLimits {
  readonly maxEntries: number;
  readonly maxEntryBytes: number;
  readonly maxTotalBytes: number;
  /** Largest uncompressed/compressed ratio for one entry (deflate tops out near 1,032:1). */
  readonly maxCompressionRatio: number;
  /** Entries up to this size are not ratio-checked (a small file cannot do damage). */
  readonly ratioCheckFloorBytes: number;
  readonly path: Partial<ArtifactPathLimits>;
}

const GiB = 1024 ** 3;
export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = {
  maxEntries: 100_000,
  maxEntryBytes: 64 * GiB,
  maxTotalBytes: 256 * GiB,
  maxCompressionRatio: 200,
  ratioCheckFloorBytes: 1024 * 1024,
  path: {},
};

/** An entry the policy lets through: a checked path, a safe mode, and the size to enforce. */
export interface AdmittedEntry {
  readonly index: number;
  readonly path: ArtifactPath;
  readonly type: 'file' | 'directory';
  /** Bytes the entry must contain exactly; enforce it while storing. */
  readonly size: number;
  /** Mode with setuid/setgid/sticky and group/world write cleared. */
  readonly mode: number;
  /** True when `mode` differs from the header's. */
  readonly modeSanitised: boolean;
}

const DEFAULT_MODE = { file: 0o644, directory: 0o755 } as const;
const SAFE_MODE_MASK = 0o755;

/** Key under which names collide on case-insensitive or normalising filesystems. */
const foldKey = (p: string): string => p.normalize('NFKC').toLowerCase();

/**
 * Admits archive entries one by one, keeping the totals and names seen so far. Create one per
 * archive; `admit` throws a 400 (bad name, link, device, collision, malformed header) or a 413
 * (counts, sizes, ratio), with `details.entry` (index) and `details.reason`.
 */
export class ArchiveGuard {
  private readonly limits: ArchiveLimits;
  private count = 0;
  private total = 0;
  /** Folded path → the entry that claimed it as a file or a directory. */
  private readonly files = new Map<string, string>();
  private readonly directories = new Map<string, string>();

  constructor(limits: Partial<ArchiveLimits> = {}) {
    this.limits = { ...DEFAULT_ARCHIVE_LIMITS, ...limits };
  }

  /** Entries admitted so far. */
  get entries(): number {
    return this.count;
  }

  /** Declared bytes admitted so far. */
  get totalBytes(): number {
    return this.total;
  }

  /** Checks the next header; `null` means "the archive's own root directory ('./'): nothing to create". */
  admit(header: ArchiveEntryHeader): AdmittedEntry | null {
    const index = this.count;
    const shown = JSON.stringify(header.name.length > 120 ? `${header.name.slice(0, 120)}…` : header.name);
    const refuse = (reason: string, message: string): StrataError => badRequest(`archive entry ${index} ${shown}: ${message}`, { entry: index, reason });
    const tooBig = (reason: string, message: string): StrataError =>
      new StrataError('payload_too_large', `archive entry ${index} ${shown}: ${message}`, { details: { entry: index, reason } });

    if (index + 1 > this.limits.maxEntries) throw tooBig('too_many_entries', `the archive has more than ${this.limits.maxEntries} entries`);

    const type = header.type;
    switch (type) {
      case 'file':
      case 'directory':
        break;
      case 'symlink':
      case 'hardlink':
        throw refuse('link', `${type} entries are not accepted (target ${JSON.stringify(header.linkName ?? '')}): archive the files themselves`);
      case 'character-device':
      case 'block-device':
      case 'fifo':
      case 'other':
        throw refuse('special_file', `${type} entries are not accepted: only regular files and directories`);
      default:
        // Readers hand over whatever the archive says; an unknown type is refused, not a crash.
        throw refuse('special_file', `entry type ${JSON.stringify(String(type satisfies never))} is not accepted: only regular files and directories`);
    }

    if (!Number.isSafeInteger(header.size) || header.size < 0) throw refuse('malformed', `invalid size ${String(header.size)}`);
    if (type === 'directory' && header.size !== 0) throw refuse('malformed', 'a directory entry declares content');
    if (header.size > this.limits.maxEntryBytes) throw tooBig('entry_too_large', `declares ${header.size} bytes, over the ${this.limits.maxEntryBytes}-byte limit per entry`);
    if (this.total + header.size > this.limits.maxTotalBytes) {
      throw tooBig('archive_too_large', `brings the archive over its ${this.limits.maxTotalBytes}-byte limit when extracted`);
    }
    if (header.compressedSize !== undefined) {
      const c = header.compressedSize;
      if (!Number.isSafeInteger(c) || c < 0) throw refuse('malformed', `invalid compressed size ${String(c)}`);
      if (header.size > this.limits.ratioCheckFloorBytes && header.size > c * this.limits.maxCompressionRatio) {
        throw tooBig('compression_ratio', `expands ${c} bytes to ${header.size} (over ${this.limits.maxCompressionRatio}:1): refused as a likely zip bomb`);
      }
    }

    // Archivers write directories as 'name/' and often prefix './' (tar -C dir .), with './' itself
    // as the first entry: spelling, not structure. Everything else goes through the path policy.
    let name = header.name;
    if (type === 'directory' && (name === './' || name === '.')) {
      this.count += 1;
      return null;
    }
    if (name.startsWith('./') && name.length > 2) name = name.slice(2);
    if (type === 'directory' && name.endsWith('/') && name.length > 1) name = name.slice(0, -1);
    const verdict = checkArtifactPath(name, { limits: this.limits.path });
    if (!verdict.ok) throw refuse(verdict.reason, verdict.message);
    const path = verdict.path;

    const key = foldKey(path);
    const segments = key.split('/');
    for (let i = 1; i < segments.length; i++) {
      const ancestor = segments.slice(0, i).join('/');
      const clash = this.files.get(ancestor);
      if (clash !== undefined) throw refuse('collision', `needs ${JSON.stringify(clash)} to be a directory, but the archive has it as a file`);
    }
    if (type === 'file') {
      const asFile = this.files.get(key);
      if (asFile !== undefined) {
        throw refuse('collision', asFile === path ? 'appears twice in the archive' : `collides with ${JSON.stringify(asFile)} on case-insensitive or normalising filesystems`);
      }
      const asDir = this.directories.get(key);
      if (asDir !== undefined) throw refuse('collision', `is a file, but ${JSON.stringify(asDir)} is a directory in the archive`);
    } else {
      const asFile = this.files.get(key);
      if (asFile !== undefined) throw refuse('collision', `is a directory, but ${JSON.stringify(asFile)} is a file in the archive`);
      const asDir = this.directories.get(key);
      if (asDir !== undefined && asDir !== path) throw refuse('collision', `collides with directory ${JSON.stringify(asDir)} on case-insensitive or normalising filesystems`);
    }
    for (let i = 1; i < segments.length; i++) {
      const ancestor = segments.slice(0, i).join('/');
      const spelled = path.split('/').slice(0, i).join('/');
      const known = this.directories.get(ancestor);
      if (known !== undefined && known !== spelled) {
        throw refuse('collision', `its directory ${JSON.stringify(spelled)} collides with ${JSON.stringify(known)} on case-insensitive or normalising filesystems`);
      }
      this.directories.set(ancestor, spelled);
    }
    if (type === 'file') this.files.set(key, path);
    else this.directories.set(key, path);

    const original = header.mode === undefined ? DEFAULT_MODE[type] : header.mode & 0o7777;
    const mode = original & SAFE_MODE_MASK;
    this.count += 1;
    this.total += header.size;
    return { index, path, type, size: header.size, mode, modeSanitised: mode !== original };
  }
}

/** Checks a whole list of headers (a zip central directory); returns the admitted entries or throws on the first refusal. */
export function checkArchiveEntries(headers: Iterable<ArchiveEntryHeader>, limits: Partial<ArchiveLimits> = {}): AdmittedEntry[] {
  const guard = new ArchiveGuard(limits);
  const out: AdmittedEntry[] = [];
  for (const h of headers) {
    const e = guard.admit(h);
    if (e !== null) out.push(e);
  }
  return out;
}
