/**
 * info on the containerd store: one line of counts (images, records, content blobs, snapshots,
 * leases, containers, partial downloads), the namespace and the root used, each count equal to
 * containerd's and the engine's own listings in the fixture's oracles.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { cli, cliJson } from '../helpers/cli.js';
import { listFixtures, oracle, type Fixture } from '../helpers/fixtures.js';

const fixtures = listFixtures((n) => n.startsWith('containerd-'));

function ctrRows(f: Fixture, rel: string): number {
  return fs.readFileSync(path.join(f.dir, 'oracles/ctr', rel), 'utf8').split('\n').slice(1).filter((l) => l.trim()).length;
}

for (const f of fixtures) {
  test(`${f.name}: info counts the containerd store as containerd and the engine do`, () => {
    const images = oracle<unknown[]>(f, 'images-all.json').length;
    const containers = oracle<unknown[]>(f, 'containers-all.json').length;
    const blobs = ctrRows(f, 'content-ls.txt');
    const snapshots = ctrRows(f, 'snapshots-overlayfs-ls.txt');
    const leases = ctrRows(f, 'leases-ls.txt');
    const records = ctrRows(f, 'images-ls.txt');
    const j = cliJson(['--root', f.archive, 'info']);
    assert.equal(j.Containerd.length, 1);
    const c = j.Containerd[0];
    assert.deepEqual(
      { Root: c.Root, Namespace: c.Namespace, Snapshotter: c.Snapshotter, Images: c.Images, ImageRecords: c.ImageRecords, Blobs: c.Blobs, Snapshots: c.Snapshots, Leases: c.Leases, Containers: c.Containers, Ingests: c.Ingests },
      { Root: '/var/lib/containerd', Namespace: 'moby', Snapshotter: 'overlayfs', Images: images, ImageRecords: records, Blobs: blobs, Snapshots: snapshots, Leases: leases, Containers: containers, Ingests: 0 },
    );
    const out = cli(['--root', f.archive, 'info']).stdout;
    const line = out.split('\n').find((l) => l.trim().startsWith('containerd '));
    assert.ok(line, out);
    assert.ok(
      line.includes(`containerd /var/lib/containerd (system containerd beside the data root), namespace moby, snapshotter overlayfs: ${images} images (${records} records), ${blobs} content blobs, ${snapshots} snapshots`) &&
        line.includes(`${leases} leases, ${containers} containers`),
      line,
    );
  });
}
