/**
 * verify on real-engine stores: untouched stores are clean, and every planted change is reported
 * with the right file and layer. Variants are built from the fixture archive itself.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { verify, type VerifyReport } from '../../src/analysis/verify.js';
import { buildModel, type Model } from '../../src/model/graph.js';
import { resolveImage } from '../../src/model/resolve.js';
import { openEvidence } from '../../src/source/open.js';
import { xattrReaderAvailable } from '../../src/source/xattr.js';
import { cli } from '../helpers/cli.js';
import { canExtract, listFixtures, type Fixture } from '../helpers/fixtures.js';
import { variant, type Edit, type Header } from '../helpers/variant.js';

const fixtures = listFixtures((n) => n.startsWith('overlay2-'));

async function run(archive: string, refs?: string[]): Promise<{ model: Model; report: VerifyReport }> {
  const ev = await openEvidence(archive);
  const model = buildModel(ev.root);
  const images = refs ? refs.map((r) => resolveImage(model, r)) : [...model.images.values()].filter((i) => i.loadable || i.record.computedId !== i.id);
  return { model, report: await verify(model, images) };
}

for (const f of fixtures) {
  test(`${f.name}: the untouched store verifies clean (exit 0)`, async () => {
    const { report } = await run(f.archive);
    assert.equal(report.status, 'ok', JSON.stringify(report.layers.filter((l) => l.status !== 'ok'), null, 1));
    assert.ok(report.layers.every((l) => l.checks.some((c) => c.check === 'content' && c.status === 'ok')));
    assert.equal(cli(['--root', f.archive, 'verify']).code, 0);
  });
}

describe('planted changes', () => {
  const f: Fixture = fixtures[0]!;
  let base: { cacheID: string; chainID: string; appTop: string; appTopCache: string; appConfig: string };

  test('setup', async () => {
    const { model } = await run(f.archive, ['fx/base:1']);
    const b = resolveImage(model, 'fx/base:1').layers[0]!;
    const app = resolveImage(model, 'fx/app:1');
    const top = app.layers[app.layers.length - 1]!;
    base = { cacheID: b.layer!.record!.cacheID!, chainID: b.chainID, appTop: top.chainID, appTopCache: top.layer!.record!.cacheID!, appConfig: app.id.slice(7) };
  });

  const inBase = (name: string, p: string) => name === `var/lib/docker/overlay2/${base.cacheID}/diff/${p}`;

  async function planted(edit: (name: string, body: Buffer, h: Header) => Edit, extra: { header: Header; body?: Buffer }[] = []) {
    return run(await variant(f.archive, edit, extra));
  }

  // busybox is one inode with ~270 names; the archive holds its bytes under the first name only.
  const isBusybox = (n: string, h: Header) => n.startsWith(`var/lib/docker/overlay2/${base.cacheID}/diff/`) && h.type === 'file' && (h.size ?? 0) > 500_000;
  const rel = (n: string) => n.slice(`var/lib/docker/overlay2/${base.cacheID}/diff/`.length);

  test('a modified binary in the base layer: that file, that layer, every image on it', async () => {
    let victim = '';
    const { report, model } = await planted((n, body, h) => {
      if (!isBusybox(n, h)) return undefined;
      victim = rel(n);
      const b = Buffer.from(body);
      b[1000] ^= 0xff;
      return { body: b };
    });
    const l = report.layers.find((x) => x.chainID === base.chainID)!;
    assert.ok(victim);
    assert.equal(l.status, 'mismatch');
    assert.deepEqual(l.files.map((x) => [x.path, x.status]), [[victim, 'modified']]);
    assert.equal(l.checks.find((c) => c.check === 'content')!.status, 'mismatch');
    assert.ok(report.layers.filter((x) => x.chainID !== base.chainID).every((x) => x.status === 'ok'), 'no other layer is blamed');
    for (const img of model.images.values()) {
      if (!img.loadable) continue;
      const onBase = img.layers.some((x) => x.chainID === base.chainID);
      assert.equal(report.images.find((i) => i.id === img.id)!.status, onBase ? 'mismatch' : 'ok', img.id);
    }
  });

  test('truncated, deleted and planted files are each named', async () => {
    const { report } = await planted(
      (n, body) => (inBase(n, 'etc/passwd') ? { body: body.subarray(0, 10) } : inBase(n, 'etc/group') ? null : undefined),
      [{ header: { name: `var/lib/docker/overlay2/${base.cacheID}/diff/usr/bin/.hidden-implant`, type: 'file', mode: 0o755, size: 4 } as Header, body: Buffer.from('evil') }],
    );
    const l = report.layers.find((x) => x.chainID === base.chainID)!;
    const st = Object.fromEntries(l.files.map((x) => [x.path, x.status]));
    assert.equal(st['etc/passwd'], 'truncated');
    assert.equal(st['etc/group'], 'missing');
    assert.deepEqual(l.extras.map((x) => x.path), ['usr/bin/.hidden-implant']);
    assert.equal(l.checks.find((c) => c.check === 'size')!.status, 'mismatch');
  });

  test('an altered image config no longer hashes to its ID', async () => {
    const { report } = await planted((n, body) =>
      n === `var/lib/docker/image/overlay2/imagedb/content/sha256/${base.appConfig}` ? { body: Buffer.from(body.toString().replace('"echo app"', '"echo pwn"')) } : undefined,
    );
    const img = report.images.find((i) => i.id === `sha256:${base.appConfig}`)!;
    assert.equal(img.status, 'mismatch');
    assert.equal(img.checks.find((c) => c.check === 'config-digest')!.status, 'mismatch');
  });

  test('a rewired layerdb parent breaks the recomputed chainID', async () => {
    const { report } = await planted((n) =>
      n === `var/lib/docker/image/overlay2/layerdb/sha256/${base.appTop.slice(7)}/parent` ? { body: Buffer.from(base.chainID) } : undefined,
    );
    const l = report.layers.find((x) => x.chainID === base.appTop)!;
    assert.equal(l.checks.find((c) => c.check === 'chainid')!.status, 'mismatch');
    assert.equal(report.status, 'mismatch');
  });

  test('a layer without tar-split cannot be checked: exit 5, not 0', async () => {
    const archive = await variant(f.archive, (n) => (n === `var/lib/docker/image/overlay2/layerdb/sha256/${base.appTop.slice(7)}/tar-split.json.gz` ? null : undefined));
    const r = cli(['--root', archive, 'verify', 'fx/app:1']);
    assert.equal(r.code, 5, r.stdout);
    assert.match(r.stdout, /no tar-split/);
    let victim = '';
    const grown = await variant(f.archive, (n, body, h) => (isBusybox(n, h) ? ((victim = rel(n)), { body: Buffer.concat([body, Buffer.from('x')]) }) : undefined));
    const t = cli(['--root', grown, 'verify', 'fx/base:1']);
    assert.equal(t.code, 4);
    assert.ok(t.stdout.includes(`grown ${victim}`), t.stdout);
  });
});

test('directory evidence: an opaque marker stripped from a layer dir is found (xattrs via getfattr)', { skip: xattrReaderAvailable && canExtract() ? false : 'needs root and getfattr' }, async () => {
  const f = fixtures[0]!;
  const top = fs.mkdtempSync(path.join(os.tmpdir(), 'dockscope-opq-'));
  try {
    execFileSync('tar', ['-C', top, '--xattrs', '--xattrs-include=*', '--numeric-owner', '-xzf', f.archive]);
    const root = path.join(top, 'var/lib/docker');
    const clean = await run(root);
    assert.equal(clean.report.status, 'ok');
    const listing = execFileSync('getfattr', ['-R', '-P', '-h', '-m', '^trusted\\.overlay\\.opaque$', '--absolute-names', path.join(root, 'overlay2')], { encoding: 'utf8' });
    // An opaque dir inside an image layer (not a container's upper dir).
    const layerDirs = new Set(clean.report.layers.map((l) => l.cacheID));
    const victim = listing.split('\n').filter((l) => l.startsWith('# file: ')).map((l) => l.slice(8)).find((p) => layerDirs.has(p.split('/overlay2/')[1]!.split('/')[0]))!;
    assert.ok(victim, 'the fixture has an opaque dir in an image layer');
    execFileSync('setfattr', ['-h', '-x', 'trusted.overlay.opaque', victim]);
    const { report } = await run(root);
    const cache = victim.split('/overlay2/')[1]!.split('/')[0];
    const l = report.layers.find((x) => x.cacheID === cache)!;
    assert.equal(l.status, 'mismatch');
    const rel = victim.split('/diff/')[1]!;
    assert.ok(l.files.some((x) => x.path.startsWith(rel) && x.status !== 'ok'), JSON.stringify(l.files));
  } finally {
    fs.rmSync(top, { recursive: true, force: true });
  }
});

test('a parent layer that lost its committed marker is reported', async () => {
  const f = fixtures[0]!;
  const ev = await openEvidence(f.archive);
  const model = buildModel(ev.root);
  const base = resolveImage(model, 'fx/base:1').layers[0]!.layer!;
  const archive = await variant(f.archive, (n) => (n === `var/lib/docker/overlay2/${base.record!.cacheID}/committed` ? null : undefined));
  const { report } = await run(archive, ['fx/base:1']);
  const l = report.layers.find((x) => x.chainID === base.chainID)!;
  assert.equal(l.checks.find((c) => c.check === 'committed')?.status, 'mismatch');
  const clean = await run(f.archive, ['fx/base:1']);
  assert.equal(clean.report.layers[0]!.checks.find((c) => c.check === 'committed')?.status, 'ok');
});
