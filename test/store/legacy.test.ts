import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadAufs, parseAufsLayers } from '../../src/store/aufs.js';
import { loadContainers } from '../../src/store/containers.js';
import { Findings } from '../../src/store/findings.js';
import { loadLegacyGraph, loadLegacyRepositories, loadMigrationMap, parseLegacyRepositories } from '../../src/store/legacy.js';
import { TarSource } from '../../src/source/tar.js';
import { buildTar, tmpFile } from '../helpers/tarbuild.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);

test('repositories-<driver>: bare tags and digests as inner keys become 1.10-style refs', () => {
  const f = new Findings();
  const refs = parseLegacyRepositories(Buffer.from(JSON.stringify({ Repositories: { busybox: { latest: A, ['sha256:' + 'd'.repeat(64)]: A, bad: '../x' } } })), 'r', f);
  assert.deepEqual(refs.map((r) => r.ref), ['busybox:latest', `busybox@sha256:${'d'.repeat(64)}`]);
  assert.equal(f.list.length, 1);
});

test('aufs/layers: one ancestor per line, parent first; junk is a finding', () => {
  const f = new Findings();
  assert.deepEqual(parseAufsLayers(Buffer.from(`${A}-init\n${B}\n\n../../etc\n`), 'l', f), [`${A}-init`, B]);
  assert.equal(f.list[0]!.code, 'aufs.bad-parent');
});

test('a pre-1.10 tree: graph entries, tags, aufs chains, v1 containers, migration map', async () => {
  const file = tmpFile(
    'legacy.tar',
    await buildTar([
      { name: 'docker/containers/', type: 'directory' },
      { name: 'docker/repositories-aufs', body: JSON.stringify({ Repositories: { busybox: { latest: B } } }) },
      { name: `docker/graph/${A}/json`, body: JSON.stringify({ id: A, created: '2015-01-01T00:00:00Z' }) },
      { name: `docker/graph/${A}/layersize`, body: '1154361' },
      { name: `docker/graph/${A}/checksum`, body: 'sha256:' + 'e'.repeat(64) },
      { name: `docker/graph/${A}/tar-data.json.gz`, body: 'x' },
      { name: `docker/graph/${B}/json`, body: JSON.stringify({ id: B, parent: A }) },
      { name: `docker/graph/${B}/layersize`, body: 'nope' },
      { name: 'docker/graph/_tmp/', type: 'directory' },
      { name: `docker/aufs/layers/${A}`, body: '' },
      { name: `docker/aufs/layers/${B}`, body: `${A}\n` },
      { name: `docker/aufs/diff/${A}/`, type: 'directory' },
      { name: `docker/aufs/diff/${C}/`, type: 'directory' },
      { name: `docker/containers/${C}/config.json`, body: JSON.stringify({ ID: C, Name: '/old', Image: B, Driver: 'aufs', State: { Running: true } }) },
      { name: 'docker/.migration-v1-images.json', body: JSON.stringify({ [B]: 'sha256:' + 'f'.repeat(64) }) },
    ]),
  );
  const src = (await TarSource.open(file)).sub('docker');
  const f = new Findings();
  const g = loadLegacyGraph(src, f);
  assert.deepEqual([...g.keys()], [A, B]);
  assert.equal(g.get(B)!.parent, A);
  assert.equal(g.get(A)!.size, 1154361);
  assert.equal(g.get(A)!.hasTarData, true);
  assert.equal(g.get(B)!.size, undefined);
  assert.ok(f.list.some((x) => x.code === 'legacy.bad-size'));
  assert.deepEqual(loadLegacyRepositories(src, f)[0]!.refs.map((r) => r.ref), ['busybox:latest']);
  const aufs = loadAufs(src, f);
  assert.deepEqual(aufs.get(B)!.parents, [A]);
  assert.ok(f.list.some((x) => x.code === 'aufs.no-layers-entry' && x.path === `aufs/diff/${C}`));
  const [c] = loadContainers(src, f);
  assert.equal(c!.legacyConfig, true);
  assert.equal(c!.image, B);
  assert.equal(c!.state.Running, true);
  assert.equal(loadMigrationMap(src, f).get(B), 'sha256:' + 'f'.repeat(64));
});
