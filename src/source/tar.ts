import fs from 'node:fs';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import tarStream from 'tar-stream';
import './pax-bytes.js';
import { splitPath } from './paths.js';
import { resolvePath, type RawTree } from './resolve.js';
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

/**
 * One indexed entry, kept compact: a big store has hundreds of thousands of them. The Stat is
 * built when asked (statOf); rarely set fields live in `x`; times are whole seconds as a number
 * unless the archive gave a finer (PAX) time.
 */
class Node {
  /** Where the data starts in the uncompressed archive stream (a hard link: its target's data), so a
   * body that was not kept is re-read from exactly this entry, not from another of the same name. */
  offset: number | undefined = undefined;
  /** The kept data: its own Buffer, or where it starts in the tree's slabs (its length is `size`). */
  body: Buffer | number | undefined = undefined;
  /** Names of the entries under this one: an array, a Set once duplicates make lookups matter. */
  children: string[] | Set<string> | undefined = undefined;
  x: Extra | undefined = undefined;
  nlink = 1;
  constructor(
    readonly type: EntryType,
    public size: number,
    readonly mode: number,
    readonly uid: number,
    readonly gid: number,
    /** Seconds (number) or nanoseconds (bigint) since the epoch. */
    readonly mt: number | bigint,
    /** A directory made up because entries below it came first (no header of its own). */
    readonly synthetic: boolean,
  ) {}
}

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

function dirNode(): Node {
  return new Node('dir', 0, 0o755, 0, 0, 0, true);
}

/** The entry's Stat, as the index used to hold it; `key` is the entry's path in the archive. */
function statOf(n: Node, key: string): Stat {
  const mtimeNs = typeof n.mt === 'bigint' ? n.mt : BigInt(n.mt) * 1_000_000_000n;
  if (n.synthetic) return { type: 'dir', size: 0, mode: 0o755, uid: 0, gid: 0, mtimeNs, nlink: n.nlink, inode: key, rdevMajor: 0, rdevMinor: 0 };
  const x = n.x;
  return {
    type: n.type,
    size: n.size,
    mode: n.mode,
    uid: n.uid,
    gid: n.gid,
    mtimeNs,
    atimeNs: x?.atimeNs,
    ctimeNs: x?.ctimeNs,
    nlink: n.nlink,
    inode: x?.inode ?? key,
    rdevMajor: x?.rdevMajor ?? 0,
    rdevMinor: x?.rdevMinor ?? 0,
    linkTarget: x?.linkTarget,
  };
}

/** Adds `name` under `n`; `mayExist` when it could be there already (a repeated entry). */
function addChild(n: Node, name: string, mayExist: boolean): void {
  const c = (n.children ??= []);
  if (!Array.isArray(c)) {
    c.add(name);
    return;
  }
  if (mayExist) {
    // a hostile archive repeating entries in a big directory must not make this quadratic
    if (c.length > 64) {
      n.children = new Set(c).add(name);
      return;
    }
    if (c.includes(name)) return;
  }
  c.push(name);
}

const TYPES: Record<string, EntryType> = {
  file: 'file',
  'contiguous-file': 'file',
  link: 'file',
  directory: 'dir',
  symlink: 'symlink',
  'character-device': 'char',
  'block-device': 'block',
  fifo: 'fifo',
};

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
        if (small.out.length) yield small.out;
      } else {
        const inflate = zlib.createInflateRaw({ chunkSize: 1 << 18 });
        const raw = fs.createReadStream(file, { start: dataPos, highWaterMark: 1 << 16 });
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

/** A header number tar-stream could not decode (base-256 without its marker: null; bad octal: NaN). */
function num(v: number | null | undefined): number {
  return typeof v === 'number' && Number.isSafeInteger(v) ? v : 0;
}

/** Size of the slabs small kept bodies are copied into, and the largest body that goes there. */
const SLAB = 8 << 20;
const SLAB_BODY = SLAB >> 3;
const EMPTY = Buffer.alloc(0);

class TarTree implements RawTree {
  readonly nodes = new Map<string, Node>();
  readonly problems: string[] = [];
  private kept = 0;
  private keptContent = 0;
  private order = 0;
  private readonly slabs: Buffer[] = [];
  private slabFree = 0;

  constructor(
    readonly file: string,
    readonly limits: TarLimits,
  ) {
    const root = dirNode();
    root.children = [];
    this.nodes.set('', root);
  }

  rawLstat(parts: string[]): Stat | undefined {
    const key = parts.join('/');
    const n = this.nodes.get(key);
    return n && statOf(n, key);
  }

  /** Makes every directory on the way to `parts` exist; iterative, stops at the first that exists. */
  private ensureDir(parts: string[]): Node {
    const key = parts.join('/');
    const top = this.nodes.get(key);
    if (top) {
      top.children ??= [];
      return top;
    }
    const made = dirNode();
    made.children = [];
    this.nodes.set(key, made);
    let child = key;
    for (;;) {
      const cut = child.lastIndexOf('/');
      const parentKey = cut < 0 ? '' : child.slice(0, cut);
      const name = child.slice(cut + 1);
      let parent = this.nodes.get(parentKey);
      const existed = parent !== undefined;
      if (!parent) {
        parent = dirNode();
        this.nodes.set(parentKey, parent);
      }
      // `child` was not indexed until now, so its name is not under its parent yet
      addChild(parent, name, false);
      if (existed) return made;
      child = parentKey;
    }
  }

  async index(): Promise<void> {
    const gzip = isGzipFile(this.file);
    const extract = tarStream.extract();
    const input = openArchiveStream(this.file, gzip, (m) => this.problems.push(m));
    input.on('error', (e) => extract.destroy(e));
    input.pipe(extract);
    try {
      for await (const entry of extract) {
        await this.add(entry.header, entry as unknown as Readable);
      }
    } catch (e) {
      if (isProgrammingError(e)) throw e;
      // A truncated or corrupt acquisition still yields everything before the damage.
      this.problems.push(`archive read stopped early: ${(e as Error).message}`);
    } finally {
      input.unpipe(extract);
      input.on('error', noop).destroy();
      extract.on('error', noop).destroy();
    }
    // A grown array keeps room for about 16 more names; most directories hold one to four.
    for (const n of this.nodes.values()) if (Array.isArray(n.children) && n.children.length < 32) n.children = n.children.slice();
  }

  private async add(h: tarStream.Header, body: Readable): Promise<void> {
    // pax-bytes.ts makes tar-stream refuse an unreadable size field; a PAX size record is applied
    // after that check, so it is checked here: a size that is not a whole byte count cannot end.
    if (!(typeof h.size === 'number' && Number.isSafeInteger(h.size) && h.size >= 0)) {
      throw new Error(`entry ${JSON.stringify(String(h.name).slice(0, 200))} has an unusable size (${String(h.size)})`);
    }
    const type = TYPES[h.type ?? 'file'];
    let parts: string[];
    try {
      if (h.name.length > MAX_NAME_LENGTH) throw new EvidenceError('EBADPATH', '', 'name too long');
      parts = splitPath(h.name);
    } catch (e) {
      if (isProgrammingError(e)) throw e;
      this.problems.push(`skipped archive entry with unsafe name ${JSON.stringify(h.name.length > 200 ? h.name.slice(0, 200) + '…' : h.name)}${h.name.length > MAX_NAME_LENGTH ? ` (${h.name.length} characters long)` : ''}`);
      body.resume();
      return;
    }
    if (!type || parts.length === 0 || this.order >= this.limits.maxEntries) {
      if (this.order >= this.limits.maxEntries && this.order++ === this.limits.maxEntries)
        this.problems.push(`stopped indexing after ${this.limits.maxEntries} entries`);
      body.resume();
      return;
    }
    this.order++;
    const key = parts.join('/');
    const pax = h.pax as Record<string, string> | undefined;
    const mtimeMs = h.mtime?.getTime();
    const paxMt = paxTimeNs(pax?.mtime);
    // whole seconds as a number (no BigInt per entry); finer PAX times as they are
    const mt = paxMt === undefined ? (Number.isFinite(mtimeMs) ? Math.trunc(mtimeMs! / 1000) : 0) : paxMt % 1_000_000_000n === 0n && paxMt >= -(2n ** 52n) * 1_000_000_000n && paxMt <= 2n ** 52n * 1_000_000_000n ? Number(paxMt / 1_000_000_000n) : paxMt;
    // As lstat reports it: a symlink's size is the length of its target.
    const size = type === 'file' ? h.size : type === 'symlink' ? Buffer.byteLength(h.linkname ?? '') : 0;
    let node = new Node(type, size, num(h.mode) & 0o7777, num(h.uid), num(h.gid), mt, false);
    const atimeNs = paxTimeNs(pax?.atime);
    const ctimeNs = paxTimeNs(pax?.ctime);
    const rdevMajor = num(h.devmajor);
    const rdevMinor = num(h.devminor);
    const xattrs = paxXattrs(pax);
    if (atimeNs !== undefined || ctimeNs !== undefined || rdevMajor !== 0 || rdevMinor !== 0 || type === 'symlink' || xattrs) {
      const x = (node.x = new Extra());
      x.atimeNs = atimeNs;
      x.ctimeNs = ctimeNs;
      x.rdevMajor = rdevMajor;
      x.rdevMinor = rdevMinor;
      if (type === 'symlink') x.linkTarget = h.linkname ?? '';
      x.xattrs = xattrs;
    }
    if (h.type === 'link') {
      let target: string[] | undefined;
      try {
        target = splitPath(h.linkname ?? '');
      } catch {
        this.problems.push(`hard link ${JSON.stringify(h.name)} points outside the archive (${JSON.stringify(h.linkname)})`);
      }
      const targetKey = target?.join('/');
      const tnode = targetKey !== undefined ? this.nodes.get(targetKey) : undefined;
      // Any non-directory can be hard-linked: a shared whiteout inode (char 0:0) too.
      if (tnode && tnode.type !== 'dir') {
        // the link's own mode, owner and times; the target's type, size, identity and data
        const linked = new Node(tnode.type, tnode.size, node.mode, node.uid, node.gid, node.mt, false);
        linked.offset = tnode.offset;
        linked.body = tnode.body;
        const x = (linked.x = new Extra());
        x.atimeNs = atimeNs;
        x.ctimeNs = ctimeNs;
        x.xattrs = xattrs ?? tnode.x?.xattrs;
        x.inode = tnode.x?.inode ?? targetKey;
        x.rdevMajor = tnode.x?.rdevMajor ?? 0;
        x.rdevMinor = tnode.x?.rdevMinor ?? 0;
        x.linkTarget = tnode.x?.linkTarget;
        tnode.nlink++;
        linked.nlink = tnode.nlink;
        node = linked;
      } else if (target) {
        this.problems.push(`hard link ${JSON.stringify(h.name)} to missing entry ${JSON.stringify(h.linkname)}`);
      }
      body.resume();
    } else if (type === 'file' && size > 0) {
      node.offset = (h as { byteOffset?: number }).byteOffset;
      const content = CONTENT_TREE.test(key);
      if (size <= this.limits.keepFileBytes && this.kept + size <= this.limits.keepTotalBytes && (!content || this.keptContent + size <= this.limits.keepContentBytes)) {
        const kept = await this.keep(body, size);
        node.body = kept.body;
        this.kept += kept.length;
        if (content) this.keptContent += kept.length;
      } else {
        body.resume();
      }
    } else {
      if (type === 'file') node.body = EMPTY;
      body.resume();
    }
    const prev = this.nodes.get(key);
    if (prev?.children && type === 'dir') node.children = prev.children;
    this.nodes.set(key, node);
    // the name as a slice of the key (which stays indexed), not of the header's name
    addChild(this.ensureDir(parts.slice(0, -1)), key.slice(key.lastIndexOf('/') + 1), prev !== undefined);
    if (type === 'dir') node.children ??= [];
  }

  /**
   * Reads an entry's data into memory. Small bodies are copied into shared slabs rather than
   * getting a Buffer each: tens of thousands of small Buffers cost more in objects and allocator
   * overhead than in bytes.
   */
  private async keep(body: Readable, size: number): Promise<{ body: Buffer | number; length: number }> {
    if (size > SLAB_BODY) {
      const chunks: Buffer[] = [];
      for await (const c of body) chunks.push(c as Buffer);
      const b = Buffer.concat(chunks);
      return { body: b, length: b.length };
    }
    if (size > this.slabFree) {
      // never zero-filled: only the bytes written are ever read, and untouched pages cost nothing
      this.slabs.push(Buffer.allocUnsafeSlow(SLAB));
      this.slabFree = SLAB;
    }
    const slab = this.slabs[this.slabs.length - 1]!;
    const start = SLAB - this.slabFree;
    let at = start;
    let extra: Buffer[] | undefined;
    for await (const c of body as AsyncIterable<Buffer>) {
      if (extra || at + c.length > start + size) (extra ??= []).push(c);
      else at += c.copy(slab, at);
    }
    if (extra || at - start !== size) {
      // not the length the header announced: keep exactly what came, on its own
      const b = Buffer.concat([slab.subarray(start, at), ...(extra ?? [])]);
      return { body: b, length: b.length };
    }
    this.slabFree -= size;
    return { body: (this.slabs.length - 1) * SLAB + start, length: size };
  }

  /** An entry's kept data, or undefined when it must be re-read from the archive. */
  bodyOf(n: Node): Buffer | undefined {
    if (typeof n.body !== 'number') return n.body;
    const slab = this.slabs[Math.floor(n.body / SLAB)]!;
    const start = n.body % SLAB;
    return slab.subarray(start, start + n.size);
  }

  /**
   * Streams the data of an entry whose body was not kept, by reading the archive again: straight
   * from its offset in a plain tar, decompressing up to it in a gzip. Whatever goes wrong on the way
   * (the archive changed, was cut, or fails to decompress) ends the stream with EIO.
   */
  streamData(node: Node, p: string): Readable {
    const { offset } = node;
    const size = node.size;
    if (offset === undefined || !Number.isSafeInteger(offset + size)) throw new EvidenceError('EIO', p, 'no position in the archive recorded for this entry');
    if (size === 0) return Readable.from([]);
    const file = this.file;
    async function* slice(): AsyncGenerator<Buffer> {
      const fatal: string[] = [];
      let gzip: boolean;
      let src: Readable | undefined;
      try {
        gzip = isGzipFile(file);
        src = gzip ? openArchiveStream(file, true, (m, f) => void (f && fatal.push(m))) : fs.createReadStream(file, { start: offset, end: offset! + size - 1, highWaterMark: 1 << 16 });
        let skip = gzip ? offset! : 0;
        let left = size;
        for await (let c of src as AsyncIterable<Buffer>) {
          if (skip > 0) {
            if (c.length <= skip) {
              skip -= c.length;
              continue;
            }
            c = c.subarray(skip);
            skip = 0;
          }
          if (c.length >= left) {
            yield c.subarray(0, left);
            left = 0;
            break;
          }
          left -= c.length;
          yield c;
        }
        if (left > 0) throw new EvidenceError('EIO', p, `the archive ends ${left} bytes before the end of this entry${fatal.length ? ` (${fatal[0]})` : ''}`);
      } catch (e) {
        if (isEvidenceError(e) || isProgrammingError(e)) throw e;
        throw new EvidenceError('EIO', p, `re-reading the archive failed: ${(e as Error).message}`);
      } finally {
        src?.on('error', noop).destroy();
      }
    }
    return Readable.from(slice(), { objectMode: false });
  }
}

export class TarSource implements Source {
  readonly kind = 'tar' as const;
  readonly hasXattrs = true;
  readonly label: string;
  readonly location: string;

  private constructor(
    private readonly tree: TarTree,
    private readonly base: string[],
  ) {
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

  private resolve(p: string, followLast: boolean) {
    return resolvePath(this.tree, this.base, p, followLast);
  }

  private node(p: string, followLast: boolean): Node | undefined {
    const { parts } = this.resolve(p, followLast);
    return this.tree.nodes.get(parts.join('/'));
  }

  lstat(p: string): Stat | undefined {
    return this.resolve(p, false).st;
  }

  stat(p: string): Stat | undefined {
    return this.resolve(p, true).st;
  }

  readdir(p: string): string[] | undefined {
    const n = this.node(p, true);
    if (!n) return undefined;
    if (n.type !== 'dir') throw new EvidenceError('ENOTDIR', p);
    return [...(n.children ?? [])].sort();
  }

  readFile(p: string, limit: number): Buffer {
    const n = this.node(p, true);
    if (!n) throw new EvidenceError('ENOENT', p);
    if (n.type === 'dir') throw new EvidenceError('EISDIR', p);
    if (n.type !== 'file') throw new EvidenceError('EIO', p, `not a regular file (${n.type})`);
    if (n.size > limit) throw new EvidenceError('ETOOBIG', p, `larger than the ${limit}-byte bound`);
    const body = this.tree.bodyOf(n);
    if (!body) throw new EvidenceError('ETOOBIG', p, 'too large to keep in memory; stream it instead');
    return body;
  }

  readlink(p: string): string | undefined {
    const st = this.lstat(p);
    return st?.type === 'symlink' ? st.linkTarget : undefined;
  }

  createReadStream(p: string): Readable {
    const { parts } = this.resolve(p, true);
    const key = parts.join('/');
    const n = this.tree.nodes.get(key);
    if (!n) throw new EvidenceError('ENOENT', p);
    if (n.type !== 'file') throw new EvidenceError('EIO', p, `not a regular file (${n.type})`);
    const body = this.tree.bodyOf(n);
    if (body) return Readable.from([body]);
    return this.tree.streamData(n, p);
  }

  xattrs(p: string): Map<string, Buffer> {
    return this.node(p, false)?.x?.xattrs ?? new Map();
  }

  sub(p: string): Source {
    const { parts, st } = this.resolve(p, true);
    if (!st) throw new EvidenceError('ENOENT', p);
    if (st.type !== 'dir') throw new EvidenceError('ENOTDIR', p);
    return new TarSource(this.tree, parts);
  }
}
