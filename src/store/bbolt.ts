import type { Finding, Severity } from './findings.js';

/**
 * Read-only bbolt (boltdb format version 2) reader over a Buffer holding the whole file
 * (FORMATS.md §10). containerd's meta.db, the snapshotter's metadata.db, Docker's volumes and
 * network stores are all bbolt files.
 *
 * The file is evidence, so every page id, count, offset and length in it is treated as hostile:
 * anything that does not fit becomes a finding (with the page number) and that subtree is skipped.
 * Nothing here throws on bad input, reads outside the buffer, or loops without a bound: each tree
 * traversal remembers the pages it visited, every page belongs to at most one tree, and nesting is
 * capped at MAX_DEPTH.
 */

export type ByteOrder = 'LE' | 'BE';

export const BOLT_MAGIC = 0xed0cdaed;
const BOLT_VERSION = 2;
const PAGE_HEADER = 16;
const ELEM_SIZE = 16;
const BUCKET_HEADER = 16;
/** Meta struct size up to (not including) the checksum: the bytes the checksum covers. */
const META_SUMMED = 56;
const META_END = PAGE_HEADER + META_SUMMED + 8;

const BRANCH = 0x01;
const LEAF = 0x02;
const META = 0x04;
const FREELIST = 0x10;
const LEAF_BUCKET = 0x01;

/** bbolt trees are a handful of levels deep and containerd nests buckets ~6 deep. */
export const MAX_DEPTH = 64;
/** A hostile file could otherwise produce one finding per element. */
const MAX_FINDINGS = 1000;
/** Smallest page that holds a meta; largest the page-size probe can discover (1024 << 14). */
const MIN_PAGE_SIZE = 256;
const MAX_PAGE_SIZE = 1024 << 14;

/** FNV-1a 64-bit, as Go's hash/fnv New64a; bbolt's meta checksum. */
export function fnv1a64(data: Uint8Array): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of data) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h;
}

export interface MetaInfo {
  /** Meta page index (0 or 1) the struct was read from. */
  page: 0 | 1;
  valid: boolean;
  /** Why the meta is invalid (bad magic, version, checksum); undefined when valid. */
  problem?: string;
  byteOrder?: ByteOrder;
  pageSize: number;
  flags: number;
  root: number;
  rootSequence: bigint;
  /** Freelist page id; undefined when the freelist is not persisted (NoFreelistSync). */
  freelist?: number;
  /** High-water page id: pages >= this were never allocated by this transaction. */
  highWater: number;
  txid: bigint;
}

export interface BoltEntry {
  key: Buffer;
  /** Set for plain key/value entries. */
  value?: Buffer;
  /** Set for nested buckets. A bucket entry whose header is unreadable has neither (see findings). */
  bucket?: Bucket;
}

/** Where a deleted()/stale record's page came from. */
export type StaleSource = 'freelist' | 'unreachable' | 'beyond-high-water';

export interface DeletedRecord {
  page: number;
  key: Buffer;
  value: Buffer;
  isBucket: boolean;
  source: StaleSource;
  /** Keys of the inline bucket(s) in the same stale page that hold this record; empty at top level. */
  within: Buffer[];
}

interface PageRef {
  id: number;
  flags: number;
  count: number;
  overflow: number;
  /** The page's whole span (header included); element offsets are relative to this. */
  data: Buffer;
}

interface LeafElem {
  flags: number;
  key: Buffer;
  value: Buffer;
}

interface BranchElem {
  key: Buffer;
  child: number;
}

interface Ints {
  u16(b: Buffer, o: number): number;
  u32(b: Buffer, o: number): number;
  /** As a JS number: exact below 2^53, and anything larger is out of range for a page id anyway. */
  u64(b: Buffer, o: number): number;
  u64big(b: Buffer, o: number): bigint;
}

const LE_INTS: Ints = {
  u16: (b, o) => b.readUInt16LE(o),
  u32: (b, o) => b.readUInt32LE(o),
  u64: (b, o) => b.readUInt32LE(o + 4) * 2 ** 32 + b.readUInt32LE(o),
  u64big: (b, o) => b.readBigUInt64LE(o),
};
const BE_INTS: Ints = {
  u16: (b, o) => b.readUInt16BE(o),
  u32: (b, o) => b.readUInt32BE(o),
  u64: (b, o) => b.readUInt32BE(o) * 2 ** 32 + b.readUInt32BE(o + 4),
  u64big: (b, o) => b.readBigUInt64BE(o),
};
const NO_FREELIST = 0xffffffffffffffffn;

/** Keys in messages and labels: printable ASCII as-is, anything else as (truncated) hex. */
export function describeKey(k: Buffer): string {
  if (k.length > 0 && k.length <= 160 && k.every((c) => c >= 0x20 && c < 0x7f)) {
    const s = k.toString('latin1');
    // Quoted when it could be mistaken for a path separator in a bucket label.
    return /[/"]/.test(s) ? JSON.stringify(s) : s;
  }
  const hex = k.subarray(0, 32).toString('hex');
  return `0x${hex}${k.length > 32 ? '…' : ''}`;
}

function readMeta(buf: Buffer, off: number, page: 0 | 1): MetaInfo {
  const bad = (problem: string): MetaInfo => ({
    page, valid: false, problem, pageSize: 0, flags: 0, root: 0, rootSequence: 0n, highWater: 0, txid: 0n,
  });
  if (off + META_END > buf.length) return bad('beyond end of file');
  let r: Ints;
  let byteOrder: ByteOrder;
  if (buf.readUInt32LE(off + 16) === BOLT_MAGIC) [r, byteOrder] = [LE_INTS, 'LE'];
  else if (buf.readUInt32BE(off + 16) === BOLT_MAGIC) [r, byteOrder] = [BE_INTS, 'BE'];
  else return bad('bad magic');
  const m: MetaInfo = {
    page,
    valid: true,
    byteOrder,
    pageSize: r.u32(buf, off + 24),
    flags: r.u32(buf, off + 28),
    root: r.u64(buf, off + 32),
    rootSequence: r.u64big(buf, off + 40),
    highWater: r.u64(buf, off + 56),
    txid: r.u64big(buf, off + 64),
  };
  if (r.u64big(buf, off + 48) !== NO_FREELIST) m.freelist = r.u64(buf, off + 48);
  const version = r.u32(buf, off + 20);
  if (version !== BOLT_VERSION) return { ...m, valid: false, problem: `version ${version}, not ${BOLT_VERSION}` };
  if (fnv1a64(buf.subarray(off + PAGE_HEADER, off + PAGE_HEADER + META_SUMMED)) !== r.u64big(buf, off + 72)) {
    return { ...m, valid: false, problem: 'checksum mismatch' };
  }
  return m;
}

export interface OpenOptions {
  /** Evidence path of the file, copied into every finding. */
  path?: string;
}

/**
 * Opens a bbolt file held in `buf`. Never throws on bad input: `db` is undefined when no valid meta
 * page exists, and `findings` (the same array as `db.findings`, which keeps growing as the tree is
 * read) says why.
 */
export function openBolt(buf: Buffer, opts: OpenOptions = {}): { db?: BoltDB; findings: Finding[] } {
  const sink = new FindingSink(opts.path);
  if (buf.length < META_END) {
    sink.add('error', 'bbolt.too-small', `file is ${buf.length} bytes, smaller than one meta page`);
    return { findings: sink.list };
  }
  const meta0 = readMeta(buf, 0, 0);
  let pageSize = meta0.valid ? meta0.pageSize : 0;
  if (!meta0.valid) {
    // Like bbolt's getPageSizeFromSecondMeta: page 0 is torn, so find page 1 by trying the page
    // sizes bbolt can have. A meta found at `pos` is page 1 only if it says pageSize == pos.
    for (let i = 0; i <= 14; i++) {
      const pos = 1024 << i;
      if (pos + META_END > buf.length) break;
      const m = readMeta(buf, pos, 1);
      if (m.valid && m.pageSize === pos) {
        pageSize = pos;
        break;
      }
    }
  }
  if (pageSize < MIN_PAGE_SIZE || pageSize > MAX_PAGE_SIZE) {
    const why = meta0.valid ? `meta page 0 gives page size ${pageSize}` : `meta page 0 is invalid (${meta0.problem}) and no meta page 1 was found`;
    sink.add('error', 'bbolt.bad-meta', `${why}; not a readable bbolt file`);
    return { findings: sink.list };
  }
  let meta1 = readMeta(buf, pageSize, 1);
  if (meta1.valid && meta1.pageSize !== pageSize) {
    // Checksummed but not where its own page size puts page 1: not a meta bbolt would use.
    meta1 = { ...meta1, valid: false, problem: `page size ${meta1.pageSize} differs from ${pageSize}` };
  }
  // DB.meta(): prefer the higher txid if it validates, else the other one.
  const [first, second] = meta1.txid > meta0.txid ? [meta1, meta0] : [meta0, meta1];
  const chosen = first.valid ? first : second.valid ? second : undefined;
  for (const m of [meta0, meta1]) {
    if (!m.valid) {
      const sev: Severity = chosen ? 'warn' : 'error';
      const tx = m.problem === 'bad magic' || m.problem === 'beyond end of file' ? '' : ` (claims txid ${m.txid})`;
      sink.add(sev, 'bbolt.bad-meta', `page ${m.page}: meta is invalid: ${m.problem}${tx}`);
    }
  }
  if (!chosen) return { findings: sink.list };
  if (chosen !== first) {
    sink.add('warn', 'bbolt.bad-meta', `page ${chosen.page}: using the older meta (txid ${chosen.txid}); the newer one is invalid, so the last transaction is lost or torn`);
  }
  if (meta0.valid && meta1.valid && meta0.byteOrder !== meta1.byteOrder) {
    sink.add('warn', 'bbolt.bad-meta', `meta pages disagree on byte order; using ${chosen.byteOrder} from page ${chosen.page}`);
  }
  const db = new BoltDB(buf, chosen, [meta0, meta1], sink);
  return { db, findings: sink.list };
}

class FindingSink {
  readonly list: Finding[] = [];
  private readonly seen = new Set<string>();
  constructor(private readonly path?: string) {}
  add(severity: Severity, code: string, message: string): void {
    // The same bad page is met again on every traversal; report it once.
    const k = `${code}\0${message}`;
    if (this.seen.has(k)) return;
    this.seen.add(k);
    if (this.seen.size > MAX_FINDINGS) {
      if (this.seen.size === MAX_FINDINGS + 1) this.push('error', 'bbolt.too-many-findings', `more than ${MAX_FINDINGS} findings; the rest are not reported`);
      return;
    }
    this.push(severity, code, message);
  }
  private push(severity: Severity, code: string, message: string): void {
    this.list.push(this.path === undefined ? { severity, code, message } : { severity, code, path: this.path, message });
  }
}

export class Bucket {
  /** @internal */
  constructor(
    private readonly db: BoltDB,
    /** Root page id; 0 for an inline bucket. */
    readonly root: number,
    /** The bucket's NextSequence counter. */
    readonly sequence: bigint,
    /** Printable path for messages ('' for the root bucket). */
    readonly label: string,
    /** @internal nesting depth, 0 for the root bucket */
    readonly depth: number,
    /** @internal root page ids of the enclosing paged buckets (cross-bucket cycle check) */
    readonly ancestors: ReadonlySet<number>,
    /** @internal who owns this bucket's pages: the byte offset of its bucket value, -1 for root */
    readonly owner: number,
    /** @internal the fake page inside the value of an inline bucket */
    readonly inlinePage?: PageRef,
  ) {}

  get inline(): boolean {
    return this.inlinePage !== undefined;
  }

  /** Entries in stored (key) order, read lazily page by page. */
  *entries(): Generator<BoltEntry> {
    for (const el of this.db._walk(this)) {
      if (el.flags & LEAF_BUCKET) {
        const bucket = this.db._openBucket(this, el);
        yield bucket ? { key: el.key, bucket } : { key: el.key };
      } else {
        if (this.depth === 0) this.db._note('warn', 'bbolt.root-value', `root bucket holds a plain value under key ${describeKey(el.key)}; bbolt only puts buckets there`);
        yield { key: el.key, value: el.value };
      }
    }
  }

  /** Value of a plain key, as bbolt's Bucket.Get: undefined when absent or a bucket. */
  get(key: string | Buffer): Buffer | undefined {
    const el = this.db._lookup(this, toKey(key));
    return el && !(el.flags & LEAF_BUCKET) ? el.value : undefined;
  }

  bucket(key: string | Buffer): Bucket | undefined {
    const el = this.db._lookup(this, toKey(key));
    return el && el.flags & LEAF_BUCKET ? this.db._openBucket(this, el) : undefined;
  }
}

function toKey(key: string | Buffer): Buffer {
  return typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
}

function join(label: string, key: Buffer): string {
  return label === '' ? describeKey(key) : `${label}/${describeKey(key)}`;
}

function where(b: Bucket): string {
  return b.label === '' ? 'root bucket' : `bucket ${b.label}`;
}

export class BoltDB {
  readonly pageSize: number;
  readonly byteOrder: ByteOrder;
  readonly txid: bigint;
  /** The meta in use. */
  readonly meta: MetaInfo;
  /** Both meta pages as read, valid or not: the other one describes the previous transaction. */
  readonly metas: readonly [MetaInfo, MetaInfo];
  /** Number of whole or partial pages in the file. */
  readonly filePages: number;
  private readonly r: Ints;
  private readonly owners = new Map<number, number>();
  private rootBucket?: Bucket;

  /** @internal use openBolt */
  constructor(
    private readonly buf: Buffer,
    meta: MetaInfo,
    metas: [MetaInfo, MetaInfo],
    private readonly sink: FindingSink,
  ) {
    this.meta = meta;
    this.metas = metas;
    this.pageSize = meta.pageSize;
    this.byteOrder = meta.byteOrder ?? 'LE';
    this.txid = meta.txid;
    this.r = this.byteOrder === 'LE' ? LE_INTS : BE_INTS;
    this.filePages = Math.ceil(buf.length / this.pageSize);
    if (meta.highWater * this.pageSize > buf.length) {
      this.sink.add('warn', 'bbolt.truncated', `meta high-water mark is page ${meta.highWater} but the file ends within page ${this.filePages - 1}; pages past the end are lost`);
    }
    if (meta.highWater < 2 || meta.highWater > 2 ** 48) {
      this.sink.add('warn', 'bbolt.bad-meta', `page ${meta.page}: implausible high-water mark ${meta.highWater}`);
    }
    if (buf.length % this.pageSize !== 0) {
      this.sink.add('info', 'bbolt.partial-page', `file size ${buf.length} is not a multiple of the page size ${this.pageSize}`);
    }
  }

  get findings(): Finding[] {
    return this.sink.list;
  }

  /** The meta's root bucket; every top-level entry of a bbolt file is a bucket. */
  root(): Bucket {
    this.rootBucket ??= new Bucket(this, this.meta.root, this.meta.rootSequence, '', 0, new Set([this.meta.root]), -1);
    return this.rootBucket;
  }

  /** Follows nested bucket names from the root: bucketPath('v1', 'moby', 'images'). */
  bucketPath(...names: string[]): Bucket | undefined {
    let b: Bucket | undefined = this.root();
    for (const n of names) {
      b = b.bucket(n);
      if (!b) return undefined;
    }
    return b;
  }

  /** @internal */
  _note(severity: Severity, code: string, message: string): void {
    this.sink.add(severity, code, message);
  }

  // ---------------------------------------------------------------------------------------------
  // Pages and elements

  /**
   * Reads page `id`'s header and span. `report` is false for stale pages, whose garbage is
   * expected and says nothing about the live database.
   */
  private readPage(id: number, ctx: string, report: boolean): PageRef | undefined {
    const note = (sev: Severity, code: string, msg: string) => report && this.sink.add(sev, code, `page ${id}: ${msg} (${ctx})`);
    if (!Number.isSafeInteger(id) || id < 2 || id >= this.filePages) {
      note('error', 'bbolt.page-out-of-range', id < 2 ? 'is a meta page, not a tree page' : `is beyond the end of the file (${this.filePages} pages)`);
      return undefined;
    }
    const off = id * this.pageSize;
    if (off + PAGE_HEADER > this.buf.length) {
      note('error', 'bbolt.page-out-of-range', 'header is cut off by the end of the file');
      return undefined;
    }
    const { r, buf } = this;
    const pid = r.u64(buf, off);
    if (pid !== id) {
      note('error', 'bbolt.page-id-mismatch', `header says it is page ${pid}`);
      return undefined;
    }
    const overflow = r.u32(buf, off + 12);
    const end = off + (overflow + 1) * this.pageSize;
    if (end > buf.length) {
      note('error', 'bbolt.overflow-past-eof', `overflow ${overflow} runs past the end of the file`);
      return undefined;
    }
    if (id + overflow >= this.meta.highWater) {
      note('warn', 'bbolt.page-beyond-high-water', `lies at or past the meta high-water mark ${this.meta.highWater}`);
    }
    return { id, flags: r.u16(buf, off + 8), count: r.u16(buf, off + 10), overflow, data: buf.subarray(off, end) };
  }

  private countFits(p: PageRef, ctx: string, report: boolean): boolean {
    if (PAGE_HEADER + p.count * ELEM_SIZE <= p.data.length) return true;
    if (report) this.sink.add('error', 'bbolt.bad-count', `page ${p.id}: ${p.count} elements do not fit in ${p.data.length} bytes (${ctx})`);
    return false;
  }

  private leafElems(p: PageRef, ctx: string, report: boolean): LeafElem[] {
    const out: LeafElem[] = [];
    if (!this.countFits(p, ctx, report)) return out;
    const { r } = this;
    const d = p.data;
    // bbolt writes each element's key and value right after the previous one's, past the element
    // array. Holding crafted files to that keeps regions disjoint, so two elements can never name
    // the same nested bucket bytes and a recursive walk stays linear in the file size.
    let next = PAGE_HEADER + p.count * ELEM_SIZE;
    for (let i = 0; i < p.count; i++) {
      const eo = PAGE_HEADER + i * ELEM_SIZE;
      const start = eo + r.u32(d, eo + 4);
      const ksize = r.u32(d, eo + 8);
      const vsize = r.u32(d, eo + 12);
      const end = start + ksize + vsize;
      if (end > d.length) {
        if (report) this.sink.add('error', 'bbolt.element-out-of-bounds', `page ${p.id}: leaf element ${i} points past the page (${ctx})`);
        continue;
      }
      if (start < next) {
        if (report) this.sink.add('error', 'bbolt.element-overlap', `page ${p.id}: leaf element ${i} overlaps the element array or an earlier element; skipped (${ctx})`);
        continue;
      }
      next = end;
      if (ksize === 0 && report) this.sink.add('warn', 'bbolt.empty-key', `page ${p.id}: leaf element ${i} has an empty key (${ctx})`);
      out.push({ flags: r.u32(d, eo), key: d.subarray(start, start + ksize), value: d.subarray(start + ksize, end) });
    }
    return out;
  }

  private branchElems(p: PageRef, ctx: string): BranchElem[] {
    const out: BranchElem[] = [];
    if (!this.countFits(p, ctx, true)) return out;
    const { r } = this;
    const d = p.data;
    for (let i = 0; i < p.count; i++) {
      const eo = PAGE_HEADER + i * ELEM_SIZE;
      const start = eo + r.u32(d, eo);
      const end = start + r.u32(d, eo + 4);
      if (end > d.length) {
        this.sink.add('error', 'bbolt.element-out-of-bounds', `page ${p.id}: branch element ${i} points past the page; its subtree is skipped (${ctx})`);
        continue;
      }
      out.push({ key: d.subarray(start, end), child: r.u64(d, eo + 8) });
    }
    return out;
  }

  /**
   * A page of bucket `b`'s tree: checks for cycles within this traversal, for pages claimed by
   * another bucket's tree, and for the page type.
   */
  private treePage(id: number, b: Bucket, visited: Set<number>): PageRef | undefined {
    const ctx = where(b);
    if (visited.has(id)) {
      this.sink.add('error', 'bbolt.cycle', `page ${id}: reached twice in one traversal of the tree; not following it again (${ctx})`);
      return undefined;
    }
    visited.add(id);
    const owner = this.owners.get(id);
    if (owner === undefined) this.owners.set(id, b.owner);
    else if (owner !== b.owner) {
      this.sink.add('error', 'bbolt.shared-page', `page ${id}: already belongs to another bucket's tree; skipped (${ctx})`);
      return undefined;
    }
    const p = this.readPage(id, ctx, true);
    if (!p) return undefined;
    if (p.flags !== BRANCH && p.flags !== LEAF) {
      this.sink.add('error', 'bbolt.bad-page-type', `page ${id}: flags 0x${p.flags.toString(16)} where a branch or leaf page was expected (${ctx})`);
      return undefined;
    }
    return p;
  }

  private inlineOk(b: Bucket, p: PageRef): boolean {
    if (p.flags === LEAF) return true;
    this.sink.add('error', 'bbolt.bad-page-type', `inline page of ${where(b)} has flags 0x${p.flags.toString(16)}, not a leaf`);
    return false;
  }

  /** @internal Leaf elements of `b` in stored order. */
  *_walk(b: Bucket): Generator<LeafElem> {
    const ctx = where(b);
    let prev: Buffer | undefined;
    let unsorted = false;
    for (const el of this.rawWalk(b)) {
      if (!unsorted && prev !== undefined && Buffer.compare(prev, el.key) >= 0) {
        unsorted = true;
        this.sink.add('warn', 'bbolt.unsorted', `keys are out of order near ${describeKey(el.key)}; lookups may miss entries that iteration shows (${ctx})`);
      }
      prev = el.key;
      yield el;
    }
  }

  private *rawWalk(b: Bucket): Generator<LeafElem> {
    const ctx = where(b);
    if (b.inlinePage) {
      if (this.inlineOk(b, b.inlinePage)) yield* this.leafElems(b.inlinePage, ctx, true);
      return;
    }
    const visited = new Set<number>();
    const top = this.treePage(b.root, b, visited);
    if (!top) return;
    if (top.flags === LEAF) {
      yield* this.leafElems(top, ctx, true);
      return;
    }
    // Explicit stack of branch frames: depth is bounded and no recursion through generators.
    const stack: { elems: BranchElem[]; i: number }[] = [{ elems: this.branchElems(top, ctx), i: 0 }];
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      if (frame.i >= frame.elems.length) {
        stack.pop();
        continue;
      }
      const child = frame.elems[frame.i++]!.child;
      if (stack.length >= MAX_DEPTH) {
        this.sink.add('error', 'bbolt.too-deep', `page ${child}: tree is more than ${MAX_DEPTH} levels deep; skipped (${ctx})`);
        continue;
      }
      const p = this.treePage(child, b, visited);
      if (!p) continue;
      if (p.flags === LEAF) yield* this.leafElems(p, ctx, true);
      else stack.push({ elems: this.branchElems(p, ctx), i: 0 });
    }
  }

  /** @internal bbolt's Cursor.seek for an exact key: binary search down the branches. */
  _lookup(b: Bucket, key: Buffer): LeafElem | undefined {
    const ctx = where(b);
    let p: PageRef | undefined;
    if (b.inlinePage) {
      if (!this.inlineOk(b, b.inlinePage)) return undefined;
      p = b.inlinePage;
    } else {
      const visited = new Set<number>();
      p = this.treePage(b.root, b, visited);
      // Same bound as the walk: pages deeper than MAX_DEPTH - 1 below the root are never read.
      for (let depth = 1; p && p.flags === BRANCH; depth++) {
        if (depth >= MAX_DEPTH) {
          this.sink.add('error', 'bbolt.too-deep', `page ${p.id}: tree is more than ${MAX_DEPTH} levels deep; skipped (${ctx})`);
          return undefined;
        }
        const elems = this.branchElems(p, ctx);
        if (elems.length === 0) return undefined;
        // First element >= key; if not an exact match, the one before it covers the key.
        const i = lowerBound(elems, key);
        const idx = i < elems.length && elems[i]!.key.equals(key) ? i : Math.max(0, i - 1);
        p = this.treePage(elems[idx]!.child, b, visited);
      }
    }
    if (!p) return undefined;
    const elems = this.leafElems(p, ctx, true);
    const i = lowerBound(elems, key);
    return i < elems.length && elems[i]!.key.equals(key) ? elems[i] : undefined;
  }

  /** @internal Opens the bucket stored in leaf element `el` of `parent`. */
  _openBucket(parent: Bucket, el: LeafElem): Bucket | undefined {
    const label = join(parent.label, el.key);
    const v = el.value;
    if (v.length < BUCKET_HEADER) {
      this.sink.add('error', 'bbolt.bad-bucket', `bucket ${label}: value is ${v.length} bytes, shorter than a bucket header`);
      return undefined;
    }
    const depth = parent.depth + 1;
    if (depth > MAX_DEPTH) {
      this.sink.add('error', 'bbolt.too-deep', `bucket ${label}: buckets nest more than ${MAX_DEPTH} deep; skipped`);
      return undefined;
    }
    const root = this.r.u64(v, 0);
    const sequence = this.r.u64big(v, 8);
    const owner = v.byteOffset - this.buf.byteOffset;
    if (root === 0) {
      const d = v.subarray(BUCKET_HEADER);
      if (d.length < PAGE_HEADER) {
        this.sink.add('error', 'bbolt.bad-bucket', `bucket ${label}: inline bucket value has no room for its page header`);
        return undefined;
      }
      // Inline pages carry no id of their own (bbolt leaves it 0); messages name the enclosing page.
      const page: PageRef = { id: Math.floor(owner / this.pageSize), flags: this.r.u16(d, 8), count: this.r.u16(d, 10), overflow: 0, data: d };
      return new Bucket(this, 0, sequence, label, depth, parent.ancestors, owner, page);
    }
    if (parent.ancestors.has(root)) {
      this.sink.add('error', 'bbolt.cycle', `page ${root}: bucket ${label} has the root page of an enclosing bucket; skipped`);
      return undefined;
    }
    const ancestors = new Set(parent.ancestors).add(root);
    return new Bucket(this, root, sequence, label, depth, ancestors, owner);
  }

  // ---------------------------------------------------------------------------------------------
  // Deleted / stale records

  private freelistCache?: number[];
  private liveCache?: [number, number][];

  /** Page ids listed in the persisted freelist (empty when not persisted or unreadable). */
  freelist(): number[] {
    if (this.freelistCache) return this.freelistCache;
    const ids: number[] = [];
    this.freelistCache = ids;
    const fl = this.meta.freelist;
    if (fl === undefined) return ids;
    const ctx = 'freelist';
    const p = this.readPage(fl, ctx, true);
    if (!p) return ids;
    if (!(p.flags & FREELIST)) {
      this.sink.add('error', 'bbolt.bad-page-type', `page ${fl}: flags 0x${p.flags.toString(16)} where the freelist was expected`);
      return ids;
    }
    const d = p.data;
    let count = p.count;
    let at = PAGE_HEADER;
    if (count === 0xffff) {
      // More ids than a u16 holds: the real count is the first u64.
      if (d.length < PAGE_HEADER + 8) return ids;
      count = this.r.u64(d, PAGE_HEADER);
      at += 8;
    }
    const fits = Math.floor((d.length - at) / 8);
    if (count > fits) {
      this.sink.add('error', 'bbolt.bad-count', `page ${fl}: freelist claims ${count} ids but only ${fits} fit; reading those`);
      count = fits;
    }
    for (let i = 0; i < count; i++) {
      const id = this.r.u64(d, at + i * 8);
      if (id < 2 || id >= this.meta.highWater) {
        this.sink.add('warn', 'bbolt.page-out-of-range', `page ${fl}: freelist lists page ${id}, outside 2..${this.meta.highWater - 1}`);
        continue;
      }
      ids.push(id);
    }
    return ids;
  }

  /**
   * Page spans [first, last] used by the live database: metas, freelist and every tree page of
   * every bucket. One global visited set keeps this linear however the pages point at each other.
   */
  private liveSpans(): [number, number][] {
    if (this.liveCache) return this.liveCache;
    const spans: [number, number][] = [[0, 1]];
    const fl = this.meta.freelist;
    if (fl !== undefined) {
      const p = this.readPage(fl, 'freelist', false);
      if (p) spans.push([fl, fl + p.overflow]);
    }
    const visited = new Set<number>();
    const pending: number[] = [this.meta.root];
    const scanLeaf = (p: PageRef, depth: number): void => {
      for (const el of this.leafElems(p, '', false)) {
        if (!(el.flags & LEAF_BUCKET) || el.value.length < BUCKET_HEADER) continue;
        const root = this.r.u64(el.value, 0);
        if (root !== 0) pending.push(root);
        else if (depth < MAX_DEPTH && el.value.length >= BUCKET_HEADER + PAGE_HEADER) {
          // bbolt never writes sub-buckets into inline buckets, but a crafted file can.
          const d = el.value.subarray(BUCKET_HEADER);
          scanLeaf({ id: p.id, flags: LEAF, count: this.r.u16(d, 10), overflow: 0, data: d }, depth + 1);
        }
      }
    };
    while (pending.length > 0) {
      const id = pending.pop()!;
      if (visited.has(id)) continue;
      visited.add(id);
      const p = this.readPage(id, '', false);
      if (!p || (p.flags !== BRANCH && p.flags !== LEAF)) continue;
      spans.push([id, id + p.overflow]);
      if (p.flags === LEAF) scanLeaf(p, 0);
      else if (this.countFits(p, '', false)) {
        for (let i = 0; i < p.count; i++) pending.push(this.r.u64(p.data, PAGE_HEADER + i * ELEM_SIZE + 8));
      }
    }
    spans.sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [];
    for (const s of spans) {
      const last = merged[merged.length - 1];
      if (last && s[0] <= last[1] + 1) last[1] = Math.max(last[1], s[1]);
      else merged.push([s[0], s[1]]);
    }
    this.liveCache = merged;
    return merged;
  }

  /**
   * Key/value records still readable in pages the live database does not use: pages on the
   * freelist, pages no tree reaches (e.g. when the freelist is not persisted), and pages past the
   * high-water mark that lie inside the file. Stale pages often repeat records that are still live
   * (copy-on-write keeps old versions); callers compare against the live tree. Records inside
   * inline buckets of a stale page are yielded too, with `within` naming the bucket keys.
   */
  *deleted(): Generator<DeletedRecord> {
    const live = this.liveSpans();
    const free = new Set(this.freelist());
    for (const id of free) {
      if (isLive(live, id)) this.sink.add('warn', 'bbolt.freelist-live-page', `page ${id}: on the freelist but used by the live tree`);
    }
    let li = 0;
    for (let id = 2; id < this.filePages; id++) {
      while (li < live.length && live[li]![1] < id) li++;
      if (li < live.length && live[li]![0] <= id) {
        id = live[li]![1];
        continue;
      }
      const source: StaleSource = id >= this.meta.highWater ? 'beyond-high-water' : free.has(id) ? 'freelist' : 'unreachable';
      const p = this.stalePage(id, live);
      if (!p) continue;
      const readable = this.leafElems(p, '', false);
      if (this.countFits(p, '', false) && readable.length < p.count) {
        this.sink.add('info', 'bbolt.stale-unreadable', `page ${id}: ${p.count - readable.length} of ${p.count} stale records are damaged or overwritten`);
      }
      yield* this.staleRecords(id, readable, source, [], 0);
    }
  }

  /** A free page that still looks like a leaf written at this position, cut short where live pages begin. */
  private stalePage(id: number, live: [number, number][]): PageRef | undefined {
    const off = id * this.pageSize;
    if (off + PAGE_HEADER > this.buf.length) return undefined;
    const { r, buf } = this;
    if (r.u64(buf, off) !== id || r.u16(buf, off + 8) !== LEAF) return undefined;
    const overflow = r.u32(buf, off + 12);
    // Pages of the old overflow span may have been reused since: stop at the first live one.
    let lastPage = Math.min(id + overflow, this.filePages - 1);
    const nextLive = live[firstAfter(live, id)];
    if (nextLive && nextLive[0] <= lastPage) lastPage = nextLive[0] - 1;
    const end = Math.min(buf.length, (lastPage + 1) * this.pageSize);
    return { id, flags: LEAF, count: r.u16(buf, off + 10), overflow, data: buf.subarray(off, end) };
  }

  private *staleRecords(page: number, elems: LeafElem[], source: StaleSource, within: Buffer[], depth: number): Generator<DeletedRecord> {
    for (const el of elems) {
      const isBucket = (el.flags & LEAF_BUCKET) !== 0;
      yield { page, key: el.key, value: el.value, isBucket, source, within };
      if (!isBucket || depth >= MAX_DEPTH || el.value.length < BUCKET_HEADER + PAGE_HEADER) continue;
      if (this.r.u64(el.value, 0) !== 0) continue;
      const d = el.value.subarray(BUCKET_HEADER);
      if (this.r.u16(d, 8) !== LEAF) continue;
      const inner: PageRef = { id: page, flags: LEAF, count: this.r.u16(d, 10), overflow: 0, data: d };
      yield* this.staleRecords(page, this.leafElems(inner, '', false), source, [...within, el.key], depth + 1);
    }
  }
}

function isLive(spans: [number, number][], id: number): boolean {
  let lo = 0;
  let hi = spans.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [a, b] = spans[mid]!;
    if (id < a) hi = mid - 1;
    else if (id > b) lo = mid + 1;
    else return true;
  }
  return false;
}

/** Index of the first span starting after `id`. */
function firstAfter(spans: [number, number][], id: number): number {
  let lo = 0;
  let hi = spans.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (spans[mid]![0] <= id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function lowerBound(elems: { key: Buffer }[], key: Buffer): number {
  let lo = 0;
  let hi = elems.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (Buffer.compare(elems[mid]!.key, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
