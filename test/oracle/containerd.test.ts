/**
 * dockscope's offline answers against the engine's own for every real-engine fixture of the
 * containerd image store (Docker 26, `containerd-snapshotter`): the Engine API answers
 * (images, image inspect, history, containers, container inspect) and containerd's own view
 * (`ctr images|content|snapshots|leases|containers ls`, `ctr snapshots info`), read both from the
 * archive in place and from an extracted copy.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { imageHistory, inspectContainer, inspectImage, listContainers, listImages } from '../../src/analysis/inspect.js';
import { mountReport } from '../../src/analysis/mounts.js';
import { chainReport, findLayer } from '../../src/analysis/chain.js';
import { choosePathMap, type PathMap } from '../../src/analysis/paths.js';
import { platformString, type ContainerdStore } from '../../src/model/containerd.js';
import { buildModel, loadModel, type Model } from '../../src/model/graph.js';
import { resolveContainer, resolveImage } from '../../src/model/resolve.js';
import { imagesTable } from '../../src/render/views.js';
import { openEvidence } from '../../src/source/open.js';
import { canExtract, extractFixture, HOLDOUT, listFixtures, oracle, oracleFiles, type Fixture } from '../helpers/fixtures.js';

type Json = Record<string, any>;

const fixtures = listFixtures((n) => n.startsWith('containerd-'));

interface Loaded {
  model: Model;
  store: ContainerdStore;
  paths: PathMap;
  mapPath: (p: string) => string;
}

async function loadArchive(f: Fixture): Promise<Loaded> {
  const ev = await openEvidence(f.archive);
  const model = await loadModel(ev);
  return { model, store: model.containerdStores[0]!, paths: choosePathMap(ev, model), mapPath: (p) => p };
}

async function loadExtracted(f: Fixture): Promise<Loaded> {
  const top = extractFixture(f);
  const ev = await openEvidence(top);
  const model = await loadModel(ev);
  const root = ev.root.location;
  return { model, store: model.containerdStores[0]!, paths: choosePathMap(ev, model), mapPath: (p) => p.split(f.originalRoot).join(root) };
}

function text(f: Fixture, rel: string): string {
  return fs.readFileSync(path.join(f.dir, 'oracles', rel), 'utf8');
}

/** Rows of a `ctr … ls` table (whitespace-separated columns, header dropped). */
function ctrRows(f: Fixture, rel: string): string[][] {
  return text(f, rel)
    .split('\n')
    .slice(1)
    .filter((l) => l.trim() !== '')
    .map((l) => l.trim().split(/\s+/));
}

/** containerd's progress.Bytes: binary units, one decimal. */
function ctrBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

function labelString(l: Record<string, string>): string {
  const e = Object.entries(l).sort(([a], [b]) => (a < b ? -1 : 1));
  return e.length ? e.map(([k, v]) => `${k}=${v}`).join(',') : '-';
}

const IMAGE_FIELDS = ['Id', 'RepoTags', 'RepoDigests', 'Parent', 'Comment', 'Created', 'Author', 'Config', 'Architecture', 'Variant', 'Os', 'OsVersion', 'Size', 'RootFS', 'Metadata', 'GraphDriver'];
const CONTAINER_FIELDS = ['Id', 'Created', 'Path', 'Args', 'State', 'Image', 'Name', 'RestartCount', 'Driver', 'Config', 'HostConfig', 'Platform', 'MountLabel', 'ProcessLabel', 'AppArmorProfile', 'GraphDriver'];
const CONTAINER_PATHS = ['ResolvConfPath', 'HostnamePath', 'HostsPath', 'LogPath'];
const sortM = (m: Json[]) => [...m].sort((a, b) => a.Destination.localeCompare(b.Destination));

function checkStore(f: Fixture, load: () => Promise<Loaded>, extracted: boolean) {
  let L: Loaded;
  test('loads without error findings, one containerd store beside the data root', async () => {
    L = await load();
    assert.deepEqual(L.model.findings.list.filter((x) => x.severity === 'error'), []);
    assert.equal(L.model.containerdStores.length, 1);
    assert.equal(L.store.how, 'sibling');
    assert.equal(L.store.rootPath, 'var/lib/containerd');
    assert.equal(L.store.driver, 'overlayfs');
    assert.equal(L.model.stores.length, 0, 'no graph-driver store in this data root');
  });

  test('every image, layer and container says it came from the containerd store', () => {
    for (const i of L.model.images.values()) assert.equal(i.store.name, 'containerd', i.id);
    for (const l of L.model.allLayers()) assert.equal(l.store.name, 'containerd', l.chainID);
    for (const c of L.model.containers.values()) assert.equal(c.store?.name, 'containerd', c.record.name);
    for (const i of listImages(L.model, true)) assert.deepEqual(i.Dockscope, { Store: 'containerd' });
  });

  test('images -a lists exactly the images the engine listed, with the same fields', () => {
    const want = oracle<Json[]>(f, 'images-all.json');
    const got = listImages(L.model, true) as Json[];
    assert.deepEqual(got.map((i) => i.Id).sort(), want.map((i) => i.Id).sort());
    for (const w of want) {
      const g = got.find((i) => i.Id === w.Id)!;
      for (const k of ['ParentId', 'Created', 'Size', 'Labels', 'Containers', 'SharedSize', 'RepoTags', 'RepoDigests']) assert.deepEqual(g[k], w[k], `${w.Id} ${k}`);
      // API 1.45 no longer sends VirtualSize; neither do we for this store.
      assert.equal('VirtualSize' in w, false);
      assert.equal('VirtualSize' in g, false);
    }
    // The engine's order: newest first (ties in any order).
    const created = got.map((i) => i.Created);
    assert.deepEqual(created, [...created].sort((a, b) => b - a));
  });

  test('images (without -a) hides intermediate images like the engine', () => {
    const want = oracle<Json[]>(f, 'images.json');
    assert.deepEqual(listImages(L.model, false).map((i) => i.Id).sort(), want.map((i) => i.Id).sort());
  });

  test('moby-dangling@ records are listed as untagged images', () => {
    const names = oracle<Json>(f, 'names.json');
    const untagged: string[] = names.special.untagged_images;
    const list = listImages(L.model, true);
    for (const id of untagged) {
      const img = L.model.images.get(id)!;
      assert.ok(img.containerd!.records.every((r) => r.name === `moby-dangling@${id}`), id);
      const row = list.find((i) => i.Id === id)!;
      assert.deepEqual([row.RepoTags, row.RepoDigests], [[], []]);
    }
  });

  test('image inspect equals the engine for every image', () => {
    const files = oracleFiles(f, 'image-inspect');
    assert.ok(files.length > 0);
    for (const file of files) {
      const want = oracle<Json>(f, `image-inspect/${file}`);
      const got = inspectImage(L.model, resolveImage(L.model, want.Id), L.paths) as Json;
      for (const k of IMAGE_FIELDS) if (k in want) assert.deepEqual(got[k], want[k], `${want.Id} ${k}`);
      // Keys the engine sends (DockerVersion is the daemon's own version: nothing on disk has it).
      const ours = Object.keys(got).filter((k) => k !== 'Dockscope');
      assert.deepEqual(ours.sort(), Object.keys(want).sort(), `${want.Id} keys`);
      assert.equal(got.DockerVersion, '');
      assert.equal(got.Dockscope.Store, 'containerd');
    }
  });

  test('image inspect resolves each layer to its snapshot (key = chainID) and snapshots/<n>/fs', () => {
    const ls = new Map(ctrRows(f, 'ctr/snapshots-overlayfs-ls.txt').map((r) => [r[0]!, r]));
    for (const img of L.model.images.values()) {
      const got = inspectImage(L.model, img, L.paths);
      assert.equal(got.Dockscope.Layers.length, img.layers.length);
      for (const l of got.Dockscope.Layers) {
        assert.ok(l.Present && l.DiffMatches && l.ParentMatches, `${img.id} L${l.Index}`);
        assert.equal(l.Snapshot!.Name, l.ChainID);
        assert.equal(l.Snapshot!.Kind, 'Committed');
        assert.ok(ls.has(l.ChainID), `ctr lists ${l.ChainID}`);
        assert.match(l.DriverDir!, new RegExp(`/io\\.containerd\\.snapshotter\\.v1\\.overlayfs/snapshots/${l.Snapshot!.Id}/fs$`));
        if (!extracted) assert.ok(l.DriverDir!.startsWith('/var/lib/containerd/'), l.DriverDir!);
        else assert.ok(fs.statSync(l.DriverDir!).isDirectory(), l.DriverDir!);
        assert.ok(l.Blob?.Present, `${img.id} L${l.Index} blob`);
      }
    }
  });

  test('history equals the engine for every image (by ID)', () => {
    for (const file of oracleFiles(f, 'image-history')) {
      const want = oracle<Json[]>(f, `image-history/${file}`);
      const id = `sha256:${path.basename(file, '.json')}`;
      const got = imageHistory(L.model, resolveImage(L.model, id)).map(({ Layer: _l, ...rest }) => rest);
      assert.deepEqual(got, want, id);
    }
  });

  test('history by name walks the parent labels like `docker history <name>`', () => {
    const names = oracle<Json>(f, 'names.json');
    let n = 0;
    for (const ref of Object.keys(names.images)) {
      if (ref.includes('@')) continue;
      const file = `docker-history/${ref.replace(/[/:]/g, '_')}.txt`;
      if (!fs.existsSync(path.join(f.dir, 'oracles', file))) continue;
      const want = ctrRows(f, file).map((r) => r[0]);
      const got = imageHistory(L.model, resolveImage(L.model, ref)).map((h) => h.Id);
      assert.deepEqual(got, want, ref);
      n++;
    }
    assert.ok(n > 0);
  });

  test('every reference the engine resolved names the same image', () => {
    const names = oracle<Json>(f, 'names.json');
    for (const [ref, id] of Object.entries(names.images as Record<string, string>)) assert.equal(resolveImage(L.model, ref).id, id, ref);
  });

  test('containers -a lists exactly the engine containers, with the same fields', () => {
    const want = oracle<Json[]>(f, 'containers-all.json');
    const got = listContainers(L.model, true, L.paths) as Json[];
    assert.deepEqual(got.map((c) => c.Id).sort(), want.map((c) => c.Id).sort());
    for (const w of want) {
      const g = got.find((c) => c.Id === w.Id)!;
      for (const k of ['Names', 'Image', 'ImageID', 'Command', 'Created', 'State', 'Labels']) assert.deepEqual(g[k], w[k], `${w.Names} ${k}`);
      const form = (s: string) => s.replace(/\d+ \w+|About an? \w+|Less than a second/g, 'T');
      assert.equal(form(g.Status), form(w.Status), `${w.Names} Status`);
      assert.deepEqual(sortM(g.Mounts), sortM(w.Mounts).map((m) => ({ ...m, Source: L.mapPath(m.Source) })), `${w.Names} Mounts`);
      assert.equal(g.Dockscope.Store, 'containerd');
    }
    const running = oracle<Json[]>(f, 'containers.json');
    assert.deepEqual(listContainers(L.model, false, L.paths).map((c) => c.Id).sort(), running.map((c) => c.Id).sort());
  });

  test('container inspect equals the engine for every container', () => {
    const files = oracleFiles(f, 'container-inspect');
    assert.ok(files.length > 0);
    for (const file of files) {
      const want = oracle<Json>(f, `container-inspect/${file}`);
      const got = inspectContainer(L.model, resolveContainer(L.model, want.Id), L.paths) as Json;
      for (const k of CONTAINER_FIELDS) if (k in want) assert.deepEqual(got[k], want[k], `${want.Name} ${k}`);
      for (const k of CONTAINER_PATHS) assert.equal(got[k], L.mapPath(want[k]), `${want.Name} ${k}`);
      assert.deepEqual(want.GraphDriver, { Data: null, Name: 'overlayfs' });
      assert.deepEqual(sortM(got.Mounts), sortM(want.Mounts).map((m) => ({ ...m, Source: L.mapPath(m.Source) })), `${want.Name} Mounts`);
      assert.equal(got.Dockscope.MountID, want.Id);
      assert.equal(got.Dockscope.InitID, `${want.Id}-init`);
    }
  });

  test('container --mounts: RW and init snapshots equal `ctr snapshots info`, the chain `ctr snapshots ls`', () => {
    const ls = new Map(ctrRows(f, 'ctr/snapshots-overlayfs-ls.txt').map((r) => [r[0]!, r.length === 3 ? { parent: r[1], kind: r[2] } : { parent: undefined, kind: r[1] }]));
    const names = oracle<Json>(f, 'names.json');
    for (const [name, id] of Object.entries(names.containers as Record<string, string>)) {
      const c = resolveContainer(L.model, id);
      const m = mountReport(L.model, c, L.paths);
      assert.equal(m.store, 'containerd');
      assert.deepEqual(m.problems, [], name);
      const [upper, init, ...lower] = m.stack;
      for (const [entry, file] of [[upper, `${name}.json`], [init, `${name}-init.json`]] as const) {
        const want = oracle<Json>(f, `ctr/snapshot-info/${file}`);
        const s = entry!.snapshot!;
        const got: Json = { Kind: s.Kind, Name: s.Name, ...(s.Parent ? { Parent: s.Parent } : {}), ...(s.Labels ? { Labels: s.Labels } : {}), Created: s.Created, Updated: s.Updated };
        assert.deepEqual(got, want, file);
      }
      assert.equal(upper!.role, 'upper');
      assert.equal(init!.role, 'init');
      // The whole chain is what containerd has, link by link, down to a base layer.
      for (const [i, e] of m.stack.entries()) {
        const row = ls.get(e.id);
        assert.ok(row, `${name}: ctr lists ${e.id}`);
        assert.equal(row.kind, e.snapshot!.Kind, `${name} ${e.id} kind`);
        assert.equal(row.parent, m.stack[i + 1]?.id, `${name} ${e.id} parent`);
        assert.ok(e.diff.endsWith(`/snapshots/${e.snapshot!.Id}/fs`), e.diff);
        if (extracted) assert.ok(e.present && fs.statSync(e.diff).isDirectory(), e.diff);
      }
      // Image layers in the chain are the image's own layers, top first.
      const img = c.image!;
      const layers = lower.filter((e) => !e.buildStep);
      assert.deepEqual(layers.map((e) => e.chainID), img.layers.map((l) => l.chainID).reverse(), name);
      assert.deepEqual(layers.map((e) => e.index), img.layers.map((l) => l.index).reverse(), name);
      assert.ok(m.dockerMount?.startsWith(`mount -t overlay overlay -o lowerdir=${init!.diff}:`), m.dockerMount);
      assert.ok(m.dockerMount?.endsWith(`${L.mapPath(`${f.originalRoot}/rootfs/overlayfs/${id}`)}`), m.dockerMount);
      assert.ok(m.work?.endsWith(`/snapshots/${upper!.snapshot!.Id}/work`));
    }
  });

  test('chain resolves a layer by chainID, diffID, blob digest and snapshot number', () => {
    const img = resolveImage(L.model, 'fx/app:1');
    const top = img.layers[img.layers.length - 1]!;
    const s = top.layer!.snapshot!;
    for (const q of [top.chainID, top.diffID.slice(7, 19), top.blob!.digest, `snapshot:${s.id}`, `snapshots/${s.id}`]) {
      const matches = findLayer(L.model, q);
      assert.ok(matches.some((m) => m.chainID === top.chainID && m.store === 'containerd'), q);
    }
    const r = chainReport(L.model, top.chainID, top.chainID, findLayer(L.model, top.chainID), L.paths);
    assert.equal(r.store, 'containerd');
    assert.equal(r.problem, undefined);
    assert.deepEqual(r.steps.filter((st) => !st.buildStep).map((st) => st.chainID), img.layers.map((l) => l.chainID));
    assert.ok(r.steps.every((st) => st.recomputedMatches && st.driverDirPresent));
    assert.ok(r.usedByImages.some((u) => u.id === img.id && u.position === img.layers.length - 1));
    const ids = findLayer(L.model, 'snapshot:' + resolveContainer(L.model, 'changes').snapshots!.rw!.id);
    assert.deepEqual(ids.map((m) => m.containerId), [resolveContainer(L.model, 'changes').id]);
  });

  test('meta.db images equal `ctr images ls`', () => {
    const rows = ctrRows(f, 'ctr/images-ls.txt');
    const recs = [...L.store.records.values()];
    assert.deepEqual(recs.map((r) => r.name), rows.map((r) => r[0]));
    for (const r of rows) {
      const rec = L.store.records.get(r[0]!)!;
      const img = L.model.images.get(rec.target!.digest)!;
      const [, type, digest, n, unit, platforms, labels] = r;
      assert.deepEqual([rec.target!.mediaType, rec.target!.digest], [type, digest], r[0]);
      assert.equal(ctrBytes(img.containerd!.packedSize), `${n} ${unit}`, `${r[0]} size`);
      assert.equal(img.containerd!.manifests.map((m) => platformString(m.platform)).join(','), platforms);
      assert.equal(labelString(rec.labels), labels, `${r[0]} labels`);
    }
  });

  test('meta.db content records equal `ctr content ls`, and every blob hashes to its name', async () => {
    const rows = ctrRows(f, 'ctr/content-ls.txt');
    const blobs = L.store.ns!.blobs;
    assert.deepEqual([...blobs.keys()].sort(), rows.map((r) => r[0]).sort());
    for (const r of rows) assert.equal(labelString(blobs.get(r[0]!)!.labels), r[r.length - 1], r[0]);
    for (const d of blobs.keys()) assert.equal((await L.store.content.verifyBlob(d))?.ok, true, d);
  });

  test('snapshots equal `ctr snapshots ls` (key, parent, kind)', () => {
    const rows = ctrRows(f, 'ctr/snapshots-overlayfs-ls.txt');
    const nodes = L.store.snapshotters.get('overlayfs')!.nodes;
    assert.deepEqual([...nodes.keys()].sort(), rows.map((r) => r[0]).sort());
    for (const r of rows) {
      const n = nodes.get(r[0]!)!;
      const [parent, kind] = r.length === 3 ? [r[1], r[2]] : [undefined, r[1]];
      assert.deepEqual([n.parent, n.kind], [parent, kind], r[0]);
      assert.equal(n.dirPresent, true, r[0]);
    }
  });

  test('leases and containerd containers equal `ctr leases ls` / `ctr containers ls`', () => {
    const leases = ctrRows(f, 'ctr/leases-ls.txt');
    const ns = L.store.ns!;
    assert.deepEqual(ns.leases.map((l) => [l.id, l.createdAt!.iso.replace(/\.\d+Z$/, 'Z')]), leases.map((r) => [r[0], r[1]]));
    const ctrs = ctrRows(f, 'ctr/containers-ls.txt');
    assert.deepEqual(ns.containers.map((c) => [c.id, c.image || '-', c.runtime]), ctrs.map((r) => [r[0], r[1], r[2]]));
    // Every container Docker knows has its lease holding the RW and init snapshots.
    for (const c of L.model.containers.values()) assert.deepEqual(c.snapshots!.lease!.snapshots.overlayfs, [c.id, `${c.id}-init`]);
  });

  test('nothing deleted is reported as present', () => {
    const names = oracle<Json>(f, 'names.json');
    for (const [k, v] of Object.entries((names.special ?? {}) as Record<string, unknown>)) {
      if (typeof v !== 'string') continue;
      if (k.startsWith('removed_container')) assert.equal(L.model.containers.has(v), false, k);
      if (k.startsWith('removed_image')) assert.equal(L.model.images.get(v)?.loadable ?? false, false, k);
    }
  });
}

for (const f of fixtures) {
  describe(`${f.name}: archive read in place`, () => checkStore(f, () => loadArchive(f), false));
  describe(`${f.name}: extracted copy`, { skip: canExtract() ? false : 'extracting devices and xattrs needs root' }, () => checkStore(f, () => loadExtracted(f), true));
}

test('at least one real-engine containerd fixture is present', { skip: HOLDOUT && 'DOCKSCOPE_FIXTURES' }, () => {
  assert.ok(fixtures.length > 0);
});

test('buildModel without the evidence top finds no containerd root beside the data root, and says why', { skip: fixtures.length === 0 && 'no containerd capture' }, async () => {
  const f = fixtures[0]!;
  const ev = await openEvidence(f.archive);
  const model = buildModel(ev.root);
  assert.equal(model.containerdStores.length, 0);
  assert.ok(model.findings.list.some((x) => x.code === 'store.missing' && /--containerd-root/.test(x.message)));
  // … and --containerd-root (a path inside the evidence) brings it back.
  const again = buildModel(ev.root, { top: ev.top, rootPath: ev.rootPath, containerdRoot: '/var/lib/containerd' });
  assert.equal(again.containerdStores[0]?.how, 'option');
  assert.ok(again.images.size > 0 && model.images.size === 0);
});

/**
 * Both stores on one disk, as on a host that switched stores (Docker 29's default switch, or the
 * containerd-snapshotter feature toggled): the overlay2-26 data root with containerd-26's
 * containerd root, containers and rootfs/ mount points merged in.
 */
const pair = (() => {
  const o = listFixtures((n) => n === 'overlay2-26')[0];
  const c = fixtures[0];
  return o && c ? { o, c } : undefined;
})();

describe('overlay2 and containerd stores side by side', { skip: !pair ? 'needs the overlay2-26 and containerd-26 fixtures' : canExtract() ? false : 'extracting devices and xattrs needs root' }, () => {
  let model: Model;
  let paths: PathMap;
  let root: string;
  test('loads both stores', async () => {
    const { o, c } = pair!;
    const top = fs.mkdtempSync(path.join(os.tmpdir(), 'dockscope-mixed-'));
    process.on('exit', () => fs.rmSync(top, { recursive: true, force: true }));
    const x = ['--xattrs', '--xattrs-include=*', '--numeric-owner'];
    execFileSync('tar', ['-C', top, ...x, '-xzf', o.archive]);
    fs.rmSync(path.join(top, 'var/lib/containerd'), { recursive: true, force: true });
    execFileSync('tar', ['-C', top, ...x, '-xzf', c.archive, 'var/lib/containerd', 'var/lib/docker/containers', 'var/lib/docker/rootfs']);
    const ev = await openEvidence(top);
    model = await loadModel(ev);
    paths = choosePathMap(ev, model);
    root = ev.root.location;
    assert.deepEqual(model.findings.list.filter((x) => x.severity === 'error'), []);
    assert.deepEqual(model.allStores().map((s) => s.name), ['overlay2', 'containerd']);
  });

  test('images -a lists both stores, each image saying which one it is in', () => {
    const { o, c } = pair!;
    const list = listImages(model, true);
    const want = [...oracle<Json[]>(o, 'images-all.json').map((i) => [i.Id, 'overlay2']), ...oracle<Json[]>(c, 'images-all.json').map((i) => [i.Id, 'containerd'])];
    assert.deepEqual(list.map((i) => [i.Id, i.Dockscope!.Store]).sort(), want.sort());
    assert.match(imagesTable(list, { digests: false, noTrunc: false }).split('\n')[0]!, /SIZE\s+STORE$/);
  });

  test('each store answers inspect and history as its engine did', () => {
    for (const [f, store] of [[pair!.o, 'overlay2'], [pair!.c, 'containerd']] as const) {
      for (const file of oracleFiles(f, 'image-inspect')) {
        const want = oracle<Json>(f, `image-inspect/${file}`);
        const got = inspectImage(model, resolveImage(model, want.Id), paths) as Json;
        assert.equal(got.Dockscope.Store, store);
        for (const k of ['Id', 'RepoTags', 'RepoDigests', 'Parent', 'Created', 'Config', 'Size', 'RootFS']) assert.deepEqual(got[k], want[k], `${store} ${want.Id} ${k}`);
        const data = want.GraphDriver.Data ? Object.fromEntries(Object.entries(want.GraphDriver.Data as Record<string, string>).map(([k, v]) => [k, v.split(f.originalRoot).join(root)])) : null;
        assert.deepEqual(got.GraphDriver, { Data: data, Name: want.GraphDriver.Name });
      }
      for (const file of oracleFiles(f, 'image-history')) {
        const id = `sha256:${path.basename(file, '.json')}`;
        assert.deepEqual(imageHistory(model, resolveImage(model, id)).map(({ Layer: _l, ...rest }) => rest), oracle<Json[]>(f, `image-history/${file}`), id);
      }
    }
  });

  test('containers of both stores, each attached to its own store', () => {
    for (const [f, store] of [[pair!.o, 'overlay2'], [pair!.c, 'containerd']] as const) {
      const got = listContainers(model, true, paths) as Json[];
      for (const w of oracle<Json[]>(f, 'containers-all.json')) {
        const g = got.find((x) => x.Id === w.Id)!;
        assert.equal(g.Dockscope.Store, store, w.Names[0]);
        // A name is resolved in the container's own store, even where the other has the same name.
        for (const k of ['Image', 'ImageID', 'State']) assert.deepEqual(g[k], w[k], `${w.Names} ${k}`);
        const m = mountReport(model, resolveContainer(model, w.Id), paths);
        assert.equal(m.store, store);
        assert.deepEqual(m.problems, [], w.Names[0]);
      }
    }
  });

  test('a name both stores have resolves to the graph-driver image, with a warning; IDs reach either', () => {
    const { o, c } = pair!;
    const on = oracle<Json>(o, 'names.json').images as Record<string, string>;
    const cn = oracle<Json>(c, 'names.json').images as Record<string, string>;
    assert.equal(resolveImage(model, 'fx/app:1').id, on['fx/app:1']);
    assert.equal(resolveImage(model, cn['fx/app:1']!).id, cn['fx/app:1']);
    assert.ok(model.findings.list.some((x) => x.code === 'containerd.ref-conflict' && x.message.startsWith('fx/app:1 ')));
  });
});
