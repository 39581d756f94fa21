/**
 * The benchmark's synthetic stores against the real engine: dockscope must see no difference in
 * kind between a generated data root and the real-engine fixture `overlay2-20.10` — no findings,
 * every image restorable, every layer's driver dir and short link present, the same kinds of
 * files in the same places — and every generated layer must reassemble from its tar-split to its
 * diffID (checked with dockscope's reassembler and, when installed, Go's own `tar-split asm`).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateStore, goTime, isCurrent, Rng, SPECS, tarHeader, type StoreManifest, type StoreSpec } from '../../bench/generate.js';
import { hashLayer, layerFilesFromSource, walkLayerTree } from '../../src/analysis/reassemble.js';
import { chainIDs } from '../../src/model/chainid.js';
import { buildModel, type Model } from '../../src/model/graph.js';
import { openEvidence } from '../../src/source/open.js';
import type { Source } from '../../src/source/types.js';
import { openBolt } from '../../src/store/bbolt.js';
import { Findings } from '../../src/store/findings.js';
import { openTarSplit } from '../../src/store/tarsplit.js';
import { canExtract, extractFixture, listFixtures, REPO } from '../helpers/fixtures.js';

const OUT = fs.mkdtempSync(path.join(os.tmpdir(), 'dockscope-bench-test-'));
after(() => fs.rmSync(OUT, { recursive: true, force: true }));

const REAL = listFixtures((n) => n === 'overlay2-20.10')[0];

/**
 * What the generator does not simulate, by design, relative to the 20.10 fixture: the `local` log
 * driver's files and rotated json logs (log formats have their own fixtures and tests).
 */
const NOT_SIMULATED = [/^containers\/<id>\/local-logs/, /^containers\/<id>\/<id>-json\.log\.\d/];

/**
 * Every kind of object in the store parts the generator writes, as "normalised path  type":
 * 64-hex IDs become <id>, short links <link>, and everything inside a layer's diff/ is reduced
 * to the set of object types found there.
 */
function kinds(src: Source): Set<string> {
  const out = new Set<string>();
  const norm = (p: string) => p.replace(/[0-9a-f]{64}/g, '<id>').replace(/^overlay2\/l\/[A-Z2-7]{26}$/, 'overlay2/l/<link>');
  const walk = (dir: string, depth: number): void => {
    for (const name of src.readdir(dir) ?? []) {
      const p = `${dir}/${name}`;
      const st = src.lstat(p)!;
      const diff = /^(overlay2\/[^/]+\/diff)\//.exec(p);
      if (diff) out.add(`${norm(diff[1]!)}/** ${st.type}`);
      else out.add(`${norm(p)} ${st.type}`);
      if (st.type === 'dir' && depth < 40) walk(p, depth + 1);
    }
  };
  for (const top of ['image/overlay2', 'overlay2', 'containers']) walk(top, 0);
  return out;
}

function problems(model: Model) {
  return model.findings.list.filter((f) => f.severity !== 'info');
}

function codes(model: Model): string[] {
  return [...new Set(model.findings.list.map((f) => f.code))].sort();
}

/** The model's view of the store is complete: everything restorable, resolved and linked. */
function checkModel(model: Model, m: StoreManifest): void {
  assert.deepEqual(problems(model), []);
  assert.equal(model.images.size, m.counts.images);
  assert.equal(model.layers.size, m.counts.layers);
  assert.equal(model.containers.size, m.counts.containers);
  for (const img of model.images.values()) {
    assert.ok(img.loadable, `${img.id}: ${img.dropReason}`);
    assert.deepEqual(
      img.layers.map((l) => l.chainID),
      chainIDs(img.config!.diffIDs),
    );
    for (const l of img.layers) assert.ok(l.layer && l.diffMatches && l.parentMatches, `${img.id} layer ${l.index}`);
  }
  for (const layer of model.layers.values()) {
    assert.ok(layer.dir?.hasDiff, `${layer.chainID}: driver dir`);
    assert.ok(layer.shortLink, `${layer.chainID}: short link`);
    assert.equal(layer.shortLink.id, layer.record!.cacheID);
    assert.ok(layer.record!.hasTarSplit);
    // `lower` names the parent's link first, and the layer below the parent after it.
    const parent = layer.record!.parent ? model.layers.get(layer.record!.parent) : undefined;
    if (parent) {
      assert.equal(layer.dir.lower?.[0], `l/${parent.dir!.link}`);
      assert.deepEqual(layer.dir.lower!.slice(1), parent.dir!.lower ?? []);
      assert.ok(parent.dir!.committed, `${parent.chainID} has a child, so it is committed`);
    } else assert.equal(layer.dir.lower, undefined);
  }
  let running = 0;
  for (const c of model.containers.values()) {
    assert.ok(c.image?.loadable, `${c.id}: image`);
    assert.ok(c.rw?.hasDiff && c.init?.hasDiff, `${c.id}: rw and init dirs`);
    assert.equal(c.init.id, `${c.rw.id}-init`);
    assert.equal(c.parentLayer?.chainID, c.image.topChainID);
    assert.equal(c.init.lower?.[0], `l/${c.parentLayer!.dir!.link}`);
    assert.equal(c.rw.lower?.[0], `l/${c.init.link}`);
    assert.ok(c.init.committed && c.parentLayer!.dir!.committed);
    assert.equal(c.rw.hasMerged, c.record.state.Running);
    if (c.record.state.Running) running++;
  }
  assert.equal(running, m.counts.running);
}

/** Reassembles every layer from its tar-split and diff/ and checks the diffID and the tree. */
async function checkLayers(model: Model, src: Source): Promise<number> {
  let n = 0;
  for (const layer of model.layers.values()) {
    const rec = layer.record!;
    const dir = `image/overlay2/layerdb/sha256/${rec.chainID.slice(7)}`;
    const files = src.sub(`overlay2/${rec.cacheID}/diff`);
    const findings = new Findings();
    const h = await hashLayer(openTarSplit(src, `${dir}/tar-split.json.gz`, findings), layerFilesFromSource(files), {
      findings,
      whiteouts: 'overlay',
      tree: walkLayerTree(files),
      expectedDiffID: rec.diffID,
    });
    assert.equal(h.diffID, rec.diffID, `${rec.chainID}: ${JSON.stringify(h.files.slice(0, 3))}`);
    assert.ok(h.matches);
    assert.deepEqual(findings.list.filter((f) => f.severity !== 'info'), [], rec.chainID);
    assert.equal(h.extrasTotal, 0, `${rec.chainID}: files the tar-split does not account for`);
    assert.equal(h.counts.ok, h.checked);
    n++;
  }
  return n;
}

describe('benchmark store generator', () => {
  let m: StoreManifest;
  let storeDir: string;

  before(() => {
    m = generateStore(SPECS.small!, OUT);
    storeDir = path.join(OUT, 'small');
  });

  test('writes the spec it was asked for, roughly', () => {
    assert.ok(m.counts.images >= 8 && m.counts.images <= 16, `${m.counts.images} images`);
    assert.ok(m.counts.layers >= 20 && m.counts.layers <= 45, `${m.counts.layers} layers`);
    assert.equal(m.counts.containers, 8);
    assert.equal(m.counts.running, 2);
    for (const f of [m.tar, m.tgz]) assert.ok(fs.statSync(path.join(storeDir, f)).size > 0);
  });

  test('the directory form: no findings, all restorable, every layer linked', async () => {
    const ev = await openEvidence(path.join(storeDir, m.dir));
    assert.equal(ev.rootPath, 'var/lib/docker');
    checkModel(buildModel(ev.root), m);
  });

  test('the .tar.gz form reads the same', async () => {
    const ev = await openEvidence(path.join(storeDir, m.tgz));
    assert.deepEqual(ev.problems, []);
    const model = buildModel(ev.root);
    checkModel(model, m);
    const dir = buildModel((await openEvidence(path.join(storeDir, m.dataRoot))).root);
    assert.deepEqual([...model.images.keys()].sort(), [...dir.images.keys()].sort());
    assert.deepEqual([...model.containers.keys()].sort(), [...dir.containers.keys()].sort());
  });

  test('every layer reassembles from its tar-split to its diffID (directory and archive)', async () => {
    const dir = await openEvidence(path.join(storeDir, m.dataRoot));
    assert.equal(await checkLayers(buildModel(dir.root), dir.root), m.counts.layers);
    const tar = await openEvidence(path.join(storeDir, m.tar));
    assert.equal(await checkLayers(buildModel(tar.root), tar.root), m.counts.layers);
  });

  test("Go's own tar-split asm reassembles every layer to its diffID", (t) => {
    if (spawnSync('tar-split', ['--version']).error) return t.skip('tar-split (Debian package tar-split) not installed');
    const root = path.join(storeDir, m.dataRoot);
    const ldb = path.join(root, 'image/overlay2/layerdb/sha256');
    for (const chain of fs.readdirSync(ldb)) {
      const cache = fs.readFileSync(path.join(ldb, chain, 'cache-id'), 'utf8');
      const tar = execFileSync('tar-split', ['asm', '--input', path.join(ldb, chain, 'tar-split.json.gz'), '--path', path.join(root, 'overlay2', cache, 'diff')], {
        maxBuffer: 1 << 30,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      assert.equal('sha256:' + createHash('sha256').update(tar).digest('hex'), fs.readFileSync(path.join(ldb, chain, 'diff'), 'utf8'), chain);
    }
  });

  test('has whiteouts (char 0:0) and an opaque dir when run as root', async (t) => {
    if (!m.privileged) return t.skip('needs root: mknod and trusted.* xattrs');
    const ev = await openEvidence(path.join(storeDir, m.tar));
    const k = kinds(ev.root);
    assert.ok(k.has('overlay2/<id>/diff/** char'));
    let opaque = 0;
    for (const layer of buildModel(ev.root).layers.values()) {
      for (const e of walkLayerTree(ev.root.sub(`overlay2/${layer.record!.cacheID}/diff`))) if (e.opaque) opaque++;
    }
    assert.ok(opaque >= 1, 'an opaque dir survives packing (PAX xattr)');
  });

  test('dockscope verify (content re-hashed) and orphans find nothing wrong, in both forms', (t) => {
    const bin = path.join(REPO, 'bin/dockscope.js');
    const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { maxBuffer: 1 << 28, env: { ...process.env, NO_COLOR: '1' } });
    if (cli('verify', '--help').status !== 0 || cli('orphans', '--help').status !== 0) return t.skip('verify/orphans not in this build');
    for (const ev of [path.join(storeDir, m.dataRoot), path.join(storeDir, m.tgz)]) {
      const v = cli('--root', ev, 'verify', '--json');
      assert.equal(v.status, 0, `verify ${ev}: ${v.stderr.toString()}`);
      assert.equal(JSON.parse(v.stdout.toString()).status, 'ok');
      const o = cli('--root', ev, 'orphans', '--json');
      assert.equal(o.status, 0, `orphans ${ev}: ${o.stderr.toString()}`);
      assert.deepEqual(JSON.parse(o.stdout.toString()), []);
    }
  });

  test('volumes/metadata.db is a bbolt file with the volumes bucket', () => {
    const { db, findings } = openBolt(fs.readFileSync(path.join(storeDir, m.dataRoot, 'volumes/metadata.db')));
    const entries = [...db!.root().bucket('volumes')!.entries()];
    assert.deepEqual(findings, []);
    const names = entries.map((e) => e.key.toString());
    for (const e of entries) assert.equal(JSON.parse(e.value!.toString()).Name, e.key.toString());
    assert.equal(names.length, m.counts.volumes);
    for (const n of names) assert.ok(fs.statSync(path.join(storeDir, m.dataRoot, 'volumes', n, '_data')).isDirectory());
  });

  test('is deterministic: the same spec gives the same archive bytes', () => {
    const again = generateStore({ ...SPECS.small!, name: 'small-again' } as StoreSpec, OUT);
    const sum = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');
    assert.equal(sum(path.join(OUT, 'small-again', again.tar)), sum(path.join(storeDir, m.tar)));
    assert.deepEqual(again.refs, m.refs);
  });

  test('is cached: a current store is not rebuilt', () => {
    const before = fs.statSync(path.join(storeDir, 'manifest.json')).mtimeMs;
    assert.ok(isCurrent(storeDir, SPECS.small!));
    generateStore(SPECS.small!, OUT);
    assert.equal(fs.statSync(path.join(storeDir, 'manifest.json')).mtimeMs, before);
    assert.equal(isCurrent(storeDir, { ...SPECS.small!, seed: 7 }), undefined);
  });

  test('a content layer is streamed to disk and still reassembles to its diffID', async () => {
    const spec: StoreSpec = { name: 'content-tiny', seed: 9, images: 3, layers: 3, containers: 1, running: 0, content: [{ files: 1, fileSize: (3 << 20) + 17 }, { files: 1200, fileSize: 100 }] };
    const cm = generateStore(spec, OUT, { archives: false });
    assert.equal(cm.contentLayers.length, 2);
    const ev = await openEvidence(path.join(OUT, spec.name, cm.dataRoot));
    const model = buildModel(ev.root);
    checkModel(model, cm);
    await checkLayers(model, ev.root);
    const big = fs.statSync(path.join(OUT, spec.name, cm.dataRoot, 'overlay2', cm.contentLayers[0]!.cacheID, 'diff/data/f000000.bin'));
    assert.equal(big.size, (3 << 20) + 17);
  });

  test('looks like the real engine: same finding codes and the same kinds of files', async (t) => {
    if (!REAL) return t.skip('fixture overlay2-20.10 absent');
    const real = await openEvidence(REAL.archive);
    const realModel = buildModel(real.root);
    const gen = await openEvidence(path.join(storeDir, m.tgz));
    const genModel = buildModel(gen.root);
    assert.deepEqual(codes(genModel), codes(realModel));
    const want = [...kinds(real.root)].filter((k) => !NOT_SIMULATED.some((re) => re.test(k))).sort();
    const got = [...kinds(gen.root)].sort();
    assert.deepEqual(
      got.filter((k) => !want.includes(k)),
      [],
      'kinds the real engine never wrote',
    );
    assert.deepEqual(
      want.filter((k) => !got.includes(k)),
      [],
      'kinds of the real engine the generator misses',
    );
  });

  test('looks like the real engine read from an extracted copy too', async (t) => {
    if (!REAL || !canExtract()) return t.skip('needs root to extract the fixture');
    const real = await openEvidence(extractFixture(REAL));
    const gen = await openEvidence(path.join(storeDir, m.dataRoot));
    assert.deepEqual(codes(buildModel(gen.root)), codes(buildModel(real.root)));
  });
});

describe('generator building blocks', () => {
  test("tar headers are byte-identical to the engine's: every plain USTAR header of the fixture", async (t) => {
    if (!REAL) return t.skip('fixture overlay2-20.10 absent');
    const ev = await openEvidence(REAL.archive);
    const model = buildModel(ev.root);
    const field = (b: Buffer, off: number, len: number) => b.subarray(off, off + len).toString('latin1').replace(/\0.*$/s, '');
    const octal = (b: Buffer, off: number, len: number) => parseInt(field(b, off, len).trim() || '0', 8);
    let compared = 0;
    for (const layer of model.layers.values()) {
      const p = `image/overlay2/layerdb/sha256/${layer.chainID.slice(7)}/tar-split.json.gz`;
      for await (const e of openTarSplit(ev.root, p, new Findings())) {
        if (e.type !== 'segment' || e.payload.length < 512) continue;
        const b = e.payload.subarray(e.payload.length - 512);
        const typeflag = field(b, 156, 1);
        // Plain USTAR headers only: no PAX/GNU records, no name prefix, no devices.
        if (b.every((x) => x === 0) || !'0125'.includes(typeflag) || field(b, 345, 155) !== '' || field(b, 257, 6) !== 'ustar') continue;
        const h = tarHeader({
          name: field(b, 0, 100),
          mode: octal(b, 100, 8),
          uid: octal(b, 108, 8),
          gid: octal(b, 116, 8),
          size: octal(b, 124, 12),
          mtime: octal(b, 136, 12),
          typeflag,
          linkname: field(b, 157, 100),
          uname: field(b, 265, 32),
          gname: field(b, 297, 32),
        });
        assert.equal(h.toString('hex'), b.toString('hex'), `${p}: ${field(b, 0, 100)}`);
        compared++;
      }
    }
    assert.ok(compared > 100, `${compared} headers compared`);
  });

  test('Go time format trims trailing zeros', () => {
    assert.equal(goTime(1_709_251_200_000_000_000n), '2024-03-01T00:00:00Z');
    assert.equal(goTime(1_709_251_200_791_278_650n), '2024-03-01T00:00:00.79127865Z');
  });

  test('the PRNG is reproducible', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    assert.deepEqual([a.u32(), a.hex(32), a.link()], [b.u32(), b.hex(32), b.link()]);
    assert.match(new Rng(1).link(), /^[A-Z2-7]{26}$/);
  });
});
