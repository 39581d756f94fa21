import fs from 'node:fs';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { TarReader, type TarHeader, type TarSink } from './tar-reader.js';
import { MAX_SYMLINK_HOPS, resolveLinkTarget, splitPath } from './paths.js';
import type { RawTree } from './resolve.js';
import { limits } from './limits.js';
import { EvidenceError, isEvidenceError, type EntryType, type Source, type Stat } from './types.js';

/** Bounds for indexing an acquisition; a hostile archive must not exhaust memory. */
export interface TarLimits {
  /** Bodies of regular files up to this size are kept in memory (metadata is small). */
  keepFileBytes: number;
  /** Total bytes of kept bodies; past this, bodies are re-read from the archive when needed. */
  keepTotalBytes: number;
  /** Of which bodies inside layer, snapshot and volume content trees (see CONTENT_TREE). */
  keepContentBytes: number;
  /** Most entries indexed. */
  maxEntries: number;
}

/** The bounds in force (`--limit tar-…`), read when an archive is opened. */
export function tarLimits(): TarLimits {
  return { keepFileBytes: limits.tarKeepFileBytes, keepTotalBytes: limits.tarKeepTotalBytes, keepContentBytes: limits.tarKeepContentBytes, maxEntries: limits.tarEntries };
}

/**
 * Paths inside a layer's, snapshot's or volume's file tree. Listing never reads them and the
 * content commands stream them, so on a big store they would only fill memory: their bodies
 * get a budget of their own. A wrong guess costs a re-read from the archive, never an answer.
 */
const CONTENT_TREE =
  /(?:^|\/)(?:(?:overlay2|overlay|fuse-overlayfs)\/[^/]+\/(?:diff|root|upper|merged|work)|aufs\/(?:diff|mnt)\/[^/]+|vfs\/dir\/[^/]+|btrfs\/subvolumes\/[^/]+|snapshots\/[^/]+\/fs|volumes\/[^/]+\/_data|graph\/[^/]+\/layer)\//;

/** Entry types as stored in the index (one byte per entry). */
const FILE = 0;
const DIR = 1;
const SYMLINK = 2;
const TYPE_NAME: readonly EntryType[] = ['file', 'dir', 'symlink', 'char', 'block', 'fifo'];
const TYPE_CODE = new Map<string, number>([
  ['file', FILE],
  ['contiguous-file', FILE],
  ['link', FILE],
  ['directory', DIR],
  ['symlink', SYMLINK],
  ['character-device', 3],
  ['block-device', 4],
  ['fifo', 5],
]);

/** Per-entry flags. */
const F_SYNTHETIC = 1; // a directory made up because entries below it came first (no header of its own)
const F_CONTENT_KNOWN = 2; // whether the entries below are in a content tree has been worked out …
const F_CONTENT = 4; // … and they are
const F_CHILD_MAP = 8; // children are also in a Map (a big directory)
const F_BIG_ID = 16; // uid or gid does not fit 32 bits unsigned: see bigIds
const F_NS_TIME = 32; // mtime finer than a second or out of range: see mtNs

/** What `body` holds besides a slab position (which stays below them all). */
const NO_BODY = 0xffff_ffff; // not kept: re-read from the archive at `offset`
const EMPTY_BODY = 0xffff_fffe;
const OWN_BODY = 0xffff_fffd; // its own Buffer, in ownBodies
/** In a 32-bit field: the value did not fit, and a Map holds it. */
const WIDE = 0xffff_ffff;

/** Directories with more children than this also get a name → entry Map. */
const CHILD_LIST_MAX = 8;

/** Rarely set fields of an entry. */
class Extra {
  atimeNs: bigint | undefined = undefined;
  ctimeNs: bigint | undefined = undefined;
  rdevMajor = 0;
  rdevMinor = 0;
  linkTarget: string | undefined = undefined;
  /** Set for a hard link: its target's identity; otherwise the entry's own path is. */
  inode: string | undefined = undefined;
  xattrs: Map<string, Buffer> | undefined = undefined;
}

/** An entry read from a header, before it takes its place in the index. */
interface Pending {
  /** The parent directory's entry, or -1 when it must be made (`dirParts`). */
  parent: number;
  dirParts: string[] | undefined;
  dirKey: string | undefined;
  name: string;
  type: number;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  /** Seconds (number) or nanoseconds (bigint) since the epoch. */
  mt: number | bigint;
  offset: number;
  body: number;
  own: Buffer | undefined;
  nlink: number;
  x: Extra | undefined;
  /** A symlink's target when nothing else rare is set (most symlinks: no Extra for them). */
  link: string | undefined;
}

/**
 * The index: one slot per entry, its fields in typed arrays (a big store has hundreds of thousands
 * of entries; an object and a full-path key each cost about four times as much). An entry is found
 * by name under its parent: a short sibling list, plus a Map for big directories. A repeated entry
 * takes over its slot, so its children, and hard links made to it before, keep their identity.
 */
class Slots {
  n = 0;
  private cap = 0;
  parent = new Int32Array(0);
  first = new Int32Array(0);
  next = new Int32Array(0);
  kind = new Uint8Array(0);
  flags = new Uint8Array(0);
  mode = new Uint16Array(0);
  uid = new Uint32Array(0);
  gid = new Uint32Array(0);
  // Sizes, times and offsets in 32 bits, the rare value that does not fit in a Map: at hundreds of
  // thousands of entries each 64-bit column costs megabytes.
  /** Bytes; WIDE: see bigSize. */
  private sz = new Uint32Array(0);
  /** Whole seconds; unused when mtNs holds the time (F_NS_TIME). */
  private mt = new Int32Array(0);
  /** Where the data starts in the uncompressed archive (a hard link: its target's data), in 512-byte blocks; 0 none; WIDE: see bigOffset. */
  private off = new Uint32Array(0);
  /** A slab position, or NO_BODY / EMPTY_BODY / OWN_BODY. */
  body = new Uint32Array(0);
  readonly names: string[] = [];
  readonly bigIds = new Map<number, [number, number]>();
  private readonly bigSize = new Map<number, number>();
  private readonly bigOffset = new Map<number, number>();
  readonly mtNs = new Map<number, bigint>();
  readonly nlink = new Map<number, number>();
  readonly extra = new Map<number, Extra>();
  readonly links = new Map<number, string>();
  readonly ownBodies = new Map<number, Buffer>();
  readonly childMaps = new Map<number, Map<string, number>>();
  /**
   * Listing generations. An entry replaced by a non-directory loses its listing (as a replaced node
   * lost its children array), though the entries below stay reachable by path: readdir shows a
   * child only when the generation it was listed in is its parent's current one. Both maps stay
   * empty unless an archive replaces a directory by something else.
   */
  readonly gen = new Map<number, number>();
  readonly listedGen = new Map<number, number>();

  private grow(): void {
    this.resize(Math.max(1024, this.cap * 2));
  }

  /** Once the archive is read: the columns cut to the entries there are (growth left up to half unused). */
  trim(): void {
    if (this.cap > this.n) this.resize(this.n);
  }

  private resize(cap: number): void {
    const g = <T extends Int32Array | Uint8Array | Uint16Array | Uint32Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a.subarray(0, Math.min(a.length, cap)));
      return b;
    };
    this.parent = g(this.parent, (k) => new Int32Array(k));
    this.first = g(this.first, (k) => new Int32Array(k));
    this.next = g(this.next, (k) => new Int32Array(k));
    this.kind = g(this.kind, (k) => new Uint8Array(k));
    this.flags = g(this.flags, (k) => new Uint8Array(k));
    this.mode = g(this.mode, (k) => new Uint16Array(k));
    this.uid = g(this.uid, (k) => new Uint32Array(k));
    this.gid = g(this.gid, (k) => new Uint32Array(k));
    this.sz = g(this.sz, (k) => new Uint32Array(k));
    this.mt = g(this.mt, (k) => new Int32Array(k));
    this.off = g(this.off, (k) => new Uint32Array(k));
    this.body = g(this.body, (k) => new Uint32Array(k));
    this.cap = cap;
  }

  size(s: number): number {
    const v = this.sz[s]!;
    return v === WIDE ? this.bigSize.get(s)! : v;
  }

  private setSize(s: number, v: number): void {
    if (v < WIDE) {
      this.sz[s] = v;
      this.bigSize.delete(s);
    } else {
      this.sz[s] = WIDE;
      this.bigSize.set(s, v);
    }
  }

  /** -1: none. */
  offset(s: number): number {
    const v = this.off[s]!;
    return v === 0 ? -1 : v === WIDE ? this.bigOffset.get(s)! : v * 512;
  }

  private setOffset(s: number, v: number): void {
    // data always starts after a header, so block 0 is free to mean none
    const blocks = v / 512;
    if (v < 0) this.off[s] = 0;
    else if (Number.isInteger(blocks) && blocks > 0 && blocks < WIDE) this.off[s] = blocks;
    else {
      this.off[s] = WIDE;
      this.bigOffset.set(s, v);
      return;
    }
    this.bigOffset.delete(s);
  }

  /** A new synthetic directory named `name` under `p` (-1: the root). */
  add(p: number, name: string): number {
    if (this.n === this.cap) this.grow();
    const s = this.n++;
    this.parent[s] = p;
    this.names.push(name);
    this.first[s] = -1;
    this.next[s] = -1;
    this.setDir(s);
    if (p < 0) return s;
    this.next[s] = this.first[p]!;
    this.first[p] = s;
    const pg = this.gen.get(p);
    if (pg !== undefined) this.listedGen.set(s, pg);
    if (this.flags[p]! & F_CHILD_MAP) {
      this.childMaps.get(p)!.set(name, s);
    } else {
      let count = 0;
      for (let c = this.first[p]!; c >= 0; c = this.next[c]!) count++;
      if (count > CHILD_LIST_MAX) {
        const m = new Map<string, number>();
        // the list is newest first: the oldest of two same-named siblings (only made by
        // replacing) must not win, so fill oldest first
        const all: number[] = [];
        for (let c = this.first[p]!; c >= 0; c = this.next[c]!) all.push(c);
        for (let i = all.length - 1; i >= 0; i--) m.set(this.names[all[i]!]!, all[i]!);
        this.childMaps.set(p, m);
        this.flags[p]! |= F_CHILD_MAP;
      }
    }
    return s;
  }

  /** Makes slot `s` a synthetic directory. */
  private setDir(s: number): void {
    this.kind[s] = DIR;
    this.flags[s] = (this.flags[s]! & (F_CONTENT_KNOWN | F_CONTENT | F_CHILD_MAP)) | F_SYNTHETIC;
    this.mode[s] = 0o755;
    this.uid[s] = 0;
    this.gid[s] = 0;
    this.setSize(s, 0);
    this.mt[s] = 0;
    this.setOffset(s, -1);
    this.body[s] = NO_BODY;
  }

  child(p: number, name: string): number {
    if (this.flags[p]! & F_CHILD_MAP) return this.childMaps.get(p)!.get(name) ?? -1;
    for (let c = this.first[p]!; c >= 0; c = this.next[c]!) if (this.names[c] === name) return c;
    return -1;
  }

  /** Puts an entry read from the archive in slot `s`. */
  set(s: number, e: Pending): void {
    this.kind[s] = e.type;
    this.flags[s] = this.flags[s]! & (F_CONTENT_KNOWN | F_CONTENT | F_CHILD_MAP);
    this.mode[s] = e.mode;
    if (e.uid >>> 0 === e.uid && e.gid >>> 0 === e.gid) {
      this.uid[s] = e.uid;
      this.gid[s] = e.gid;
      this.bigIds.delete(s);
    } else {
      this.flags[s]! |= F_BIG_ID;
      this.bigIds.set(s, [e.uid, e.gid]);
    }
    this.setSize(s, e.size);
    if (typeof e.mt === 'number' && e.mt === (e.mt | 0)) {
      this.mt[s] = e.mt;
      this.mtNs.delete(s);
    } else {
      this.mt[s] = 0;
      this.flags[s]! |= F_NS_TIME;
      this.mtNs.set(s, typeof e.mt === 'number' ? BigInt(e.mt) * 1_000_000_000n : e.mt);
    }
    this.setOffset(s, e.offset);
    this.body[s] = e.body;
    if (e.own) this.ownBodies.set(s, e.own);
    else this.ownBodies.delete(s);
    if (e.nlink !== 1) this.nlink.set(s, e.nlink);
    else this.nlink.delete(s);
    if (e.x) this.extra.set(s, e.x);
    else this.extra.delete(s);
    if (e.link !== undefined) this.links.set(s, e.link);
    else this.links.delete(s);
  }

  linkTarget(s: number): string | undefined {
    const x = this.extra.get(s);
    return x ? x.linkTarget : this.links.get(s);
  }

  nlinkOf(s: number): number {
    return this.nlink.get(s) ?? 1;
  }

  /** The entry's path from the top of the archive. */
  pathOf(s: number): string {
    if (this.parent[s]! < 0) return '';
    const parts: string[] = [];
    for (let c = s; this.parent[c]! >= 0; c = this.parent[c]!) parts.push(this.names[c]!);
    return parts.reverse().join('/');
  }

  /** Whether entries directly below `s` are inside a layer's, snapshot's or volume's tree. */
  contentBelow(s: number): boolean {
    const f = this.flags[s]!;
    if (f & F_CONTENT_KNOWN) return (f & F_CONTENT) !== 0;
    const yes = CONTENT_TREE.test(this.pathOf(s) + '/');
    this.flags[s] = this.flags[s]! | F_CONTENT_KNOWN | (yes ? F_CONTENT : 0);
    return yes;
  }

  /** Names readdir shows under `s`. */
  listing(s: number): string[] {
    const out: string[] = [];
    const g = this.gen.get(s) ?? 0;
    const check = this.gen.size > 0;
    for (let c = this.first[s]!; c >= 0; c = this.next[c]!) if (!check || (this.listedGen.get(c) ?? 0) === g) out.push(this.names[c]!);
    return out;
  }

  /** The entry's Stat, as the old per-entry object index held it; `key` is its path. */
  stat(s: number, key: string): Stat {
    const f = this.flags[s]!;
    const mtimeNs = f & F_NS_TIME ? this.mtNs.get(s)! : BigInt(this.mt[s]!) * 1_000_000_000n;
    const nlink = this.nlinkOf(s);
    if (f & F_SYNTHETIC) return { type: 'dir', size: 0, mode: 0o755, uid: 0, gid: 0, mtimeNs, nlink, inode: key, rdevMajor: 0, rdevMinor: 0 };
    const x = this.extra.get(s);
    const ids = f & F_BIG_ID ? this.bigIds.get(s)! : undefined;
    return {
      type: TYPE_NAME[this.kind[s]!]!,
      size: this.size(s),
      mode: this.mode[s]!,
      uid: ids ? ids[0] : this.uid[s]!,
      gid: ids ? ids[1] : this.gid[s]!,
      mtimeNs,
      atimeNs: x?.atimeNs,
      ctimeNs: x?.ctimeNs,
      nlink,
      inode: x?.inode ?? key,
      rdevMajor: x?.rdevMajor ?? 0,
      rdevMinor: x?.rdevMinor ?? 0,
      linkTarget: this.linkTarget(s),
    };
  }
}

/** "1700000000.123456789" (PAX) → ns; undefined when not a plain decimal time. */
export function paxTimeNs(v: string | undefined): bigint | undefined {
  if (!v || !/^-?\d{1,15}(\.\d{1,9}\d*)?$/.test(v)) return undefined;
  const [s, frac = ''] = v.split('.');
  const ns = BigInt((frac + '000000000').slice(0, 9));
  const sec = BigInt(s!);
  return sec < 0n ? sec * 1_000_000_000n - ns : sec * 1_000_000_000n + ns;
}

function paxXattrs(pax: Record<string, string> | null | undefined): Map<string, Buffer> | undefined {
  if (!pax) return undefined;
  let out: Map<string, Buffer> | undefined;
  for (const [k, v] of Object.entries(pax)) {
    let name: string | undefined;
    let val: Buffer | undefined;
    if (k.startsWith('SCHILY.xattr.')) {
      name = k.slice('SCHILY.xattr.'.length);
      val = Buffer.from(v, 'latin1');
    } else if (k.startsWith('LIBARCHIVE.xattr.')) {
      try {
        name = decodeURIComponent(k.slice('LIBARCHIVE.xattr.'.length));
      } catch {
        // malformed %-escape (URIError): keep the record under its raw name rather than lose it
        name = k.slice('LIBARCHIVE.xattr.'.length);
      }
      val = Buffer.from(v, 'base64');
    }
    if (name) (out ??= new Map()).set(name, val!);
  }
  return out;
}

/** Reads up to `len` bytes at `pos` (fewer at the end of the file). */
function readAt(fd: number, pos: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  const n = fs.readSync(fd, b, 0, len, pos);
  return b.subarray(0, n);
}

function isGzipFile(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const head = readAt(fd, 0, 2);
    return head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    fs.closeSync(fd);
  }
}

/** Whether every byte from `pos` to the end of the file is zero (padding, as dd or a tape leaves it). */
function allZeroFrom(fd: number, pos: number, size: number): boolean {
  for (let p = pos; p < size; ) {
    const c = readAt(fd, p, 1 << 16);
    if (c.length === 0) return true;
    for (const b of c) if (b !== 0) return false;
    p += c.length;
  }
  return true;
}

/** The offset where a gzip member's deflate data starts (RFC 1952 §2.3), or why it cannot be read. */
function gzipDataStart(fd: number, pos: number, size: number): number | string {
  const h = readAt(fd, pos, 10);
  if (h.length < 10) return 'header cut short';
  if (h[0] !== 0x1f || h[1] !== 0x8b) return 'not a gzip member';
  if (h[2] !== 8) return `unknown compression method ${h[2]}`;
  const flg = h[3]!;
  if (flg & 0xe0) return `reserved header flags set (0x${flg.toString(16)})`;
  let p = pos + 10;
  if (flg & 0x04) {
    const x = readAt(fd, p, 2);
    if (x.length < 2) return 'header cut short';
    p += 2 + x.readUInt16LE(0);
  }
  for (const bit of [0x08, 0x10]) {
    if (!(flg & bit)) continue;
    // FNAME / FCOMMENT: NUL-terminated, any length; bounded by the file
    for (;;) {
      const c = readAt(fd, p, 1 << 12);
      if (c.length === 0) return 'header cut short';
      const i = c.indexOf(0);
      if (i >= 0) {
        p += i + 1;
        break;
      }
      p += c.length;
    }
  }
  if (flg & 0x02) p += 2;
  return p > size ? 'header cut short' : p;
}

/** Outputs of gunzipFile that are a whole small member inflated at once. */
const SMALL_MEMBER = new WeakSet<Buffer>();

const crc32 = (zlib as { crc32?: (data: Buffer, value?: number) => number }).crc32;

/**
 * What went wrong while decompressing: `fatal` when the uncompressed stream ended early because of
 * it (the rest of the archive is lost), not when it only describes bytes after the end or a
 * checksum over data already passed on.
 */
type GzipNote = (message: string, fatal: boolean) => void;

/**
 * Decompresses a gzip file member by member, as gzip(1) does: concatenated members are one stream;
 * trailing bytes that do not start another member end it (zero padding silently, anything else with
 * a note); a damaged or cut member ends it with a fatal note after passing on everything it
 * decompressed. Never throws for the file's content (only for I/O on it).
 *
 * Node's own Gunzip reads concatenated members too, but on trailing garbage it fails the whole
 * chunk, dropping data it had already inflated: a small .tar.gz with garbage after it lost every
 * entry.
 */
async function* gunzipFile(file: string, note: GzipNote): AsyncGenerator<Buffer> {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    let pos = 0;
    for (let member = 0; pos < size; member++) {
      if (member > 0) {
        const head = readAt(fd, pos, 2);
        if (head[0] !== 0x1f || head[1] !== 0x8b) {
          if (!allZeroFrom(fd, pos, size)) note(`${size - pos} bytes of trailing garbage after the gzip data (from offset ${pos}); ignored, as gzip(1) does`, false);
          return;
        }
      }
      const where = `gzip member ${member + 1} (offset ${pos})`;
      const dataPos = gzipDataStart(fd, pos, size);
      if (typeof dataPos === 'string') {
        note(`${where}: ${dataPos}; decompression stopped`, true);
        return;
      }
      let crc = 0;
      let len = 0;
      let consumed: number;
      // Small members (bgzip writes thousands of them) in one synchronous call: a stream per member
      // costs about half a millisecond. Anything else (big, damaged, cut) goes the streaming way.
      const small = smallMember(fd, dataPos);
      if (small) {
        if (crc32) crc = crc32(small.out);
        len = small.out.length;
        consumed = small.consumed;
        if (small.out.length) {
          SMALL_MEMBER.add(small.out);
          yield small.out;
        }
      } else {
        const inflate = zlib.createInflateRaw({ chunkSize: 1 << 18 });
        const raw = fs.createReadStream(file, { start: dataPos, highWaterMark: 1 << 20 });
        raw.on('error', (e) => inflate.destroy(e));
        raw.pipe(inflate);
        try {
          for await (const c of inflate as AsyncIterable<Buffer>) {
            if (crc32) crc = crc32(c, crc);
            len = (len + c.length) % 0x1_0000_0000;
            yield c;
          }
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code?.startsWith('Z_') !== true) throw e;
          note(`${where}: ${(e as Error).message}; decompression stopped`, true);
          return;
        } finally {
          raw.unpipe(inflate);
          // nothing listens once this member is done: a late error must not become an uncaught one
          raw.on('error', noop).destroy();
          inflate.on('error', noop).destroy();
        }
        // InflateRaw stops at the end of the deflate data: bytesWritten is what it consumed.
        consumed = inflate.bytesWritten;
      }
      const end = dataPos + consumed;
      const trailer = readAt(fd, end, 8);
      if (trailer.length < 8) {
        note(`${where}: cut short before its CRC and length trailer`, true);
        return;
      }
      if (crc32 && trailer.readUInt32LE(0) !== crc >>> 0) note(`${where}: CRC mismatch, the decompressed data is corrupt`, false);
      if (trailer.readUInt32LE(4) !== len) note(`${where}: length mismatch (trailer says ${trailer.readUInt32LE(4)}, got ${len} mod 2^32)`, false);
      pos = end + 8;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** A member whose deflate data ends within 64 KiB and inflates to at most 1 MiB, inflated at once. */
function smallMember(fd: number, dataPos: number): { out: Buffer; consumed: number } | undefined {
  const window = readAt(fd, dataPos, 1 << 16);
  try {
    const r = zlib.inflateRawSync(window, { info: true, maxOutputLength: 1 << 20 }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
    return { out: r.buffer, consumed: r.engine.bytesWritten };
  } catch {
    return undefined; // not complete in the window, too big, or damaged: the stream path reports it
  }
}

/** The uncompressed byte stream of the archive, gunzipped when the magic says so. */
function openArchiveStream(file: string, gzip: boolean, note: GzipNote): Readable {
  if (gzip) return Readable.from(gunzipFile(file, note), { objectMode: false, highWaterMark: 1 << 18 });
  return fs.createReadStream(file, { highWaterMark: 1 << 20 });
}

/** Longest entry name indexed (PATH_MAX is 4096; the archive adds the data root's own path). */
const MAX_NAME_LENGTH = 16 << 10;

function noop(): void {}

/** Errors that are bugs in this code, not damage in the evidence: never turned into findings. */
function isProgrammingError(e: unknown): boolean {
  return e instanceof TypeError || e instanceof ReferenceError;
}

/** A header number the reader could not decode (base-256 without its marker: null; bad octal: NaN): 0. */
function num(v: number | null | undefined): number {
  return typeof v === 'number' && Number.isSafeInteger(v) ? v : 0;
}

/** Size of the slabs small kept bodies are copied into, and the largest body that goes there. */
const SLAB = 8 << 20;
const SLAB_BODY = SLAB >> 3;
const EMPTY = Buffer.alloc(0);

/** The archive as chunks of its uncompressed bytes (fresh buffers: the reader keeps views of them). */
async function* archiveChunks(file: string, gzip: boolean, note: GzipNote): AsyncGenerator<Buffer> {
  if (gzip) {
    yield* gunzipFile(file, note);
    return;
  }
  const fd = fs.openSync(file, 'r');
  try {
    for (;;) {
      const b = Buffer.allocUnsafeSlow(1 << 20);
      const n = fs.readSync(fd, b, 0, b.length, null);
      if (n === 0) return;
      yield n === b.length ? b : b.subarray(0, n);
    }
  } finally {
    fs.closeSync(fd);
  }
}

class TarTree implements RawTree {
  readonly s = new Slots();
  readonly problems: string[] = [];
  private kept = 0;
  private keptContent = 0;
  private order = 0;
  private readonly slabs: Buffer[] = [];
  private slabFree = 0;
  /** Entry names seen while indexing, so that repeated names are one string each. */
  private intern: Map<string, string> | undefined = new Map();
  /** The directory part of the last entry's name and its slot: most entries follow a sibling. */
  private lastDirKey: string | undefined = undefined;
  private lastDirSlot = -1;
  /** The last path looked up and its slot: resolvePath asks for each prefix of a path in turn. */
  private lastParts: string[] = [];
  private lastSlot = 0;
  /** Bodies kept by re-reads of a gzip (made on the first). */
  private reread: RereadCache | undefined;

  constructor(
    readonly file: string,
    readonly limits: TarLimits,
  ) {
    this.s.add(-1, '');
  }

  /** The slot at `parts` (components from the top), or -1. */
  lookup(parts: string[]): number {
    const last = this.lastParts;
    let from = 0;
    let s = 0;
    if (parts.length >= last.length && last.length > 0) {
      let i = 0;
      while (i < last.length && parts[i] === last[i]) i++;
      if (i === last.length) {
        from = i;
        s = this.lastSlot;
      }
    }
    for (let i = from; i < parts.length && s >= 0; i++) s = this.s.child(s, parts[i]!);
    if (s >= 0) {
      this.lastParts = parts;
      this.lastSlot = s;
    }
    return s;
  }

  rawLstat(parts: string[]): Stat | undefined {
    const s = this.lookup(parts);
    return s >= 0 ? this.s.stat(s, parts.join('/')) : undefined;
  }

  /** Makes every directory on the way to `parts` exist (synthetic where missing); its slot. */
  private ensureDir(parts: string[]): number {
    let s = 0;
    for (const name of parts) {
      const c = this.s.child(s, name);
      s = c >= 0 ? c : this.s.add(s, this.name(name));
    }
    return s;
  }

  /** One string per distinct name, never a slice that keeps a whole path alive. */
  private name(n: string): string {
    const m = this.intern;
    if (!m) return n;
    let v = m.get(n);
    if (v === undefined) {
      // a slice of 13 characters or more is a view of the string it was cut from: copy it
      v = n.length >= 13 ? Buffer.from(n, 'utf8').toString('utf8') : n;
      m.set(v, v);
    }
    return v;
  }

  async index(): Promise<void> {
    const gzip = isGzipFile(this.file);
    const reader = new TarReader((h) => this.onEntry(h));
    let failed: Error | undefined;
    const write = (c: Buffer) => {
      try {
        reader.write(c);
      } catch (e) {
        if (isProgrammingError(e)) throw e;
        failed = e as Error;
      }
    };
    try {
      // A small gzip member's output is indexed only once the next chunk has come (or the input
      // ended), as when a stream pipeline read ahead: the member's trailer, and what follows it,
      // are checked first, so their findings come before those of the member's entries.
      let ahead: Buffer | undefined;
      for await (const c of archiveChunks(this.file, gzip, (m) => this.problems.push(m))) {
        if (ahead) {
          write(ahead);
          ahead = undefined;
          if (failed) break;
        }
        if (SMALL_MEMBER.has(c)) ahead = c;
        else write(c);
        if (failed) break;
      }
      if (ahead && !failed) write(ahead);
      if (!failed) reader.end();
    } catch (e) {
      if (isProgrammingError(e)) throw e;
      failed ??= e as Error;
    }
    // A truncated or corrupt acquisition still yields everything before the damage.
    if (failed) this.problems.push(`archive read stopped early: ${failed.message}`);
    this.intern = undefined;
    this.lastDirKey = undefined;
    this.s.trim();
  }

  private unsafe(name: string): undefined {
    this.problems.push(`skipped archive entry with unsafe name ${JSON.stringify(name.length > 200 ? name.slice(0, 200) + '…' : name)}${name.length > MAX_NAME_LENGTH ? ` (${name.length} characters long)` : ''}`);
    return undefined;
  }

  private onEntry(h: TarHeader): TarSink | undefined {
    // A PAX size record is applied after the header's own size field was checked, so it is checked
    // here: a size that is not a whole byte count cannot end.
    if (!(typeof h.size === 'number' && Number.isSafeInteger(h.size) && h.size >= 0)) {
      throw new Error(`entry ${JSON.stringify(String(h.name).slice(0, 200))} has an unusable size (${String(h.size)})`);
    }
    const type = TYPE_CODE.get(h.type ?? 'file');
    const full = h.name;
    if (full.length > MAX_NAME_LENGTH) return this.unsafe(full);
    // The entry's name and the path of its directory: split at the last '/', and the directory
    // resolved once for a run of siblings. Anything unusual goes through splitPath whole.
    let end = full.length;
    while (end > 0 && full.charCodeAt(end - 1) === 47) end--;
    const cut = full.lastIndexOf('/', end - 1);
    let base = full.slice(cut + 1, end);
    let parent = -1;
    let dirParts: string[] | undefined;
    let dirKey: string | undefined;
    if (base === '' || base === '.' || base === '..' || full.includes('\0')) {
      let parts: string[];
      try {
        parts = splitPath(full);
      } catch (e) {
        if (isProgrammingError(e)) throw e;
        return this.unsafe(full);
      }
      if (parts.length === 0) return this.skip();
      base = parts[parts.length - 1]!;
      dirParts = parts.slice(0, -1);
    } else {
      dirKey = cut < 0 ? '' : full.slice(0, cut);
      if (dirKey === this.lastDirKey) parent = this.lastDirSlot;
      else {
        try {
          dirParts = splitPath(dirKey);
        } catch (e) {
          if (isProgrammingError(e)) throw e;
          return this.unsafe(full);
        }
      }
    }
    if (type === undefined || this.order >= this.limits.maxEntries) return this.skip();
    this.order++;
    const pax = h.pax;
    const mtimeMs = 1000 * (h.mtime as number); // as new Date(1000 * mtime) held it
    const paxMt = paxTimeNs(pax?.mtime);
    // whole seconds as a number (no BigInt per entry); finer PAX times as they are
    const mt =
      paxMt === undefined
        ? Number.isFinite(mtimeMs) && Math.abs(mtimeMs) <= 8.64e15
          ? Math.trunc(mtimeMs / 1000)
          : 0
        : paxMt % 1_000_000_000n === 0n && paxMt >= -(2n ** 52n) * 1_000_000_000n && paxMt <= 2n ** 52n * 1_000_000_000n
          ? Number(paxMt / 1_000_000_000n)
          : paxMt;
    // As lstat reports it: a symlink's size is the length of its target.
    const size = type === FILE ? h.size : type === SYMLINK ? Buffer.byteLength(h.linkname ?? '') : 0;
    const e: Pending = {
      parent,
      dirParts,
      dirKey,
      name: base,
      type,
      size,
      mode: num(h.mode) & 0o7777,
      uid: num(h.uid),
      gid: num(h.gid),
      mt,
      offset: -1,
      body: NO_BODY,
      own: undefined,
      nlink: 1,
      x: undefined,
      link: undefined,
    };
    const atimeNs = paxTimeNs(pax?.atime);
    const ctimeNs = paxTimeNs(pax?.ctime);
    const rdevMajor = num(h.devmajor);
    const rdevMinor = num(h.devminor);
    const xattrs = paxXattrs(pax);
    if (atimeNs === undefined && ctimeNs === undefined && rdevMajor === 0 && rdevMinor === 0 && !xattrs) {
      if (type === SYMLINK) e.link = h.linkname ?? '';
    } else {
      const x = (e.x = new Extra());
      x.atimeNs = atimeNs;
      x.ctimeNs = ctimeNs;
      x.rdevMajor = rdevMajor;
      x.rdevMinor = rdevMinor;
      if (type === SYMLINK) x.linkTarget = h.linkname ?? '';
      x.xattrs = xattrs;
    }
    if (h.type === 'link') {
      let target: string[] | undefined;
      try {
        target = splitPath(h.linkname ?? '');
      } catch {
        this.problems.push(`hard link ${JSON.stringify(h.name)} points outside the archive (${JSON.stringify(h.linkname)})`);
      }
      const t = target ? this.lookup(target) : -1;
      const s = this.s;
      // Any non-directory can be hard-linked: a shared whiteout inode (char 0:0) too.
      if (t >= 0 && s.kind[t] !== DIR) {
        // the link's own mode, owner and times; the target's type, size, identity and data
        const tx = s.extra.get(t);
        e.link = undefined;
        e.type = s.kind[t]!;
        e.size = s.size(t);
        e.offset = s.offset(t);
        e.body = s.body[t]!;
        e.own = e.body === OWN_BODY ? s.ownBodies.get(t) : undefined;
        const x = (e.x = new Extra());
        x.atimeNs = atimeNs;
        x.ctimeNs = ctimeNs;
        x.xattrs = xattrs ?? tx?.xattrs;
        x.inode = tx?.inode ?? target!.join('/');
        x.rdevMajor = tx?.rdevMajor ?? 0;
        x.rdevMinor = tx?.rdevMinor ?? 0;
        x.linkTarget = s.linkTarget(t);
        const nl = s.nlinkOf(t) + 1;
        s.nlink.set(t, nl);
        e.nlink = nl;
      } else if (target) {
        this.problems.push(`hard link ${JSON.stringify(h.name)} to missing entry ${JSON.stringify(h.linkname)}`);
      }
      this.commit(e);
      return undefined;
    }
    if (type === FILE && size > 0) {
      e.offset = h.byteOffset;
      const content = e.parent >= 0 ? this.s.contentBelow(e.parent) : CONTENT_TREE.test(e.dirParts!.join('/') + '/');
      if (size <= this.limits.keepFileBytes && this.kept + size <= this.limits.keepTotalBytes && (!content || this.keptContent + size <= this.limits.keepContentBytes)) {
        return this.keep(e, content);
      }
      this.commit(e);
      return undefined;
    }
    if (type === FILE) e.body = EMPTY_BODY;
    this.commit(e);
    return undefined;
  }

  private skip(): undefined {
    if (this.order >= this.limits.maxEntries && this.order++ === this.limits.maxEntries) this.problems.push(`stopped indexing after ${this.limits.maxEntries} entries`);
    return undefined;
  }

  /** Takes an entry into the index (for a kept body: once all of it has arrived). */
  private commit(e: Pending): void {
    const s = this.s;
    const p = e.parent >= 0 ? e.parent : this.ensureDir(e.dirParts!);
    if (e.dirKey !== undefined) {
      this.lastDirKey = e.dirKey;
      this.lastDirSlot = p;
    }
    let slot = s.child(p, e.name);
    if (slot < 0) slot = s.add(p, this.name(e.name));
    else {
      // a repeated entry: a non-directory drops the listing of what was below the old one …
      if (e.type !== DIR) s.gen.set(slot, (s.gen.get(slot) ?? 0) + 1);
      // … and the name is listed again under its parent if the parent's listing had dropped it
      const pg = s.gen.get(p);
      if (pg !== undefined || s.listedGen.has(slot)) s.listedGen.set(slot, pg ?? 0);
    }
    s.set(slot, e);
  }

  /**
   * Reads an entry's data into memory. Small bodies are copied into shared slabs rather than
   * getting a Buffer each: tens of thousands of small Buffers cost more in objects and allocator
   * overhead than in bytes.
   */
  private keep(e: Pending, content: boolean): TarSink {
    const size = e.size;
    let dst: Buffer;
    let at: number;
    // slab positions stay below the body markers (4 GiB): past that, kept bodies get their own Buffer
    if (size > SLAB_BODY || (this.slabs.length + 1) * SLAB >= OWN_BODY) {
      dst = Buffer.allocUnsafe(size);
      at = 0;
      e.body = OWN_BODY;
      e.own = dst;
    } else {
      if (size > this.slabFree) {
        // never zero-filled: only the bytes written are ever read, and untouched pages cost nothing
        this.slabs.push(Buffer.allocUnsafeSlow(SLAB));
        this.slabFree = SLAB;
      }
      dst = this.slabs[this.slabs.length - 1]!;
      at = SLAB - this.slabFree;
      e.body = (this.slabs.length - 1) * SLAB + at;
      this.slabFree -= size;
    }
    return {
      data: (b, start, end) => void (at += b.copy(dst, at, start, end)),
      end: () => {
        this.kept += size;
        if (content) this.keptContent += size;
        this.commit(e);
      },
    };
  }

  /** An entry's kept data, or undefined when it must be re-read from the archive. */
  bodyOf(slot: number): Buffer | undefined {
    const b = this.s.body[slot]!;
    if (b === NO_BODY) return undefined;
    if (b === EMPTY_BODY) return EMPTY;
    if (b === OWN_BODY) return this.s.ownBodies.get(slot);
    const slab = this.slabs[Math.floor(b / SLAB)]!;
    const start = b % SLAB;
    return slab.subarray(start, start + this.s.size(slot));
  }

  /**
   * Streams the data of an entry whose body was not kept, by reading the archive again: straight
   * from its offset in a plain tar, decompressing up to it in a gzip. Whatever goes wrong on the way
   * (the archive changed, was cut, or fails to decompress) ends the stream with EIO.
   */
  streamData(slot: number, p: string): Readable {
    const o = this.s.offset(slot);
    const offset = o < 0 ? undefined : o;
    const size = this.s.size(slot);
    if (offset === undefined || !Number.isSafeInteger(offset + size)) throw new EvidenceError('EIO', p, 'no position in the archive recorded for this entry');
    if (size === 0) return Readable.from([]);
    const file = this.file;
    const cache = (this.reread ??= new RereadCache(this.s, this.limits.keepFileBytes));
    async function* slice(): AsyncGenerator<Buffer> {
      const fatal: string[] = [];
      let gzip: boolean;
      let src: Readable | undefined;
      let left = size;
      try {
        gzip = isGzipFile(file);
        src = gzip ? openArchiveStream(file, true, (m, f) => void (f && fatal.push(m))) : fs.createReadStream(file, { start: offset, end: offset! + size - 1, highWaterMark: 1 << 16 });
        // a gzip is decompressed from its start: the bodies passed on the way are kept for a while
        const collect = gzip ? cache.collector(offset! - REREAD_WINDOW, offset! + size + REREAD_WINDOW) : undefined;
        let pos = 0;
        let skip = gzip ? offset! : 0;
        for await (const c of src as AsyncIterable<Buffer>) {
          const more = collect ? collect(c, pos) : false;
          pos += c.length;
          if (left > 0) {
            let piece = c;
            if (skip > 0) {
              if (piece.length <= skip) {
                skip -= piece.length;
                piece = EMPTY;
              } else {
                piece = piece.subarray(skip);
                skip = 0;
              }
            }
            if (piece.length >= left) {
              yield piece.subarray(0, left);
              left = 0;
            } else if (piece.length > 0) {
              left -= piece.length;
              yield piece;
            }
          }
          if (left === 0 && !more) break;
        }
        if (left > 0) throw new EvidenceError('EIO', p, `the archive ends ${left} bytes before the end of this entry${fatal.length ? ` (${fatal[0]})` : ''}`);
      } catch (e) {
        // past the entry's end only the read-ahead is lost
        if (left === 0) return;
        if (isEvidenceError(e) || isProgrammingError(e)) throw e;
        throw new EvidenceError('EIO', p, `re-reading the archive failed: ${(e as Error).message}`);
      } finally {
        src?.on('error', noop).destroy();
      }
    }
    return Readable.from(slice(), { objectMode: false });
  }

  /** A body a re-read kept (createReadStream only: readFile answers as the index does). */
  cached(slot: number): Buffer | undefined {
    return this.reread?.get(this.s.offset(slot), this.s.size(slot));
  }
}

/** How far before and after a re-read entry the bodies passed over are kept, and how much in all. */
const REREAD_WINDOW = 32 << 20;
const REREAD_CACHE = 64 << 20;

/**
 * Bodies of the entries a gzip re-read passes over. Re-reading one entry decompresses the archive
 * from its start; the content commands (export, diff --long, fs, verify) read a layer's files one
 * after another, so keeping the bodies near the one asked for turns one pass per file into one pass
 * per window. Bounded (REREAD_CACHE), oldest out first; only entries of kept-body size.
 */
class RereadCache {
  private offsets: Float64Array | undefined;
  private sizes: Float64Array | undefined;
  private readonly bodies = new Map<number, Buffer>();
  private bytes = 0;

  constructor(
    private readonly s: Slots,
    private readonly maxBody: number,
  ) {}

  get(offset: number, size: number): Buffer | undefined {
    const b = this.bodies.get(offset);
    return b && b.length === size ? b : undefined;
  }

  /** Entries whose body was not kept, by offset (hard links share their target's). */
  private candidates(): [Float64Array, Float64Array] {
    if (!this.offsets || !this.sizes) {
      const s = this.s;
      const pairs: number[] = [];
      for (let i = 0; i < s.n; i++) {
        const size = s.size(i);
        if (s.kind[i] === FILE && s.body[i] === NO_BODY && s.offset(i) >= 0 && size > 0 && size <= this.maxBody) pairs.push(s.offset(i), size);
      }
      const idx = Array.from({ length: pairs.length / 2 }, (_, i) => i).sort((a, b) => pairs[2 * a]! - pairs[2 * b]!);
      const offs: number[] = [];
      const sizes: number[] = [];
      for (const i of idx) {
        if (offs.length && offs[offs.length - 1] === pairs[2 * i]) continue;
        offs.push(pairs[2 * i]!);
        sizes.push(pairs[2 * i + 1]!);
      }
      this.offsets = Float64Array.from(offs);
      this.sizes = Float64Array.from(sizes);
    }
    return [this.offsets, this.sizes];
  }

  /** A function fed the uncompressed stream (chunk, its offset): false once past `hi`. */
  collector(lo: number, hi: number): (c: Buffer, pos: number) => boolean {
    const [offs, sizes] = this.candidates();
    let k = 0;
    for (let a = 0, b = offs.length; a < b; ) {
      const m = (a + b) >> 1;
      if (offs[m]! < lo) a = k = m + 1;
      else b = m;
    }
    let cur: Buffer | undefined;
    return (c, pos) => {
      const end = pos + c.length;
      while (k < offs.length) {
        const off = offs[k]!;
        const sz = sizes[k]!;
        if (off >= hi || off >= end) break;
        if (!cur) {
          if (off < pos) {
            k++; // began before collecting did
            continue;
          }
          cur = Buffer.allocUnsafe(sz);
        }
        const from = Math.max(off, pos);
        const to = Math.min(off + sz, end);
        c.copy(cur, from - off, from - pos, to - pos);
        if (off + sz > end) break;
        this.put(off, cur);
        cur = undefined;
        k++;
      }
      return end < hi;
    };
  }

  private put(off: number, b: Buffer): void {
    if (this.bodies.has(off)) return;
    this.bodies.set(off, b);
    this.bytes += b.length;
    for (const [o, old] of this.bodies) {
      if (this.bytes <= REREAD_CACHE || o === off) break;
      this.bodies.delete(o);
      this.bytes -= old.length;
    }
  }
}

export class TarSource implements Source {
  readonly kind = 'tar' as const;
  readonly hasXattrs = true;
  readonly label: string;
  readonly location: string;

  private rootSlot: number | undefined;

  private constructor(
    private readonly tree: TarTree,
    private readonly base: string[],
    rootSlot?: number,
  ) {
    this.rootSlot = rootSlot;
    this.location = '/' + base.join('/');
    this.label = base.length ? `${tree.file}:${base.join('/')}` : tree.file;
  }

  static async open(file: string, bounds: TarLimits = tarLimits()): Promise<TarSource> {
    const tree = new TarTree(file, bounds);
    await tree.index();
    return new TarSource(tree, []);
  }

  /** What went wrong while indexing (truncation, unsafe names, bounds hit). */
  get problems(): readonly string[] {
    return this.tree.problems;
  }

  /**
   * resolvePath (resolve.ts) over the index's slots: the same walk, symlink rules and errors, but
   * each component is one child lookup, and a Stat is built only for the entry asked about.
   */
  private resolve(p: string, followLast: boolean): { parts: string[]; slot: number } {
    const tree = this.tree;
    const s = tree.s;
    const base = this.base;
    let pending = splitPath(p);
    const done: string[] = [];
    let hops = 0;
    let cur = this.baseSlot();
    while (pending.length > 0) {
      const name = pending[0]!;
      const rest = pending.slice(1);
      const c = cur >= 0 ? s.child(cur, name) : -1;
      if (c < 0) return { parts: rest.length > 0 ? [...base, ...done, ...pending] : [...base, ...done, name], slot: -1 };
      const isLast = rest.length === 0;
      const kind = s.kind[c]!;
      if (kind === SYMLINK && (!isLast || followLast)) {
        if (++hops > MAX_SYMLINK_HOPS) throw new EvidenceError('ELOOP', p, 'too many levels of symbolic links');
        const target = resolveLinkTarget(done, s.linkTarget(c) ?? '', p);
        pending = [...target, ...rest];
        done.length = 0;
        cur = this.baseSlot();
        continue;
      }
      if (!isLast && kind !== DIR) throw new EvidenceError('ENOTDIR', p);
      done.push(name);
      pending = rest;
      cur = c;
      if (isLast) return { parts: [...base, ...done], slot: c };
    }
    return { parts: [...base, ...done], slot: cur };
  }

  /** The slot of this view's root (it existed when the view was made; -1 never happens in practice). */
  private baseSlot(): number {
    if (this.rootSlot === undefined) this.rootSlot = this.base.length ? this.tree.lookup(this.base) : 0;
    return this.rootSlot;
  }

  private statAt(r: { parts: string[]; slot: number }): Stat | undefined {
    return r.slot >= 0 ? this.tree.s.stat(r.slot, r.parts.join('/')) : undefined;
  }

  lstat(p: string): Stat | undefined {
    return this.statAt(this.resolve(p, false));
  }

  stat(p: string): Stat | undefined {
    return this.statAt(this.resolve(p, true));
  }

  readdir(p: string): string[] | undefined {
    const s = this.resolve(p, true).slot;
    if (s < 0) return undefined;
    if (this.tree.s.kind[s] !== DIR) throw new EvidenceError('ENOTDIR', p);
    return this.tree.s.listing(s).sort();
  }

  readFile(p: string, limit: number): Buffer {
    const b = this.readFileIfPresent(p, limit);
    if (b === undefined) throw new EvidenceError('ENOENT', p);
    return b;
  }

  /** readFile, but absence is an answer (undefined) rather than an exception: most optional files are absent. */
  readFileIfPresent(p: string, limit: number): Buffer | undefined {
    const s = this.resolve(p, true).slot;
    if (s < 0) return undefined;
    const kind = this.tree.s.kind[s]!;
    if (kind === DIR) throw new EvidenceError('EISDIR', p);
    if (kind !== FILE) throw new EvidenceError('EIO', p, `not a regular file (${TYPE_NAME[kind]})`);
    if (this.tree.s.size(s) > limit) throw new EvidenceError('ETOOBIG', p, `larger than the ${limit}-byte bound`);
    const body = this.tree.bodyOf(s);
    if (!body) throw new EvidenceError('ETOOBIG', p, 'too large to keep in memory; stream it instead');
    return body;
  }

  readlink(p: string): string | undefined {
    const st = this.lstat(p);
    return st?.type === 'symlink' ? st.linkTarget : undefined;
  }

  createReadStream(p: string): Readable {
    const s = this.resolve(p, true).slot;
    if (s < 0) throw new EvidenceError('ENOENT', p);
    const kind = this.tree.s.kind[s]!;
    if (kind !== FILE) throw new EvidenceError('EIO', p, `not a regular file (${TYPE_NAME[kind]})`);
    const body = this.tree.bodyOf(s) ?? this.tree.cached(s);
    if (body) return Readable.from([body]);
    return this.tree.streamData(s, p);
  }

  xattrs(p: string): Map<string, Buffer> {
    const s = this.resolve(p, false).slot;
    return (s >= 0 ? this.tree.s.extra.get(s)?.xattrs : undefined) ?? new Map();
  }

  sub(p: string): Source {
    const { parts, slot } = this.resolve(p, true);
    if (slot < 0) throw new EvidenceError('ENOENT', p);
    if (this.tree.s.kind[slot] !== DIR) throw new EvidenceError('ENOTDIR', p);
    return new TarSource(this.tree, parts, slot);
  }
}
