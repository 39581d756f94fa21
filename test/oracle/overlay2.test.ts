/**
 * dockscope's offline answers against the engine's own, for every image and container of every
 * real-engine overlay2 fixture, read both from the archive in place and from an extracted copy.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { imageHistory, inspectContainer, inspectImage, listContainers, listImages } from '../../src/analysis/inspect.js';
import { choosePathMap, type PathMap } from '../../src/analysis/paths.js';
import { buildModel, type Model } from '../../src/model/graph.js';
import { resolveContainer, resolveImage } from '../../src/model/resolve.js';
import { openEvidence } from '../../src/source/open.js';
import { canExtract, extractFixture, listFixtures, oracle, oracleFiles, type Fixture } from '../helpers/fixtures.js';

type Json = Record<string, any>;

const fixtures = listFixtures((n) => n.startsWith('overlay2-'));

interface Loaded {
  model: Model;
  paths: PathMap;
  /** Maps an engine-reported path to where this reading shows it. */
  mapPath: (p: string) => string;
}

async function loadArchive(f: Fixture): Promise<Loaded> {
  const ev = await openEvidence(f.archive);
  const model = buildModel(ev.root);
  return { model, paths: choosePathMap(ev, model), mapPath: (p) => p };
}

async function loadExtracted(f: Fixture): Promise<Loaded> {
  const top = extractFixture(f);
  const ev = await openEvidence(top);
  const model = buildModel(ev.root);
  const root = ev.root.location;
  return { model, paths: choosePathMap(ev, model), mapPath: (p) => p.split(f.originalRoot).join(root) };
}

function mapPaths(data: Json | null, mapPath: (p: string) => string): Json | null {
  if (!data) return data;
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, typeof v === 'string' ? mapPath(v) : v]));
}

const IMAGE_FIELDS = ['Id', 'RepoTags', 'RepoDigests', 'Parent', 'Comment', 'Created', 'Container', 'ContainerConfig', 'DockerVersion', 'Author', 'Config', 'Architecture', 'Variant', 'Os', 'OsVersion', 'Size', 'VirtualSize', 'RootFS'];
const CONTAINER_FIELDS = ['Id', 'Created', 'Path', 'Args', 'State', 'Image', 'Name', 'RestartCount', 'Driver', 'Config', 'HostConfig', 'Platform', 'MountLabel', 'ProcessLabel', 'AppArmorProfile'];
/** Paths the engine stored; we show them where they lie in the evidence. */
const CONTAINER_PATHS = ['ResolvConfPath', 'HostnamePath', 'HostsPath', 'LogPath'];

function checkStore(f: Fixture, load: () => Promise<Loaded>) {
  let L: Loaded;
  test('loads without error findings', async () => {
    L = await load();
    assert.deepEqual(L.model.findings.list.filter((x) => x.severity === 'error'), []);
  });

  test('images -a lists exactly the images the engine listed, with the same fields', () => {
    const want = oracle<Json[]>(f, 'images-all.json');
    const got = listImages(L.model, true);
    assert.deepEqual(got.map((i) => i.Id).sort(), want.map((i) => i.Id).sort());
    for (const w of want) {
      const g = got.find((i) => i.Id === w.Id)! as Json;
      for (const k of ['ParentId', 'Created', 'Size', 'Labels', 'Containers', 'SharedSize'])
        assert.deepEqual(g[k], w[k], `${w.Id} ${k}`);
      if ('VirtualSize' in w) assert.equal(g.VirtualSize, w.VirtualSize);
      // 20.10 (API 1.41) filled untagged images with placeholders; 25+ send empty lists, as we do.
      const real = (l: string[] | null) => (l ?? []).filter((x) => x !== '<none>:<none>' && x !== '<none>@<none>');
      assert.deepEqual(g.RepoTags, real(w.RepoTags), `${w.Id} RepoTags`);
      assert.deepEqual(g.RepoDigests, real(w.RepoDigests), `${w.Id} RepoDigests`);
    }
  });

  test('images (without -a) hides intermediate images like the engine', () => {
    const want = oracle<Json[]>(f, 'images.json');
    assert.deepEqual(listImages(L.model, false).map((i) => i.Id).sort(), want.map((i) => i.Id).sort());
  });

  test('image inspect equals the engine for every image', () => {
    const files = oracleFiles(f, 'image-inspect');
    assert.ok(files.length > 0);
    for (const file of files) {
      const want = oracle<Json>(f, `image-inspect/${file}`);
      const got = inspectImage(L.model, resolveImage(L.model, want.Id), L.paths) as Json;
      for (const k of IMAGE_FIELDS) if (k in want) assert.deepEqual(got[k], want[k], `${want.Id} ${k}`);
      assert.deepEqual(got.Metadata, want.Metadata, `${want.Id} Metadata`);
      assert.equal(got.GraphDriver.Name, want.GraphDriver.Name);
      assert.deepEqual(got.GraphDriver.Data, mapPaths(want.GraphDriver.Data, L.mapPath), `${want.Id} GraphDriver.Data`);
    }
  });

  test('history equals the engine for every image', () => {
    for (const file of oracleFiles(f, 'image-history')) {
      const want = oracle<Json[]>(f, `image-history/${file}`);
      const id = `sha256:${path.basename(file, '.json')}`;
      const got = imageHistory(L.model, resolveImage(L.model, id)).map(({ Layer: _l, ...rest }) => rest);
      assert.deepEqual(got, want, id);
    }
  });

  test('containers -a lists exactly the engine containers, with the same fields', () => {
    const want = oracle<Json[]>(f, 'containers-all.json');
    const got = listContainers(L.model, true, L.paths) as Json[];
    assert.deepEqual(got.map((c) => c.Id).sort(), want.map((c) => c.Id).sort());
    for (const w of want) {
      const g = got.find((c) => c.Id === w.Id)!;
      for (const k of ['Names', 'Image', 'ImageID', 'Command', 'Created', 'State', 'Labels']) assert.deepEqual(g[k], w[k], `${w.Names} ${k}`);
      // Status is relative to "now"; its form must agree.
      const form = (s: string) => s.replace(/\d+ \w+|About an? \w+|Less than a second/g, 'T');
      assert.equal(form(g.Status), form(w.Status), `${w.Names} Status`);
      const sortM = (m: Json[]) => [...m].sort((a, b) => a.Destination.localeCompare(b.Destination));
      assert.deepEqual(sortM(g.Mounts), sortM(w.Mounts).map((m) => ({ ...m, Source: L.mapPath(m.Source) })), `${w.Names} Mounts`);
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
      assert.equal(got.GraphDriver.Name, want.GraphDriver.Name);
      assert.deepEqual(got.GraphDriver.Data, mapPaths(want.GraphDriver.Data, L.mapPath), `${want.Name} GraphDriver.Data`);
      const sortM = (m: Json[]) => [...m].sort((a, b) => a.Destination.localeCompare(b.Destination));
      assert.deepEqual(sortM(got.Mounts), sortM(want.Mounts).map((m) => ({ ...m, Source: L.mapPath(m.Source) })), `${want.Name} Mounts`);
    }
  });

  test('nothing deleted is reported as present', () => {
    const names = oracle<Json>(f, 'names.json');
    for (const [k, v] of Object.entries((names.special ?? {}) as Record<string, string>)) {
      if (k.startsWith('removed_container')) assert.equal(L.model.containers.has(v), false, k);
      if (k.startsWith('removed_image') || k.startsWith('forced_removed_image')) assert.equal(L.model.images.get(v)?.loadable ?? false, false, k);
    }
  });
}

for (const f of fixtures) {
  describe(`${f.name}: archive read in place`, () => checkStore(f, () => loadArchive(f)));
  describe(`${f.name}: extracted copy`, { skip: canExtract() ? false : 'extracting devices and xattrs needs root' }, () => checkStore(f, () => loadExtracted(f)));
}

test('at least one real-engine overlay2 fixture is present', () => {
  assert.ok(fixtures.length > 0);
});
