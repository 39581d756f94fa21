/**
 * devicemapper and zfs keep layer files outside the data root; `info` lists what their metadata
 * in the data root says and who owns each device or dataset. Hand-made trees, file by file, as
 * moby@v20.10.0 daemon/graphdriver/devmapper/deviceset.go (saveMetadata: JSON devInfo per
 * device, deviceset-metadata, transaction-metadata) and zfs/zfs.go (datasets named by id,
 * mount points under zfs/graph/) leave them.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { driverStorage } from '../../src/analysis/drivers.js';
import { chainIDs } from '../../src/model/chainid.js';
import { buildModel } from '../../src/model/graph.js';
import { DirSource } from '../../src/source/dir.js';
import { sha256Hex } from '../../src/store/digest.js';
import { Findings } from '../../src/store/findings.js';
import { cli } from '../helpers/cli.js';

const h = (c: string) => c.repeat(64);

function tree(files: Record<string, string | null>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dockscope-drv-'));
  process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }));
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

/** One image (one layer, cache-id `cache`) and one container (mount `mount`, init `mount-init`). */
function store(driver: string, cache: string, mount: string): Record<string, string | null> {
  const diffID = `sha256:${h('1')}`;
  const [chain] = chainIDs([diffID]);
  const cfg = JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [diffID] }, history: [{ created_by: 'ADD' }] });
  const id = sha256Hex(cfg);
  const b = `image/${driver}`;
  const cid = h('c');
  return {
    [`${b}/imagedb/content/sha256/${id}`]: cfg,
    [`${b}/imagedb/metadata/sha256/`]: null,
    [`${b}/repositories.json`]: JSON.stringify({ Repositories: { x: { 'x:latest': `sha256:${id}` } } }),
    [`${b}/layerdb/sha256/${chain!.slice(7)}/diff`]: diffID,
    [`${b}/layerdb/sha256/${chain!.slice(7)}/size`]: '10',
    [`${b}/layerdb/sha256/${chain!.slice(7)}/cache-id`]: cache,
    [`${b}/layerdb/mounts/${cid}/mount-id`]: mount,
    [`${b}/layerdb/mounts/${cid}/init-id`]: `${mount}-init`,
    [`${b}/layerdb/mounts/${cid}/parent`]: chain!,
    [`containers/${cid}/config.v2.json`]: JSON.stringify({ ID: cid, Name: '/web', Image: `sha256:${id}`, Driver: driver, State: {}, Config: {} }),
  };
}

const dev = (o: object) => JSON.stringify(o);

test('devicemapper: each device file with its owner, deviceset and transaction metadata, loopback files; content needs the pool', () => {
  const root = tree({
    ...store('devicemapper', h('a'), h('d')),
    'devicemapper/metadata/base': dev({ device_id: 1, size: 10737418240, transaction_id: 1, initialized: true, deleted: false }),
    [`devicemapper/metadata/${h('a')}`]: dev({ device_id: 2, size: 10737418240, transaction_id: 2, initialized: false, deleted: false }),
    [`devicemapper/metadata/${h('d')}-init`]: dev({ device_id: 3, size: 10737418240, transaction_id: 3, initialized: false, deleted: false }),
    [`devicemapper/metadata/${h('d')}`]: dev({ device_id: 4, size: 10737418240, transaction_id: 4, initialized: false, deleted: false }),
    [`devicemapper/metadata/${h('e')}`]: dev({ device_id: 5, size: 10737418240, transaction_id: 5, initialized: false, deleted: true }),
    'devicemapper/metadata/deviceset-metadata': dev({ next_device_id: 6, BaseDeviceUUID: 'f1e2', BaseDeviceFilesystem: 'xfs' }),
    'devicemapper/metadata/transaction-metadata': dev({ open_transaction_id: 5, device_hash: '', device_id: 0 }),
    'devicemapper/metadata/bad': '{not json',
    'devicemapper/devicemapper/data': 'x'.repeat(100),
    'devicemapper/devicemapper/metadata': 'y'.repeat(10),
    'devicemapper/mnt/': null,
  });
  const model = buildModel(new DirSource(root));
  const f = new Findings();
  const [dm] = driverStorage(model, f);
  assert.equal(dm!.driver, 'devicemapper');
  assert.deepEqual(dm!.devices!.map((d) => [d.id.slice(0, 4), d.deviceId, d.transactionId, d.deleted, d.owner]), [
    ['base', 1, 1, false, 'base device'],
    ['aaaa', 2, 2, false, `layer ${[...model.layers.keys()][0]}`],
    ['dddd', 3, 3, false, 'container web (init)'],
    ['dddd', 4, 4, false, 'container web (RW)'],
    ['eeee', 5, 5, true, 'nothing in the image store (orphan or removed)'],
  ]);
  assert.deepEqual(dm!.devicemapper!.deviceset, { nextDeviceId: 6, baseDeviceUUID: 'f1e2', baseDeviceFilesystem: 'xfs' });
  assert.equal(dm!.devicemapper!.transaction!.openTransactionId, 5);
  assert.deepEqual(dm!.devicemapper!.loopback, [
    { name: 'devicemapper/devicemapper/data', size: 100 },
    { name: 'devicemapper/devicemapper/metadata', size: 10 },
  ]);
  assert.equal(dm!.devicemapper!.skipped, 1);
  assert.ok(f.list.some((x) => x.code === 'devicemapper.bad-metadata' && x.path === 'devicemapper/metadata/bad'));
  assert.match(dm!.note, /needs the pool/);

  const r = cli(['--root', root, 'info']);
  assert.match(r.stdout, /devicemapper storage \(5 devices in the metadata\)/);
  assert.match(r.stdout, /device +4 {2}d{20} 10\.7GB {2}txn 4 {2}not initialized {2}container web \(RW\)/);
  // The layer's device is its driver dir: no "names no devicemapper/ dir" warning.
  assert.doesNotMatch(r.stdout, /layer\.no-driver-dir/);
  assert.match(r.stdout, /DELETED {2}nothing in the image store/);
  assert.match(r.stdout, /base filesystem xfs/);
});

test('zfs: layer and container datasets named by cache-id and mount-id, zfs/graph mount points; content needs the pool', () => {
  const root = tree({ ...store('zfs', h('a'), h('d')), [`zfs/graph/${h('d')}/`]: null });
  const model = buildModel(new DirSource(root));
  const [z] = driverStorage(model);
  assert.equal(z!.driver, 'zfs');
  assert.deepEqual(z!.datasets!.map((d) => [d.cacheID.slice(0, 4), d.mountedDir, d.owner.split(' ')[0]]), [
    ['aaaa', false, 'layer'],
    ['dddd', true, 'container'],
    ['dddd', false, 'container'],
  ]);
  assert.match(z!.note, /import the pool/);
  assert.ok(!model.findings.list.some((x) => x.code === 'layer.no-driver-dir'), 'a zfs layer has no dir in the data root by design');
  const r = cli(['--root', root, 'info', '--json']);
  const info = JSON.parse(r.stdout);
  assert.equal(info.DriverStorage[0].driver, 'zfs');
  assert.equal(info.DriverStorage[0].datasets.length, 3);
});
