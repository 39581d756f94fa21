import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSnapshotterDb } from '../../src/store/containerd-snapshots.js';
import type { Finding } from '../../src/store/findings.js';
import { buildBolt, type BoltTree } from '../helpers/bboltwriter.js';
import { backendSnap, goTime, uvarint } from '../helpers/containerd.js';

const codes = (fs: Finding[]) => [...new Set(fs.map((f) => f.code))].sort();
const L1 = `moby/2/sha256:${'1'.repeat(64)}`;
const INIT = 'moby/5/c1-init';
const RW = 'moby/6/c1';

function parentsKey(p: number, c: number): Buffer {
  return Buffer.concat([uvarint(p), Buffer.from([0]), uvarint(c)]);
}

function db(snapshots: BoltTree, parents?: Map<string | Buffer, string>): Buffer {
  return buildBolt({ v1: { snapshots, ...(parents ? { parents } : {}) } }).buf;
}

test('snapshotter metadata.db: ids, kinds, parents, usage, times', () => {
  const buf = db(
    {
      [L1]: backendSnap(1, 3, undefined, 2072576),
      [INIT]: backendSnap(200, 3, L1, 20480),
      [RW]: backendSnap(201, 2, INIT),
      'moby/9/view': { ...backendSnap(3, 1, L1), labels: { 'containerd.io/gc.root': 'x' } },
    },
    new Map([
      [parentsKey(1, 200), INIT],
      [parentsKey(200, 201), RW],
      [parentsKey(1, 3), 'moby/9/view'],
    ]),
  );
  const r = parseSnapshotterDb(buf, { path: 'metadata.db' });
  assert.deepEqual(r.findings, []);
  const l = r.snapshots.get(L1)!;
  assert.deepEqual([l.id, l.kind, l.parent, l.size, l.inodes], [1, 'Committed', undefined, 2072576, 3]);
  const rw = r.snapshots.get(RW)!;
  assert.deepEqual([rw.id, rw.kind, rw.parent, rw.size], [201, 'Active', INIT, undefined]);
  assert.equal(r.snapshots.get('moby/9/view')!.kind, 'View');
  assert.deepEqual(r.snapshots.get('moby/9/view')!.labels, { 'containerd.io/gc.root': 'x' });
  assert.equal(r.byId.get(200)!.name, INIT);
  assert.equal(rw.createdAt!.iso, '2026-01-02T03:04:05.123456789Z');
});

test('snapshotter metadata.db: hostile records are findings; nothing throws', () => {
  const buf = db(
    {
      'no-id': { kind: Buffer.from([3]) },
      'bad-id': { id: Buffer.alloc(11, 0xff), kind: Buffer.from([3]) },
      'bad-kind': { id: uvarint(5), kind: Buffer.from([9]) },
      dup1: backendSnap(7, 3),
      dup2: backendSnap(7, 3),
      orphan: backendSnap(8, 3, 'no-such-parent'),
      'bad-usage': { ...backendSnap(10, 3), size: varintJunk(), inodes: Buffer.from([0x01]) },
      'bad-time': { ...backendSnap(11, 3), createdat: Buffer.from([1]) },
    },
    new Map<string | Buffer, string>([
      [Buffer.from([0x05]), 'no separator'],
      [parentsKey(7, 8), 'orphan'],
    ]),
  );
  const r = parseSnapshotterDb(buf, { path: 'metadata.db' });
  assert.equal(r.snapshots.size, 8);
  assert.equal(r.snapshots.get('no-id')!.id, undefined);
  assert.equal(r.snapshots.get('bad-id')!.id, undefined);
  assert.equal(r.snapshots.get('bad-kind')!.kind, 'Unknown');
  assert.equal(r.snapshots.get('bad-usage')!.size, undefined);
  assert.equal(r.snapshots.get('bad-usage')!.inodes, undefined, 'a negative count is refused');
  assert.deepEqual(codes(r.findings), [
    'containerd.snapshots.bad-id',
    'containerd.snapshots.bad-kind',
    'containerd.snapshots.bad-parent-index',
    'containerd.snapshots.bad-time',
    'containerd.snapshots.bad-usage',
    'containerd.snapshots.duplicate-id',
    'containerd.snapshots.missing-parent',
    'containerd.snapshots.no-id',
  ]);
  for (const junk of [Buffer.alloc(0), Buffer.alloc(4096 * 4, 7)]) assert.ok(parseSnapshotterDb(junk).findings.some((f) => f.code === 'containerd.snapshots.unreadable'));
  assert.deepEqual(codes(parseSnapshotterDb(buildBolt({ v1: { other: {} } }).buf).findings), ['containerd.snapshots.no-v1']);
  // A parent cycle is data, not a hang: the parser only records pointers.
  const cyc = parseSnapshotterDb(db({ a: backendSnap(1, 3, 'b'), b: backendSnap(2, 3, 'a') }));
  assert.deepEqual(cyc.findings, []);
  assert.equal(cyc.snapshots.get('a')!.parent, 'b');
  void goTime;
});

function varintJunk(): Buffer {
  return Buffer.alloc(12, 0x80);
}
