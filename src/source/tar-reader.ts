/**
 * A push reader of tar archives (POSIX ustar and pax, GNU long names, V7): fed the uncompressed
 * bytes in chunks of any size, it calls back once per entry with the decoded header and, when asked,
 * passes the entry's data on as views of the input. Synchronous and allocation-light, because an
 * acquisition of a large host has hundreds of thousands of entries and a listing reads every header.
 *
 * What it holds to, from the format (POSIX.1-2001 pax, GNU tar's documentation and behaviour):
 * - a header is 512 bytes whose checksum field equals the sum of its bytes with that field read as
 *   spaces (as unsigned bytes, or as signed ones, which old tars wrote); anything else is damage;
 * - an all-zero block is padding between archives (two end an archive, `cat a.tar b.tar` makes one
 *   with more after them): skipped, and reading goes on;
 * - numeric fields are octal text ended by a space or NUL, or base-256 when the first byte has the
 *   high bit set (0x80: positive, 0xff: negative);
 * - `prefix` joins `name` only in POSIX ustar headers (GNU headers keep times there);
 * - a pax `x` header applies to the next entry, a `g` header to every later one; GNU `L`/`K` carry the
 *   next entry's long name and link target; pax records win over the header's fields;
 * - every entry's data is `size` bytes padded to 512, except a directory's: GNU tar reads none after
 *   a directory header whatever its size says, and neither does this reader (its size is 0);
 * - typeflag `0`, NUL or `7` with a name ending in `/` is a directory (V7 archives had no `5`).
 */
import { decodePaxPreservingXattrs } from './pax-bytes.js';

/** One entry's header, with pax and GNU long-name records applied. */
export interface TarHeader {
  name: string;
  linkname: string | null;
  /** 'file', 'link', 'symlink', 'character-device', 'block-device', 'directory', 'fifo', 'contiguous-file'; null for a typeflag of no known meaning (read as a file). */
  type: string | null;
  size: number;
  mode: number | null;
  uid: number | null;
  gid: number | null;
  /** Seconds (null for a bad base-256 field, NaN for bad octal). */
  mtime: number | null;
  devmajor: number | null;
  devminor: number | null;
  /** Where the entry's data starts in the uncompressed stream. */
  byteOffset: number;
  pax: Record<string, string> | null;
}

/** What the reader does with an entry's data: keep it (called with each piece) or skip it. */
export interface TarSink {
  /** The next piece of the entry's data (a view of the input: copy what you keep). */
  data(b: Buffer, start: number, end: number): void;
  /** The whole data arrived. */
  end(): void;
}

/**
 * Called for each entry once its header (and long headers before it) is read; returns a sink when
 * the entry's data should be passed on, undefined to skip it. May throw to stop reading (the error
 * reaches the caller of `write`).
 */
export type OnEntry = (h: TarHeader) => TarSink | undefined;

/** pax and GNU long-name headers are read whole: bounded, since their size field may be crafted. */
const MAX_META_SIZE = 4 * 1024 * 1024;

const TYPES: Record<string, string> = {
  '0': 'file',
  '\0': 'file',
  '1': 'link',
  '2': 'symlink',
  '3': 'character-device',
  '4': 'block-device',
  '5': 'directory',
  '6': 'fifo',
  '7': 'contiguous-file',
};

const enum State {
  Header,
  Data,
  Meta,
}

/** Octal text, or base-256; NaN for text that is not octal, null for a first byte that marks no base. */
function numeric(b: Buffer, off: number, len: number): number | null {
  const first = b[off]!;
  if (first & 0x80) {
    if (first !== 0x80 && first !== 0xff) return null;
    const negative = first === 0xff;
    let v = 0;
    for (let i = off + 1; i < off + len; i++) v = v * 256 + (negative ? 0xff - b[i]! : b[i]!);
    return negative ? -(v + 1) : v;
  }
  let i = off;
  const end = off + len;
  while (i < end && b[i] === 0x20) i++;
  let v = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = b[i]!;
    if (c === 0x20 || c === 0) break;
    if (c < 0x30 || c > 0x37) return NaN;
    v = v * 8 + (c - 0x30);
    digits++;
  }
  // what follows the terminator must be terminators too, or the field is not a number
  for (; i < end; i++) if (b[i] !== 0x20 && b[i] !== 0) return NaN;
  return digits === 0 ? 0 : v;
}

/** A NUL-terminated text field. */
function text(b: Buffer, off: number, len: number): string {
  let end = off;
  while (end < off + len && b[end] !== 0) end++;
  return b.toString('utf8', off, end);
}

function isPosixUstar(b: Buffer, off: number): boolean {
  // "ustar\0" then version "00"; GNU writes "ustar  \0"
  return b[off + 257] === 0x75 && b[off + 258] === 0x73 && b[off + 259] === 0x74 && b[off + 260] === 0x61 && b[off + 261] === 0x72 && b[off + 262] === 0;
}

/** A pax decimal record (size, uid, gid), or NaN when it is not one. */
function paxInteger(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  return /^\d{1,16}$/.test(v) ? Number(v) : NaN;
}

/**
 * Feed it the uncompressed archive in chunks (`write`), then `end()`. Errors are thrown from
 * `write`/`end`; after one, the reader is done.
 */
export class TarReader {
  private state = State.Header;
  /** Bytes of the stream consumed so far. */
  private pos = 0;
  /** A header that arrived in pieces. */
  private readonly block = Buffer.alloc(512);
  private blockLen = 0;
  /** Data bytes of the current entry (or pax/GNU record) still to come, then padding to skip. */
  private left = 0;
  private pad = 0;
  private sink: TarSink | undefined = undefined;
  private meta: Buffer | undefined = undefined;
  private metaLen = 0;
  private metaFlag = '';
  private paxLocal: Record<string, string> | null = null;
  private paxGlobal: Record<string, string> | null = null;
  private longName: string | null = null;
  private longLink: string | null = null;
  private failed = false;

  constructor(private readonly onEntry: OnEntry) {}

  write(chunk: Buffer): void {
    if (this.failed) return;
    try {
      this.consume(chunk);
    } catch (e) {
      this.failed = true;
      throw e;
    }
  }

  /** The input ended: an error unless it ended between entries. */
  end(): void {
    if (this.failed) return;
    if (this.state !== State.Header || this.blockLen > 0 || this.pad > 0) {
      this.failed = true;
      throw new Error(`unexpected end of archive at byte ${this.pos}, inside ${this.blockLen > 0 ? 'a header' : 'an entry'}`);
    }
  }

  private consume(chunk: Buffer): void {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.state === State.Data) {
        const k = Math.min(this.left, n - i);
        this.sink?.data(chunk, i, i + k);
        this.left -= k;
        i += k;
        this.pos += k;
        if (this.left === 0) this.endData();
      } else if (this.state === State.Meta) {
        const k = Math.min(this.left, n - i);
        chunk.copy(this.meta!, this.metaLen, i, i + k);
        this.metaLen += k;
        this.left -= k;
        i += k;
        this.pos += k;
        if (this.left === 0) this.endMeta();
      } else if (this.pad > 0) {
        // the padding after an entry's data (the state is back to Header by then)
        const k = Math.min(this.pad, n - i);
        this.pad -= k;
        i += k;
        this.pos += k;
      } else if (this.blockLen === 0 && n - i >= 512) {
        this.pos += 512;
        this.header(chunk, i);
        i += 512;
      } else {
        const k = Math.min(512 - this.blockLen, n - i);
        chunk.copy(this.block, this.blockLen, i, i + k);
        this.blockLen += k;
        i += k;
        this.pos += k;
        if (this.blockLen === 512) {
          this.blockLen = 0;
          this.header(this.block, 0);
        }
      }
    }
  }

  private header(b: Buffer, off: number): void {
    // the checksum field counts as eight spaces
    let unsigned = 8 * 0x20;
    let high = 0;
    for (let k = off; k < off + 148; k++) {
      const c = b[k]!;
      unsigned += c;
      if (c & 0x80) high++;
    }
    for (let k = off + 156; k < off + 512; k++) {
      const c = b[k]!;
      unsigned += c;
      if (c & 0x80) high++;
    }
    if (unsigned === 8 * 0x20) {
      let zero = true;
      for (let k = off + 148; k < off + 156; k++) if (b[k] !== 0) zero = false;
      if (zero) return; // a zero block
    }
    const signed = unsigned - 256 * high;
    const sum = numeric(b, off + 148, 8);
    if (sum !== unsigned && sum !== signed) {
      throw new Error(`not a tar header at byte ${this.pos - 512} (checksum ${sum === null || Number.isNaN(sum) ? 'unreadable' : 'mismatch'}): damaged, or not a tar archive`);
    }
    const size = numeric(b, off + 124, 12);
    if (size === null || !Number.isSafeInteger(size) || size < 0) {
      throw new Error(`tar header at byte ${this.pos - 512} has an unreadable size field (${b.toString('hex', off + 124, off + 136)})`);
    }
    const flag = String.fromCharCode(b[off + 156]!);
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      if (size > MAX_META_SIZE) throw new Error(`${flag === 'L' || flag === 'K' ? 'GNU long-name' : 'pax'} header at byte ${this.pos - 512} claims ${size} bytes (more than ${MAX_META_SIZE})`);
      this.metaFlag = flag;
      this.meta = Buffer.allocUnsafe(size);
      this.metaLen = 0;
      this.left = size;
      this.pad = (512 - (size % 512)) % 512;
      this.state = State.Meta;
      if (size === 0) this.endMeta();
      return;
    }
    let name = text(b, off, 100);
    if (isPosixUstar(b, off) && b[off + 345] !== 0) name = `${text(b, off + 345, 155)}/${name}`;
    let type: string | null = TYPES[flag] ?? null;
    if ((flag === '0' || flag === '\0' || flag === '7') && name.endsWith('/')) type = 'directory';
    const h: TarHeader = {
      name,
      linkname: b[off + 157] === 0 ? null : text(b, off + 157, 100),
      type,
      size,
      mode: numeric(b, off + 100, 8),
      uid: numeric(b, off + 108, 8),
      gid: numeric(b, off + 116, 8),
      mtime: numeric(b, off + 136, 12),
      devmajor: numeric(b, off + 329, 8),
      devminor: numeric(b, off + 337, 8),
      byteOffset: this.pos,
      pax: null,
    };
    this.applyLongHeaders(h);
    // The data that follows: none for a directory (GNU tar reads none), else `size` bytes.
    if (h.type === 'directory') h.size = 0;
    const dataSize = h.size;
    if (!Number.isSafeInteger(dataSize) || dataSize < 0) throw new Error(`entry ${JSON.stringify(h.name.slice(0, 200))} has an unusable size (${String(h.size)})`);
    this.sink = this.onEntry(h);
    this.left = dataSize;
    this.pad = (512 - (dataSize % 512)) % 512;
    this.state = State.Data;
    if (dataSize === 0) this.endData();
  }

  private applyLongHeaders(h: TarHeader): void {
    const local = this.paxLocal;
    const pax = this.paxGlobal && local ? { ...this.paxGlobal, ...local } : (local ?? (this.paxGlobal ? { ...this.paxGlobal } : null));
    if (this.longName !== null) h.name = this.longName;
    if (this.longLink !== null) h.linkname = this.longLink;
    if (pax) {
      h.pax = pax;
      if (pax.path !== undefined) h.name = pax.path;
      if (pax.linkpath !== undefined) h.linkname = pax.linkpath;
      const size = paxInteger(pax.size);
      if (size !== undefined) h.size = size;
      const uid = paxInteger(pax.uid);
      if (uid !== undefined) h.uid = uid;
      const gid = paxInteger(pax.gid);
      if (gid !== undefined) h.gid = gid;
      if (pax.mtime !== undefined) h.mtime = /^-?\d+(\.\d+)?$/.test(pax.mtime) ? Number(pax.mtime) : NaN;
    }
    this.paxLocal = null;
    this.longName = null;
    this.longLink = null;
  }

  private endData(): void {
    const sink = this.sink;
    this.sink = undefined;
    this.state = State.Header;
    sink?.end();
  }

  private endMeta(): void {
    const data = this.meta!;
    this.meta = undefined;
    this.state = State.Header;
    // two x headers in a row (one per tool that touched the archive) both apply, the later one winning
    if (this.metaFlag === 'x') this.paxLocal = { ...this.paxLocal, ...decodePaxPreservingXattrs(data) };
    else if (this.metaFlag === 'g') this.paxGlobal = { ...this.paxGlobal, ...decodePaxPreservingXattrs(data) };
    else {
      const nul = data.indexOf(0);
      const s = data.toString('utf8', 0, nul < 0 ? data.length : nul);
      if (this.metaFlag === 'L') this.longName = s;
      else this.longLink = s;
    }
  }
}
