/**
 * verify on the containerd image store: the untouched fixture verifies clean, and each planted
 * change (a flipped byte in a snapshot file, a deleted snapshot file, a planted extra file, a
 * corrupted or garbage-collected layer blob) is reported with the right file or blob and layer.
 * Variants are built from the fixture archive itself.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
import { verifyContainerdLayer } from '../../src/analysis/verify-containerd.js';
import { verify, type VerifyReport } from '../../src/analysis/verify.js';
import { loadModel, type Model } from '../../src/model/graph.js';
import { resolveImage } from '../../src/model/resolve.js';
import { openEvidence } from '../../src/source/open.js';
import { xattrReaderAvailable } from '../../src/source/xattr.js';
import { Findings } from '../../src/store/findings.js';
import { cli } from '../helpers/cli.js';
import { canExtract, listFixtures, type Fixture } from '../helpers/fixtures.js';
import { BAD_BASE256, END, file, pad, paxHeader, paxRecord, ustar } from '../helpers/rawtar.js';
import { variant, type Edit, type Header } from '../helpers/variant.js';

const fixtures = listFixtures((n) => n.startsWith('containerd-'));
const CROOT = 'var/lib/containerd';
const SNAPS = `${CROOT}/io.containerd.snapshotter.v1.overlayfs/snapshots`;
const BLOBS = `${CROOT}/io.containerd.content.v1.content/blobs/sha256`;

async function run(archive: string, refs?: string[]): Promise<{ model: Model; report: VerifyReport }> {
  const ev = await openEvidence(archive);
  const model = await loadModel(ev);
  const images = refs ? refs.map((r) => resolveImage(model, r)) : [...model.images.values()].filter((i) => i.loadable || i.record.computedId !== i.id);
  return { model, report: await verify(model, images) };
}

for (const f of fixtures) {
  test(`${f.name}: the untouched containerd store verifies clean (exit 0)`, async () => {
    const { report, model } = await run(f.archive);
    assert.ok(report.layers.length > 0);
    assert.equal(report.status, 'ok', JSON.stringify(report.layers.filter((l) => l.status !== 'ok'), null, 1));
    for (const l of report.layers) {
      assert.equal(l.store, 'containerd');
      for (const c of ['snapshot', 'blob', 'uncompressed', 'content']) assert.equal(l.checks.find((x) => x.check === c)?.status, 'ok', `${l.chainID} ${c}`);
      assert.equal(l.computedDiffID, l.diffID);
    }
    for (const i of report.images) assert.ok(i.checks.some((c) => c.check === 'config-digest' && c.status === 'ok'), i.id);
    assert.equal(report.images.length, [...model.images.values()].filter((i) => i.loadable).length);
    const r = cli(['--root', f.archive, 'verify']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /UNCOMPRESSED/);
  });
}

describe('containerd store: planted changes', { skip: fixtures.length ? false : 'no containerd fixture' }, () => {
  const f: Fixture = fixtures[0]!;
  let base: { chainID: string; dir: string; tmpTop: string; tmpBlob: string; affected: (r: VerifyReport, chainID: string) => string[] };

  test('setup', async () => {
    const { model } = await run(f.archive, ['fx/base:1']);
    const b = resolveImage(model, 'fx/base:1').layers[0]!;
    const tmp = resolveImage(model, 'fx/tmp:1');
    const top = tmp.layers[tmp.layers.length - 1]!;
    base = {
      chainID: b.chainID,
      dir: `${SNAPS}/${b.layer!.snapshot!.id}/fs`,
      tmpTop: top.chainID,
      tmpBlob: top.blob!.digest,
      affected: (r, chainID) => r.images.filter((i) => i.layers.includes(chainID)).map((i) => i.id),
    };
    assert.ok(b.layer?.snapshot?.id !== undefined);
  });

  const inBase = (n: string, p: string) => n === `${base.dir}/${p}`;
  const rel = (n: string) => n.slice(base.dir.length + 1);
  // busybox: one inode with ~270 names; the archive holds its bytes under the first name only.
  const isBusybox = (n: string, h: Header) => n.startsWith(`${base.dir}/`) && h.type === 'file' && (h.size ?? 0) > 500_000;

  async function planted(edit: (name: string, body: Buffer, h: Header) => Edit, extra: { header: Header; body?: Buffer }[] = []) {
    return run(await variant(f.archive, edit, extra));
  }

  test('a flipped byte in a snapshot file: that file, that layer, every image on it', async () => {
    let victim = '';
    const { report } = await planted((n, body, h) => {
      if (!isBusybox(n, h)) return undefined;
      victim = rel(n);
      const b = Buffer.from(body);
      b[1000] ^= 0xff;
      return { body: b };
    });
    assert.ok(victim);
    const l = report.layers.find((x) => x.chainID === base.chainID)!;
    assert.equal(l.status, 'mismatch');
    assert.deepEqual(l.files.map((x) => [x.path, x.status]), [[victim, 'modified']]);
    assert.equal(l.checks.find((c) => c.check === 'content')!.status, 'mismatch');
    assert.equal(l.checks.find((c) => c.check === 'blob')!.status, 'ok', 'the blob itself is intact');
    assert.equal(l.checks.find((c) => c.check === 'uncompressed')!.status, 'ok');
    assert.ok(report.layers.filter((x) => x.chainID !== base.chainID).every((x) => x.status === 'ok'), 'no other layer is blamed');
    const onBase = new Set(base.affected(report, base.chainID));
    for (const i of report.images) assert.equal(i.status, onBase.has(i.id) ? 'mismatch' : 'ok', i.id);
  });

  test('a deleted, a truncated and a planted file are each named', async () => {
    const { report } = await planted(
      (n, body) => (inBase(n, 'etc/passwd') ? { body: body.subarray(0, 10) } : inBase(n, 'etc/group') ? null : undefined),
      [{ header: { name: `${base.dir}/usr/bin/.hidden-implant`, type: 'file', mode: 0o755, size: 4 } as Header, body: Buffer.from('evil') }],
    );
    const l = report.layers.find((x) => x.chainID === base.chainID)!;
    const st = Object.fromEntries(l.files.map((x) => [x.path, x.status]));
    assert.equal(st['etc/passwd'], 'truncated');
    assert.equal(st['etc/group'], 'missing');
    assert.deepEqual(l.extras.map((x) => x.path), ['usr/bin/.hidden-implant']);
    assert.equal(l.status, 'mismatch');
    assert.ok(report.layers.filter((x) => x.chainID !== base.chainID).every((x) => x.status === 'ok'));
    const r = cli(['--root', await variant(f.archive, (n) => (inBase(n, 'etc/group') ? null : undefined)), 'verify', 'fx/base:1']);
    assert.equal(r.code, 4);
    assert.match(r.stdout, /missing etc\/group/);
  });

  test('a removed whiteout in a snapshot is reported as the missing deletion', async () => {
    // fx/app:1's first RUN deletes /etc/motd: a char 0:0 device in that layer's snapshot.
    const ev = await openEvidence(f.archive);
    const model = await loadModel(ev);
    const app = resolveImage(model, 'fx/app:1');
    const layer = app.layers.find((l) => l.layer?.snapshot?.id !== undefined && l.index > 0 && model.containerdStores[0]!.src.lstat(`io.containerd.snapshotter.v1.overlayfs/snapshots/${l.layer.snapshot.id}/fs/etc/motd`)?.type === 'char')!;
    assert.ok(layer, 'the fixture has the /etc/motd whiteout');
    const dir = `${SNAPS}/${layer.layer!.snapshot!.id}/fs`;
    const { report } = await planted((n) => (n === `${dir}/etc/motd` ? null : undefined));
    const l = report.layers.find((x) => x.chainID === layer.chainID)!;
    assert.deepEqual(l.files.map((x) => [x.path, x.status]), [['etc/motd', 'missing']]);
  });

  test('a corrupted layer blob: that blob, that layer; the snapshot is not compared with it', async () => {
    const { report } = await planted((n, body) => {
      if (n !== `${BLOBS}/${base.tmpBlob.slice(7)}`) return undefined;
      const b = Buffer.from(body);
      b[b.length - 10] ^= 0x01;
      return { body: b };
    });
    const l = report.layers.find((x) => x.chainID === base.tmpTop)!;
    assert.equal(l.status, 'mismatch');
    const blob = l.checks.find((c) => c.check === 'blob')!;
    assert.equal(blob.status, 'mismatch');
    assert.ok(blob.detail.includes(base.tmpBlob), blob.detail);
    assert.equal(l.checks.find((c) => c.check === 'content')!.status, 'unchecked');
    assert.ok(report.layers.filter((x) => x.chainID !== base.tmpTop).every((x) => x.status === 'ok'));
    for (const i of report.images) assert.equal(i.status, i.layers.includes(base.tmpTop) ? 'mismatch' : 'ok', i.id);
  });

  test('a layer blob that is gone leaves the layer unchecked, with the reason (exit 5)', async () => {
    const archive = await variant(f.archive, (n) => (n === `${BLOBS}/${base.tmpBlob.slice(7)}` ? null : undefined));
    const { report } = await run(archive, ['fx/tmp:1']);
    const l = report.layers.find((x) => x.chainID === base.tmpTop)!;
    assert.equal(l.status, 'unchecked');
    assert.match(l.checks.find((c) => c.check === 'blob')!.detail, /blob file is missing|not in the content store/);
    assert.equal(l.checks.find((c) => c.check === 'snapshot')!.status, 'ok');
    const r = cli(['--root', archive, 'verify', 'fx/tmp:1']);
    assert.equal(r.code, 5, r.stdout);
  });

  // A layer blob is hostile input like any other: a crafted tar inside an intact blob (it hashes to
  // its own digest) must be read to its end or refused as not a tar, never hang or be misparsed.
  async function verifyCraftedBlob(tar: Buffer) {
    const gz = zlib.gzipSync(tar);
    const hex = createHash('sha256').update(gz).digest('hex');
    const archive = await variant(f.archive, () => undefined, [{ header: { name: `${BLOBS}/${hex}`, type: 'file', mode: 0o644, size: gz.length } as Header, body: gz }]);
    const ev = await openEvidence(archive);
    const model = await loadModel(ev);
    const layer = resolveImage(model, 'fx/base:1').layers[0]!;
    const use = { chainID: layer.chainID, diffID: `sha256:${createHash('sha256').update(tar).digest('hex')}`, blob: { digest: `sha256:${hex}`, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', size: gz.length, present: true } };
    let timer: NodeJS.Timeout | undefined;
    const hang = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('verify hung on a crafted layer tar')), 20_000)));
    try {
      return await Promise.race([verifyContainerdLayer(model, model.containerdStores[0]!, layer.layer, use, new Findings(), {}), hang]);
    } finally {
      clearTimeout(timer);
    }
  }

  test('a crafted layer tar: a directory with a data size (header or pax) reads no data; the next entry is still read', async () => {
    const tar = Buffer.concat([ustar('zz-dir/', '5', 700), file('zz-dir/a', 'x'), paxHeader(paxRecord('size', '900')), ustar('zz-dir2/', '5', 0), file('zz-dir/b', 'y'), END]);
    const v = await verifyCraftedBlob(tar);
    assert.equal(v.checks.find((c) => c.check === 'uncompressed')!.status, 'ok', JSON.stringify(v.checks));
    assert.deepEqual(v.files.map((x) => [x.path, x.status]), [['zz-dir', 'missing'], ['zz-dir/a', 'missing'], ['zz-dir2', 'missing'], ['zz-dir/b', 'missing']]);
  });

  test('a crafted layer tar with an unreadable size field is reported as not a tar', async () => {
    const tar = Buffer.concat([file('zz-a', 'first'), ustar('zz-b', '0', 0, { sizeField: BAD_BASE256 }), file('zz-c', pad(Buffer.from('never'))), END]);
    const v = await verifyCraftedBlob(tar);
    const u = v.checks.find((c) => c.check === 'uncompressed')!;
    assert.equal(u.status, 'mismatch');
    assert.match(u.detail, /does not decompress to a tar: .*unreadable size field/);
    assert.equal(v.checks.find((c) => c.check === 'content')!.status, 'unchecked');
  });

  test('an altered config no longer hashes to its digest', async () => {
    const ev = await openEvidence(f.archive);
    const model = await loadModel(ev);
    const app = resolveImage(model, 'fx/app:1');
    const cfg = app.containerd!.inspectManifest!.configDigest!;
    const { report } = await planted((n, body) => (n === `${BLOBS}/${cfg.slice(7)}` ? { body: Buffer.from(body.toString().replace('echo app', 'echo pwn')) } : undefined));
    const img = report.images.find((i) => i.id === app.id)!;
    assert.equal(img.status, 'mismatch');
    assert.equal(img.checks.find((c) => c.check === 'config-digest')!.status, 'mismatch');
  });
});

test('directory evidence: a snapshot dir newly marked opaque and a hard link broken into a copy are found', { skip: xattrReaderAvailable && canExtract() && fixtures.length ? false : 'needs root, getfattr and a containerd fixture' }, async () => {
  const f = fixtures[0]!;
  const top = fs.mkdtempSync(path.join(os.tmpdir(), 'dockscope-cdv-'));
  try {
    execFileSync('tar', ['-C', top, '--xattrs', '--xattrs-include=*', '--numeric-owner', '-xzf', f.archive]);
    const clean = await run(top, ['fx/base:1']);
    assert.equal(clean.report.status, 'ok', JSON.stringify(clean.report.layers, null, 1));
    const l0 = resolveImage(clean.model, 'fx/base:1').layers[0]!;
    const dir = path.join(top, SNAPS, String(l0.layer!.snapshot!.id), 'fs');
    execFileSync('setfattr', ['-h', '-n', 'trusted.overlay.opaque', '-v', 'y', path.join(dir, 'etc')]);
    const ls = path.join(dir, 'bin/ls');
    const bytes = fs.readFileSync(ls);
    fs.rmSync(ls);
    fs.writeFileSync(ls, bytes, { mode: 0o755 });
    const { report } = await run(top, ['fx/base:1']);
    const l = report.layers.find((x) => x.chainID === l0.chainID)!;
    assert.equal(l.status, 'mismatch');
    assert.deepEqual(l.files.map((x) => [x.path, x.status]), [['bin/ls', 'replaced']]);
    assert.deepEqual(l.extras.map((x) => [x.path, x.tarName]), [['etc', 'etc/.wh..wh..opq']]);
  } finally {
    fs.rmSync(top, { recursive: true, force: true });
  }
});
