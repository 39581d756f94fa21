/**
 * `image --json --api 1.52` / `container --json --api 1.52` on the containerd-26 fixture: the
 * Docker 29 shape (moby docker-v29.7.2 daemon/containerd/image_inspect.go, daemon/inspect.go,
 * the routers' < 1.52 compat) built from the same on-disk data — checked against the Docker 26
 * oracles where the two APIs agree, against the engine's own image list for the manifest sizes,
 * and against config.v2.json for the manifest descriptor. The default stays the 1.45 shape.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { containerInspectForApi, imageInspectForApi } from '../../src/analysis/api-shape.js';
import { inspectContainer, inspectImage } from '../../src/analysis/inspect.js';
import { choosePathMap } from '../../src/analysis/paths.js';
import { loadModel } from '../../src/model/graph.js';
import { resolveContainer, resolveImage } from '../../src/model/resolve.js';
import { openEvidence } from '../../src/source/open.js';
import { cli, cliJson } from '../helpers/cli.js';
import { listFixtures, oracle, type Fixture } from '../helpers/fixtures.js';

async function loaded(f: Fixture) {
  const ev = await openEvidence(f.archive);
  const model = await loadModel(ev);
  const paths = choosePathMap(ev, model);
  const json = (v: unknown): Json => JSON.parse(JSON.stringify(v));
  return {
    image: (ref: string, api: '1.45' | '1.52' = '1.45', manifests = false) => {
      const img = resolveImage(model, ref);
      return json(imageInspectForApi(model, img, inspectImage(model, img, paths), api, { manifests }));
    },
    container: (ref: string, api: '1.45' | '1.52' = '1.45') => {
      const c = resolveContainer(model, ref);
      return json(containerInspectForApi(model, c, inspectContainer(model, c, paths), api));
    },
  };
}

type Json = Record<string, any>;
const fixtures = listFixtures((n) => n.startsWith('containerd-'));
const OCI_CONFIG = ['User', 'ExposedPorts', 'Env', 'Entrypoint', 'Cmd', 'Volumes', 'WorkingDir', 'Labels', 'StopSignal', 'ArgsEscaped', 'Healthcheck', 'OnBuild', 'Shell'];

for (const f of fixtures) {
  test(`${f.name}: image inspect in the API 1.52 shape`, async () => {
    const L = await loaded(f);
    const all = oracle<Json[]>(f, 'images-all.json');
    const containers = oracle<Json[]>(f, 'containers-all.json');
    for (const ref of ['fx/app:1', 'fx/base:1', 'fx/committed:1', '127.0.0.1:5603/fx/single:1']) {
      const old = L.image(ref);
      assert.ok('GraphDriver' in old && !('Descriptor' in old), 'default is the 1.45 shape');
      const want = oracle<Json>(f, `image-inspect/${old.Id.slice(7)}.json`);
      const got = L.image(ref, '1.52', true);
      // No GraphDriver with a snapshotter; the target as Descriptor.
      assert.ok(!('GraphDriver' in got), ref);
      assert.deepEqual(got.Descriptor, { mediaType: old.Dockscope.Containerd.Target.mediaType, digest: want.Id, size: old.Dockscope.Containerd.Target.size });
      // Fields the APIs share are the engine's; empty ones are omitted in 1.52.
      for (const k of ['Id', 'RepoTags', 'RepoDigests', 'Created', 'Architecture', 'Os', 'Size', 'RootFS', 'Metadata']) assert.deepEqual(got[k], want[k], `${ref} ${k}`);
      // The containerd store's ImageInspect never sets DockerVersion (26 reported the engine's own).
      assert.ok(!('DockerVersion' in got), `${ref}: DockerVersion`);
      for (const k of ['Parent', 'Comment', 'Author']) {
        if (want[k]) assert.equal(got[k], want[k], `${ref} ${k}`);
        else assert.ok(!(k in got), `${ref}: empty ${k} omitted`);
      }
      // Config: only the OCI image config fields, only the non-empty ones, with the engine's values.
      for (const k of Object.keys(got.Config)) assert.ok(OCI_CONFIG.includes(k), k);
      for (const k of OCI_CONFIG) {
        const v = want.Config[k];
        const isEmpty = v === null || v === undefined || v === '' || v === false || (Array.isArray(v) && !v.length) || (typeof v === 'object' && v && !Object.keys(v).length);
        if (isEmpty) assert.ok(!(k in got.Config), `${ref} Config.${k}`);
        else assert.deepEqual(got.Config[k], v, `${ref} Config.${k}`);
      }
      // Manifests: one per manifest; Total = content + unpacked = the engine's image list Size.
      assert.equal(got.Manifests.length, 1);
      const m = got.Manifests[0];
      assert.equal(m.ID, want.Id);
      assert.equal(m.Available, true);
      assert.equal(m.Kind, 'image');
      assert.equal(m.Size.Total, all.find((i) => i.Id === want.Id)!.Size, `${ref} Size.Total`);
      assert.equal(m.Size.Total, m.Size.Content + m.ImageData.Size.Unpacked);
      assert.deepEqual(m.ImageData.Platform, { architecture: want.Architecture, os: want.Os });
      const users = containers.filter((c) => c.ImageID === want.Id).map((c) => c.Id).sort();
      assert.deepEqual(m.ImageData.Containers ?? [], users, `${ref} containers`);
      assert.equal(got.Dockscope.Api, '1.52');
    }
    // The flags: without --manifests there are none (the API needs ?manifests=1); 1.45 is the default.
    const viaCli = cliJson(['--root', f.archive, 'image', 'fx/app:1', '--api', '1.52']);
    assert.ok(!('Manifests' in viaCli) && 'Descriptor' in viaCli && !('GraphDriver' in viaCli));
    assert.ok('Manifests' in cliJson(['--root', f.archive, 'image', 'fx/app:1', '--api', '1.52', '--manifests']));
    assert.ok('Storage' in cliJson(['--root', f.archive, 'container', 'created', '--api', '1.52']));
    assert.ok('GraphDriver' in cliJson(['--root', f.archive, 'container', 'created']));
    assert.notEqual(cli(['--root', f.archive, 'image', 'fx/app:1', '--json', '--api', '1.50']).code, 0);
  });

  test(`${f.name}: container inspect in the API 1.52 shape`, async () => {
    const L = await loaded(f);
    const names = oracle<{ containers: Record<string, string> }>(f, 'names.json');
    for (const name of ['created', 'running', 'exit0', 'vols']) {
      const want = oracle<Json>(f, `container-inspect/${name}.json`);
      const got = L.container(name, '1.52');
      assert.equal(got.Id, names.containers[name]);
      assert.ok(!('GraphDriver' in got));
      assert.deepEqual(got.Storage, { RootFS: { Snapshot: { Name: want.GraphDriver.Name } } });
      const keys = Object.keys(got);
      assert.equal(keys.indexOf('Storage'), keys.indexOf('HostConfig') + 1, 'Storage where InspectResponse declares it');
      assert.deepEqual(Object.keys(got.NetworkSettings).sort(), ['Networks', 'Ports', 'SandboxID', 'SandboxKey']);
      // The engine's endpoints, with 1.52's GwPriority and without nothing else.
      for (const [n, ep] of Object.entries(want.NetworkSettings.Networks as Json)) assert.deepEqual(got.NetworkSettings.Networks[n], { ...Object.fromEntries(Object.entries(ep as Json).filter(([k]) => k !== 'GwPriority')), GwPriority: (ep as Json).GwPriority ?? 0 }, `${name} ${n}`);
      assert.deepEqual(Object.keys(got.NetworkSettings.Networks), Object.keys(want.NetworkSettings.Networks));
      assert.ok(!('MacAddress' in got.Config));
      // The platform manifest the container was created from, as config.v2.json has it, with
      // the platform Docker 29 derives from the stored OS.
      const img = L.image(want.Image);
      assert.deepEqual(got.ImageManifestDescriptor, { mediaType: img.Dockscope.Containerd.Target.mediaType, digest: want.Image, size: img.Dockscope.Containerd.Target.size, platform: { architecture: '', os: 'linux' } });
      assert.equal(keys[keys.length - 2], 'ImageManifestDescriptor');
      for (const k of ['Id', 'Created', 'Path', 'Args', 'Image', 'Name', 'RestartCount', 'Driver', 'Platform']) assert.deepEqual(got[k], want[k], `${name} ${k}`);
    }
  });
}

for (const f of listFixtures((n) => n === 'overlay2-26')) {
  test(`${f.name}: with a graph driver, 1.52 keeps GraphDriver and has no Descriptor or Storage`, async () => {
    const L = await loaded(f);
    const img = L.image('fx/app:1', '1.52', true);
    const want = oracle<Json>(f, `image-inspect/${img.Id.slice(7)}.json`);
    assert.equal(img.GraphDriver.Name, 'overlay2');
    assert.ok(!('Descriptor' in img) && !('Manifests' in img));
    assert.equal(img.DockerVersion, want.DockerVersion);
    const c = L.container('created', '1.52');
    assert.equal(c.GraphDriver.Name, 'overlay2');
    assert.ok(!('Storage' in c) && !('ImageManifestDescriptor' in c));
  });
}
