import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { DirSource } from '../../src/source/dir.js';
import { ContentStore, isLayerType, parseDescriptor, parseIndex, parseManifest } from '../../src/store/containerd-content.js';
import { Findings } from '../../src/store/findings.js';
import { putBlob, sha256 } from '../helpers/containerd.js';

function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'dockscope-content-'));
  process.on('exit', () => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

test('content store: blobs are read bounded and checked against their name', async () => {
  const root = tmp();
  const good = putBlob(root, '{"schemaVersion":2}', 'x');
  const f = new Findings();
  const cs = new ContentStore(new DirSource(root), f, undefined, '../containerd');
  assert.equal(cs.path(good.digest), `io.containerd.content.v1.content/blobs/sha256/${good.digest.slice(7)}`);
  assert.deepEqual(cs.read(good.digest), { bytes: Buffer.from('{"schemaVersion":2}'), verified: true, actual: good.digest });
  assert.equal(cs.stat(good.digest)?.size, 19);
  // Tampered: the bytes under a name are not the bytes that name promises.
  const forged = `sha256:${'e'.repeat(64)}`;
  fs.writeFileSync(path.join(root, cs.path(forged)!), 'tampered');
  const r = cs.read(forged)!;
  assert.equal(r.verified, false);
  assert.equal(r.actual, sha256('tampered'));
  assert.equal(f.list[0]!.code, 'containerd.content.digest-mismatch');
  assert.equal(f.list[0]!.path, `../containerd/io.containerd.content.v1.content/blobs/sha256/${'e'.repeat(64)}`);
  assert.deepEqual(await cs.verifyBlob(good.digest), { actual: good.digest, size: 19, ok: true });
  assert.equal((await cs.verifyBlob(forged))!.ok, false);
  // Absent: no finding (callers decide); hostile digests never become paths.
  const before = f.list.length;
  assert.equal(cs.read(`sha256:${'0'.repeat(64)}`), undefined);
  assert.equal(await cs.verifyBlob(`sha256:${'0'.repeat(64)}`), undefined);
  for (const bad of ['sha256:../../../etc/passwd', 'sha256:ABC', 'md5:00', '', `sha256:${'a'.repeat(63)}/`]) {
    assert.equal(cs.path(bad), undefined, bad);
    assert.equal(cs.read(bad), undefined, bad);
  }
  assert.equal(f.list.length, before);
  // Over the bound: a finding, not a huge read.
  const big = putBlob(root, Buffer.alloc(4096, 0x20), 'x');
  assert.equal(cs.read(big.digest, 100), undefined);
  assert.ok(f.list.some((x) => x.code === 'containerd.content.unreadable'));
  assert.deepEqual(cs.list().sort(), [good.digest, forged, big.digest].sort());
});

test('descriptors, manifests and indexes: hostile JSON is reported and skipped', () => {
  const f = new Findings();
  const d = `sha256:${'1'.repeat(64)}`;
  assert.deepEqual(parseDescriptor({ mediaType: 'm', digest: d, size: 3, platform: { os: 'linux', architecture: 'arm', variant: 'v7' }, annotations: { a: 'b', n: 1 } }), {
    mediaType: 'm',
    digest: d,
    size: 3,
    platform: { os: 'linux', architecture: 'arm', variant: 'v7' },
    annotations: { a: 'b' },
  });
  for (const bad of [null, 'x', { digest: '../x', size: 1 }, { digest: d, size: -1 }, { digest: d, size: 1.5 }, { digest: d, size: 2 ** 60 }, { digest: d }])
    assert.equal(typeof parseDescriptor(bad), 'string', JSON.stringify(bad));
  const m = parseManifest(Buffer.from(JSON.stringify({ config: { digest: d, size: 1 }, layers: [{ digest: d, size: 2, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }, 7, { digest: 'no' }] })), 'p', f)!;
  assert.equal(m.config!.digest, d);
  assert.equal(m.layers.length, 1);
  assert.equal(f.list.filter((x) => x.code === 'containerd.content.bad-descriptor').length, 2);
  assert.equal(parseManifest(Buffer.from('[]'), 'p', f), undefined);
  assert.equal(parseManifest(Buffer.from('{'), 'p', f), undefined);
  assert.ok(parseManifest(Buffer.from('{"layers":[]}'), 'p', f));
  assert.ok(f.list.some((x) => x.code === 'containerd.content.no-config'));
  const many = { manifests: Array.from({ length: 5000 }, () => ({ digest: d, size: 1 })) };
  assert.equal(parseIndex(Buffer.from(JSON.stringify(many)), 'p', f)!.manifests.length, 4096);
  assert.ok(f.list.some((x) => x.code === 'containerd.content.too-many'));
  // __proto__ in annotations stays a plain key.
  const pd = parseDescriptor(JSON.parse(`{"digest":"${d}","size":1,"annotations":{"__proto__":"x"}}`));
  assert.equal(typeof pd === 'object' && Object.getPrototypeOf(pd.annotations), Object.prototype);
  assert.ok(isLayerType('application/vnd.docker.image.rootfs.diff.tar.gzip'));
  assert.ok(!isLayerType('application/vnd.in-toto+json'));
});
