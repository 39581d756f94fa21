/**
 * External-evidence tier: checks dockscope against real archives written by old engines, which are
 * not part of the repository (see ../shared/external/README.md). Usage:
 *
 *   npm run test:external -- ../shared/external
 *   node dist/test/external/run.js ../shared/external
 *
 * Every expected value below is a literal read by hand from the archive's own files; the comment
 * next to it names the file. Archives are read in place (never extracted into the repository).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { containerDiff } from '../../src/analysis/diff.js';
import { exportPlan } from '../../src/analysis/export.js';
import { openView, resolveTarget } from '../../src/analysis/mergedfs.js';
import { imageHistory, inspectContainer, inspectImage, listContainers, listImages } from '../../src/analysis/inspect.js';
import { mountReport } from '../../src/analysis/mounts.js';
import { verify } from '../../src/analysis/verify.js';
import { makePathMap } from '../../src/analysis/paths.js';
import { loadModel, type Model } from '../../src/model/graph.js';
import { openEvidence } from '../../src/source/open.js';
import type { Source } from '../../src/source/types.js';
import { detectLayout } from '../../src/store/layout.js';
import { Findings } from '../../src/store/findings.js';

const folder = process.argv[2] ?? process.env.DOCKSCOPE_EXTERNAL;
if (!folder) {
  console.error('usage: node dist/test/external/run.js <folder with docker-explorer/*.tgz>');
  process.exit(2);
}
const R = '/var/lib/docker';
const paths = makePathMap(R, 'as-root');

async function load(rel: string): Promise<{ model: Model; layout: string[] }> {
  const file = path.resolve(folder!, rel);
  assert.ok(fs.existsSync(file), `${file} is missing`);
  const ev = await openEvidence(file);
  // Each archive unpacks to docker/, the data root (external/README.md).
  assert.equal(ev.rootPath, 'docker');
  const model = await loadModel(ev);
  const layout = detectLayout(ev.root, new Findings()).items.map((i) => i.key);
  return { model, layout };
}

/** Every path below `dir` in the evidence, directories with a trailing '/', sorted like `export`. */
function listTree(src: Source, dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const n of src.readdir(rel ? `${dir}/${rel}` : dir) ?? []) {
      const p = rel ? `${rel}/${n}` : n;
      const st = src.lstat(`${dir}/${p}`)!;
      out.push(st.type === 'dir' ? `${p}/` : p);
      if (st.type === 'dir') walk(p);
    }
  };
  walk('');
  return out.sort();
}

/** What `export` writes for a container or image, sorted. */
function exported(model: Model, ref: string): string[] {
  const { view } = openView(model, resolveTarget(model, ref));
  return [...exportPlan(view)].map((x) => x.name).sort();
}

// -------------------------------------------------------------------------------------------------
// docker-explorer/aufs.v1.tgz: pre-1.10 graph + aufs

// graph/<id>/json: the busybox tag's image and its parent (repositories-aufs: busybox/latest → TOP).
const V1_TOP = '1cee97b18f87b5fa91633db35f587e2c65c093facfa2cbbe83d5ebe06e1d9125';
const V1_BASE = 'df557f39d413a1408f5c28d8aab2892f927237ec22e903ef04b331305130ab38';
// containers/*/config.json: ID, Name, State.
const V1_CONTAINERS = {
  '3b03d0958390ccfb92e9f1ee67de628ab315c532120d4512cb72a1805465fb35': { name: '/insane_rosalind', state: 'exited' },
  de44dd97cfd1c8d1c1aad7f75a435603991a7a39fa4f6b20a69bf4458809209c: { name: '/angry_rosalind', state: 'running' },
  fbb6711cefc70193cb6cb0b113fc9ed6b9eaddcdd33667adb5cb690a4dca413a: { name: '/kickass_mestorf', state: 'created' },
};

test('aufs.v1: info recognises the pre-1.10 layout', async () => {
  const { model, layout } = await load('docker-explorer/aufs.v1.tgz');
  // Top-level entries of docker/: aufs/, graph/, repositories-aufs, linkgraph.db.
  for (const k of ['driver:aufs', 'legacy-graph', 'legacy-repositories', 'legacy-linkgraph']) assert.ok(layout.includes(k), k);
  assert.equal(model.stores.length, 1);
  assert.equal(model.stores[0]!.legacy !== undefined, true);
  assert.equal(model.stores[0]!.driver, 'aufs');
  assert.deepEqual(model.findings.list.filter((f) => f.severity !== 'info'), []);
});

test('aufs.v1: images, images -a, history', async () => {
  const { model } = await load('docker-explorer/aufs.v1.tgz');
  const top = listImages(model, false);
  assert.deepEqual(top.map((i) => [i.Id, i.RepoTags]), [[V1_TOP, ['busybox:latest']]]);
  // graph/<TOP>/layersize = 0, graph/<BASE>/layersize = 1154361: virtual size = the chain's sum.
  assert.equal(top[0]!.Size, 1154361);
  assert.equal(top[0]!.ParentId, V1_BASE); // graph/<TOP>/json "parent"
  const all = listImages(model, true);
  assert.deepEqual(all.map((i) => i.Id).sort(), [V1_TOP, V1_BASE].sort());
  const img = model.images.get(V1_TOP)!;
  const h = imageHistory(model, img);
  // container_config.Cmd of each graph json, newest first; sizes from layersize.
  assert.deepEqual(
    h.map((x) => [x.Id, x.CreatedBy, x.Size, x.Tags]),
    [
      [V1_TOP, '/bin/sh -c #(nop)  CMD ["sh"]', 0, ['busybox:latest']],
      [V1_BASE, '/bin/sh -c #(nop) ADD file:ce026b62356eec3ad1214f92be2c9dc063fe205bd5e600be3492c4dfb17148bd in / ', 1154361, null],
    ],
  );
  // graph/<TOP>/json "created".
  assert.equal(inspectImage(model, img, paths).Created, '2018-12-26T08:20:42.831353376Z');
  assert.equal(inspectImage(model, img, paths).GraphDriver.Data, null); // aufs GetMetadata: nil
  assert.equal(inspectImage(model, img, paths).Dockscope.Legacy?.Checksum, 'sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4'); // graph/<TOP>/checksum
});

test('aufs.v1: containers and their aufs branch stacks', async () => {
  const { model } = await load('docker-explorer/aufs.v1.tgz');
  const ps = listContainers(model, true, paths);
  assert.deepEqual(
    Object.fromEntries(ps.map((c) => [c.Id, { name: c.Names[0], state: c.State }])),
    Object.fromEntries(Object.entries(V1_CONTAINERS).map(([id, v]) => [id, { name: v.name, state: v.state }])),
  );
  for (const id of Object.keys(V1_CONTAINERS)) {
    const c = model.containers.get(id)!;
    assert.equal(c.image?.id, V1_TOP); // config.json "Image"
    const m = mountReport(model, c, paths);
    // aufs/layers/<id>: <id>-init, TOP, BASE.
    assert.deepEqual(m.stack.map((s) => [s.role, s.id, s.diff, s.present]), [
      ['upper', id, `${R}/aufs/diff/${id}`, true],
      ['init', `${id}-init`, `${R}/aufs/diff/${id}-init`, true],
      ['image', V1_TOP, `${R}/aufs/diff/${V1_TOP}`, true],
      ['image', V1_BASE, `${R}/aufs/diff/${V1_BASE}`, true],
    ]);
    assert.deepEqual(m.lowerFromDisk.map((l) => l.id), [`${id}-init`, V1_TOP, V1_BASE]);
    assert.deepEqual(m.problems, []);
    assert.equal(
      m.dockerMount,
      `mount -t aufs -o br=${R}/aufs/diff/${id}=rw:${R}/aufs/diff/${id}-init=ro+wh:${R}/aufs/diff/${V1_TOP}=ro+wh:${R}/aufs/diff/${V1_BASE}=ro+wh,dio,xino=/dev/shm/aufs.xino none ${R}/aufs/mnt/${id}`,
    );
    assert.equal(inspectContainer(model, c, paths).GraphDriver.Data, null);
  }
});

test('aufs.v1: docker diff of the running container walks its aufs branch', async () => {
  const { model } = await load('docker-explorer/aufs.v1.tgz');
  // aufs/diff/de44…/ holds root/.ash_history and tmp/toto (plus .wh..wh.aufs/.wh..wh.orph/.wh..wh.plnk,
  // aufs metadata that is not content).
  const d = containerDiff(model, model.containers.get('de44dd97cfd1c8d1c1aad7f75a435603991a7a39fa4f6b20a69bf4458809209c')!);
  assert.deepEqual(d.changes.map((c) => [c.Kind, c.Path]), [
    [0, '/root'],
    [1, '/root/.ash_history'],
    [0, '/tmp'],
    [1, '/tmp/toto'],
  ]);
});

test('aufs.v1: fs and export of the running container equal what aufs had mounted in aufs/mnt/<id>', async () => {
  const { model } = await load('docker-explorer/aufs.v1.tgz');
  const id = 'de44dd97cfd1c8d1c1aad7f75a435603991a7a39fa4f6b20a69bf4458809209c'; // State.Running: true
  // aufs/mnt/<id>/ was captured while mounted: 428 paths, none a .wh. name.
  const mnt = listTree(model.src, `aufs/mnt/${id}`);
  assert.equal(mnt.length, 428);
  const got = exported(model, id);
  assert.deepEqual(got, mnt);
  assert.ok(!got.some((n) => n.split('/').some((c) => c.startsWith('.wh.'))), 'no aufs marker (.wh..wh.aufs/plnk/orph) is content');
  const { view } = openView(model, resolveTarget(model, id));
  // ls /: the aufs/mnt/<id> top level.
  assert.deepEqual(view.list(view.root()!).map((e) => e.name), (model.src.readdir(`aufs/mnt/${id}`) ?? []).sort());
  assert.equal(view.readFile(view.lookup('/tmp/toto')!, 1 << 10).length, view.lookup('/tmp/toto')!.stat.size);
  // Image view: aufs/diff/<BASE> holds the whole busybox tree; TOP adds nothing.
  assert.deepEqual(exported(model, V1_TOP), listTree(model.src, `aufs/diff/${V1_BASE}`));
});

// -------------------------------------------------------------------------------------------------
// docker-explorer/overlay.v2.tgz: overlay (v1) under the 1.10+ store

// image/overlay/repositories.json and imagedb/content/sha256/<id>.
const OV_IMAGE = 'sha256:5b0d59026729b68570d99bc4f3f7c31a2e4f2a5736435641565d93e7c25bd2c3';
// layerdb/sha256/4febd…/{diff,cache-id,size}.
const OV_CHAIN = 'sha256:4febd3792a1fb2153108b4fa50161c6ee5e3d16aa483a63215f936a113a88e9a';
const OV_CACHE = 'a94d714512251b0d8a9bfaacb832e0c6cb70f71cb71976cca7a528a429336aae';
// containers/<id>/config.v2.json (ID, Name, State) and layerdb/mounts/<id>/mount-id.
const OV_CONTAINERS: Record<string, { name: string; state: string; mount: string }> = {
  '123aec5d97c20c320517feca263e0a4f328c3483fdb2c27c32d1aecd21cd8144': { name: '/mystifying_euler', state: 'created', mount: '4c35e84c3d235a594435d8acd8b6de7cb072d587d186cd83939553ba6ea55b03' },
  '42e8679f78d6ea623391cdbcb928740ed804f928bd94f94e1d98687f34c48311': { name: '/gallant_rosalind', state: 'created', mount: 'e9210751ab907e2afd7a817a223bf537d4424c385bbf277b405f0afc3cf65ebd' },
  '4ad09bee61dcc675bf41085dbf38c31426a7ed6666fdd47521bfb8f5e67a7e6d': { name: '/frosty_lichterman', state: 'exited', mount: '653237cce558a83b7d6b988cbd57249f5f09e1419e3d90382d357b622b4ca319' },
  '5dc287aa80b460652a5584e80a5c8c1233b0c0691972d75424cf5250b917600a': { name: '/elastic_booth', state: 'running', mount: '974e2b994f9db74e1ddd6fc546843bc65920e786612a388f25685acf84b3fed1' },
  '6b5b70878295372d101aa05d70150a13e8cda03000273a656a2cb393b85e4d0b': { name: '/nostalgic_shannon', state: 'created', mount: 'f64cf01839bd0167e665301d55f223ea281f207eacc3f9458bea8b9683dbdc2a' },
  '80d8c63515e43e12e24f1f44a29cfe21ea21f29ac85f6acc2885b503b0bd22d1': { name: '/friendly_sinoussi', state: 'exited', mount: '80b9a523ee216af7b2e6d59d9f7b4238ac3570c19ef8b65a82dff2737be17c9c' },
};

test('overlay.v2: info, images, history', async () => {
  const { model, layout } = await load('docker-explorer/overlay.v2.tgz');
  for (const k of ['store:overlay', 'driver:overlay']) assert.ok(layout.includes(k), k);
  assert.deepEqual(model.findings.list.filter((f) => f.severity !== 'info'), []);
  const imgs = listImages(model, true);
  assert.deepEqual(imgs.map((i) => [i.Id, i.RepoTags, i.RepoDigests]), [
    [OV_IMAGE, ['busybox:latest'], ['busybox@sha256:1669a6aa7350e1cdd28f972ddad5aceba2912f589f19a090ac75b7083da748db']],
  ]);
  assert.equal(imgs[0]!.Size, 1146369); // layerdb/sha256/4febd…/size
  const img = model.images.get(OV_IMAGE)!;
  // config "history": ADD (a layer), then CMD (empty_layer).
  assert.deepEqual(
    imageHistory(model, img).map((x) => [x.Id, x.CreatedBy, x.Size]),
    [
      [OV_IMAGE, '/bin/sh -c #(nop)  CMD ["sh"]', 0],
      ['<missing>', '/bin/sh -c #(nop) ADD file:413866e909560e078243ce3a4fe1ec87fa5c966a7d47d7f1d9448a2dcbc26a5a in / ', 1146369],
    ],
  );
  const ii = inspectImage(model, img, paths);
  assert.deepEqual(ii.RootFS.Layers, [OV_CHAIN]);
  // overlay v1 GetMetadata for an image layer (overlay/<cache-id> has root/).
  assert.deepEqual(ii.GraphDriver, { Data: { RootDir: `${R}/overlay/${OV_CACHE}/root` }, Name: 'overlay' });
  assert.equal(ii.Dockscope.Layers[0]!.DriverDir, `${R}/overlay/${OV_CACHE}`);
});

test('overlay.v2: containers and their overlay v1 stacks', async () => {
  const { model } = await load('docker-explorer/overlay.v2.tgz');
  const ps = listContainers(model, true, paths);
  assert.deepEqual(
    Object.fromEntries(ps.map((c) => [c.Id, { name: c.Names[0], state: c.State }])),
    Object.fromEntries(Object.entries(OV_CONTAINERS).map(([id, v]) => [id, { name: v.name, state: v.state }])),
  );
  for (const [id, v] of Object.entries(OV_CONTAINERS)) {
    const c = model.containers.get(id)!;
    assert.equal(c.image?.id, OV_IMAGE);
    const m = mountReport(model, c, paths);
    const mid = v.mount;
    assert.deepEqual(m.stack.map((s) => [s.role, s.id, s.diff, s.present]), [
      ['upper', mid, `${R}/overlay/${mid}/upper`, true],
      ['init', `${mid}-init`, `${R}/overlay/${mid}-init/upper`, true],
      ['image', OV_CACHE, `${R}/overlay/${OV_CACHE}/root`, true],
    ]);
    // overlay/<mount-id>/lower-id = the image layer's cache-id.
    assert.deepEqual(m.lowerFromDisk.map((l) => l.id), [OV_CACHE]);
    assert.deepEqual(m.problems, []);
    assert.equal(m.dockerMount, `mount -t overlay overlay -o lowerdir=${R}/overlay/${OV_CACHE}/root,upperdir=${R}/overlay/${mid}/upper,workdir=${R}/overlay/${mid}/work ${R}/overlay/${mid}/merged`);
    assert.deepEqual(inspectContainer(model, c, paths).GraphDriver, {
      Data: { LowerDir: `${R}/overlay/${OV_CACHE}/root`, MergedDir: `${R}/overlay/${mid}/merged`, UpperDir: `${R}/overlay/${mid}/upper`, WorkDir: `${R}/overlay/${mid}/work` },
      Name: 'overlay',
    });
  }
});

test('overlay.v2: diff, fs and export of overlay v1 containers (upper over lower-id root)', async () => {
  const { model } = await load('docker-explorer/overlay.v2.tgz');
  for (const [id, v] of Object.entries(OV_CONTAINERS)) {
    const c = model.containers.get(id)!;
    const d = containerDiff(model, c);
    assert.deepEqual(d.problems, [], id);
    // overlay/<mount-id>/upper holds what overlay/<mount-id>-init/upper holds (12 paths: the
    // placeholders Create copied) plus, for frosty_lichterman and elastic_booth, root/,
    // root/.ash_history and test.
    const upper = listTree(model.src, `overlay/${v.mount}/upper`);
    const init = listTree(model.src, `overlay/${v.mount}-init/upper`);
    const extra = upper.filter((p) => !init.includes(p));
    const ran = id.startsWith('4ad0') || id.startsWith('5dc2');
    assert.deepEqual(extra, ran ? ['root/', 'root/.ash_history', 'test'] : [], id);
    assert.deepEqual(d.changes.map((x) => [x.Kind, x.Path]), ran ? [[0, '/root'], [1, '/root/.ash_history'], [1, '/test']] : [], id);
    const { view } = openView(model, resolveTarget(model, id));
    // ls /: the busybox root plus the init placeholders (.dockerenv, dev, etc, proc, sys) and /test.
    assert.deepEqual(view.list(view.root()!).map((e) => e.name), ['.dockerenv', 'bin', 'dev', 'etc', 'home', 'proc', 'root', 'sys', ...(ran ? ['test'] : []), 'tmp', 'usr', 'var'], id);
    assert.equal(view.lookup('/bin/sh')!.layer, 1, 'from the image root');
  }
  // elastic_booth was running: overlay/<mount-id>/merged/ was captured mounted (425 paths).
  const booth = '5dc287aa80b460652a5584e80a5c8c1233b0c0691972d75424cf5250b917600a';
  const merged = listTree(model.src, `overlay/${OV_CONTAINERS[booth]!.mount}/merged`);
  assert.equal(merged.length, 425);
  assert.deepEqual(exported(model, booth), merged);
  // The image: overlay/<cache-id>/root is the whole tree.
  assert.deepEqual(exported(model, OV_IMAGE), listTree(model.src, `overlay/${OV_CACHE}/root`));
});

test('aufs.v1 and overlay.v2: verify re-hashes every layer, and nothing is called tampered', async () => {
  {
    const { model } = await load('docker-explorer/aufs.v1.tgz');
    const r = await verify(model, [...model.images.values()]);
    assert.equal(r.status, 'ok', JSON.stringify(r.layers.map((l) => l.checks)));
    const top = r.layers.find((l) => l.chainID === V1_TOP)!;
    // graph/<TOP>/tar-data.json.gz describes an empty layer: two zero blocks, the well-known digest.
    assert.equal(top.computedDiffID, 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef');
    const base = r.layers.find((l) => l.chainID === V1_BASE)!;
    assert.equal(base.checks.find((c) => c.check === 'content')?.status, 'ok');
    assert.equal(base.checks.find((c) => c.check === 'size')?.status, 'ok'); // layersize 1154361
    // graph/<id>/checksum is a compressed-blob digest: not recomputable, and said so.
    assert.match(base.na!.checksum!, /compressed blob/);
    assert.equal(base.na!.link, 'n/a (aufs has no short links)');
  }
  {
    const { model } = await load('docker-explorer/overlay.v2.tgz');
    const r = await verify(model, [...model.images.values()]);
    assert.equal(r.status, 'ok', JSON.stringify(r.layers.map((l) => l.checks)));
    assert.equal(r.layers[0]!.computedDiffID, OV_CHAIN); // single layer: chainID = diffID
    assert.equal(r.layers[0]!.na!.link, 'n/a (overlay has no short links)');
  }
});

test('aufs.v1: linkgraph.db (SQLite) names the three containers as their config.json does', async () => {
  const { model } = await load('docker-explorer/aufs.v1.tgz');
  // linkgraph.db: 5120 bytes, edges 0 → <id> named by the container name; no links.
  assert.equal(model.linkgraph?.size, 5120);
  assert.deepEqual(
    Object.fromEntries(model.linkgraph!.names),
    Object.fromEntries(Object.entries(V1_CONTAINERS).map(([id, v]) => [id, v.name.slice(1)])),
  );
  assert.deepEqual(model.linkgraph!.links, []);
});
