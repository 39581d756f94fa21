import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeGoTime, decodeUvarint, decodeVarint, formatGoTime, parseMetaDb } from '../../src/store/containerd-meta.js';
import type { Finding } from '../../src/store/findings.js';
import { buildBolt, SEQ, type BoltTree } from '../helpers/bboltwriter.js';
import { blobRec, goTime, imageRec, snapRef, uvarint, varint } from '../helpers/containerd.js';

const codes = (fs: Finding[]) => [...new Set(fs.map((f) => f.code))].sort();
const D1 = `sha256:${'a'.repeat(64)}`;
const D2 = `sha256:${'b'.repeat(64)}`;
const M = 'application/vnd.oci.image.manifest.v1+json';

test('Go MarshalBinary times: UTC, zone offsets, version 2, and nothing else', () => {
  const t = decodeGoTime(goTime('2026-11-23T02:37:46.158456926Z'));
  assert.deepEqual(t, { iso: '2026-11-23T02:37:46.158456926Z', unix: 1795401466, nanos: 158456926 });
  // Trailing zeros of the fraction are dropped; a whole second has none.
  assert.equal((decodeGoTime(goTime('2026-11-23T02:37:46.1Z')) as { iso: string }).iso, '2026-11-23T02:37:46.1Z');
  assert.equal((decodeGoTime(goTime('2026-11-23T02:37:46Z')) as { iso: string }).iso, '2026-11-23T02:37:46Z');
  // A fixed zone prints local wall time with its offset; offset 0 that is not UTC still prints Z.
  assert.equal((decodeGoTime(goTime('2026-11-23T02:37:46Z', { offsetMin: 60 })) as { iso: string }).iso, '2026-11-23T03:37:46+01:00');
  assert.equal((decodeGoTime(goTime('2026-11-23T02:37:46Z', { offsetMin: -330 })) as { iso: string }).iso, '2026-11-22T21:07:46-05:30');
  assert.equal((decodeGoTime(goTime('2026-11-23T02:37:46Z', { offsetMin: 0 })) as { iso: string }).iso, '2026-11-23T02:37:46Z');
  const v2 = decodeGoTime(goTime('2026-11-23T02:37:46Z', { version: 2, offsetMin: 0, offsetSec: 30 }));
  assert.equal((v2 as { offset: number }).offset, 30);
  assert.equal((decodeGoTime(goTime('0001-01-01T00:00:00Z')) as { iso: string }).iso, '0001-01-01T00:00:00Z');
  // Hostile encodings are reasons, not exceptions.
  assert.equal(typeof decodeGoTime(Buffer.alloc(0)), 'string');
  assert.match(decodeGoTime(Buffer.from([3, ...Buffer.alloc(14)])) as string, /version 3/);
  assert.match(decodeGoTime(goTime('2026-01-01T00:00:00Z').subarray(0, 14)) as string, /14 bytes/);
  const badNs = goTime('2026-01-01T00:00:00Z');
  badNs.writeInt32BE(1_000_000_000, 9);
  assert.match(decodeGoTime(badNs) as string, /nanoseconds/);
  const far = goTime('2026-01-01T00:00:00Z');
  far.writeBigInt64BE(0x7fffffffffffffffn, 1);
  assert.match(decodeGoTime(far) as string, /outside years/);
  far.writeBigInt64BE(-5n, 1);
  assert.match(decodeGoTime(far) as string, /outside years/);
  assert.equal(formatGoTime(0, 0), '1970-01-01T00:00:00Z');
});

test('varints: zigzag sizes, uvarint ids, and overlong or truncated input', () => {
  for (const n of [0, 1, -1, 63, -64, 64, 1814, 1069035, 2 ** 40, -(2 ** 40), Number.MAX_SAFE_INTEGER]) {
    assert.equal(decodeVarint(varint(n))?.value, n, String(n));
    if (n >= 0) assert.equal(decodeUvarint(uvarint(n))?.value, n, String(n));
  }
  // The fixture's manifest size (0xac 0x1c) is 1814.
  assert.deepEqual(decodeVarint(Buffer.from([0xac, 0x1c])), { value: 1814, length: 2 });
  assert.equal(decodeVarint(Buffer.from([0x80])), undefined, 'truncated');
  assert.equal(decodeVarint(Buffer.alloc(11, 0x80)), undefined, 'overlong');
  assert.equal(decodeUvarint(Buffer.from([...Buffer.alloc(9, 0xff), 0x02])), undefined, 'overflows 64 bits');
  assert.equal(decodeUvarint(uvarint(2n ** 60n)), undefined, 'beyond 2^53');
  assert.equal(decodeVarint(varint(-(2n ** 60n))), undefined, 'beyond -2^53');
  assert.deepEqual(decodeUvarint(Buffer.from([0x05, 0x00, 0x07]), 2), { value: 7, length: 1 });
});

function metaDb(ns: BoltTree, extra: BoltTree = {}): Buffer {
  return buildBolt({ v1: { version: varint(3), moby: ns, other: { images: {} }, ...extra } }).buf;
}

test('meta.db: images, containers, snapshots, content, leases of the moby namespace', () => {
  const buf = metaDb({
    labels: { 'containerd.io/gc.expire': 'x' },
    images: {
      'docker.io/fx/app:1': imageRec({ digest: D1, mediaType: M, size: 1814 }, { 'org.mobyproject.image.parent': D2 }),
      [`moby-dangling@${D2}`]: imageRec({ digest: D2, mediaType: M, size: 10 }),
    },
    containers: {
      c1: {
        createdat: goTime('2026-01-01T00:00:00Z'),
        image: '',
        snapshotter: 'overlayfs',
        snapshotKey: 'c1',
        runtime: { name: 'io.containerd.runc.v2' },
        labels: { 'com.docker/engine.bundle.path': '/run/x' },
        // protobuf Any: field 1 type URL, field 2 value
        spec: Buffer.concat([Buffer.from([0x0a, 4]), Buffer.from('type'), Buffer.from([0x12, 2]), Buffer.from('{}')]),
      },
    },
    snapshots: { overlayfs: { [SEQ]: 7n, c1: { ...snapRef('moby/7/c1', 'c1-init'), children: { x: '' } }, 'c1-init': snapRef('moby/6/c1-init') } },
    content: { blob: { [D1]: blobRec(1814, { 'containerd.io/uncompressed': D2 }) }, ingests: { ref1: {} } },
    leases: { c1: { createdat: goTime('2026-01-01T00:00:01Z'), snapshots: { overlayfs: { c1: '', 'c1-init': '' } }, content: { [D1]: '' } } },
  });
  const db = parseMetaDb(buf, { path: 'meta.db' });
  assert.deepEqual(db.findings, []);
  assert.equal(db.schemaVersion, 3);
  assert.deepEqual(db.namespaces, ['moby', 'other']);
  const ns = db.ns!;
  assert.deepEqual(ns.labels, { 'containerd.io/gc.expire': 'x' });
  assert.deepEqual(ns.images.map((i) => i.name), ['docker.io/fx/app:1', `moby-dangling@${D2}`]);
  assert.deepEqual(ns.images[0]!.target, { digest: D1, mediaType: M, size: 1814 });
  assert.equal(ns.images[0]!.labels['org.mobyproject.image.parent'], D2);
  assert.equal(ns.images[0]!.createdAt!.iso, '2026-01-02T03:04:05.123456789Z');
  const c = ns.containers[0]!;
  assert.deepEqual([c.id, c.snapshotter, c.snapshotKey, c.runtime, c.specType, c.specBytes], ['c1', 'overlayfs', 'c1', 'io.containerd.runc.v2', 'type', 2]);
  const s = ns.snapshots.get('overlayfs')!;
  assert.deepEqual(s.get('c1'), { snapshotter: 'overlayfs', key: 'c1', name: 'moby/7/c1', parent: 'c1-init', children: ['x'], labels: {}, createdAt: s.get('c1')!.createdAt, updatedAt: s.get('c1')!.updatedAt });
  assert.equal(s.get('c1-init')!.parent, undefined);
  assert.deepEqual(ns.blobs.get(D1)!.size, 1814);
  assert.deepEqual(ns.ingests, ['ref1']);
  assert.deepEqual(ns.leases[0]!.snapshots, { overlayfs: ['c1', 'c1-init'] });
  assert.deepEqual(ns.leases[0]!.content, [D1]);
  // Another namespace is only listed.
  assert.equal(parseMetaDb(buf, { namespace: 'other' }).ns!.images.length, 0);
});

test('meta.db: hostile values are findings, the rest is still read', () => {
  const proto = new Map<string, string>([['__proto__', 'polluted'], ['constructor', 'x'], ['ok', 'y']]);
  const buf = metaDb({
    images: {
      'no-target': { createdat: goTime('2026-01-01T00:00:00Z') },
      'bad-digest': { target: { digest: 'sha256:../../etc/passwd', mediatype: M, size: varint(1) } },
      'bad-size': { target: { digest: D1, mediatype: M, size: Buffer.from([0x80]) }, createdat: Buffer.from([1, 2, 3]) },
      'neg-size': { target: { digest: D2, mediatype: M, size: varint(-5) } },
      'labels-proto': { labels: proto, target: { digest: D1, mediatype: M, size: varint(1) } },
      'huge-label': { labels: { big: 'x'.repeat(20000) }, target: { digest: D1, mediatype: M, size: varint(1) } },
      plain: 'a value where a bucket belongs',
      good: imageRec({ digest: D1, mediaType: M, size: 1 }),
    },
    snapshots: { overlayfs: { nobackend: { parent: 'x' } } },
    content: { blob: { 'not-a-digest': blobRec(1), [D1]: { size: varint(-1) } } },
  });
  const db = parseMetaDb(buf, { path: 'meta.db' });
  const ns = db.ns!;
  assert.deepEqual(ns.images.map((i) => i.name), ['bad-digest', 'bad-size', 'good', 'huge-label', 'labels-proto', 'neg-size', 'no-target']);
  assert.equal(ns.images.find((i) => i.name === 'no-target')!.target, undefined);
  assert.equal(ns.images.find((i) => i.name === 'bad-digest')!.target, undefined);
  assert.equal(ns.images.find((i) => i.name === 'bad-size')!.target!.size, 0);
  assert.equal(ns.images.find((i) => i.name === 'bad-size')!.createdAt, undefined);
  assert.equal(ns.images.find((i) => i.name === 'neg-size')!.target!.size, 0);
  const pl = ns.images.find((i) => i.name === 'labels-proto')!.labels;
  assert.equal(Object.getPrototypeOf(pl), Object.prototype, 'the prototype is not replaced');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.deepEqual(Object.keys(pl).sort(), ['__proto__', 'constructor', 'ok']);
  assert.deepEqual(ns.images.find((i) => i.name === 'huge-label')!.labels, {});
  assert.ok(ns.images.find((i) => i.name === 'good')!.target);
  assert.deepEqual([...ns.blobs.keys()], [D1]);
  assert.equal(ns.blobs.get(D1)!.size, undefined);
  assert.deepEqual(codes(db.findings), [
    'containerd.meta.bad-digest',
    'containerd.meta.bad-size',
    'containerd.meta.bad-time',
    'containerd.meta.bad-varint',
    'containerd.meta.no-backend-key',
    'containerd.meta.no-target',
    'containerd.meta.too-long',
    'containerd.meta.unexpected-value',
  ]);
  assert.ok(db.findings.every((f) => f.path === 'meta.db'));
});

test('meta.db: non-UTF-8 names are reported; unreadable files and other databases do not throw', () => {
  const bad = Buffer.from([0x66, 0x78, 0xff, 0xfe]);
  const buf = metaDb({ images: new Map<string | Buffer, BoltTree>([[bad, imageRec({ digest: D1, mediaType: M, size: 1 })]]) });
  const db = parseMetaDb(buf);
  assert.equal(db.ns!.images.length, 1);
  assert.deepEqual(codes(db.findings), ['containerd.meta.bad-utf8']);

  for (const junk of [Buffer.alloc(0), Buffer.alloc(8192, 0x41), Buffer.from('{"not":"bolt"}')]) {
    const r = parseMetaDb(junk);
    assert.equal(r.ns, undefined);
    assert.ok(r.findings.some((f) => f.code === 'containerd.meta.unreadable'));
  }
  const notContainerd = parseMetaDb(buildBolt({ volumes: { v: {} } }).buf);
  assert.deepEqual(codes(notContainerd.findings), ['containerd.meta.no-v1']);
  // A namespace-less db, and a version that is not a varint.
  const r = parseMetaDb(buildBolt({ v1: { version: Buffer.alloc(12, 0xff), junk: 'v' } }).buf);
  assert.deepEqual(r.namespaces, []);
  assert.deepEqual(codes(r.findings), ['containerd.meta.bad-varint', 'containerd.meta.unexpected-value']);
});

test('meta.db: a big-endian file and a many-page namespace read the same', () => {
  const images: BoltTree = {};
  for (let i = 0; i < 300; i++) images[`docker.io/library/img${String(i).padStart(3, '0')}:latest`] = imageRec({ digest: D1, mediaType: M, size: i });
  const tree = { v1: { version: varint(3), moby: { images } } };
  for (const bigEndian of [false, true]) {
    const db = parseMetaDb(buildBolt(tree, { bigEndian, maxLeafKeys: 7 }).buf);
    assert.deepEqual(db.findings, []);
    assert.equal(db.ns!.images.length, 300);
    assert.equal(db.ns!.images[299]!.target!.size, 299);
  }
});
