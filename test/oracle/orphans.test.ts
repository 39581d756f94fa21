/**
 * orphans on real-engine stores lists exactly the remnants of deleted and force-removed objects,
 * and on variants each planted leftover, with its kind.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findOrphans } from '../../src/analysis/orphans.js';
import { choosePathMap } from '../../src/analysis/paths.js';
import { buildModel } from '../../src/model/graph.js';
import { resolveImage } from '../../src/model/resolve.js';
import { openEvidence } from '../../src/source/open.js';
import { listFixtures, oracle } from '../helpers/fixtures.js';
import { variant, type Header } from '../helpers/variant.js';

const fixtures = listFixtures((n) => n.startsWith('overlay2-'));

async function orphansOf(archive: string) {
  const ev = await openEvidence(archive);
  const model = buildModel(ev.root);
  return { model, orphans: findOrphans(model, choosePathMap(ev, model)).orphans };
}

for (const f of fixtures) {
  test(`${f.name}: exactly the force-removed image's container, nothing deleted-and-clean`, async () => {
    const names = oracle<{ containers: Record<string, string> }>(f, 'names.json');
    const { orphans } = await orphansOf(f.archive);
    assert.deepEqual(
      orphans.map((o) => [o.kind, o.id]),
      [['container-image-missing', names.containers.orphanimg]],
    );
    assert.ok(orphans[0]!.size! > 0 && orphans[0]!.newest);
  });
}

test('planted leftovers are each found, with their kind', async () => {
  const f = fixtures[0]!;
  const { model } = await orphansOf(f.archive);
  const committed = resolveImage(model, 'fx/committed:1');
  const topChain = committed.layers[committed.layers.length - 1]!.chainID;
  const names = oracle<{ containers: Record<string, string> }>(f, 'names.json');
  const gone = names.containers.exit0!;
  const D = 'var/lib/docker';
  const dir = (name: string) => ({ header: { name, type: 'directory', mode: 0o755 } as Header });
  const stray = 'f'.repeat(64);
  const archive = await variant(
    f.archive,
    (n) => (n === `${D}/image/overlay2/imagedb/content/sha256/${committed.id.slice(7)}` || n.startsWith(`${D}/containers/${gone}`) ? null : undefined),
    [
      dir(`${D}/image/overlay2/layerdb/sha256/${'a'.repeat(64)}-1234-removing/`),
      dir(`${D}/image/overlay2/layerdb/tmp/write-set-987654/`),
      dir(`${D}/overlay2/${stray}/`),
      dir(`${D}/overlay2/${stray}/diff/`),
      { header: { name: `${D}/overlay2/${stray}/diff/payload`, type: 'file', mode: 0o644, size: 5 } as Header, body: Buffer.from('hello') },
      { header: { name: `${D}/overlay2/l/ZZZZZZZZZZZZZZZZZZZZZZZZZZ`, type: 'symlink', linkname: '../nonexistent/diff' } as Header },
    ],
  );
  const { orphans } = await orphansOf(archive);
  const got = new Set(orphans.map((o) => `${o.kind} ${o.id}`));
  for (const want of [
    `unused-layer ${topChain}`,
    `metadata-without-image ${committed.id.slice(7)}`,
    `reference-to-missing-image fx/committed:1`,
    `mount-without-container ${gone}`,
    `removing-dir ${'a'.repeat(64)}-1234-removing`,
    `write-set write-set-987654`,
    `unreferenced-driver-dir ${stray}`,
    `dangling-short-link ZZZZZZZZZZZZZZZZZZZZZZZZZZ`,
    `container-image-missing ${names.containers.orphanimg}`,
  ])
    assert.ok(got.has(want), `missing: ${want}\n${[...got].join('\n')}`);
  assert.equal(orphans.find((o) => o.kind === 'unreferenced-driver-dir')!.size, 5);
  // Layers still used by other images are not orphans.
  assert.equal(orphans.filter((o) => o.kind === 'unused-layer').length, 1);
});
