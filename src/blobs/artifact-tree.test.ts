// Artifact trees: scope keys keep projects, runs and job attempts apart (no key of one scope is a
// prefix of another's), ids cannot smuggle path syntax, and flat mappings list as directories.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isStrataError, type JobId, type ProjectId } from '../kernel/index.ts';
import { type ArtifactEntry, type ArtifactScope, artifactKey, artifactScopePrefix, digestOf, listArtifactDirectory, normaliseArtifactPath } from './index.ts';

const p = (s: string): ProjectId => s as ProjectId;
const j = (s: string): JobId => s as JobId;

test('scope prefixes are canonical and distinct per project, run and job attempt', () => {
  assert.equal(artifactScopePrefix({ kind: 'project', project: p('prj_a') }), 'projects/prj_a/files/');
  assert.equal(artifactScopePrefix({ kind: 'run', project: p('prj_a'), run: '0123456789abcdef0123456789abcdef' }), 'projects/prj_a/runs/0123456789abcdef0123456789abcdef/');
  assert.equal(artifactScopePrefix({ kind: 'job', project: p('prj_a'), job: j('job_1'), attempt: 2 }), 'projects/prj_a/jobs/job_1/attempts/2/');
  assert.equal(artifactKey({ kind: 'run', project: p('prj_a'), run: 'r1' }, normaliseArtifactPath('model/MLmodel')), 'projects/prj_a/runs/r1/model/MLmodel');
});

test('property: no scope prefix is a prefix of another scope\'s prefix', () => {
  const id = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,6}$/);
  const scope: fc.Arbitrary<ArtifactScope> = fc.oneof(
    fc.record({ kind: fc.constant('project' as const), project: id.map(p) }),
    fc.record({ kind: fc.constant('run' as const), project: id.map(p), run: id }),
    fc.record({ kind: fc.constant('job' as const), project: id.map(p), job: id.map(j), attempt: fc.integer({ min: 1, max: 20 }) }),
  );
  fc.assert(
    fc.property(scope, scope, (a, b) => {
      const pa = artifactScopePrefix(a);
      const pb = artifactScopePrefix(b);
      if (pa === pb) assert.deepEqual(a, b);
      else assert.ok(!pa.startsWith(pb) && !pb.startsWith(pa), `${pa} vs ${pb}`);
    }),
    { numRuns: 2000, seed: 20260106 },
  );
});

test('ids with path syntax and bad attempts are refused', () => {
  const bad: ArtifactScope[] = [
    { kind: 'project', project: p('../other') },
    { kind: 'project', project: p('a/b') },
    { kind: 'project', project: p('') },
    { kind: 'run', project: p('prj_a'), run: '..' },
    { kind: 'run', project: p('prj_a'), run: 'r1/../../prj_b/runs/r2' },
    { kind: 'run', project: p('prj_a'), run: 'r%2f1' },
    { kind: 'job', project: p('prj_a'), job: j('job_1'), attempt: 0 },
    { kind: 'job', project: p('prj_a'), job: j('job_1'), attempt: 1.5 },
    { kind: 'job', project: p('prj_a'), job: j('job 1'), attempt: 1 },
  ];
  for (const s of bad) assert.throws(() => artifactScopePrefix(s), (e: unknown) => isStrataError(e) && e.status === 400, JSON.stringify(s));
});

const entry = (path: string, size = 1): ArtifactEntry => ({ path: normaliseArtifactPath(path), size, digest: digestOf(path) });

test('a flat tree lists as directories, like MLflow artifacts/list', () => {
  const tree = [entry('model/MLmodel', 120), entry('model/data/model.pth', 5000), entry('model/data/extra/x', 3), entry('metrics.json', 40), entry('modelling.txt', 2)];
  assert.deepEqual(
    listArtifactDirectory(tree).map((l) => [l.kind, l.path, l.kind === 'file' ? l.size : null]),
    [
      ['file', 'metrics.json', 40],
      ['directory', 'model', null],
      ['file', 'modelling.txt', 2],
    ],
  );
  assert.deepEqual(
    listArtifactDirectory(tree, normaliseArtifactPath('model')).map((l) => [l.kind, l.path]),
    [
      ['file', 'model/MLmodel'],
      ['directory', 'model/data'],
    ],
  );
  assert.deepEqual(listArtifactDirectory(tree, normaliseArtifactPath('model/data/extra')).map((l) => l.path), ['model/data/extra/x']);
  assert.deepEqual(listArtifactDirectory(tree, normaliseArtifactPath('metrics.json')), [], 'a file lists nothing');
  assert.deepEqual(listArtifactDirectory(tree, normaliseArtifactPath('mod')), [], "'mod' is not a prefix directory of 'model'");
  const listed = listArtifactDirectory(tree, normaliseArtifactPath('model')).find((l) => l.path === 'model/MLmodel');
  assert.equal(listed?.kind === 'file' ? listed.digest : undefined, digestOf('model/MLmodel'));
});
