/**
 * Test-only bbolt *writer*: lays out a bbolt file byte by byte from a nested JS description, so
 * tests can make layouts a real bbolt rarely produces (tiny leaves, deep branches, big-endian,
 * stale pages) and then corrupt them precisely. Layout follows etcd-io/bbolt node.write /
 * Bucket.write (FORMATS.md §10): elements first, then each key+value in element order.
 */
import { fnv1a64 } from '../../src/store/bbolt.js';

/** Symbol key for a bucket's NextSequence value: `{ [SEQ]: 7n, key: 'v' }`. */
export const SEQ = Symbol('sequence');

export type BoltValue = string | Buffer | BoltTree;
/** A bucket: string keys (or a Map for binary keys) to values or nested buckets. */
export type BoltTree = { [key: string]: BoltValue; [SEQ]?: bigint } | Map<string | Buffer, BoltValue>;

export interface WriterOptions {
  pageSize?: number;
  bigEndian?: boolean;
  /** auto = bbolt's rule (no sub-buckets, fits in pageSize/4); always/never force it. */
  inline?: 'auto' | 'always' | 'never';
  /** Split leaves after this many elements (default: as many as fit in a page). */
  maxLeafKeys?: number;
  /** Split branch pages after this many children (>= 2; default: as many as fit). */
  maxBranchKeys?: number;
  /** txid of the newest meta, written to page txid % 2; the other meta gets txid - 1. */
  txid?: number;
  rootSequence?: bigint;
  /** Root tree of the older meta (txid - 1). Default: the same root as the newest meta. */
  older?: BoltTree;
  /** Leaf pages of stale records, listed on the freelist. */
  stale?: BoltTree[];
  /** Leaf pages of stale records below the high-water mark but not on the freelist. */
  unlisted?: BoltTree[];
  /** Leaf pages of records written past the high-water mark. */
  beyondHighWater?: BoltTree[];
  /** 'big-count' uses the count == 0xFFFF encoding; 'none' leaves the freelist unpersisted. */
  freelist?: 'normal' | 'big-count' | 'none';
  /** Extra ids for the freelist. */
  extraFree?: number[];
  /** Zeroed pages below the high-water mark for tests to fill with writePage(). */
  reserve?: number;
  corruptMeta0?: 'checksum' | 'magic' | 'version';
  corruptMeta1?: 'checksum' | 'magic' | 'version';
}

export interface PageInfo {
  kind: 'branch' | 'leaf' | 'freelist';
  overflow: number;
  /** Bucket path ('a/b'; '' = root bucket) the page belongs to; 'stale' etc. otherwise. */
  owner: string;
}

export interface BuiltBolt {
  buf: Buffer;
  pageSize: number;
  bigEndian: boolean;
  highWater: number;
  freelistPage: number;
  /** Root page id of every bucket of the newest tree by path ('' = root bucket), 0 if inline. */
  roots: Map<string, number>;
  pages: Map<number, PageInfo>;
  stalePages: number[];
  unlistedPages: number[];
  beyondPages: number[];
  reserved: number[];
}

interface Elem {
  key: Buffer;
  flags: number;
  value: Buffer;
}

export class Ints {
  constructor(readonly be: boolean) {}
  u16(b: Buffer, o: number, v: number): void {
    if (this.be) b.writeUInt16BE(v, o);
    else b.writeUInt16LE(v, o);
  }
  u32(b: Buffer, o: number, v: number): void {
    if (this.be) b.writeUInt32BE(v >>> 0, o);
    else b.writeUInt32LE(v >>> 0, o);
  }
  u64(b: Buffer, o: number, v: number | bigint): void {
    const x = BigInt.asUintN(64, BigInt(v));
    if (this.be) b.writeBigUInt64BE(x, o);
    else b.writeBigUInt64LE(x, o);
  }
  r32(b: Buffer, o: number): number {
    return this.be ? b.readUInt32BE(o) : b.readUInt32LE(o);
  }
}

function entriesOf(t: BoltTree): [Buffer, BoltValue][] {
  const out: [Buffer, BoltValue][] = [];
  if (t instanceof Map) for (const [k, v] of t) out.push([typeof k === 'string' ? Buffer.from(k) : k, v]);
  else for (const k of Object.keys(t)) out.push([Buffer.from(k), t[k]!]);
  return out.sort((a, b) => Buffer.compare(a[0], b[0]));
}

function isTree(v: BoltValue): v is BoltTree {
  return !(typeof v === 'string') && !Buffer.isBuffer(v);
}

function seqOf(t: BoltTree): bigint {
  return t instanceof Map ? 0n : (t[SEQ] ?? 0n);
}

/** Page bytes of a leaf: header, elements, then key+value data in order. `id` goes in the header. */
export function encodeLeaf(elems: Elem[], id: number, pageSize: number, w: Ints): Buffer {
  const size = 16 + elems.reduce((n, e) => n + 16 + e.key.length + e.value.length, 0);
  const pages = pageSize === 0 ? 1 : Math.max(1, Math.ceil(size / pageSize));
  const b = Buffer.alloc(pageSize === 0 ? size : pages * pageSize);
  writeHeader(b, id, 0x02, elems.length, pages - 1, w);
  let data = 16 + 16 * elems.length;
  elems.forEach((e, i) => {
    const eo = 16 + 16 * i;
    w.u32(b, eo, e.flags);
    w.u32(b, eo + 4, data - eo);
    w.u32(b, eo + 8, e.key.length);
    w.u32(b, eo + 12, e.value.length);
    e.key.copy(b, data);
    e.value.copy(b, data + e.key.length);
    data += e.key.length + e.value.length;
  });
  return b;
}

export function encodeBranch(children: { key: Buffer; pgid: number }[], id: number, pageSize: number, w: Ints): Buffer {
  const size = 16 + children.reduce((n, c) => n + 16 + c.key.length, 0);
  const pages = Math.max(1, Math.ceil(size / pageSize));
  const b = Buffer.alloc(pages * pageSize);
  writeHeader(b, id, 0x01, children.length, pages - 1, w);
  let data = 16 + 16 * children.length;
  children.forEach((c, i) => {
    const eo = 16 + 16 * i;
    w.u32(b, eo, data - eo);
    w.u32(b, eo + 4, c.key.length);
    w.u64(b, eo + 8, c.pgid);
    c.key.copy(b, data);
    data += c.key.length;
  });
  return b;
}

function writeHeader(b: Buffer, id: number, flags: number, count: number, overflow: number, w: Ints): void {
  w.u64(b, 0, id);
  w.u16(b, 8, flags);
  w.u16(b, 10, count);
  w.u32(b, 12, overflow);
}

export function bucketValue(root: number, seq: bigint, w: Ints, inlinePage?: Buffer): Buffer {
  const h = Buffer.alloc(16);
  w.u64(h, 0, root);
  w.u64(h, 8, seq);
  return inlinePage ? Buffer.concat([h, inlinePage]) : h;
}

class Layout {
  readonly w: Ints;
  readonly pages = new Map<number, Buffer>();
  readonly info = new Map<number, PageInfo>();
  next = 3;
  constructor(
    readonly ps: number,
    be: boolean,
    readonly o: WriterOptions,
  ) {
    this.w = new Ints(be);
  }

  alloc(bytes: (id: number) => Buffer, kind: PageInfo['kind'], owner: string): number {
    const id = this.next;
    const b = bytes(id);
    const overflow = b.length / this.ps - 1;
    this.pages.set(id, b);
    this.info.set(id, { kind, overflow, owner });
    this.next += overflow + 1;
    return id;
  }

  /** Writes a bucket's tree; returns its bucket value (header, plus the inline page if inline). */
  bucket(t: BoltTree, path: string, roots: Map<string, number> | undefined): Buffer {
    const elems: Elem[] = entriesOf(t).map(([key, v]) => {
      if (!isTree(v)) return { key, flags: 0, value: typeof v === 'string' ? Buffer.from(v) : v };
      const sub = path === '' ? key.toString('latin1') : `${path}/${key.toString('latin1')}`;
      return { key, flags: 1, value: this.bucket(v, sub, roots) };
    });
    const mode = this.o.inline ?? 'auto';
    const size = 16 + elems.reduce((n, e) => n + 16 + e.key.length + e.value.length, 0);
    const inline =
      path !== '' &&
      (mode === 'always' || (mode === 'auto' && !elems.some((e) => e.flags & 1) && size <= this.ps / 4));
    if (inline) {
      roots?.set(path, 0);
      return bucketValue(0, seqOf(t), this.w, encodeLeaf(elems, 0, 0, this.w));
    }
    const root = this.tree(elems, path);
    roots?.set(path, root);
    return bucketValue(root, seqOf(t), this.w);
  }

  /** Leaves then branch levels until one root page remains. */
  tree(elems: Elem[], owner: string): number {
    const maxLeaf = this.o.maxLeafKeys ?? Infinity;
    const chunks: Elem[][] = [];
    let cur: Elem[] = [];
    let size = 16;
    for (const e of elems) {
      const add = 16 + e.key.length + e.value.length;
      if (cur.length > 0 && (cur.length >= maxLeaf || size + add > this.ps)) {
        chunks.push(cur);
        cur = [];
        size = 16;
      }
      cur.push(e);
      size += add;
    }
    chunks.push(cur);
    let level = chunks.map((c) => ({ key: c[0]?.key ?? Buffer.alloc(0), pgid: this.alloc((id) => encodeLeaf(c, id, this.ps, this.w), 'leaf', owner) }));
    const maxBranch = Math.max(2, this.o.maxBranchKeys ?? Infinity);
    while (level.length > 1) {
      const next: typeof level = [];
      let group: typeof level = [];
      let gsize = 16;
      const flush = () => {
        const g = group;
        next.push({ key: g[0]!.key, pgid: this.alloc((id) => encodeBranch(g, id, this.ps, this.w), 'branch', owner) });
        group = [];
        gsize = 16;
      };
      for (const c of level) {
        if (group.length > 0 && (group.length >= maxBranch || gsize + 16 + c.key.length > this.ps)) flush();
        group.push(c);
        gsize += 16 + c.key.length;
      }
      flush();
      level = next;
    }
    return level[0]!.pgid;
  }

  staleLeaf(t: BoltTree, owner: string): number {
    const elems: Elem[] = entriesOf(t).map(([key, v]) => {
      if (!isTree(v)) return { key, flags: 0, value: typeof v === 'string' ? Buffer.from(v) : v };
      const inner = entriesOf(v).map(([k, x]) => ({ key: k, flags: 0, value: Buffer.from(isTree(x) ? '' : x) }));
      return { key, flags: 1, value: bucketValue(0, seqOf(v), this.w, encodeLeaf(inner, 0, 0, this.w)) };
    });
    return this.alloc((id) => encodeLeaf(elems, id, this.ps, this.w), 'leaf', owner);
  }
}

function encodeMeta(ps: number, page: number, root: number, rootSeq: bigint, freelist: bigint, highWater: number, txid: number, w: Ints): Buffer {
  const b = Buffer.alloc(ps);
  writeHeader(b, page, 0x04, 0, 0, w);
  w.u32(b, 16, 0xed0cdaed);
  w.u32(b, 20, 2);
  w.u32(b, 24, ps);
  w.u32(b, 28, 0);
  w.u64(b, 32, root);
  w.u64(b, 40, rootSeq);
  w.u64(b, 48, freelist);
  w.u64(b, 56, highWater);
  w.u64(b, 64, txid);
  w.u64(b, 72, fnv1a64(b.subarray(16, 72)));
  return b;
}

/** Recomputes meta page `page`'s checksum after a test edited its fields. */
export function resealMeta(bolt: BuiltBolt, page: 0 | 1): void {
  const off = page * bolt.pageSize;
  new Ints(bolt.bigEndian).u64(bolt.buf, off + 72, fnv1a64(bolt.buf.subarray(off + 16, off + 72)));
}

/** Writes `bytes` at page `id` of an already built file (it must fit). */
export function writePage(bolt: BuiltBolt, id: number, bytes: Buffer): void {
  bytes.copy(bolt.buf, id * bolt.pageSize);
}

/** Byte offset of element `i` of page `id`. */
export function elemOffset(bolt: BuiltBolt, id: number, i: number): number {
  return id * bolt.pageSize + 16 + 16 * i;
}

export function buildBolt(tree: BoltTree, o: WriterOptions = {}): BuiltBolt {
  const ps = o.pageSize ?? 4096;
  const be = o.bigEndian ?? false;
  const L = new Layout(ps, be, o);
  const w = L.w;
  const roots = new Map<string, number>();
  L.bucket(tree, '', roots);
  const root = roots.get('')!;
  const oldRoot = o.older ? (() => {
    const v = L.bucket(o.older, '', undefined);
    return Number(be ? v.readBigUInt64BE(0) : v.readBigUInt64LE(0));
  })() : root;
  const stalePages = (o.stale ?? []).map((t) => L.staleLeaf(t, 'stale'));
  const unlistedPages = (o.unlisted ?? []).map((t) => L.staleLeaf(t, 'unlisted'));
  const reserved: number[] = [];
  for (let i = 0; i < (o.reserve ?? 0); i++) reserved.push(L.alloc(() => Buffer.alloc(ps), 'leaf', 'reserved'));
  const highWater = L.next;
  const beyondPages = (o.beyondHighWater ?? []).map((t) => L.staleLeaf(t, 'beyond'));

  // Freelist on page 2: every page of each stale span, as bbolt frees whole spans.
  const free: number[] = [];
  for (const id of stalePages) for (let k = 0; k <= L.info.get(id)!.overflow; k++) free.push(id + k);
  free.push(...(o.extraFree ?? []));
  free.sort((a, b) => a - b);
  const big = o.freelist === 'big-count';
  const flBytes = 16 + (big ? 8 : 0) + 8 * free.length;
  const fl = Buffer.alloc(Math.max(1, Math.ceil(flBytes / ps)) * ps);
  writeHeader(fl, 2, 0x10, big ? 0xffff : free.length, fl.length / ps - 1, w);
  if (big) w.u64(fl, 16, free.length);
  free.forEach((id, i) => w.u64(fl, 16 + (big ? 8 : 0) + 8 * i, id));
  if (fl.length > ps) throw new Error('bboltwriter: freelist needs overflow; not supported here');
  L.pages.set(2, fl);
  L.info.set(2, { kind: 'freelist', overflow: 0, owner: 'freelist' });

  const totalPages = L.next;
  const buf = Buffer.alloc(totalPages * ps);
  for (const [id, b] of L.pages) b.copy(buf, id * ps);

  const txid = o.txid ?? 3;
  const flId = o.freelist === 'none' ? 0xffffffffffffffffn : 2n;
  const newest = txid % 2;
  encodeMeta(ps, newest, root, o.rootSequence ?? 0n, flId, highWater, txid, w).copy(buf, newest * ps);
  encodeMeta(ps, 1 - newest, oldRoot, o.rootSequence ?? 0n, flId, highWater, txid - 1, w).copy(buf, (1 - newest) * ps);

  const built: BuiltBolt = {
    buf, pageSize: ps, bigEndian: be, highWater, freelistPage: 2, roots, pages: L.info,
    stalePages, unlistedPages, beyondPages, reserved,
  };
  for (const [page, how] of [[0, o.corruptMeta0], [1, o.corruptMeta1]] as const) {
    if (!how) continue;
    const off = page * ps;
    if (how === 'checksum') buf[off + 72] ^= 0xff;
    else if (how === 'magic') w.u32(buf, off + 16, 0);
    else {
      w.u32(buf, off + 20, 1);
      resealMeta(built, page);
    }
  }
  return built;
}

/** Offsets of the leaf element with `key` on page `id` (throws when absent: a test bug). */
export function leafElem(bolt: BuiltBolt, id: number, key: string | Buffer): { elem: number; value: number; vsize: number } {
  const w = new Ints(bolt.bigEndian);
  const off = id * bolt.pageSize;
  const count = bolt.bigEndian ? bolt.buf.readUInt16BE(off + 10) : bolt.buf.readUInt16LE(off + 10);
  const k = typeof key === 'string' ? Buffer.from(key) : key;
  for (let i = 0; i < count; i++) {
    const eo = off + 16 + 16 * i;
    const start = eo + w.r32(bolt.buf, eo + 4);
    const ksize = w.r32(bolt.buf, eo + 8);
    if (bolt.buf.subarray(start, start + ksize).equals(k)) return { elem: eo, value: start + ksize, vsize: w.r32(bolt.buf, eo + 12) };
  }
  throw new Error(`bboltwriter: no key ${k.toString()} on page ${id}`);
}
