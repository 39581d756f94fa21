/**
 * `dockscope diff` against the engine's own answers, for EVERY container of every real-engine
 * overlay2 fixture, read from the archive in place and from an extracted copy: the set of
 * `GET /containers/<id>/changes` entries (`oracles/container-changes/<name>.json`, JSON null =
 * none; order unspecified, so compared as sets) and the `docker diff` CLI text. The containerd
 * store fixture goes through the HOOK(containerd) stack. Then the CLI: plain, --json, --long
 * flags and hashes.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { containerDiff, longChanges, type Change } from '../../src/analysis/diff.js';
import { buildModel, loadModel, type Model } from '../../src/model/graph.js';
import { resolveContainer } from '../../src/model/resolve.js';
import { openEvidence } from '../../src/source/open.js';
import { cliBytes } from '../helpers/cli.js';
import { canExtract, extractFixture, HOLDOUT, listFixtures, oracle, oracleFiles, type Fixture } from '../helpers/fixtures.js';

const overlay2 = listFixtures((n) => n.startsWith('overlay2-'));
const containerd = listFixtures((n) => n.startsWith('containerd-'));

const asSet = (cs: { Path: string; Kind: number }[] | null) => new Set((cs ?? []).map((c) => `${c.Kind} ${c.Path}`));
const sorted = (s: Set<string>) => [...s].sort();

function checkAll(f: Fixture, load: () => Promise<Model>) {
  let model: Model;
  const names = oracle<{ containers: Record<string, string> }>(f, 'names.json').containers;
  before(async () => {
    model = await load();
  });

  test('every container the engine listed is in the model, and each has a changes oracle', () => {
    assert.ok(Object.keys(names).length >= 10);
    for (const [name, id] of Object.entries(names)) {
      assert.ok(model.containers.has(id), name);
      assert.ok(oracleFiles(f, 'container-changes').includes(`${name}.json`), name);
    }
  });

  for (const [name, id] of Object.entries(oracle<{ containers: Record<string, string> }>(f, 'names.json').containers)) {
    test(`${name}: the same changes as GET /containers/${id.slice(0, 12)}/changes and docker diff`, () => {
      const d = containerDiff(model, model.containers.get(id)!);
      assert.deepEqual(d.problems, []);
      const want = oracle<Change[] | null>(f, `container-changes/${name}.json`);
      assert.deepEqual(sorted(asSet(d.changes)), sorted(asSet(want)));
      assert.equal(d.changes.length, (want ?? []).length, 'no duplicates');
      const text = fs.readFileSync(path.join(f.dir, 'oracles', 'docker-diff', `${name}.txt`), 'utf8');
      const lines = text.split('\n').filter(Boolean).sort();
      assert.deepEqual(d.changes.map((c) => `${'CAD'[c.Kind]} ${c.Path}`).sort(), lines);
    });
  }
}

for (const f of overlay2) {
  describe(`${f.name}: archive read in place`, () => checkAll(f, async () => buildModel((await openEvidence(f.archive)).root)));
  describe(`${f.name}: extracted copy`, { skip: canExtract() ? false : 'extracting devices and xattrs needs root' }, () =>
    checkAll(f, async () => buildModel((await openEvidence(extractFixture(f))).root)),
  );
}

for (const f of containerd) {
  // HOOK(containerd): snapshot stacks from the model's `snapshots`; the engine's Changes is the same naive differ.
  describe(`${f.name}: containerd store (archive)`, () => checkAll(f, async () => loadModel(await openEvidence(f.archive))));
}

test('there are overlay2 fixtures to check', { skip: HOLDOUT && 'DOCKSCOPE_FIXTURES' }, () => {
  assert.ok(overlay2.length >= 2);
});

describe('--long on the `changes` container', () => {
  const f = overlay2[0]!;
  let model: Model;
  before(async () => {
    model = buildModel((await openEvidence(f.archive)).root);
  });

  test('flags what an analyst looks for, hashes what was added or changed', async () => {
    const d = containerDiff(model, resolveContainer(model, 'changes'));
    const rows = await longChanges(d);
    const by = new Map(rows.map((r) => [r.Path, r]));
    const flags = (p: string) => by.get(p)!.flags;
    assert.ok(flags('/usr/local/sbin/suidtool').includes('setuid'));
    assert.ok(flags('/usr/local/sbin/suidtool').includes('executable'));
    assert.ok(flags('/usr/local/bin/xmrig').includes('executable'));
    assert.ok(flags('/root/.ssh/authorized_keys').includes('persistence:ssh-key'));
    assert.ok(flags('/root/.ssh').includes('hidden'));
    assert.ok(flags('/etc/cron.d/x').includes('persistence:cron'));
    assert.ok(flags('/etc/cron.d').includes('persistence:cron'));
    assert.ok(flags('/etc/passwd').includes('accounts'));
    assert.deepEqual(flags('/data/a3'), []);
    assert.equal(by.get('/usr/local/sbin/suidtool')!.mode, 0o4755);
    assert.equal(by.get('/etc/group')!.mode, 0o640, 'chmod-only change');
    assert.equal(by.get('/passwd-link')!.linkTarget, '/etc/passwd');
    assert.equal(by.get('/opt/old')!.kind, 'D');
    assert.equal(by.get('/opt/old')!.sha256, undefined);
    // The hash is of the bytes the merged view serves: the container's /etc/passwd with the backdoor line.
    const passwd = d.view.readFile(d.view.lookup('/etc/passwd')!, 1 << 20);
    assert.match(passwd.toString(), /^backdoor:x:0:0:/m);
    assert.equal(by.get('/etc/passwd')!.sha256, createHash('sha256').update(passwd).digest('hex'));
    assert.equal(by.get('/etc/passwd')!.layer, 'upper');
    for (const r of rows) if (r.kind !== 'D' && r.type === 'file') assert.match(r.sha256 ?? '', /^[0-9a-f]{64}$/, r.Path);
  });

  test('the CLI: docker diff lines, the API shape with --json, and --long', () => {
    const r = cliBytes(['--root', f.archive, 'diff', 'changes']);
    assert.equal(r.code, 0, r.stderr);
    const want = fs.readFileSync(path.join(f.dir, 'oracles', 'docker-diff', 'changes.txt'), 'utf8').split('\n').filter(Boolean).sort();
    assert.deepEqual(r.stdout.toString().split('\n').filter(Boolean).sort(), want);
    const j = cliBytes(['--root', f.archive, 'diff', 'committer', '--json']);
    assert.equal(j.code, 0, j.stderr);
    assert.deepEqual(sorted(asSet(JSON.parse(j.stdout.toString()))), sorted(asSet(oracle(f, 'container-changes/committer.json'))));
    const none = cliBytes(['--root', f.archive, 'diff', 'created', '--json']);
    assert.deepEqual(JSON.parse(none.stdout.toString()), []);
    const long = cliBytes(['--root', f.archive, 'diff', 'changes', '--long']);
    assert.equal(long.code, 0, long.stderr);
    assert.match(long.stdout.toString(), /\/usr\/local\/sbin\/suidtool\s+.*setuid/);
    const lj = JSON.parse(cliBytes(['--root', f.archive, 'diff', 'changes', '--long', '--json']).stdout.toString());
    assert.equal(lj.Changes.length, 35);
    const miss = cliBytes(['--root', f.archive, 'diff', 'no-such-container']);
    assert.equal(miss.code, 1);
  });
});
