// Artifact path policy: every traversal, URI and encoding vector from research/mlflow.md §6 (the
// MLflow CVE regression inputs) and security-reliability.md §2.3 is refused with a 400 and a
// precise reason; look-alikes still work; property tests check that nothing accepted can decode
// into a traversal; resolveInside refuses symlink escapes on a real directory tree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, readdir, realpath, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import fc from 'fast-check';
import { isStrataError } from '../kernel/index.ts';
import { type ArtifactPathProblem, checkArtifactPath, isInsideDirectory, joinArtifactPath, normaliseArtifactPath, resolveInside } from './index.ts';

/** [input, reason, source]. */
const REFUSED: readonly (readonly [string, ArtifactPathProblem, string])[] = [
  // MLflow tests/utils/test_uri.py::test_validate_path_is_safe_bad
  ['/path', 'absolute', 'mlflow test_validate_path_is_safe_bad'],
  ['../path', 'traversal', 'mlflow test_validate_path_is_safe_bad'],
  ['./../path', 'dot_segment', 'mlflow test_validate_path_is_safe_bad'],
  ['path/../to/file', 'traversal', 'mlflow test_validate_path_is_safe_bad'],
  ['file://a#/..//tmp', 'uri', 'mlflow test_validate_path_is_safe_bad'],
  ['file://a%23/..//tmp/', 'uri', 'mlflow test_validate_path_is_safe_bad'],
  ['/etc/passwd%00.jpg', 'absolute', 'mlflow test_validate_path_is_safe_bad'],
  ['/file://etc/passwd', 'absolute', 'mlflow test_validate_path_is_safe_bad'],
  ['%2E%2E%2Fpath', 'traversal', 'mlflow test_validate_path_is_safe_bad'],
  ['%2E%2E%2F%2E%2E%2Fpath', 'traversal', 'mlflow test_validate_path_is_safe_bad'],
  ['%2%0952e%2%0952e/%2%0A52e%2%0A52e/path', 'traversal', 'mlflow test_validate_path_is_safe_bad (TAB/LF stripped by URL parsers)'],
  ['..\\path', 'backslash', 'mlflow Windows list'],
  ['C:path', 'drive_letter', 'mlflow Windows list'],
  ['C:\\Windows\\win.ini', 'backslash', 'mlflow Windows list / §2.3 absolute'],
  ['\\\\?\\C:\\path', 'backslash', 'mlflow Windows list'],
  ['\\\\host\\share\\x', 'backslash', 'mlflow Windows list (UNC) / §2.3'],
  // MLflow CVEs
  ['../../../../../../etc/passwd', 'traversal', 'CVE-2023-30172 get-artifact path'],
  ['//proc/self/root/etc/passwd', 'absolute', 'CVE-2023-6977 source //proc/self/root'],
  ['file:///', 'uri', 'CVE-2023-1177 source file:///'],
  ['file:///etc/', 'uri', 'CVE-2023-6909 / CVE-2024-1483 source'],
  ['mlflow-artifacts://host:9000/models/../../../', 'uri', 'CVE-2023-2356'],
  ['http://host:9000/models/../../../', 'uri', 'CVE-2023-2356'],
  ['https://host/api/2.0/mlflow-artifacts/artifacts/../../../', 'uri', 'CVE-2023-2780'],
  ['s3a://b/x/../../../', 'uri', 'CVE-2023-2356'],
  ['ftp://h/x/../../../', 'uri', 'CVE-2023-2356'],
  ['models\\..\\..\\x', 'backslash', 'CVE-2023-2356 backslash variant'],
  ['/etc/passwd', 'absolute', 'CVE-2023-6831 DELETE artifacts'],
  ['%252e%252e%252f', 'traversal', 'CVE-2024-1560 double encoding'],
  ['x/%252e%252e%252fetc/passwd', 'traversal', 'CVE-2024-1560 double encoding mid-path'],
  ['http:///?/../../../../etc/', 'uri', 'CVE-2023-6909 artifact_location'],
  ['http:///#/../../../../../../etc/', 'uri', 'CVE-2024-1483 / CVE-2024-2928 fragment'],
  ['a?/a', 'reserved_character', 'CVE-2024-3848 upload path'],
  ['http://host/;..%2F..%2Fetc', 'uri', 'CVE-2024-1593 params'],
  ['http://host#/abc/etc/', 'uri', 'CVE-2024-1594 fragment'],
  ['x#/../../etc', 'reserved_character', 'CVE-2024-1594 fragment in a path'],
  // security-reliability.md §2.3 traversal
  ['../', 'traversal', '§2.3'],
  ['..%2f', 'traversal', '§2.3'],
  ['%2e%2e%2f', 'traversal', '§2.3'],
  ['%2e%2e/x', 'traversal', '§2.3'],
  ['%2e%2e/', 'empty_segment', '§2.3 (the trailing slash is reported first)'],
  ['..%c0%af', 'invalid_encoding', '§2.3 overlong UTF-8'],
  ['%c0%ae%c0%ae/x', 'invalid_encoding', '§2.3 overlong UTF-8 dots'],
  ['．．／', 'traversal', '§2.3 fullwidth'],
  ['．．／etc/passwd', 'traversal', '§2.3 fullwidth'],
  ['x%00', 'nul', '§2.3 NUL'],
  ['x\u0000.jpg', 'nul', '§2.3 NUL (raw)'],
  ['....//', 'traversal', '§2.3'],
  ['./../x', 'dot_segment', '§2.3'],
  // §2.3 URIs
  ['file://localhost/etc/passwd', 'uri', '§2.3'],
  ['http:///#/../../etc/', 'uri', '§2.3'],
  ['s3://bucket/../../other-tenant/', 'uri', '§2.3'],
  ['gopher://127.0.0.1:6379/_', 'uri', '§2.3'],
  ['dict://127.0.0.1:11211/', 'uri', '§2.3'],
  ['FILE:///etc/passwd', 'uri', '§2.3 scheme case'],
  ['file:etc/passwd', 'uri', 'file: without slashes'],
  ['file%3A%2F%2F%2Fetc%2Fpasswd', 'uri', 'encoded file URI'],
  // shape
  ['', 'empty', 'empty'],
  ['a//b', 'empty_segment', 'empty segment'],
  ['a/b/', 'empty_segment', 'trailing slash'],
  ['a/./b', 'dot_segment', 'dot segment'],
  ['.', 'dot_segment', 'dot segment'],
  ['..', 'traversal', 'dot-dot'],
  ['a/...', 'traversal', 'only dots (Windows strips trailing dots)'],
  ['a/.. ', 'traversal', 'dots and a space (Windows strips trailing spaces)'],
  ['a%2Fb', 'encoded_separator', 'encoded slash'],
  ['a%252Fb', 'encoded_separator', 'double-encoded slash'],
  ['a%5Cb', 'backslash', 'encoded backslash'],
  ['a／b', 'encoded_separator', 'fullwidth solidus'],
  ['a\tb', 'control_character', 'TAB'],
  ['a\u001bb', 'control_character', 'ESC'],
  ['a\u0085b', 'control_character', 'C1 NEL'],
  ['a\u007fb', 'control_character', 'DEL'],
  ['a\uD800b', 'invalid_encoding', 'lone surrogate'],
  ['a%ffb', 'invalid_encoding', 'invalid UTF-8 byte'],
  [`%${'25'.repeat(10)}41`, 'invalid_encoding', "'A' percent-encoded 11 times (MLflow stops at 10)"],
  [`%${'25'.repeat(9)}2e%${'25'.repeat(9)}2e/x`, 'traversal', "'..' percent-encoded 10 times"],
  ['C%3A/x', 'drive_letter', 'encoded drive letter'],
  [Array.from({ length: 5 }, () => 'x'.repeat(204)).join('/') + 'x', 'too_long', 'over 1,024 bytes'],
  [`a/${'é'.repeat(128)}`, 'segment_too_long', 'segment over 255 UTF-8 bytes'],
  [Array.from({ length: 65 }, () => 'd').join('/'), 'too_deep', '65 segments'],
];

const ACCEPTED: readonly string[] = [
  'dog%step%100%timestamp%100', // MLflow test_validate_path_is_safe_good
  'foo..bar.txt', // Hono filepath look-alikes
  '..foo/bar',
  'a/..b/c..',
  'model/MLmodel',
  'model/data/model.pth',
  'checkpoints/epoch=3-step=1200.ckpt',
  'a;b.txt',
  'metrics/acc:val.json',
  `%${'25'.repeat(8)}2e.txt`, // '.txt' after 9 decodings: harmless
  '100%',
  '50%25 done.txt',
  'report%09.txt',
  '.hidden/.env',
  'données/été.parquet',
  'ｆｉｌｅ.txt',
  'plots/loss curve (v2).png',
  Array.from({ length: 5 }, () => 'x'.repeat(204)).join('/'), // exactly 1,024 bytes
  Array.from({ length: 64 }, () => 'd').join('/'),
];

for (const [input, reason, source] of REFUSED) {
  test(`refused (${reason}): ${JSON.stringify(input.length > 60 ? `${input.slice(0, 60)}…` : input)} — ${source}`, () => {
    const v = checkArtifactPath(input);
    assert.equal(v.ok, false, `${JSON.stringify(input)} must be refused`);
    if (!v.ok) assert.equal(v.reason, reason, v.message);
    assert.throws(
      () => normaliseArtifactPath(input, { field: 'artifact_path' }),
      (e: unknown) => isStrataError(e) && e.status === 400 && e.details['reason'] === reason && e.details['field'] === 'artifact_path',
    );
  });
}

test('look-alikes and ordinary names are accepted unchanged', () => {
  for (const input of ACCEPTED) {
    const v = checkArtifactPath(input);
    assert.ok(v.ok, `${JSON.stringify(input)}: ${v.ok ? '' : v.message}`);
    assert.equal(normaliseArtifactPath(input), input);
  }
});

test('non-strings are refused', () => {
  for (const input of [undefined, null, 42, ['a'], { path: 'a' }]) {
    assert.throws(() => normaliseArtifactPath(input), (e: unknown) => isStrataError(e) && e.details['reason'] === 'not_a_string');
  }
});

test('paths come back NFC-normalised so two spellings of one name are one key', () => {
  const nfd = 'cafe\u0301/e\u0301.txt';
  assert.equal(normaliseArtifactPath(nfd), 'caf\u00e9/\u00e9.txt');
  assert.equal(normaliseArtifactPath(nfd), normaliseArtifactPath(nfd.normalize('NFC')));
});

test('limits can be tightened per caller', () => {
  assert.throws(() => normaliseArtifactPath('a/b/c', { limits: { maxDepth: 2 } }), (e: unknown) => isStrataError(e) && e.details['reason'] === 'too_deep');
  assert.throws(() => normaliseArtifactPath('abcdef', { limits: { maxBytes: 5 } }), (e: unknown) => isStrataError(e) && e.details['reason'] === 'too_long');
});

test('joinArtifactPath re-checks the joined path', () => {
  const a = normaliseArtifactPath('model');
  const b = normaliseArtifactPath('data/w.bin');
  assert.equal(joinArtifactPath(a, b), 'model/data/w.bin');
  const deep = normaliseArtifactPath(Array.from({ length: 40 }, () => 'd').join('/'));
  assert.throws(() => joinArtifactPath(deep, deep), (e: unknown) => isStrataError(e) && e.details['reason'] === 'too_deep');
});

/** Lenient repeated percent-decoding, independent of the implementation (decodeURIComponent per escape). */
function decodeFully(s: string): string[] {
  const forms = [s];
  let cur = s;
  for (let i = 0; i < 12; i++) {
    const next = cur.replace(/%[0-9a-fA-F]{2}/g, (m) => {
      try {
        return decodeURIComponent(m);
      } catch {
        return m;
      }
    });
    if (next === cur) break;
    forms.push(next);
    cur = next;
  }
  return forms;
}

test('property: nothing accepted decodes, normalises or joins into a traversal', () => {
  const piece = fc.constantFrom('a', 'b', '.', '..', '...', '/', '%', '%2e', '%2E', '%2f', '%2F', '%25', '%5c', '%00', '\\', ':', 'C:', 'é', '．', '／', ' ', '#', '?', '%c0%af', 'file:', '%09', '\t');
  fc.assert(
    fc.property(fc.array(piece, { minLength: 1, maxLength: 10 }), (pieces) => {
      const input = pieces.join('');
      const v = checkArtifactPath(input);
      if (!v.ok) return;
      for (const form of decodeFully(v.path).flatMap((f) => [f, f.normalize('NFKC'), f.replace(/[\t\r\n]/g, '')])) {
        const segments = form.split('/');
        assert.ok(!segments.includes('..') && !segments.includes('.') && !segments.includes(''), `${JSON.stringify(input)} → ${JSON.stringify(form)}`);
        assert.ok(!form.startsWith('/') && !form.includes('\\') && !form.includes('\u0000'), `${JSON.stringify(input)} → ${JSON.stringify(form)}`);
      }
      // Differential check against the platform's own join (as Hono does for serve-static).
      assert.ok(posix.join('/root', v.path).startsWith('/root/'));
      assert.equal(posix.normalize(v.path), v.path);
    }),
    { numRuns: 3000, seed: 20260103 },
  );
});

test('property: ordinary relative paths are accepted as given', () => {
  const segment = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.=+ -]{0,20}$/).filter((s) => !/^[. ]+$/.test(s));
  fc.assert(
    fc.property(fc.array(segment, { minLength: 1, maxLength: 6 }), (segs) => {
      const p = segs.join('/');
      assert.equal(normaliseArtifactPath(p), p);
    }),
    { numRuns: 500, seed: 20260104 },
  );
});

async function snapshot(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

function tempTree(t: { after: (fn: () => void) => void }): string {
  const base = mkdtempSync(join(tmpdir(), 'strata-artifact-path-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  return base;
}

test('resolveInside maps checked paths under the real root and refuses every vector with nothing written', async (t) => {
  const base = await realpath(tempTree(t));
  const root = join(base, 'root');
  await mkdir(join(root, 'model'), { recursive: true });
  await writeFile(join(root, 'model', 'MLmodel'), 'flavors: {}');
  await writeFile(join(base, 'secret'), 'outside');
  assert.equal(await resolveInside(root, 'model/MLmodel'), join(root, 'model', 'MLmodel'));
  assert.equal(await resolveInside(root, 'model/new/deeper/file.bin'), join(root, 'model', 'new', 'deeper', 'file.bin'));
  const before = await snapshot(base);
  for (const [input, reason] of REFUSED) {
    await assert.rejects(resolveInside(root, input), (e: unknown) => isStrataError(e) && e.status === 400 && e.details['reason'] === reason);
  }
  assert.deepEqual(await snapshot(base), before, 'nothing was created or removed');
});

test('resolveInside refuses symlinks that lead outside the root, dangling ones, and files used as directories', async (t) => {
  const base = await realpath(tempTree(t));
  const root = join(base, 'root');
  const outside = join(base, 'outside');
  await mkdir(join(root, 'real', 'sub'), { recursive: true });
  await mkdir(outside);
  await writeFile(join(outside, 'passwd'), 'root:x:0:0');
  await writeFile(join(root, 'file.txt'), 'x');
  await symlink(outside, join(root, 'escape')); // dir symlink out (CVE-2023-6977 style)
  await symlink('/', join(root, 'slash'));
  await symlink(join(outside, 'passwd'), join(root, 'passwd-link')); // file symlink out
  await symlink('../..', join(root, 'real', 'up')); // relative symlink out
  await symlink(join(base, 'nowhere'), join(root, 'dangling')); // writing through it would create outside
  await symlink('real/sub', join(root, 'inside')); // stays inside: allowed by default
  await symlink('loop', join(root, 'loop'));

  const escapes = (e: unknown): boolean => isStrataError(e) && e.status === 400 && e.details['reason'] === 'escapes_root';
  for (const p of ['escape/passwd', 'escape', 'slash/etc/passwd', 'passwd-link', 'real/up/outside/passwd', 'dangling', 'dangling/new.txt', 'loop/x', 'file.txt/x']) {
    await assert.rejects(resolveInside(root, p), escapes, p);
  }
  assert.equal(await resolveInside(root, 'inside/new.bin'), join(root, 'real', 'sub', 'new.bin'));
  await assert.rejects(resolveInside(root, 'inside/new.bin', { symlinks: 'refuse' }), escapes);
  // The root itself may be reached through a symlink (STRATA_HOME on another disk).
  await symlink(root, join(base, 'root-link'));
  assert.equal(await resolveInside(join(base, 'root-link'), 'real/sub'), join(root, 'real', 'sub'));
});

test('isInsideDirectory is not fooled by a sibling with the same prefix', () => {
  assert.equal(isInsideDirectory('/srv/root', '/srv/root'), true);
  assert.equal(isInsideDirectory('/srv/root', '/srv/root/a/b'), true);
  assert.equal(isInsideDirectory('/srv/root', '/srv/root-evil/a'), false);
  assert.equal(isInsideDirectory('/srv/root', '/srv'), false);
  assert.equal(isInsideDirectory('/srv/root', '/srv/root/../x'), false);
  assert.equal(isInsideDirectory('/srv/root', '/srv/root/..foo'), true);
});
