import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type BoltDB, type Bucket, MAX_DEPTH, fnv1a64, openBolt } from '../../src/store/bbolt.js';
import type { Finding } from '../../src/store/findings.js';
import {
  type BoltTree,
  type BuiltBolt,
  Ints,
  SEQ,
  buildBolt,
  bucketValue,
  elemOffset,
  encodeBranch,
  encodeLeaf,
  leafElem,
  resealMeta,
  writePage,
} from '../helpers/bboltwriter.js';

// ------------------------------------------------------------------------------------------------
// helpers

type Dump = { [k: string]: string | Dump };

/** The whole tree as plain data (values latin1), in iteration order. */
function dump(b: Bucket, depth = 0): Dump {
  const out: Dump = {};
  assert.ok(depth <= MAX_DEPTH, 'walk went deeper than the nesting bound');
  for (const e of b.entries()) {
    const k = e.key.toString('latin1');
    if (e.bucket) out[k] = dump(e.bucket, depth + 1);
    else if (e.value) out[k] = e.value.toString('latin1');
    else out[k] = '<unreadable bucket>';
  }
  return out;
}

function open(bolt: BuiltBolt | Buffer): BoltDB {
  const { db, findings } = openBolt(Buffer.isBuffer(bolt) ? bolt : bolt.buf);
  assert.ok(db, `no db: ${JSON.stringify(findings)}`);
  return db;
}

function codes(fs: Finding[]): string[] {
  return [...new Set(fs.map((f) => f.code))].sort();
}

function only(fs: Finding[], code: string): Finding[] {
  return fs.filter((f) => f.code === code);
}

const SAMPLE: BoltTree = {
  v1: {
    version: '\x06',
    moby: {
      [SEQ]: 42n,
      images: {
        'docker.io/library/alpine:latest': { createdat: 'T1', target: { digest: 'sha256:aa', size: '\x02' } },
        'docker.io/library/busybox:1': { createdat: 'T2', target: { digest: 'sha256:bb', size: '\x04' } },
      },
      labels: { a: '1', b: '2' },
      empty: {},
    },
  },
  other: { k: 'v' },
};

const SAMPLE_DUMP: Dump = {
  other: { k: 'v' },
  v1: {
    moby: {
      empty: {},
      images: {
        'docker.io/library/alpine:latest': { createdat: 'T1', target: { digest: 'sha256:aa', size: '\x02' } },
        'docker.io/library/busybox:1': { createdat: 'T2', target: { digest: 'sha256:bb', size: '\x04' } },
      },
      labels: { a: '1', b: '2' },
    },
    version: '\x06',
  },
};

/** Deterministic PRNG for the fuzz test (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ------------------------------------------------------------------------------------------------
// checksum and meta

test('fnv1a64 matches the published FNV-1a 64-bit vectors', () => {
  assert.equal(fnv1a64(Buffer.alloc(0)), 0xcbf29ce484222325n);
  assert.equal(fnv1a64(Buffer.from('a')), 0xaf63dc4c8601ec8cn);
  assert.equal(fnv1a64(Buffer.from('foobar')), 0x85944171f73967e8n);
});

test('reads a little-endian file: nested buckets, values, sequences, metadata', () => {
  const bolt = buildBolt(SAMPLE, { txid: 5 });
  const db = open(bolt);
  assert.deepEqual(dump(db.root()), SAMPLE_DUMP);
  assert.equal(db.pageSize, 4096);
  assert.equal(db.byteOrder, 'LE');
  assert.equal(db.txid, 5n);
  assert.equal(db.meta.page, 1);
  assert.equal(db.meta.highWater, bolt.highWater);
  assert.equal(db.bucketPath('v1', 'moby')!.sequence, 42n);
  assert.equal(db.bucketPath('v1')!.sequence, 0n);
  assert.equal(db.bucketPath('v1')!.get('version')!.toString('latin1'), '\x06');
  assert.equal(db.bucketPath('v1', 'moby', 'images', 'docker.io/library/busybox:1', 'target')!.get('digest')!.toString(), 'sha256:bb');
  assert.deepEqual(db.findings, []);
});

test('get and bucket distinguish values from buckets and miss cleanly', () => {
  const db = open(buildBolt(SAMPLE));
  const v1 = db.bucketPath('v1')!;
  assert.equal(v1.get('moby'), undefined, 'get of a bucket key is undefined, as in bbolt');
  assert.equal(v1.bucket('version'), undefined, 'bucket of a value key is undefined');
  assert.equal(v1.get('nope'), undefined);
  assert.equal(v1.get(Buffer.from('version'))!.toString('latin1'), '\x06', 'Buffer keys work too');
  assert.equal(db.bucketPath('v1', 'nope', 'x'), undefined);
  assert.equal(db.bucketPath('v1', 'version'), undefined);
  assert.deepEqual(dump(db.bucketPath('v1', 'moby', 'empty')!), {});
  assert.deepEqual(db.findings, []);
});

test('reads a big-endian file (s390x/ppc64 writers) to the same content', () => {
  const le = buildBolt(SAMPLE);
  const be = buildBolt(SAMPLE, { bigEndian: true });
  assert.deepEqual(be.buf.subarray(16, 20), Buffer.from([0xed, 0x0c, 0xda, 0xed]));
  assert.deepEqual(le.buf.subarray(16, 20), Buffer.from([0xed, 0xda, 0x0c, 0xed]));
  const db = open(be);
  assert.equal(db.byteOrder, 'BE');
  assert.equal(db.txid, 3n);
  assert.deepEqual(dump(db.root()), SAMPLE_DUMP);
  assert.equal(db.bucketPath('v1', 'moby')!.sequence, 42n);
  assert.deepEqual(db.findings, []);
});

test('inline and page-backed buckets read the same', () => {
  const always = buildBolt(SAMPLE, { inline: 'always' });
  const never = buildBolt(SAMPLE, { inline: 'never' });
  const auto = buildBolt(SAMPLE);
  assert.equal(always.roots.get('v1/moby/labels'), 0);
  assert.notEqual(never.roots.get('v1/moby/labels'), 0);
  assert.equal(auto.roots.get('v1/moby/labels'), 0, 'small leaf buckets are inline under bbolt rules');
  assert.notEqual(auto.roots.get('v1/moby'), 0, 'buckets with sub-buckets are never inline');
  for (const bolt of [always, never, auto]) {
    const db = open(bolt);
    assert.deepEqual(dump(db.root()), SAMPLE_DUMP);
    assert.deepEqual(db.findings, []);
  }
  assert.equal(open(always).bucketPath('v1', 'moby', 'labels')!.inline, true);
  assert.equal(open(never).bucketPath('v1', 'moby', 'labels')!.inline, false);
  assert.equal(open(never).bucketPath('v1', 'moby', 'labels')!.root, never.roots.get('v1/moby/labels'));
  // An inline bucket holding sub-buckets is not something bbolt writes, but it reads.
  assert.equal(open(always).bucketPath('v1', 'moby', 'images', 'docker.io/library/alpine:latest', 'target')!.get('size')!.toString('latin1'), '\x02');
});

for (const pageSize of [1024, 4096, 16384, 65536]) {
  test(`page size ${pageSize}: overflow values come back byte for byte`, () => {
    const big = Buffer.alloc(pageSize * 3 + 123);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
    const bolt = buildBolt({ b: { big, small: 's', zz: 'last' } }, { pageSize, inline: 'never' });
    const spans = [...bolt.pages.values()].filter((p) => p.owner === 'b' && p.kind === 'leaf').map((p) => p.overflow);
    assert.ok(Math.max(...spans) >= 3, 'a leaf really spans overflow pages');
    assert.equal(bolt.pages.get(bolt.roots.get('b')!)!.kind, 'branch', 'the big value got a leaf of its own');
    const db = open(bolt);
    assert.equal(db.pageSize, pageSize);
    assert.deepEqual(db.bucketPath('b')!.get('big'), big);
    assert.deepEqual([...db.bucketPath('b')!.entries()].map((e) => e.key.toString()), ['big', 'small', 'zz']);
    assert.equal(db.bucketPath('b')!.get('zz')!.toString(), 'last');
    assert.deepEqual(db.findings, []);
  });
}

test('branch pages: multi-level trees iterate in order and every key is found', () => {
  const keys = Array.from({ length: 300 }, (_, i) => `key-${String(i * 7).padStart(5, '0')}`);
  const t: Record<string, string> = {};
  for (const k of keys) t[k] = `val:${k}`;
  const bolt = buildBolt({ big: t }, { maxLeafKeys: 4, maxBranchKeys: 3 });
  const root = bolt.roots.get('big')!;
  assert.equal(bolt.pages.get(root)!.kind, 'branch');
  const branches = [...bolt.pages.values()].filter((p) => p.kind === 'branch' && p.owner === 'big').length;
  assert.ok(branches > 30, `expected many branch pages, got ${branches}`);
  const db = open(bolt);
  const b = db.bucketPath('big')!;
  const seen = [...b.entries()].map((e) => e.key.toString());
  assert.deepEqual(seen, keys);
  for (const k of keys) assert.equal(b.get(k)?.toString(), `val:${k}`, k);
  // Misses before the first key, between keys, and after the last one.
  for (const k of ['a', 'key-', 'key-00000x', 'key-00008', 'key-02094', 'zzz']) assert.equal(b.get(k), undefined, k);
  assert.deepEqual(db.findings, []);
});

test('meta: the higher txid wins when both are valid', () => {
  const db = open(buildBolt({ a: { x: 'new' } }, { txid: 8, older: { a: { x: 'old' } } }));
  assert.equal(db.txid, 8n);
  assert.equal(db.meta.page, 0);
  assert.equal(db.metas[1].txid, 7n);
  assert.equal(db.bucketPath('a')!.get('x')!.toString(), 'new');
  assert.deepEqual(db.findings, []);
});

test('meta: a bad checksum on the newer meta falls back to the older one, with a finding', () => {
  const bolt = buildBolt({ a: { x: 'new' } }, { txid: 8, older: { a: { x: 'old' } }, corruptMeta0: 'checksum' });
  const { db, findings } = openBolt(bolt.buf);
  assert.ok(db);
  assert.equal(db.txid, 7n);
  assert.equal(db.meta.page, 1);
  assert.equal(db.bucketPath('a')!.get('x')!.toString(), 'old');
  const bad = only(findings, 'bbolt.bad-meta');
  assert.equal(bad.length, 2);
  assert.match(bad[0]!.message, /page 0: .*checksum mismatch.*txid 8/);
  assert.ok(bad.every((f) => f.severity === 'warn'));
  assert.equal(db.metas[0].valid, false);
});

test('meta: invalid version on page 1 (higher txid) is rejected', () => {
  const db = open(buildBolt({ a: { x: 'new' } }, { txid: 9, older: { a: { x: 'old' } }, corruptMeta1: 'version' }));
  assert.equal(db.txid, 8n);
  assert.equal(db.bucketPath('a')!.get('x')!.toString(), 'old');
  assert.match(only(db.findings, 'bbolt.bad-meta')[0]!.message, /page 1: .*version 1/);
});

test('meta: an invalid meta with the higher txid never wins over a valid lower one', () => {
  // txid 8 in page 0 is valid; page 1 claims txid 1000 but its checksum is wrong.
  const bolt = buildBolt({ a: { x: 'good' } }, { txid: 8 });
  const w = new Ints(false);
  w.u64(bolt.buf, bolt.pageSize + 64, 1000);
  const db = open(bolt);
  assert.equal(db.txid, 8n);
  assert.equal(db.bucketPath('a')!.get('x')!.toString(), 'good');
  assert.match(only(db.findings, 'bbolt.bad-meta')[0]!.message, /page 1: .*txid 1000/);
});

test('meta: a checksummed meta 1 whose page size disagrees with page 0 is not used', () => {
  const bolt = buildBolt({ a: { x: 'new' } }, { txid: 9, older: { a: { x: 'old' } } });
  new Ints(false).u32(bolt.buf, bolt.pageSize + 24, 8192);
  resealMeta(bolt, 1);
  const db = open(bolt);
  assert.equal(db.txid, 8n);
  assert.equal(db.bucketPath('a')!.get('x')!.toString(), 'old');
  assert.match(only(db.findings, 'bbolt.bad-meta')[0]!.message, /page 1: .*page size 8192 differs from 4096/);
});

test('meta: both invalid means no database and an error', () => {
  const { db, findings } = openBolt(buildBolt({ a: {} }, { corruptMeta0: 'checksum', corruptMeta1: 'magic' }).buf);
  assert.equal(db, undefined);
  assert.ok(findings.some((f) => f.code === 'bbolt.bad-meta' && f.severity === 'error'));
});

for (const pageSize of [1024, 8192, 65536]) {
  test(`meta: page 0 torn, page size ${pageSize} is found by probing for meta page 1`, () => {
    const bolt = buildBolt({ a: { x: 'new' } }, { pageSize, txid: 4, older: { a: { x: 'old' } }, corruptMeta0: 'magic' });
    const db = open(bolt);
    assert.equal(db.pageSize, pageSize);
    assert.equal(db.txid, 3n);
    assert.equal(db.bucketPath('a')!.get('x')!.toString(), 'old');
  });
}

test('too small, empty or random input yields findings, never a throw', () => {
  for (const buf of [Buffer.alloc(0), Buffer.alloc(50), Buffer.alloc(8192)]) {
    const { db, findings } = openBolt(buf);
    assert.equal(db, undefined);
    assert.ok(findings.length > 0 && findings.every((f) => f.severity === 'error'));
  }
  const r = rng(1);
  const junk = Buffer.alloc(64 * 1024);
  for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(r() * 256);
  const { db, findings } = openBolt(junk);
  assert.equal(db, undefined);
  assert.deepEqual(codes(findings), ['bbolt.bad-meta']);
  assert.equal(openBolt(Buffer.alloc(10)).findings[0]!.code, 'bbolt.too-small');
});

test('findings carry the evidence path when given', () => {
  const bolt = buildBolt({ a: {} }, { corruptMeta0: 'checksum', txid: 4 });
  const { findings } = openBolt(bolt.buf, { path: 'containerd/daemon/meta.db' });
  assert.ok(findings.length > 0);
  for (const f of findings) assert.equal(f.path, 'containerd/daemon/meta.db');
});

// ------------------------------------------------------------------------------------------------
// deleted records

test('deleted(): records in freelist pages, including those inside inline buckets', () => {
  const bolt = buildBolt(SAMPLE, {
    stale: [{ gone: 'was here', 'old-bucket': { inner: 'secret', inner2: 'x' } }, { another: 'one' }],
  });
  const db = open(bolt);
  assert.deepEqual(db.freelist(), bolt.stalePages);
  const recs = [...db.deleted()];
  assert.deepEqual(
    recs.map((r) => [r.page, r.source, r.within.map(String).join('/'), r.key.toString(), r.isBucket ? '<bucket>' : r.value.toString()]),
    [
      [bolt.stalePages[0], 'freelist', '', 'gone', 'was here'],
      [bolt.stalePages[0], 'freelist', '', 'old-bucket', '<bucket>'],
      [bolt.stalePages[0], 'freelist', 'old-bucket', 'inner', 'secret'],
      [bolt.stalePages[0], 'freelist', 'old-bucket', 'inner2', 'x'],
      [bolt.stalePages[1], 'freelist', '', 'another', 'one'],
    ],
  );
  assert.deepEqual(dump(db.root()), SAMPLE_DUMP, 'the live tree is unaffected');
  assert.deepEqual(db.findings, []);
});

test('deleted(): big freelist count encoding (count == 0xFFFF, real count in the first u64)', () => {
  const bolt = buildBolt({ a: { x: '1' } }, { stale: [{ s1: 'a' }, { s2: 'b' }], freelist: 'big-count' });
  assert.equal(bolt.buf.readUInt16LE(2 * 4096 + 10), 0xffff);
  const db = open(bolt);
  assert.deepEqual(db.freelist(), bolt.stalePages);
  assert.deepEqual([...db.deleted()].map((r) => r.key.toString()), ['s1', 's2']);
});

test('deleted(): pages past the high-water mark and unreachable pages are searched too', () => {
  const bolt = buildBolt({ a: { x: '1' } }, { beyondHighWater: [{ future: 'uncommitted' }], unlisted: [{ leaked: 'page' }] });
  const db = open(bolt);
  assert.ok(bolt.beyondPages[0]! >= db.meta.highWater);
  const recs = [...db.deleted()].map((r) => [r.page, r.source, r.key.toString(), r.value.toString()]);
  assert.deepEqual(recs, [
    [bolt.unlistedPages[0], 'unreachable', 'leaked', 'page'],
    [bolt.beyondPages[0], 'beyond-high-water', 'future', 'uncommitted'],
  ]);
});

test('deleted(): with the freelist not persisted, free pages are found by reachability', () => {
  const bolt = buildBolt(SAMPLE, { stale: [{ gone: 'x' }], freelist: 'none', inline: 'never', maxLeafKeys: 1 });
  const db = open(bolt);
  assert.equal(db.meta.freelist, undefined);
  assert.deepEqual(db.freelist(), []);
  assert.deepEqual([...db.deleted()].map((r) => [r.page, r.source, r.key.toString()]), [[bolt.stalePages[0], 'unreachable', 'gone']]);
});

test('deleted(): a stale overflow leaf is read whole, and its continuation pages are not misread', () => {
  const big = Buffer.alloc(10000, 0x41);
  const bolt = buildBolt({ a: { x: '1' } }, { stale: [{ big, after: 'tail' }] });
  const page = bolt.stalePages[0]!;
  assert.equal(bolt.pages.get(page)!.overflow, 2);
  const db = open(bolt);
  assert.deepEqual(db.freelist(), [page, page + 1, page + 2]);
  const recs = [...db.deleted()];
  assert.deepEqual(recs.map((r) => [r.page, r.key.toString()]), [[page, 'after'], [page, 'big']]);
  assert.equal(recs[0]!.value.toString(), 'tail');
  assert.deepEqual(recs[1]!.value, big);
});

test('deleted(): a freelist entry that the live tree uses is reported and not yielded as deleted', () => {
  const bolt = buildBolt({ a: { x: 'live' } }, { inline: 'never', stale: [{ s: 'stale' }] });
  const live = bolt.roots.get('a')!;
  const bolt2 = buildBolt({ a: { x: 'live' } }, { inline: 'never', stale: [{ s: 'stale' }], extraFree: [live] });
  assert.equal(bolt2.roots.get('a'), live);
  const db = open(bolt2);
  assert.deepEqual([...db.deleted()].map((r) => r.key.toString()), ['s']);
  assert.match(only(db.findings, 'bbolt.freelist-live-page')[0]!.message, new RegExp(`page ${live}:`));
  assert.equal(open(bolt).findings.length, 0);
});

test('deleted(): a stale span cut short by a live page is not read past it', () => {
  // Stale page claims 5 overflow pages, but the page after it is live: records there are not stale.
  const bolt = buildBolt({ a: { x: '1' } }, { inline: 'never', reserve: 2 });
  const [stale, liveLater] = bolt.reserved as [number, number];
  const w = new Ints(false);
  writePage(bolt, stale, encodeLeaf([{ key: Buffer.from('k'), flags: 0, value: Buffer.from('v') }], stale, bolt.pageSize, w));
  w.u32(bolt.buf, stale * bolt.pageSize + 12, 5);
  // Make the reserved page after it live by pointing bucket 'a' at a leaf written there.
  writePage(bolt, liveLater, encodeLeaf([{ key: Buffer.from('x'), flags: 0, value: Buffer.from('2') }], liveLater, bolt.pageSize, w));
  const e = leafElem(bolt, bolt.roots.get('')!, 'a');
  w.u64(bolt.buf, e.value, liveLater);
  const db = open(bolt);
  assert.equal(db.bucketPath('a')!.get('x')!.toString(), '2');
  const recs = [...db.deleted()];
  assert.deepEqual(recs.map((r) => [r.page, r.key.toString()]), [
    [bolt.roots.get('a'), 'x'], // the old root of 'a', now unreachable
    [stale, 'k'],
  ]);
});

// ------------------------------------------------------------------------------------------------
// hostile files: every case is a finding with a page number, the rest still reads

function hostileBase(): BuiltBolt {
  return buildBolt({ a: { x: '1', y: '2' }, b: { z: '3' }, c: { q: '4' } }, { inline: 'never', reserve: 4 });
}

function rootElem(bolt: BuiltBolt, key: string) {
  return leafElem(bolt, bolt.roots.get('')!, key);
}

test('hostile: meta root page out of range', () => {
  const bolt = hostileBase();
  new Ints(false).u64(bolt.buf, 32, 99999);
  resealMeta(bolt, 1);
  new Ints(false).u64(bolt.buf, bolt.pageSize + 32, 99999);
  resealMeta(bolt, 0);
  const db = open(bolt);
  assert.deepEqual(dump(db.root()), {});
  const f = only(db.findings, 'bbolt.page-out-of-range');
  assert.equal(f.length, 1);
  assert.match(f[0]!.message, /^page 99999: /);
  assert.equal(f[0]!.severity, 'error');
});

test('hostile: bucket root pointing at a meta page or past the file', () => {
  const bolt = hostileBase();
  const w = new Ints(false);
  w.u64(bolt.buf, rootElem(bolt, 'a').value, 1);
  w.u64(bolt.buf, rootElem(bolt, 'b').value, 2 ** 40);
  const db = open(bolt);
  assert.deepEqual(dump(db.root()), { a: {}, b: {}, c: { q: '4' } });
  const msgs = only(db.findings, 'bbolt.page-out-of-range').map((f) => f.message);
  assert.equal(msgs.length, 2);
  assert.match(msgs[0]!, /^page 1: is a meta page/);
  assert.match(msgs[1]!, new RegExp(`^page ${2 ** 40}: is beyond the end`));
  assert.equal(db.bucketPath('a')!.get('x'), undefined);
});

test('hostile: page whose header id does not match its position', () => {
  const bolt = hostileBase();
  const pa = bolt.roots.get('a')!;
  new Ints(false).u64(bolt.buf, pa * bolt.pageSize, 77);
  const db = open(bolt);
  assert.deepEqual(dump(db.root()), { a: {}, b: { z: '3' }, c: { q: '4' } });
  assert.match(only(db.findings, 'bbolt.page-id-mismatch')[0]!.message, new RegExp(`^page ${pa}: header says it is page 77`));
});

test('hostile: wrong page type where a branch or leaf is expected', () => {
  const bolt = hostileBase();
  const w = new Ints(false);
  w.u64(bolt.buf, rootElem(bolt, 'a').value, bolt.freelistPage);
  const pb = bolt.roots.get('b')!;
  w.u16(bolt.buf, pb * bolt.pageSize + 8, 0x03);
  const db = open(bolt);
  assert.deepEqual(dump(db.root()), { a: {}, b: {}, c: { q: '4' } });
  const msgs = only(db.findings, 'bbolt.bad-page-type').map((f) => f.message);
  assert.deepEqual(msgs.map((m) => m.split(':')[0]), ['page 2', `page ${pb}`]);
});

test('hostile: leaf element pos, ksize or vsize pointing past the page skips just that element', () => {
  const bolt = hostileBase();
  const w = new Ints(false);
  const pa = bolt.roots.get('a')!;
  w.u32(bolt.buf, elemOffset(bolt, pa, 0) + 4, 0xffffff00); // pos of x
  const db = open(bolt);
  assert.deepEqual(dump(db.bucketPath('a')!), { y: '2' });
  assert.equal(db.bucketPath('a')!.get('x'), undefined);
  assert.match(only(db.findings, 'bbolt.element-out-of-bounds')[0]!.message, new RegExp(`^page ${pa}: leaf element 0 points past the page`));

  for (const field of [8, 12]) {
    const b2 = hostileBase();
    w.u32(b2.buf, elemOffset(b2, b2.roots.get('a')!, 1) + field, 0xfffffff0);
    const db2 = open(b2);
    assert.deepEqual(dump(db2.bucketPath('a')!), { x: '1' });
    assert.equal(only(db2.findings, 'bbolt.element-out-of-bounds').length, 1);
  }
});

test('hostile: overlapping leaf elements (two keys sharing bytes) are refused', () => {
  const bolt = hostileBase();
  const w = new Ints(false);
  const pa = bolt.roots.get('a')!;
  // Element 1 points at element 0's data: pos is relative to each element, so subtract 16.
  const pos0 = w.r32(bolt.buf, elemOffset(bolt, pa, 0) + 4);
  w.u32(bolt.buf, elemOffset(bolt, pa, 1) + 4, pos0 - 16);
  const db = open(bolt);
  assert.deepEqual(dump(db.bucketPath('a')!), { x: '1' });
  assert.match(only(db.findings, 'bbolt.element-overlap')[0]!.message, new RegExp(`^page ${pa}: leaf element 1`));
});

test('hostile: branch element out of bounds skips only that child', () => {
  const t: Record<string, string> = {};
  for (let i = 0; i < 12; i++) t[`k${String(i).padStart(2, '0')}`] = String(i);
  const bolt = buildBolt({ b: t }, { maxLeafKeys: 4, inline: 'never' });
  const br = bolt.roots.get('b')!;
  assert.equal(bolt.pages.get(br)!.kind, 'branch');
  new Ints(false).u32(bolt.buf, elemOffset(bolt, br, 1), 0x7fffffff);
  const db = open(bolt);
  assert.deepEqual(Object.keys(dump(db.bucketPath('b')!)), ['k00', 'k01', 'k02', 'k03', 'k08', 'k09', 'k10', 'k11']);
  assert.match(only(db.findings, 'bbolt.element-out-of-bounds')[0]!.message, new RegExp(`^page ${br}: branch element 1`));
});

test('hostile: a cycle in the page graph is cut, iteration and lookup terminate', () => {
  const t: Record<string, string> = {};
  for (let i = 0; i < 40; i++) t[`k${String(i).padStart(2, '0')}`] = String(i);
  const bolt = buildBolt({ b: t }, { maxLeafKeys: 4, maxBranchKeys: 3, inline: 'never' });
  const root = bolt.roots.get('b')!;
  const w = new Ints(false);
  // Last child of the root branch points back at the root.
  const count = bolt.buf.readUInt16LE(root * bolt.pageSize + 10);
  w.u64(bolt.buf, elemOffset(bolt, root, count - 1) + 8, root);
  const db = open(bolt);
  const keys = Object.keys(dump(db.bucketPath('b')!));
  assert.ok(keys.length > 0 && keys.length < 40, `partial result expected, got ${keys.length}`);
  assert.equal(db.bucketPath('b')!.get('k39'), undefined);
  assert.equal(db.bucketPath('b')!.get('k00')!.toString(), '0');
  const cyc = only(db.findings, 'bbolt.cycle');
  assert.ok(cyc.length >= 1);
  assert.match(cyc[0]!.message, new RegExp(`^page ${root}: reached twice`));
  [...db.deleted()]; // reachability must terminate too
});

test('hostile: a bucket whose root is an enclosing bucket root is a cycle', () => {
  const bolt = buildBolt({ a: { sub: { x: '1' } } }, { inline: 'never' });
  const pa = bolt.roots.get('a')!;
  new Ints(false).u64(bolt.buf, leafElem(bolt, pa, 'sub').value, pa);
  const db = open(bolt);
  assert.equal(db.bucketPath('a', 'sub'), undefined);
  assert.deepEqual(dump(db.root()), { a: { sub: '<unreadable bucket>' } });
  assert.match(only(db.findings, 'bbolt.cycle')[0]!.message, new RegExp(`^page ${pa}: bucket a/sub`));
});

test('hostile: two buckets sharing one root page: the second is refused', () => {
  const bolt = hostileBase();
  const pa = bolt.roots.get('a')!;
  new Ints(false).u64(bolt.buf, rootElem(bolt, 'b').value, pa);
  const db = open(bolt);
  assert.deepEqual(dump(db.root()), { a: { x: '1', y: '2' }, b: {}, c: { q: '4' } });
  assert.match(only(db.findings, 'bbolt.shared-page')[0]!.message, new RegExp(`^page ${pa}: already belongs`));
});

test('hostile: absurd element count on a leaf', () => {
  const bolt = hostileBase();
  const pa = bolt.roots.get('a')!;
  new Ints(false).u16(bolt.buf, pa * bolt.pageSize + 10, 0xffff);
  const db = open(bolt);
  assert.deepEqual(dump(db.bucketPath('a')!), {});
  assert.match(only(db.findings, 'bbolt.bad-count')[0]!.message, new RegExp(`^page ${pa}: 65535 elements`));
});

test('hostile: absurd freelist count is clamped to what fits', () => {
  const bolt = buildBolt({ a: {} }, { stale: [{ s: '1' }] });
  new Ints(false).u16(bolt.buf, 2 * bolt.pageSize + 10, 0xfffe);
  const db = open(bolt);
  db.freelist();
  assert.match(only(db.findings, 'bbolt.bad-count')[0]!.message, /^page 2: freelist claims 65534 ids but only 510 fit/);
  assert.deepEqual([...db.deleted()].map((r) => r.key.toString()), ['s']);
});

test('hostile: overflow running past the end of the file', () => {
  const bolt = hostileBase();
  const pa = bolt.roots.get('a')!;
  new Ints(false).u32(bolt.buf, pa * bolt.pageSize + 12, 1000);
  const db = open(bolt);
  assert.deepEqual(dump(db.root()), { a: {}, b: { z: '3' }, c: { q: '4' } });
  assert.match(only(db.findings, 'bbolt.overflow-past-eof')[0]!.message, new RegExp(`^page ${pa}: overflow 1000`));
});

function branchChain(levels: number): { bolt: BuiltBolt; db: BoltDB } {
  const bolt = buildBolt({ a: { x: '1' } }, { inline: 'never', reserve: levels + 1 });
  const w = new Ints(false);
  const ids = bolt.reserved;
  for (let i = 0; i < levels; i++) writePage(bolt, ids[i]!, encodeBranch([{ key: Buffer.from('k'), pgid: ids[i + 1]! }], ids[i]!, bolt.pageSize, w));
  writePage(bolt, ids[levels]!, encodeLeaf([{ key: Buffer.from('k'), flags: 0, value: Buffer.from('deep') }], ids[levels]!, bolt.pageSize, w));
  w.u64(bolt.buf, rootElem(bolt, 'a').value, ids[0]!);
  return { bolt, db: open(bolt) };
}

test(`hostile: a branch chain ${MAX_DEPTH - 1} deep still reads`, () => {
  const { db } = branchChain(MAX_DEPTH - 1);
  assert.deepEqual(dump(db.bucketPath('a')!), { k: 'deep' });
  assert.equal(db.bucketPath('a')!.get('k')!.toString(), 'deep');
  assert.deepEqual(db.findings, []);
});

test(`hostile: a branch chain ${MAX_DEPTH} deep is cut with a finding`, () => {
  const { db } = branchChain(MAX_DEPTH);
  assert.deepEqual(dump(db.bucketPath('a')!), {});
  assert.equal(db.bucketPath('a')!.get('k'), undefined);
  assert.ok(only(db.findings, 'bbolt.too-deep').length >= 1);
  assert.match(only(db.findings, 'bbolt.too-deep')[0]!.message, /^page \d+: tree is more than 64 levels/);
});

test('hostile: buckets nested deeper than the bound', () => {
  const names = Array.from({ length: MAX_DEPTH + 3 }, (_, i) => `n${i}`);
  let t: BoltTree = { leaf: 'bottom' };
  for (const n of [...names].reverse()) t = { [n]: t };
  const bolt = buildBolt(t, { inline: 'never' });
  const db = open(bolt);
  assert.ok(db.bucketPath(...names.slice(0, MAX_DEPTH)));
  assert.deepEqual(db.findings, []);
  assert.equal(db.bucketPath(...names.slice(0, MAX_DEPTH + 1)), undefined);
  assert.match(only(db.findings, 'bbolt.too-deep')[0]!.message, /bucket n0\/n1\/.*nest more than 64/);
});

test('hostile: truncated file', () => {
  const bolt = buildBolt(SAMPLE, { inline: 'never' });
  const cut = bolt.buf.subarray(0, bolt.pageSize * (bolt.highWater - 3));
  const db = open(cut);
  dump(db.root());
  [...db.deleted()];
  assert.ok(db.findings.some((f) => f.code === 'bbolt.truncated'));
  assert.ok(db.findings.some((f) => f.code === 'bbolt.page-out-of-range' && /beyond the end of the file/.test(f.message)));
});

test('hostile: short bucket value and non-leaf inline page', () => {
  const bolt = buildBolt({ a: { x: '1' }, b: { y: '2' }, c: { z: '3' } }, { inline: 'always' });
  const root = bolt.roots.get('')!;
  const w = new Ints(false);
  w.u32(bolt.buf, leafElem(bolt, root, 'a').elem + 12, 4); // vsize of a: 4 bytes
  w.u16(bolt.buf, leafElem(bolt, root, 'b').value + 16 + 8, 0x01); // inline page flags: branch
  const db = open(bolt);
  assert.deepEqual(dump(db.root()), { a: '<unreadable bucket>', b: {}, c: { z: '3' } });
  assert.match(only(db.findings, 'bbolt.bad-bucket')[0]!.message, /^bucket a: value is 4 bytes/);
  assert.match(only(db.findings, 'bbolt.bad-page-type')[0]!.message, /inline page of bucket b/);
});

test('hostile: unsorted keys are read in stored order with a finding; lookups behave like bbolt', () => {
  const bolt = hostileBase();
  const id = bolt.reserved[0]!;
  const w = new Ints(false);
  const els = ['m', 'c', 'x'].map((k) => ({ key: Buffer.from(k), flags: 0, value: Buffer.from(k.toUpperCase()) }));
  writePage(bolt, id, encodeLeaf(els, id, bolt.pageSize, w));
  w.u64(bolt.buf, rootElem(bolt, 'a').value, id);
  const db = open(bolt);
  const a = db.bucketPath('a')!;
  assert.deepEqual(Object.keys(dump(a)), ['m', 'c', 'x']);
  assert.equal(only(db.findings, 'bbolt.unsorted').length, 1);
  assert.equal(a.get('x')!.toString(), 'X');
  // bbolt's binary search over [m, c, x] lands on x for both: it misses keys iteration shows.
  assert.equal(a.get('m'), undefined);
  assert.equal(a.get('c'), undefined);
});

test('hostile: a top-level plain value and a page past the high-water mark are reported but read', () => {
  const bolt = buildBolt({ a: { x: '1' }, plain: 'value' }, { inline: 'never', beyondHighWater: [{ k: 'v' }] });
  new Ints(false).u64(bolt.buf, rootElem(bolt, 'a').value, bolt.beyondPages[0]!);
  const db = open(bolt);
  assert.deepEqual(dump(db.root()), { a: { k: 'v' }, plain: 'value' });
  assert.deepEqual(codes(db.findings), ['bbolt.page-beyond-high-water', 'bbolt.root-value']);
  assert.ok(db.findings.every((f) => f.severity === 'warn'));
});

test('hostile: empty keys are read and reported', () => {
  const bolt = buildBolt({ a: new Map<string | Buffer, string>([[Buffer.alloc(0), 'nokey'], ['k', 'v']]) }, { inline: 'never' });
  const db = open(bolt);
  assert.deepEqual([...db.bucketPath('a')!.entries()].map((e) => [e.key.length, e.value!.toString()]), [[0, 'nokey'], [1, 'v']]);
  assert.match(only(db.findings, 'bbolt.empty-key')[0]!.message, new RegExp(`^page ${bolt.roots.get('a')}: leaf element 0`));
});

test('hostile: findings are capped', () => {
  const t = new Map<string, string>();
  for (let i = 0; i < 2500; i++) t.set(`k${String(i).padStart(4, '0')}`, 'v');
  const bolt = buildBolt({ a: t }, { pageSize: 65536, inline: 'never' });
  const pa = bolt.roots.get('a')!;
  assert.equal(bolt.pages.get(pa)!.kind, 'leaf');
  const w = new Ints(false);
  for (let i = 0; i < 2500; i++) w.u32(bolt.buf, elemOffset(bolt, pa, i) + 4, 0xfffff000);
  const db = open(bolt);
  assert.deepEqual(dump(db.bucketPath('a')!), {});
  assert.equal(db.findings.length, 1001);
  assert.equal(db.findings[1000]!.code, 'bbolt.too-many-findings');
});

test('findings are reported once however often the tree is read', () => {
  const bolt = hostileBase();
  new Ints(false).u32(bolt.buf, elemOffset(bolt, bolt.roots.get('a')!, 0) + 4, 0xffffff00);
  const db = open(bolt);
  dump(db.root());
  const n = db.findings.length;
  dump(db.root());
  db.bucketPath('a')!.get('x');
  assert.equal(db.findings.length, n);
  assert.equal(n, 1);
});

test('fuzz: random corruption never throws, never hangs, and stays bounded', () => {
  const t: Record<string, BoltTree | string> = {};
  for (let i = 0; i < 60; i++) t[`k${i}`] = i % 5 === 0 ? { a: String(i), b: { c: 'x'.repeat(i * 40) } } : 'v'.repeat(i * 20);
  const base = buildBolt({ root: t, other: { q: 'r' } }, { pageSize: 1024, maxLeafKeys: 6, maxBranchKeys: 3, stale: [{ s: 'x', t: { u: 'v' } }] });
  const w = new Ints(false);
  const r = rng(12345);
  for (let iter = 0; iter < 400; iter++) {
    const buf = Buffer.from(base.buf);
    const n = 1 + Math.floor(r() * 12);
    for (let i = 0; i < n; i++) {
      const page = 2 + Math.floor(r() * (base.highWater - 2));
      // Aim at headers and element arrays where damage matters most.
      const off = page * base.pageSize + Math.floor(r() * (r() < 0.7 ? 96 : base.pageSize));
      if (r() < 0.5) buf[off] = Math.floor(r() * 256);
      else w.u32(buf, off - (off % 4), Math.floor(r() * 2 ** 32) >>> (r() < 0.5 ? 0 : 20));
    }
    const { db } = openBolt(buf);
    assert.ok(db);
    let count = 0;
    const walk = (b: Bucket, d: number): void => {
      for (const e of b.entries()) {
        count++;
        b.get(e.key);
        if (e.bucket) walk(e.bucket, d + 1);
      }
    };
    walk(db.root(), 0);
    assert.ok(count < 10000, `iteration ${iter}: ${count} entries from a 70-entry file`);
    let stale = 0;
    for (const _ of db.deleted()) stale++;
    assert.ok(stale < 10000);
  }
});

test('a stale inline bucket value built by hand is parsed to its records', () => {
  // Guard against the writer and reader agreeing on a wrong layout: build the page by hand.
  const w = new Ints(false);
  const inner = Buffer.alloc(16 + 16 + 2);
  inner.writeUInt16LE(0x02, 8);
  inner.writeUInt16LE(1, 10);
  inner.writeUInt32LE(0, 16); // flags
  inner.writeUInt32LE(16, 20); // pos: data starts right after this element
  inner.writeUInt32LE(1, 24);
  inner.writeUInt32LE(1, 28);
  inner.write('kv', 32);
  const v = bucketValue(0, 9n, w, inner);
  const bolt = buildBolt({ a: { x: '1' } }, { stale: [new Map([['bk', 'placeholder']])] });
  const page = bolt.stalePages[0]!;
  writePage(bolt, page, encodeLeaf([{ key: Buffer.from('bk'), flags: 1, value: v }], page, bolt.pageSize, w));
  const recs = [...open(bolt).deleted()];
  assert.deepEqual(recs.map((r) => [r.within.map(String), r.key.toString(), r.value.toString('latin1').length]), [
    [[], 'bk', 34 + 16],
    [['bk'], 'k', 1],
  ]);
  assert.equal(recs[1]!.value.toString(), 'v');
});
