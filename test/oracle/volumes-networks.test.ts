/**
 * `volumes` and `networks` against the engine's own answers (/volumes, /volumes/<name>,
 * /system/df, /networks) for every real-engine fixture, read from the archive in place and, when
 * we may extract, from an extracted copy.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { dockerNetworkList, findNetwork, networkReport, type NetworksReport } from '../../src/analysis/networks.js';
import { choosePathMap } from '../../src/analysis/paths.js';
import { dockerVolumeList, engineVolume, findVolume, volumeReport, type VolumesReport } from '../../src/analysis/volumes.js';
import { buildModel, type Model } from '../../src/model/graph.js';
import { openEvidence } from '../../src/source/open.js';
import { canExtract, extractFixture, listFixtures, oracle, oracleFiles, type Fixture } from '../helpers/fixtures.js';

type Json = Record<string, any>;

const fixtures = listFixtures().filter((f) => fs.existsSync(path.join(f.dir, 'oracles/volumes.json')));

interface Loaded {
  model: Model;
  volumes: VolumesReport;
  networks: NetworksReport;
  mapPath: (p: string) => string;
  /** An extracted copy has the extraction's ctimes, so CreatedAt cannot match there. */
  ctimesKept: boolean;
  before: number;
}

async function load(f: Fixture, extracted: boolean): Promise<Loaded> {
  const ev = await openEvidence(extracted ? extractFixture(f) : f.archive);
  const model = buildModel(ev.root);
  const paths = choosePathMap(ev, model);
  const before = model.findings.list.length;
  const root = ev.root.location;
  return {
    model,
    volumes: volumeReport(model, paths, { deleted: true }),
    networks: networkReport(model, { deleted: true }),
    mapPath: extracted ? (p) => p.split(f.originalRoot).join(root) : (p) => p,
    ctimesKept: !extracted,
    before,
  };
}

function check(f: Fixture, extracted: boolean) {
  let L: Loaded;
  const engine = (v: Json, L: Loaded) => {
    const w: Json = { ...v, Mountpoint: L.mapPath(v.Mountpoint) };
    if (!L.ctimesKept) delete w.CreatedAt;
    return w;
  };
  const ours = (v: Json, L: Loaded) => {
    const g = { ...v };
    if (!L.ctimesKept) delete g.CreatedAt;
    return g;
  };

  test('volume and network stores read without error findings', async () => {
    L = await load(f, extracted);
    const mine = L.model.findings.list.slice(L.before).filter((x) => x.severity === 'error');
    assert.deepEqual(mine, []);
    assert.equal(L.volumes.MetadataDb, true);
    assert.equal(L.networks.StoreDb, true);
  });

  test('volume ls equals the engine (GET /volumes)', () => {
    const want = oracle<Json>(f, 'volumes.json').Volumes as Json[];
    const got = dockerVolumeList(L.volumes);
    assert.deepEqual(got.map((v) => v.Name).sort(), want.map((v) => v.Name).sort());
    for (const w of want) {
      const g = got.find((v) => v.Name === w.Name)!;
      assert.deepEqual(ours(engineVolume(g), L), engine(w, L), w.Name);
    }
    // Nothing beyond what the engine lists: every volume here is consistent.
    assert.ok(L.volumes.Volumes.every((v) => v.Dockscope.Status === 'ok'), JSON.stringify(L.volumes.Volumes.map((v) => [v.Name, v.Dockscope.Status])));
  });

  test('volume inspect equals the engine for every volume', () => {
    const files = oracleFiles(f, 'volume-inspect');
    assert.ok(files.length > 0);
    for (const file of files) {
      const w = oracle<Json>(f, `volume-inspect/${file}`);
      assert.deepEqual(ours(engineVolume(findVolume(L.volumes, w.Name)), L), engine(w, L), file);
    }
  });

  test('size and reference count equal `system df` (UsageData)', () => {
    const want = oracle<Json>(f, 'system-df.json').Volumes as Json[];
    assert.ok(want.length > 0);
    for (const w of want) {
      const d = findVolume(L.volumes, w.Name).Dockscope;
      assert.equal(d.Size, w.UsageData.Size, `${w.Name} Size`);
      assert.equal(d.RefCount, w.UsageData.RefCount, `${w.Name} RefCount`);
    }
  });

  test('anonymous volumes are recognised, and mounted by the container that made them', () => {
    const names = oracle<Json>(f, 'names.json');
    const vols = names.containers?.vols;
    const anon = L.volumes.Volumes.filter((v) => /^[0-9a-f]{64}$/.test(v.Name));
    assert.equal(anon.length, 1);
    assert.equal(anon[0]!.Dockscope.Anonymous, true);
    assert.deepEqual(anon[0]!.Dockscope.UsedBy.map((u) => [u.Name, u.Destination]), [['/vols', '/anon']]);
    if (typeof vols === 'string') assert.equal(anon[0]!.Dockscope.UsedBy[0]!.Container, vols);
    assert.deepEqual(findVolume(L.volumes, 'unusedvol').Dockscope.UsedBy, []);
  });

  test('network ls equals the engine (GET /networks) for what the store holds', () => {
    const want = oracle<Json[]>(f, 'networks.json');
    const got = dockerNetworkList(L.networks) as Json[];
    assert.deepEqual(got.map((n) => n.Id).sort(), want.map((n) => n.Id).sort());
    for (const w of want) assert.deepEqual(got.find((n) => n.Id === w.Id), w, w.Name);
  });

  test('network inspect attaches exactly the running containers (their endpoints are in the store)', () => {
    const running = oracle<Json[]>(f, 'containers.json');
    const none = findNetwork(L.networks, 'none');
    assert.deepEqual(Object.keys(none.Containers).sort(), running.map((c) => c.Id).sort());
    for (const c of running) {
      assert.equal(none.Containers[c.Id]!.Name, (c.Names[0] as string).replace(/^\//, ''));
      assert.equal(none.Containers[c.Id]!.EndpointID, c.NetworkSettings.Networks.none.EndpointID);
    }
    assert.deepEqual(L.networks.Sandboxes.map((s) => s.ContainerID).sort(), running.map((c) => c.Id).sort());
    assert.ok(L.networks.Sandboxes.every((s) => s.ContainerExists));
  });

  test('the `bridge` a container asked for is reported as named by containers only', () => {
    const b = findNetwork(L.networks, 'bridge');
    assert.equal(b.Dockscope.Source, 'containers');
    assert.deepEqual(b.Dockscope.Endpoints.map((e) => e.ContainerName), ['/risky']);
    assert.ok(L.networks.Notes.some((n) => /not in the store: bridge/.test(n)));
  });

  test('records recovered from free pages never include live ones, nor the removed container', () => {
    const names = oracle<Json>(f, 'names.json');
    const removed = Object.entries((names.special ?? {}) as Record<string, unknown>)
      .filter(([k]) => k.startsWith('removed_container'))
      .map(([, v]) => v as string);
    for (const d of L.networks.Deleted!) {
      if (d.State === 'deleted') assert.ok(!L.networks.Networks.some((n) => n.Id === d.Id) && !L.networks.Sandboxes.some((s) => s.SandboxID === d.Id), d.Key);
    }
    for (const v of L.volumes.Deleted!) assert.ok(v.State === 'superseded' || !L.volumes.Volumes.some((x) => x.Name === v.Name && x.Dockscope.InMetadata), v.Name);
    for (const id of removed) {
      assert.ok(!L.networks.Sandboxes.some((s) => s.ContainerID === id));
      assert.ok(!L.volumes.Volumes.some((v) => v.Dockscope.UsedBy.some((u) => u.Container === id)));
    }
  });
}

for (const f of fixtures) {
  describe(`${f.name}: volumes and networks, archive read in place`, () => check(f, false));
  describe(`${f.name}: volumes and networks, extracted copy`, { skip: canExtract() ? false : 'extracting devices and xattrs needs root' }, () => check(f, true));
}

test('at least one fixture carries volume and network oracles', () => {
  assert.ok(fixtures.length > 0);
});
