/**
 * Hand-made data roots for the old graph drivers (FORMATS.md §6–§8), written file by file into a
 * temp dir: aufs and overlay (v1) under the 1.10+ store, a migrated 1.9 → 1.10 aufs host, vfs, and
 * the odd layouts `info` must name. Each case says what engine behaviour it imitates.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { inspectContainer, inspectImage, imageHistory, listImages } from '../../src/analysis/inspect.js';
import { mountReport } from '../../src/analysis/mounts.js';
import { makePathMap } from '../../src/analysis/paths.js';
import { chainIDs } from '../../src/model/chainid.js';
import { buildModel } from '../../src/model/graph.js';
import { DirSource } from '../../src/source/dir.js';
import { sha256Hex } from '../../src/store/digest.js';
import { Findings } from '../../src/store/findings.js';
import { detectLayout } from '../../src/store/layout.js';

const R = '/var/lib/docker';
const paths = makePathMap(R, 'as-root');
const h = (c: string) => c.repeat(64);

function tree(files: Record<string, string | null>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dockscope-olddrv-'));
  for (const [rel, body] of Object.entries(files)) {
    const p = path.join(root, rel);
    if (body === null) fs.mkdirSync(p, { recursive: true });
    else {
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, body);
    }
  }
  return root;
}

/**
 * A 1.10+ image store for `driver` (imagedb config, layerdb chain, repositories.json), as
 * daemon/images + layer/layer_store.go write it; `cache` are the driver ids, base first.
 */
function store110(driver: string, cache: string[], tag = 'busybox:latest') {
  const diffIDs = cache.map((_, i) => `sha256:${String(i + 1).repeat(64)}`);
  const chain = chainIDs(diffIDs);
  const cfg = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    created: '2018-01-24T04:29:35.590938514Z',
    config: { Cmd: ['sh'] },
    rootfs: { type: 'layers', diff_ids: diffIDs },
    history: cache.map((_, i) => ({ created: '2018-01-24T04:29:35Z', created_by: `step ${i}` })),
  });
  const imageID = `sha256:${sha256Hex(cfg)}`;
  const base = `image/${driver}`;
  const files: Record<string, string | null> = {
    [`${base}/imagedb/content/sha256/${imageID.slice(7)}`]: cfg,
    [`${base}/imagedb/metadata/sha256/`]: null,
    [`${base}/repositories.json`]: JSON.stringify({ Repositories: { busybox: { [tag]: imageID } } }),
  };
  chain.forEach((c, i) => {
    const d = `${base}/layerdb/sha256/${c.slice(7)}`;
    files[`${d}/diff`] = diffIDs[i]!;
    files[`${d}/size`] = String(100 * (i + 1));
    files[`${d}/cache-id`] = cache[i]!;
    if (i > 0) files[`${d}/parent`] = chain[i - 1]!;
  });
  return { files, imageID, chain, diffIDs };
}

function container(id: string, image: string, driver: string, mount?: { mountID: string; initID?: string; parent: string }, v1 = false, alsoV1?: string): Record<string, string> {
  const cfg = { ID: id, Name: `/c${id.slice(0, 4)}`, Image: image, Driver: driver, Path: 'sh', Args: [], Created: '2018-01-26T14:55:56Z', State: { Running: false, StartedAt: '2018-01-26T14:55:56Z' }, Config: { Image: 'busybox', Cmd: ['sh'] } };
  const out: Record<string, string> = { [`containers/${id}/${v1 ? 'config.json' : 'config.v2.json'}`]: JSON.stringify(cfg) };
  // The 1.10 migration leaves the old config.json (Image = the v1 ID) beside config.v2.json.
  if (alsoV1) out[`containers/${id}/config.json`] = JSON.stringify({ ...cfg, Image: alsoV1 });
  if (mount) {
    const m = `image/${driver}/layerdb/mounts/${id}`;
    out[`${m}/mount-id`] = mount.mountID;
    if (mount.initID) out[`${m}/init-id`] = mount.initID;
    out[`${m}/parent`] = mount.parent;
  }
  return out;
}

test('aufs under the 1.10+ store: branches from aufs/diff, chain from aufs/layers, GraphDriver null', () => {
  // Imitates an Ubuntu 16.04 host on Docker 17.x with aufs: two image layers (random cache-ids),
  // one container whose RW layer is named by a random mount-id, init `<mount-id>-init`.
  const [L0, L1, M] = [h('a'), h('b'), h('c')];
  const s = store110('aufs', [L0, L1]);
  const cid = h('d');
  const root = tree({
    ...s.files,
    ...container(cid, s.imageID, 'aufs', { mountID: M, initID: `${M}-init`, parent: s.chain[1]! }),
    [`aufs/diff/${L0}/bin/sh`]: 'x',
    [`aufs/diff/${L1}/etc/.wh.passwd`]: '', // a whiteout stored literally
    [`aufs/diff/${M}/.wh..wh.aufs`]: '', // aufs metadata at the branch root
    [`aufs/diff/${M}-init/etc/hosts`]: '',
    [`aufs/layers/${L0}`]: '',
    [`aufs/layers/${L1}`]: `${L0}\n`,
    [`aufs/layers/${M}-init`]: `${L1}\n${L0}\n`,
    [`aufs/layers/${M}`]: `${M}-init\n${L1}\n${L0}\n`,
    [`aufs/mnt/${M}/`]: null,
    [`aufs/mnt/${L0}/`]: null,
  });
  const model = buildModel(new DirSource(root));
  assert.deepEqual(model.findings.list.filter((f) => f.severity !== 'info').map((f) => f.code), []);
  assert.ok(!model.findings.list.some((f) => f.code.startsWith('overlay2.')));
  const img = model.images.get(s.imageID)!;
  assert.equal(inspectImage(model, img, paths).GraphDriver.Data, null);
  assert.equal(inspectImage(model, img, paths).Dockscope.Layers[1]!.DriverDir, `${R}/aufs/diff/${L1}`);
  const c = model.containers.get(cid)!;
  assert.equal(inspectContainer(model, c, paths).GraphDriver.Data, null);
  const m = mountReport(model, c, paths);
  assert.deepEqual(m.stack.map((x) => [x.role, x.id]), [['upper', M], ['init', `${M}-init`], ['image', L1], ['image', L0]]);
  assert.deepEqual(m.problems, []);
  assert.equal(m.dockerMount, `mount -t aufs -o br=${R}/aufs/diff/${M}=rw:${R}/aufs/diff/${M}-init=ro+wh:${R}/aufs/diff/${L1}=ro+wh:${R}/aufs/diff/${L0}=ro+wh,dio,xino=/dev/shm/aufs.xino none ${R}/aufs/mnt/${M}`);
  assert.ok(m.readOnlyMount?.startsWith(`mount -t aufs -o ro,br=${R}/aufs/diff/${M}=ro+wh:`));
});

test('aufs: an aufs/layers file that disagrees with layerdb, and a missing one, are problems', () => {
  // Imitates tampering (or a half-deleted layer): aufs/layers/<mount-id> skips the init layer; a
  // second container has no aufs/layers entry at all.
  const [L0, M, N] = [h('a'), h('c'), h('e')];
  const s = store110('aufs', [L0]);
  const root = tree({
    ...s.files,
    ...container(h('d'), s.imageID, 'aufs', { mountID: M, initID: `${M}-init`, parent: s.chain[0]! }),
    ...container(h('f'), s.imageID, 'aufs', { mountID: N, parent: s.chain[0]! }),
    [`aufs/diff/${L0}/`]: null,
    [`aufs/diff/${M}/`]: null,
    [`aufs/diff/${M}-init/`]: null,
    [`aufs/diff/${N}/`]: null,
    [`aufs/layers/${L0}`]: '',
    [`aufs/layers/${M}`]: `${L0}\n`,
    [`aufs/layers/${M}-init`]: `${L0}\n`,
  });
  const model = buildModel(new DirSource(root));
  const m1 = mountReport(model, model.containers.get(h('d'))!, paths);
  assert.match(m1.problems.join('\n'), /lists 1 branches that differ from the expected init \+ image chain \(2\)/);
  const m2 = mountReport(model, model.containers.get(h('f'))!, paths);
  assert.match(m2.problems.join('\n'), /aufs\/layers\/e{64} is missing/);
  assert.ok(model.findings.list.some((f) => f.code === 'aufs.no-layers-entry' && f.path === `aufs/diff/${N}`));
});

test('overlay v1: image layers are root/ trees, containers upper/work/merged + lower-id', () => {
  // Imitates CentOS 7 + Docker 1.13 on overlay: two image layers (each a full root/ hardlink farm,
  // the upper one with lower-id naming its parent), a container and its init layer both pointing at
  // the image top with lower-id (overlay.go Create copies the init upper into the container's upper).
  const [L0, L1, M] = [h('a'), h('b'), h('c')];
  const s = store110('overlay', [L0, L1]);
  const cid = h('d');
  const root = tree({
    ...s.files,
    ...container(cid, s.imageID, 'overlay', { mountID: M, initID: `${M}-init`, parent: s.chain[1]! }),
    [`overlay/${L0}/root/bin/sh`]: 'x',
    [`overlay/${L1}/root/bin/sh`]: 'x',
    [`overlay/${L1}/lower-id`]: L0,
    [`overlay/${M}-init/upper/etc/hosts`]: '',
    [`overlay/${M}-init/work/`]: null,
    [`overlay/${M}-init/merged/`]: null,
    [`overlay/${M}-init/lower-id`]: L1,
    [`overlay/${M}/upper/etc/hosts`]: '',
    [`overlay/${M}/work/`]: null,
    [`overlay/${M}/merged/`]: null,
    [`overlay/${M}/lower-id`]: L1,
  });
  const model = buildModel(new DirSource(root));
  assert.deepEqual(model.findings.list.filter((f) => f.severity !== 'info').map((f) => f.code), []);
  const img = model.images.get(s.imageID)!;
  assert.deepEqual(inspectImage(model, img, paths).GraphDriver.Data, { RootDir: `${R}/overlay/${L1}/root` });
  const c = model.containers.get(cid)!;
  assert.deepEqual(inspectContainer(model, c, paths).GraphDriver.Data, {
    LowerDir: `${R}/overlay/${L1}/root`,
    MergedDir: `${R}/overlay/${M}/merged`,
    UpperDir: `${R}/overlay/${M}/upper`,
    WorkDir: `${R}/overlay/${M}/work`,
  });
  const m = mountReport(model, c, paths);
  assert.deepEqual(m.stack.map((x) => [x.role, x.diff]), [
    ['upper', `${R}/overlay/${M}/upper`],
    ['init', `${R}/overlay/${M}-init/upper`],
    ['image', `${R}/overlay/${L1}/root`],
    ['image', `${R}/overlay/${L0}/root`],
  ]);
  assert.deepEqual(m.problems, []);
  assert.equal(m.dockerMount, `mount -t overlay overlay -o lowerdir=${R}/overlay/${L1}/root,upperdir=${R}/overlay/${M}/upper,workdir=${R}/overlay/${M}/work ${R}/overlay/${M}/merged`);
  assert.equal(m.mergedPresent, false); // overlay v1 creates merged/ with the layer
});

test('overlay v1: a lower-id that is not the image top, and a missing root/, are problems', () => {
  const [L0, M] = [h('a'), h('c')];
  const s = store110('overlay', [L0]);
  const root = tree({
    ...s.files,
    ...container(h('d'), s.imageID, 'overlay', { mountID: M, parent: s.chain[0]! }),
    [`overlay/${L0}/`]: null, // root/ gone
    [`overlay/${M}/upper/`]: null,
    [`overlay/${M}/work/`]: null,
    [`overlay/${M}/lower-id`]: h('9'),
  });
  const model = buildModel(new DirSource(root));
  const m = mountReport(model, model.containers.get(h('d'))!, paths);
  assert.match(m.problems.join('\n'), /lower-id 9{64} is not the image top layer's cache-id a{64}/);
  assert.match(m.problems.join('\n'), /overlay\/9{64}\/root is missing/);
  assert.ok(model.findings.list.some((f) => f.code === 'overlay.no-content' && f.path === `overlay/${L0}`));
});

test('migrated 1.9 → 1.10 aufs host: both generations, the mapping, containers per generation', () => {
  // Imitates migratev1.go: graph/<v1> left in place, layerdb cache-id = v1 ID, mapping file,
  // migrated container (config.v2.json, mount-id = its ID) and one never-migrated v1 container.
  const [V0, V1] = [h('a'), h('b')];
  const s = store110('aufs', [V0, V1]);
  const [cNew, cOld] = [h('d'), h('e')];
  const root = tree({
    ...s.files,
    [`graph/${V0}/json`]: JSON.stringify({ id: V0, created: '2015-06-01T00:00:00Z', container_config: { Cmd: ['/bin/sh', '-c', '#(nop) ADD file:x in /'] } }),
    [`graph/${V0}/layersize`]: '100',
    [`graph/${V1}/json`]: JSON.stringify({ id: V1, parent: V0, created: '2015-06-01T00:00:01Z', container_config: { Cmd: ['/bin/sh', '-c', '#(nop) CMD ["sh"]'] }, config: { Cmd: ['sh'] } }),
    [`graph/${V1}/layersize`]: '200',
    [`graph/${V1}/.migration-diffid`]: s.diffIDs[1]!,
    'graph/_tmp/': null,
    'repositories-aufs': JSON.stringify({ Repositories: { busybox: { latest: V1 } } }),
    '.migration-v1-images.json': JSON.stringify({ [V1]: s.imageID }),
    '.migration-v1-tags': '',
    ...container(cNew, s.imageID, 'aufs', { mountID: cNew, initID: `${cNew}-init`, parent: s.chain[1]! }, false, V1),
    ...container(cOld, V1, 'aufs', undefined, true),
    [`aufs/diff/${V0}/`]: null,
    [`aufs/diff/${V1}/`]: null,
    [`aufs/layers/${V0}`]: '',
    [`aufs/layers/${V1}`]: `${V0}\n`,
    ...Object.fromEntries(
      [cNew, cOld].flatMap((c) => [
        [`aufs/diff/${c}/`, null],
        [`aufs/diff/${c}-init/`, null],
        [`aufs/layers/${c}-init`, `${V1}\n${V0}\n`],
        [`aufs/layers/${c}`, `${c}-init\n${V1}\n${V0}\n`],
      ]),
    ),
  });
  const model = buildModel(new DirSource(root));
  assert.deepEqual(model.findings.list.filter((f) => f.severity !== 'info').map((f) => `${f.code} ${f.message}`), []);
  assert.equal(model.stores.length, 2);
  assert.deepEqual(model.stores.map((x) => [x.driver, x.legacy !== undefined]), [['aufs', false], ['aufs', true]]);
  assert.equal(model.migration.get(V1), s.imageID);
  // `images`: the new image and the old tagged one; -a adds the v1 base layer image.
  assert.deepEqual(listImages(model, false).map((i) => i.Id).sort(), [s.imageID, V1].sort());
  assert.deepEqual(listImages(model, true).map((i) => i.Id).sort(), [s.imageID, V0, V1].sort());
  // busybox:latest resolves to the 1.10+ image (the generation the engine used last).
  assert.equal(model.refIndex.get('busybox:latest'), s.imageID);
  const old = model.images.get(V1)!;
  assert.equal(inspectImage(model, old, paths).Dockscope.Legacy?.MigratedTo, s.imageID);
  assert.deepEqual(inspectImage(model, model.images.get(s.imageID)!, paths).Dockscope.MigratedFrom, [V1]);
  assert.deepEqual(imageHistory(model, old).map((x) => [x.Id, x.Size]), [[V1, 200], [V0, 100]]);
  assert.equal(old.size, 300);
  // Containers: each in its own generation, same aufs dirs.
  const n = model.containers.get(cNew)!;
  const o = model.containers.get(cOld)!;
  assert.equal(n.image?.id, s.imageID);
  assert.equal(n.store?.kind === 'graphdriver' && n.store.legacy, undefined);
  assert.equal(o.image?.id, V1);
  assert.ok(o.store?.kind === 'graphdriver' && o.store.legacy);
  // The migrated container's dirs are the v1 engine's too: the legacy store records that mount.
  const legacy = model.stores.find((x) => x.legacy)!;
  assert.deepEqual(legacy.layerdb.mounts.get(cNew), { containerID: cNew, mountID: cNew, initID: `${cNew}-init`, parent: V1 });
  for (const c of [n, o]) {
    const m = mountReport(model, c, paths);
    assert.deepEqual(m.stack.map((x) => x.id), [c.id, `${c.id}-init`, V1, V0]);
    assert.deepEqual(m.problems, []);
  }
});

test('vfs under the 1.10+ store: no overlay2 GraphDriver data, DriverDir is vfs/dir/<id>', () => {
  const [L0] = [h('a')];
  const s = store110('vfs', [L0]);
  const root = tree({ ...s.files, [`vfs/dir/${L0}/bin/sh`]: 'x' });
  const model = buildModel(new DirSource(root));
  assert.deepEqual(model.findings.list.filter((f) => f.severity !== 'info').map((f) => f.code), []);
  const img = model.images.get(s.imageID)!;
  assert.equal(img.layers[0]!.layer?.dir?.id, L0);
  const ii = inspectImage(model, img, paths);
  assert.equal(ii.GraphDriver.Data, null);
  assert.equal(ii.Dockscope.Layers[0]!.DriverDir, `${R}/vfs/dir/${L0}`);
});

test('info names every old layout', () => {
  // Top-level markers only: what each layout leaves at the data root (FORMATS.md §0, §7, §8).
  const root = tree({
    'graph/': null,
    'repositories-devicemapper': '{"Repositories":{}}',
    'linkgraph.db': '',
    '.migration-v1-images.json': '{}',
    'aufs/': null,
    'overlay/': null,
    'vfs/': null,
    'btrfs/': null,
    'zfs/': null,
    'devicemapper/': null,
    'fuse-overlayfs/': null,
    '100000.100000/': null,
    'image/devicemapper/': null,
  });
  const items = detectLayout(new DirSource(root), new Findings()).items;
  const keys = items.map((i) => i.key);
  for (const k of ['legacy-graph', 'legacy-repositories', 'legacy-linkgraph', 'migrated-v1', 'userns-remap', 'store:devicemapper'])
    assert.ok(keys.includes(k), k);
  for (const d of ['aufs', 'overlay', 'vfs', 'btrfs', 'zfs', 'devicemapper', 'fuse-overlayfs']) assert.ok(keys.includes(`driver:${d}`), d);
  assert.match(items.find((i) => i.key === 'driver:zfs')!.description, /needs the pool/);
  assert.match(items.find((i) => i.key === 'driver:devicemapper')!.description, /thin-pool device/);
});
