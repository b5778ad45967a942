// Archive entry policy: the tar/zip attacks of security-reliability.md §2.3 (Zip Slip, absolute
// names, links, devices, setuid bits, case and Unicode collisions, bombs by size, count, ratio and
// depth) are refused with the right status and reason; ordinary archives pass with clean modes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isStrataError } from '../kernel/index.ts';
import { type ArchiveEntryHeader, ArchiveGuard, checkArchiveEntries } from './index.ts';

const file = (name: string, size = 10, extra: Partial<ArchiveEntryHeader> = {}): ArchiveEntryHeader => ({ name, type: 'file', size, ...extra });
const dir = (name: string, extra: Partial<ArchiveEntryHeader> = {}): ArchiveEntryHeader => ({ name, type: 'directory', size: 0, ...extra });

function refused(headers: readonly ArchiveEntryHeader[], status: 400 | 413, reason: string, entry: number, limits = {}): void {
  assert.throws(
    () => checkArchiveEntries(headers, limits),
    (e: unknown) => {
      assert.ok(isStrataError(e), String(e));
      assert.equal(e.status, status, e.message);
      assert.equal(e.details['reason'], reason, e.message);
      assert.equal(e.details['entry'], entry, e.message);
      return true;
    },
  );
}

test('an ordinary model archive passes; ./ prefixes and directory slashes are spelling', () => {
  const admitted = checkArchiveEntries([
    dir('./'),
    dir('./model/'),
    file('./model/MLmodel', 120, { mode: 0o644 }),
    dir('model/data/', { mode: 0o755 }),
    file('model/data/model.pth', 5_000_000, { mode: 0o600 }),
    file('model/requirements.txt', 30),
  ]);
  assert.deepEqual(
    admitted.map((e) => [e.path, e.type, e.size, e.mode, e.modeSanitised]),
    [
      ['model', 'directory', 0, 0o755, false],
      ['model/MLmodel', 'file', 120, 0o644, false],
      ['model/data', 'directory', 0, 0o755, false],
      ['model/data/model.pth', 'file', 5_000_000, 0o600, false],
      ['model/requirements.txt', 'file', 30, 0o644, false],
    ],
  );
});

test('Zip Slip and absolute names are refused (CVE-2018-1002201, node-tar CVE-2021-32804)', () => {
  const cases: readonly (readonly [string, string])[] = [
    ['../../x', 'traversal'],
    ['model/../../../etc/cron.d/x', 'traversal'],
    ['./../x', 'traversal'],
    ['..\\..\\x', 'backslash'],
    ['/etc/passwd', 'absolute'],
    ['//etc/passwd', 'absolute'],
    ['C:\\Windows\\win.ini', 'backslash'],
    ['C:/Windows/win.ini', 'drive_letter'],
    ['\\\\host\\share\\x', 'backslash'],
    ['%2e%2e/%2e%2e/x', 'traversal'],
    ['..%c0%af..%c0%afx', 'invalid_encoding'],
    ['．．／x', 'traversal'],
    ['x\u0000.txt', 'nul'],
    ['file:///etc/passwd', 'uri'],
    ['a//b', 'empty_segment'],
  ];
  for (const [name, reason] of cases) refused([file('ok.txt'), file(name)], 400, reason, 1);
  refused([dir('../')], 400, 'traversal', 0);
  refused([dir('/')], 400, 'absolute', 0);
});

test('symlink and hardlink entries are refused, so nothing can be written through them (CVE-2021-32803, CVE-2021-37701)', () => {
  refused([{ name: 'evil', type: 'symlink', size: 0, linkName: '/etc' }, file('evil/passwd')], 400, 'link', 0);
  refused([{ name: 'inside', type: 'symlink', size: 0, linkName: 'model' }], 400, 'link', 0);
  refused([file('a'), { name: 'b', type: 'hardlink', size: 0, linkName: '/etc/shadow' }], 400, 'link', 1);
});

test('device files, FIFOs and unknown types are refused', () => {
  for (const type of ['character-device', 'block-device', 'fifo', 'other'] as const) refused([{ name: 'dev', type, size: 0 }], 400, 'special_file', 0);
  refused([{ name: 'x', type: 'whiteout' as never, size: 0 }], 400, 'special_file', 0);
});

test('setuid, setgid, sticky and group/world write bits are cleared', () => {
  const [a, b, c] = checkArchiveEntries([file('run.sh', 10, { mode: 0o4755 }), file('shared', 10, { mode: 0o2777 }), dir('tmp', { mode: 0o1777 })]);
  assert.deepEqual([a?.mode, a?.modeSanitised], [0o755, true]);
  assert.deepEqual([b?.mode, b?.modeSanitised], [0o755, true]);
  assert.deepEqual([c?.mode, c?.modeSanitised], [0o755, true]);
});

test('collisions by case, Unicode normalisation or file/directory kind are refused (CVE-2021-37712)', () => {
  refused([file('model/w.bin'), file('model/w.bin')], 400, 'collision', 1);
  refused([file('README.md'), file('readme.md')], 400, 'collision', 1);
  refused([file('caf\u00e9.txt'), file('cafe\u0301.txt')], 400, 'collision', 1);
  refused([file('model'), file('model/w.bin')], 400, 'collision', 1);
  refused([file('model/w.bin'), file('model')], 400, 'collision', 1);
  refused([dir('Model'), file('model/w.bin')], 400, 'collision', 1);
  refused([file('a/B/c'), dir('a/b')], 400, 'collision', 1);
  refused([dir('data'), file('data')], 400, 'collision', 1);
  // Repeating a directory (tar often does) is fine.
  assert.equal(checkArchiveEntries([dir('d'), file('d/x'), dir('d/'), file('d/y')]).length, 4);
});

test('bombs: entry count, per-entry and total size, compression ratio and depth are bounded (413)', () => {
  refused([file('a'), file('b'), file('c')], 413, 'too_many_entries', 2, { maxEntries: 2 });
  refused([file('a', 101)], 413, 'entry_too_large', 0, { maxEntryBytes: 100 });
  refused([file('a', 60), file('b', 60)], 413, 'archive_too_large', 1, { maxTotalBytes: 100 });
  // 42.zip-style: a few KiB that claim gigabytes.
  refused([file('bomb.bin', 4 * 1024 ** 3, { compressedSize: 4_200_000 })], 413, 'compression_ratio', 0);
  refused([file('zero.bin', 2 * 1024 * 1024, { compressedSize: 0 })], 413, 'compression_ratio', 0);
  // Small files may compress extremely well; moderate ratios pass.
  assert.equal(checkArchiveEntries([file('zeros.txt', 1_000_000, { compressedSize: 1000 }), file('w.bin', 50_000_000, { compressedSize: 40_000_000 })]).length, 2);
  refused([file(Array.from({ length: 65 }, () => 'd').join('/'))], 400, 'too_deep', 0);
  refused([file('a/b/c')], 400, 'too_deep', 0, { path: { maxDepth: 2 } });
});

test('malformed headers are refused', () => {
  refused([file('a', -1)], 400, 'malformed', 0);
  refused([file('a', 1.5)], 400, 'malformed', 0);
  refused([file('a', Number.NaN)], 400, 'malformed', 0);
  refused([file('a', 10, { compressedSize: -3 })], 400, 'malformed', 0);
  refused([{ name: 'd', type: 'directory', size: 5 }], 400, 'malformed', 0);
});

test('a refused entry is not counted and does not claim its name', () => {
  const guard = new ArchiveGuard({ maxEntryBytes: 100 });
  guard.admit(file('a', 50));
  assert.throws(() => guard.admit(file('b', 500)));
  assert.deepEqual([guard.entries, guard.totalBytes], [1, 50]);
  assert.equal(guard.admit(file('b', 60))?.index, 1);
  assert.equal(guard.admit(dir('./')), null, "the archive's own './' entry creates nothing");
  assert.equal(guard.entries, 3);
});

test('property: admitted entries are unique, collision-free, confined and carry no special bits', () => {
  const seg = fc.constantFrom('a', 'A', 'b', '..', '.', 'é', 'e\u0301', '%2e%2e', 'x.txt', '', '．．');
  const header = fc.record({
    name: fc.array(seg, { minLength: 1, maxLength: 4 }).map((s) => s.join('/')),
    type: fc.constantFrom<ArchiveEntryHeader['type']>('file', 'directory', 'symlink', 'hardlink', 'fifo'),
    mode: fc.integer({ min: 0, max: 0o7777 }),
  });
  fc.assert(
    fc.property(fc.array(header, { maxLength: 12 }), (headers) => {
      const guard = new ArchiveGuard();
      const files = new Set<string>();
      const dirs = new Set<string>();
      for (const h of headers) {
        let e;
        try {
          e = guard.admit({ ...h, size: h.type === 'directory' ? 0 : 1 });
        } catch (err) {
          assert.ok(isStrataError(err) && err.status === 400, String(err));
          continue;
        }
        if (e === null) continue;
        assert.ok(e.type === 'file' || e.type === 'directory');
        assert.equal(e.mode & ~0o755, 0);
        const segments = e.path.split('/');
        assert.ok(!segments.includes('..') && !segments.includes('.') && !segments.includes(''));
        const key = e.path.normalize('NFKC').toLowerCase();
        if (e.type === 'file') {
          assert.ok(!files.has(key) && !dirs.has(key), `${e.path} collides`);
          files.add(key);
        } else {
          assert.ok(!files.has(key));
          dirs.add(key);
        }
        for (let i = 1; i < segments.length; i++) assert.ok(!files.has(key.split('/').slice(0, i).join('/')), `${e.path} under a file`);
      }
    }),
    { numRuns: 1500, seed: 20260105 },
  );
});
