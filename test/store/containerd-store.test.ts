/**
 * The containerd store end to end on a hand-made root: a multi-platform index (with an
 * attestation manifest), an image whose config is gone, a tampered manifest, a snapshot parent
 * cycle, and a container on the index image.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { imageHistory, inspectContainer, inspectImage, listContainers, listImages } from '../../src/analysis/inspect.js';
import { mountReport } from '../../src/analysis/mounts.js';
import { planSave } from '../../src/analysis/save.js';
import { choosePathMap } from '../../src/analysis/paths.js';
import { loadModel } from '../../src/model/graph.js';
import { resolveContainer, resolveImage, ResolveError } from '../../src/model/resolve.js';
import { openEvidence } from '../../src/source/open.js';
import { buildBolt } from '../helpers/bboltwriter.js';
import { backendSnap, blobRec, imageRec, putBlob, snapRef, varint } from '../helpers/containerd.js';

const LAYER = 'application/vnd.oci.image.layer.v1.tar';
const CONFIG = 'application/vnd.oci.image.config.v1+json';
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';
const C1 = 'c'.repeat(64);
const C2 = 'd'.repeat(64);

async function makeHost() {
  const top = fs.mkdtempSync(path.join(os.tmpdir(), 'dockscope-cdroot-'));
  process.on('exit', () => fs.rmSync(top, { recursive: true, force: true }));
  const croot = path.join(top, 'var/lib/containerd');
  const blobs: { digest: string; size: number }[] = [];
  const put = (b: string, mt: string) => {
    const d = putBlob(croot, b, mt);
    blobs.push(d);
    return d;
  };
  const image = (arch: string, layerText: string, extra: object = {}) => {
    const layer = put(layerText, LAYER);
    const config = put(
      JSON.stringify({
        created: '2026-01-01T00:00:00.5Z',
        architecture: arch,
        os: 'linux',
        author: 'me',
        rootfs: { type: 'layers', diff_ids: [layer.digest] },
        history: [{ created: '2026-01-01T00:00:00.5Z', created_by: `make ${arch}`, comment: 'c' }],
        config: { Cmd: ['sh'], Hostname: 'not-in-an-oci-config', Labels: { arch } },
        ...extra,
      }),
      CONFIG,
    );
    const manifest = put(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, config, layers: [layer] }), MANIFEST);
    return { layer, config, manifest };
  };
  const amd = image('amd64', 'layer-amd64');
  const arm = image('arm64', 'layer-arm64');
  const att = put(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, config: put('{}', 'application/vnd.in-toto+json'), layers: [put('{}', 'application/vnd.in-toto+json')] }), MANIFEST);
  const index = put(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: INDEX,
      manifests: [
        { ...arm.manifest, platform: { os: 'linux', architecture: 'arm64' } },
        { ...amd.manifest, platform: { os: 'linux', architecture: 'amd64' } },
        { ...att, platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } },
      ],
    }),
    INDEX,
  );
  // An image whose config record is gone, and one whose manifest bytes were altered.
  const broken = image('amd64', 'layer-broken');
  const tampered = image('amd64', 'layer-tampered');
  fs.appendFileSync(path.join(croot, `io.containerd.content.v1.content/blobs/sha256/${tampered.manifest.digest.slice(7)}`), ' ');

  const chain = amd.layer.digest; // one layer: chainID = diffID
  const blob: Record<string, ReturnType<typeof blobRec>> = {};
  for (const b of blobs) if (b.digest !== broken.config.digest) blob[b.digest] = blobRec(b.digest === tampered.manifest.digest ? b.size + 1 : b.size);
  const meta = buildBolt({
    v1: {
      version: varint(3),
      moby: {
        images: {
          'docker.io/library/multi:1': imageRec(index),
          'docker.io/library/broken:1': imageRec(broken.manifest),
          'docker.io/library/tampered:1': imageRec(tampered.manifest),
        },
        content: { blob },
        snapshots: {
          overlayfs: {
            [chain]: snapRef(`moby/1/${chain}`),
            [`${C1}-init`]: snapRef(`moby/2/${C1}-init`, chain),
            [C1]: snapRef(`moby/3/${C1}`, `${C1}-init`),
            [C2]: snapRef(`moby/4/${C2}`, `${C2}-init`),
            [`${C2}-init`]: snapRef(`moby/5/${C2}-init`, C2),
          },
        },
        leases: { [C1]: { snapshots: { overlayfs: { [C1]: '', [`${C1}-init`]: '' } } }, [C2]: {} },
      },
    },
  }).buf;
  fs.mkdirSync(path.join(croot, 'io.containerd.metadata.v1.bolt'), { recursive: true });
  fs.writeFileSync(path.join(croot, 'io.containerd.metadata.v1.bolt/meta.db'), meta);
  const sdir = path.join(croot, 'io.containerd.snapshotter.v1.overlayfs');
  fs.mkdirSync(sdir, { recursive: true });
  fs.writeFileSync(
    path.join(sdir, 'metadata.db'),
    buildBolt({
      v1: {
        snapshots: {
          [`moby/1/${chain}`]: backendSnap(1, 3, undefined, 8192),
          [`moby/2/${C1}-init`]: backendSnap(2, 3, `moby/1/${chain}`, 4096),
          [`moby/3/${C1}`]: backendSnap(3, 2, `moby/2/${C1}-init`),
          [`moby/4/${C2}`]: backendSnap(4, 2, `moby/5/${C2}-init`),
          [`moby/5/${C2}-init`]: backendSnap(5, 3, `moby/4/${C2}`, 1),
        },
      },
    }).buf,
  );
  for (const n of [1, 2, 3, 4, 5]) fs.mkdirSync(path.join(sdir, `snapshots/${n}/fs`), { recursive: true });
  const docker = path.join(top, 'var/lib/docker');
  for (const [id, img, given] of [[C1, index.digest, 'multi:1'], [C2, index.digest, 'multi']] as const) {
    fs.mkdirSync(path.join(docker, 'containers', id), { recursive: true });
    fs.mkdirSync(path.join(docker, 'rootfs/overlayfs', id), { recursive: true });
    fs.writeFileSync(
      path.join(docker, 'containers', id, 'config.v2.json'),
      JSON.stringify({ ID: id, Name: `/n${id[0]}`, Image: img, Driver: 'overlayfs', Created: '2026-01-01T00:00:01Z', Path: 'sh', Args: [], Config: { Image: given }, State: {}, LogPath: `/var/lib/docker/containers/${id}/${id}-json.log` }),
    );
  }
  return { top, index, amd, arm, att, broken, tampered, chain };
}

test('a hand-made containerd root: index, platforms, missing and tampered content, a cycle', async () => {
  const h = await makeHost();
  const ev = await openEvidence(h.top);
  const model = await loadModel(ev);
  const paths = choosePathMap(ev, model);
  const store = model.containerdStores[0]!;
  const codes = new Set(model.findings.list.map((f) => f.code));
  assert.ok(codes.has('containerd.content.digest-mismatch'), 'tampered manifest');
  assert.ok(!model.findings.list.some((f) => f.code === 'containerd.content.missing'), 'every record has its file');
  // The unpacked platform is the host's.
  assert.deepEqual(store.hostPlatform, { os: 'linux', architecture: 'amd64' });

  const multi = resolveImage(model, 'multi:1');
  assert.equal(multi.id, h.index.digest);
  const info = multi.containerd!;
  assert.equal(info.index?.manifests, 3);
  assert.equal(info.manifests.length, 3);
  assert.equal(info.manifests.filter((m) => m.pseudo).length, 1);
  const ins = inspectImage(model, multi, paths);
  assert.equal(ins.Architecture, 'amd64');
  assert.equal(ins.Size, h.index.size + h.amd.manifest.size + h.amd.config.size + h.amd.layer.size);
  assert.deepEqual(ins.RepoDigests, [`multi@${h.index.digest}`]);
  assert.equal((ins.Config as Record<string, unknown>).Hostname, '', 'only OCI config fields survive');
  assert.deepEqual((ins.Config as Record<string, unknown>).Labels, { arch: 'amd64' });
  assert.equal(ins.Comment, 'c');
  assert.equal(ins.Created, '2026-01-01T00:00:00.5Z');
  assert.equal(ins.Dockscope.Layers[0]!.Snapshot!.Id, 1);
  // images ls: every available platform's content, plus what is unpacked (amd64 only).
  const row = listImages(model, true).find((i) => i.Id === multi.id)!;
  const content = (x: typeof h.amd) => x.manifest.size + x.config.size + x.layer.size;
  assert.equal(row.Size, content(h.amd) + 8192 + content(h.arm));
  assert.deepEqual(row.Labels, { arch: 'amd64' });
  assert.deepEqual(imageHistory(model, multi).map((x) => [x.Id, x.Size, x.Tags]), [[multi.id, 8192, ['multi:1']]]);

  // A config that is gone makes the image invisible, as it is to Docker.
  assert.throws(() => resolveImage(model, 'broken:1'), ResolveError);
  assert.equal(listImages(model, true).some((i) => i.Id === h.broken.manifest.digest), false);
  // Tampered bytes are still what containerd would serve, flagged.
  const t = resolveImage(model, 'tampered:1');
  assert.equal(inspectImage(model, t, paths).Dockscope.ConfigDigestMatches, false);

  const c1 = resolveContainer(model, C1);
  assert.equal(c1.store, store);
  const m = mountReport(model, c1, paths);
  assert.deepEqual(m.problems, []);
  assert.deepEqual(m.stack.map((e) => [e.role, e.id, e.snapshot!.Id]), [['upper', C1, 3], ['init', `${C1}-init`, 2], ['image', h.chain, 1]]);
  assert.equal(m.stack[2]!.index, 0);
  assert.equal(m.merged, path.join(ev.root.location, 'rootfs/overlayfs', C1));
  assert.ok(m.mergedPresent);
  assert.equal(listContainers(model, true, paths).find((c) => c.Id === C1)!.Image, 'multi:1');
  assert.equal(inspectContainer(model, c1, paths).Dockscope.ParentChainID, h.chain);

  // A parent cycle ends the walk with a problem instead of hanging.
  const c2 = resolveContainer(model, C2);
  const m2 = mountReport(model, c2, paths);
  assert.ok(m2.problems.some((p) => /cycle/.test(p)), m2.problems.join('; '));
  assert.ok(m2.problems.some((p) => /no lease|init snapshot's parent/.test(p)));
  // `multi` means multi:latest, which does not exist: the container shows the image ID.
  assert.equal(listContainers(model, true, paths).find((c) => c.Id === C2)!.Image, h.index.digest);
});

test('save of a multi-platform image: the index kept when complete, else the platform manifest alone', async () => {
  const h = await makeHost();
  const model = await loadModel(await openEvidence(h.top));
  const multi = resolveImage(model, 'multi:1');
  const plan = await planSave(model, multi);
  assert.equal(plan.exact, true, plan.containerd?.problems.join('\n'));
  assert.equal(plan.containerd!.target.digest, h.index.digest);
  const digests = plan.containerd!.blobs.map((b) => b.digest);
  for (const d of [h.index, h.amd.manifest, h.amd.config, h.amd.layer, h.arm.manifest, h.arm.config, h.arm.layer, h.att]) assert.ok(digests.includes(d.digest));
  assert.deepEqual(plan.layers.map((l) => l.digest), [h.amd.layer.digest]);
  // Without the arm64 manifest's record the index is incomplete: only linux/amd64 is saved.
  fs.rmSync(path.join(h.top, 'var/lib/containerd/io.containerd.content.v1.content/blobs/sha256', h.arm.layer.digest.slice(7)));
  const m2 = await loadModel(await openEvidence(h.top));
  const p2 = await planSave(m2, resolveImage(m2, 'multi:1'));
  assert.equal(p2.containerd!.target.digest, h.amd.manifest.digest);
  assert.match(p2.containerd!.note!, /not all present/);
  assert.ok(!p2.containerd!.blobs.some((b) => b.digest === h.index.digest || b.digest === h.arm.layer.digest));
  assert.equal(p2.exact, true);
  // The tampered manifest's image is refused.
  const t = await planSave(m2, resolveImage(m2, 'tampered:1'));
  assert.equal(t.exact, false);
  assert.ok(t.containerd!.problems.some((p) => p.includes(h.tampered.manifest.digest)), t.containerd!.problems.join('\n'));
});
