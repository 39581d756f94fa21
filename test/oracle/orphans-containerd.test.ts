/**
 * orphans on the real containerd-store fixture: exactly the two dangling images (the first
 * fx/tmp:1 and the rmi -f'ed fx/gone:1, which orphanimg still runs); and on a variant, each
 * planted leftover with its kind: a partial download in ingest/, an unreferenced content record
 * (an image record re-pointed in meta.db), a blob file with no record, a stray snapshot dir,
 * snapshots of a container whose directory is gone, and a container whose RW snapshot is gone.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { findOrphans } from '../../src/analysis/orphans.js';
import { choosePathMap } from '../../src/analysis/paths.js';
import { loadModel } from '../../src/model/graph.js';
import { resolveContainer, resolveImage } from '../../src/model/resolve.js';
import { openEvidence } from '../../src/source/open.js';
import { listFixtures, oracle } from '../helpers/fixtures.js';
import { variant, type Header } from '../helpers/variant.js';

const fixtures = listFixtures((n) => n.startsWith('containerd-'));
const C = 'var/lib/containerd';
const D = 'var/lib/docker';

async function orphansOf(archive: string) {
  const ev = await openEvidence(archive);
  const model = await loadModel(ev);
  return { model, ...findOrphans(model, choosePathMap(ev, model)) };
}

for (const f of fixtures) {
  test(`${f.name}: exactly the two dangling images, the rmi -f'ed one still used by orphanimg`, async () => {
    const { orphans, model } = await orphansOf(f.archive);
    const names = oracle<{ special: Record<string, string> }>(f, 'names.json');
    const gone = [...model.images.values()].find((i) => i.config?.history?.some((h) => h.created_by?.includes('gone-marker')) && i.containerd?.dangling)!;
    assert.deepEqual(
      orphans.map((o) => [o.kind, o.id]).sort(),
      [
        ['dangling-image', gone.id],
        ['dangling-image', names.special.dangling_first_fx_tmp_1 ?? [...model.images.values()].find((i) => i.config?.history?.some((h) => h.created_by?.includes('echo first')) && i.containerd?.dangling)!.id],
      ].sort(),
    );
    assert.match(orphans.find((o) => o.id === gone.id)!.detail, /still used by orphanimg/);
  });

  test(`${f.name}: planted leftovers are each found, with their kind, sizes and times`, async () => {
    const { model } = await orphansOf(f.archive);
    const committed = resolveImage(model, 'fx/committed:1');
    const base = resolveImage(model, 'fx/base:1');
    const topChain = committed.layers[committed.layers.length - 1]!.chainID;
    const exit0 = resolveContainer(model, 'exit0');
    const created = resolveContainer(model, 'created');
    const createdRw = created.snapshots!.rw!;
    const ref = 'layer-sha256:' + 'e'.repeat(64);
    const ingestDir = createHash('sha256').update(ref).digest('hex');
    const strayBlob = Buffer.from('stray blob\n');
    const strayDigest = createHash('sha256').update(strayBlob).digest('hex');
    const file = (name: string, body: string | Buffer) => ({ header: { name, type: 'file', mode: 0o644, size: Buffer.byteLength(body), mtime: new Date('2026-11-23T01:00:00Z') } as Header, body: Buffer.from(body) });
    const dir = (name: string) => ({ header: { name, type: 'directory', mode: 0o755 } as Header });
    const ing = `${C}/io.containerd.content.v1.content/ingest/${ingestDir}`;
    const archive = await variant(
      f.archive,
      (n, body) => {
        if (n.startsWith(`${D}/containers/${exit0.id}`)) return null;
        if (n.startsWith(`${C}/${createdRw.dir}/`) || n === `${C}/${createdRw.dir}`) return null;
        if (n === `${C}/io.containerd.metadata.v1.bolt/meta.db`) {
          // Re-point fx/committed:1's record at fx/base:1's manifest: bbolt keeps a leaf's value
          // right after its key, and data pages carry no checksum.
          const from = Buffer.from('digest' + committed.id);
          const i = body.indexOf(from);
          assert.ok(i >= 0 && body.indexOf(from, i + 1) < 0);
          const b = Buffer.from(body);
          b.write('digest' + base.id, i, 'latin1');
          return { body: b };
        }
        return undefined;
      },
      [
        dir(`${ing}/`),
        file(`${ing}/ref`, ref),
        file(`${ing}/data`, 'hello'),
        file(`${ing}/total`, '100'),
        file(`${ing}/startedat`, '2026-11-23T01:02:03.123456789Z'),
        file(`${ing}/updatedat`, '2026-11-23T01:02:04.000000001Z'),
        file(`${C}/io.containerd.content.v1.content/blobs/sha256/${strayDigest}`, strayBlob),
        dir(`${C}/io.containerd.snapshotter.v1.overlayfs/snapshots/999/`),
        dir(`${C}/io.containerd.snapshotter.v1.overlayfs/snapshots/999/fs/`),
        file(`${C}/io.containerd.snapshotter.v1.overlayfs/snapshots/999/fs/payload`, '12345'),
      ],
    );
    const { orphans } = await orphansOf(archive);
    const got = new Set(orphans.map((o) => `${o.kind} ${o.id}`));
    for (const want of [
      `partial-download ${ref}`,
      `unreferenced-blob ${committed.id}`,
      `unreferenced-blob ${committed.record.config ? committed.containerd!.inspectManifest!.configDigest : ''}`,
      `unreferenced-blob ${committed.layers[committed.layers.length - 1]!.blob!.digest}`,
      `unused-snapshot ${topChain}`,
      `blob-without-record sha256:${strayDigest}`,
      `unreferenced-snapshot-dir 999`,
      `unused-snapshot ${exit0.id}`,
      `unused-snapshot ${exit0.id}-init`,
      `container-snapshot-missing ${created.id}`,
    ])
      assert.ok(got.has(want), `missing: ${want}\n${[...got].join('\n')}`);
    const p = orphans.find((o) => o.kind === 'partial-download')!;
    assert.equal(p.received, 5);
    assert.equal(p.total, 100);
    assert.equal(p.expected, 'sha256:' + 'e'.repeat(64));
    assert.equal(p.started, '2026-11-23T01:02:03.123456789Z');
    assert.equal(p.updated, '2026-11-23T01:02:04.000000001Z');
    assert.match(p.detail, /5 of 100 bytes/);
    assert.equal(p.path, `/var/lib/containerd/io.containerd.content.v1.content/ingest/${ingestDir}`);
    assert.equal(orphans.find((o) => o.kind === 'unreferenced-snapshot-dir')!.size, 5);
    const lost = orphans.find((o) => o.kind === 'container-snapshot-missing')!;
    assert.equal(lost.path, `/var/lib/docker/containers/${created.id}`);
    assert.ok(lost.size! > 0 && lost.newest && lost.detail.includes('/created'), JSON.stringify(lost));
    assert.match(orphans.find((o) => o.id === exit0.id)!.detail, new RegExp(`held by lease ${exit0.id}`));
    // Everything else is still referenced: base's layers, the other containers' snapshots.
    for (const l of base.layers) assert.ok(!got.has(`unused-snapshot ${l.chainID}`));
    assert.equal(orphans.filter((o) => o.kind === 'unused-snapshot').length, 3, [...got].join('\n'));
    // The commit's config also names a container-config blob (gc.ref.content.moby/container.config).
    const cfgLabels = model.containerdStores[0]!.ns!.blobs.get(committed.containerd!.inspectManifest!.configDigest!)!.labels;
    const extra = Object.entries(cfgLabels).filter(([k]) => k.startsWith('containerd.io/gc.ref.content')).map(([, v]) => v);
    assert.ok(extra.length >= 1);
    assert.equal(orphans.filter((o) => o.kind === 'unreferenced-blob').length, 3 + extra.length);
    for (const d of extra) assert.ok(got.has(`unreferenced-blob ${d}`));
  });
}
