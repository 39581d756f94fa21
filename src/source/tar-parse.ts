/**
 * A synchronous tar reader for indexing an acquisition: 512-byte headers decoded here, bodies handed
 * to the caller as slices of the input chunks, no stream per entry.
 *
 * It is a port of tar-stream 3's extract state machine (extract.js `_update`, `_consumeHeader`,
 * `_applyLongHeaders`, headers.js `decode`), with the corrections pax-bytes.ts applies to
 * tar-stream, so that an archive reads exactly as it did through tar-stream, damage included: the
 * same entries, names, sizes and offsets, and the same point and message where reading stops (a bad
 * checksum, an unknown format, an unreadable size field, a long header over 4 MiB, an end of data
 * in the middle of an entry). Even tar-stream's quirks are kept (a zero-size long header leaves the
 * reader expecting one; a global PAX header applies only to entries with a PAX header of their
 * own), because a hostile archive must give the same answers whichever reader indexed it.
 *
 * Why not tar-stream's extract: per entry it costs a header object, a Date, a streamx Readable, a
 * promise round trip and several Buffer views; on 600,000 entries that was most of the CPU of a
 * listing and much of its young-generation garbage.
 */
import { decodePaxPreservingXattrs } from './pax-bytes.js';

/** One entry, as tar-stream's header (only the fields the index reads). */
export interface TarHeader {
  name: string;
  linkname: string | null;
  /** tar-stream's type names; null for a typeflag it does not know (read as a regular file). */
  type: string | null;
  size: number;
  mode: number | null;
  uid: number | null;
  gid: number | null;
  /** Seconds, as decoded (null for a bad base-256 field, NaN for bad octal). */
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

const MAX_HEADER_SIZE = 4 * 1024 * 1024;

const TYPE_NAMES: (string | null)[] = [];
for (let flag = -48; flag < 256; flag++) TYPE_NAMES[flag + 48] = toType(flag);

function toType(flag: number): string | null {
  switch (flag) {
    case 0:
      return 'file';
    case 1:
      return 'link';
    case 2:
      return 'symlink';
    case 3:
      return 'character-device';
    case 4:
      return 'block-device';
    case 5:
      return 'directory';
    case 6:
      return 'fifo';
    case 7:
      return 'contiguous-file';
    case 72:
      return 'pax-header';
    case 55:
      return 'pax-global-header';
    case 27:
      return 'gnu-long-link-path';
    case 28:
    case 30:
      return 'gnu-long-path';
  }
  return null;
}

/** tar-stream's parse256 (from node-tar): base-256, 0x80 positive, 0xff two's complement; else null. */
function parse256(buf: Buffer, off: number, len: number): number | null {
  let positive: boolean;
  if (buf[off] === 0x80) positive = true;
  else if (buf[off] === 0xff) positive = false;
  else return null;
  let sum = 0;
  let mult = 1;
  for (let i = off + len - 1; i > off; i--) {
    const byte = buf[i]!;
    sum += (positive ? byte : 0xff - byte) * mult;
    mult *= 256;
  }
  return positive ? sum : -1 * sum;
}

/** tar-stream's decodeOct, with a fast path for plain octal digits. */
function decodeOct(buf: Buffer, off: number, len: number): number | null {
  if (buf[off]! & 0x80) return parse256(buf, off, len);
  const limit = off + len;
  let p = off;
  while (p < limit && buf[p] === 32) p++;
  let end = p;
  while (end < limit && buf[end] !== 32) end++;
  while (p < end && buf[p] === 0) p++;
  if (end === p) return 0;
  // parseInt(text, 8) of a run of octal digits is their value; anything else goes through parseInt
  let v = 0;
  let q = p;
  for (; q < end && q - p < 16; q++) {
    const d = buf[q]! - 48;
    if (d < 0 || d > 7) break;
    v = v * 8 + d;
  }
  if (q > p && q - p < 16) return v;
  return parseInt(buf.toString('utf8', p, end), 8);
}

function indexOfByte(buf: Buffer, byte: number, start: number, end: number): number {
  for (let i = start; i < end; i++) if (buf[i] === byte) return i;
  return end;
}

function decodeStr(buf: Buffer, off: number, len: number): string {
  return buf.toString('utf8', off, indexOfByte(buf, 0, off, off + len));
}

function cksum(b: Buffer): number {
  let sum = 8 * 32;
  for (let i = 0; i < 148; i++) sum += b[i]!;
  for (let j = 156; j < 512; j++) sum += b[j]!;
  return sum;
}

function isUstar(b: Buffer): boolean {
  return b[257] === 0x75 && b[258] === 0x73 && b[259] === 0x74 && b[260] === 0x61 && b[261] === 0x72 && b[262] === 0;
}

function isGnu(b: Buffer): boolean {
  return b[257] === 0x75 && b[258] === 0x73 && b[259] === 0x74 && b[260] === 0x61 && b[261] === 0x72 && b[262] === 0x20 && b[263] === 0x20 && b[264] === 0;
}

/**
 * tar-stream's headers.decode with pax-bytes.ts's checkedDecode: null for an empty block, throws
 * for a bad checksum, an unknown format or an unreadable size field.
 */
export function decodeHeader(buf: Buffer): TarHeader | null {
  const c = cksum(buf);
  // checksum is still its initial value: an empty block
  if (c === 8 * 32) return null;
  if (c !== decodeOct(buf, 148, 8)) throw new Error('Invalid tar header. Maybe the tar is corrupted or it needs to be gunzipped?');
  const typeflag = buf[156] === 0 ? 0 : buf[156]! - 48;
  let name = decodeStr(buf, 0, 100);
  if (isUstar(buf)) {
    if (buf[345]) name = decodeStr(buf, 345, 155) + '/' + name;
  } else if (!isGnu(buf)) {
    throw new Error('Invalid tar header: unknown format.');
  }
  const size = decodeOct(buf, 124, 12);
  if (!(typeof size === 'number' && Number.isSafeInteger(size) && size >= 0)) {
    throw new Error(`Invalid tar header: unreadable size field (${buf.subarray(124, 136).toString('hex')})`);
  }
  // tar-stream turns typeflag 0 with a trailing slash into 5 after it has taken the type from the
  // flag, so such an entry stays a regular file: kept that way
  return {
    name,
    linkname: buf[157] === 0 ? null : decodeStr(buf, 157, 100),
    type: TYPE_NAMES[typeflag + 48] ?? null,
    size,
    mode: decodeOct(buf, 100, 8),
    uid: decodeOct(buf, 108, 8),
    gid: decodeOct(buf, 116, 8),
    mtime: decodeOct(buf, 136, 12),
    devmajor: decodeOct(buf, 329, 8),
    devminor: decodeOct(buf, 337, 8),
    byteOffset: 0,
    pax: null,
  };
}

function overflow(size: number): number {
  size &= 511;
  return size && 512 - size;
}

/**
 * Feed it the uncompressed archive in chunks (`write`), then `end()`. Errors are thrown from
 * `write`/`end`; after one, the reader is done.
 */
export class TarReader {
  /** Input not consumed yet: chunks, and where the first one starts. */
  private readonly queue: Buffer[] = [];
  private qoff = 0;
  private buffered = 0;
  /** Bytes consumed so far: offsets in the uncompressed stream. */
  private shifted = 0;
  private missing = 0;
  private header: TarHeader | null = null;
  /** The entry whose data is being passed on or skipped (tar-stream's `_stream`). */
  private streaming = false;
  private sink: TarSink | undefined = undefined;
  private longHeader = false;
  private pax: Record<string, string> | null = null;
  private paxGlobal: Record<string, string> | null = null;
  private gnuLongPath: string | null = null;
  private gnuLongLinkPath: string | null = null;
  private readonly block = Buffer.alloc(512);

  constructor(private readonly onEntry: OnEntry) {}

  write(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.queue.push(chunk);
    this.buffered += chunk.length;
    this.update();
  }

  /** The input ended: an error unless it ended between entries. */
  end(): void {
    if (!(this.missing === 0 && this.buffered === 0)) throw new Error('Unexpected end of data');
  }

  /** Up to `size` bytes from the front as (buffer, start, end) passed to `fn`; returns how many. */
  private shiftFirst(size: number, fn?: (b: Buffer, s: number, e: number) => void): number {
    const buf = this.queue[0]!;
    const rem = buf.length - this.qoff;
    const n = size >= rem ? rem : size;
    fn?.(buf, this.qoff, this.qoff + n);
    if (n === rem) {
      this.queue.shift();
      this.qoff = 0;
    } else this.qoff += n;
    this.buffered -= n;
    this.shifted += n;
    return n;
  }

  /** Exactly `size` bytes (size <= buffered) as one buffer; a view when they lie in one chunk. */
  private shift(size: number, into?: Buffer): Buffer {
    const buf = this.queue[0]!;
    if (buf.length - this.qoff >= size && !into) {
      const out = buf.subarray(this.qoff, this.qoff + size);
      this.shiftFirst(size);
      return out;
    }
    const out = into ?? Buffer.allocUnsafe(size);
    let at = 0;
    while (at < size) this.shiftFirst(size - at, (b, s, e) => void (at += b.copy(out, at, s, e)));
    return out;
  }

  private update(): void {
    while (this.buffered > 0) {
      if (this.missing > 0) {
        if (this.streaming) {
          const sink = this.sink;
          this.missing -= this.shiftFirst(this.missing, sink ? (b, s, e) => sink.data(b, s, e) : undefined);
          if (this.missing === 0) {
            this.streaming = false;
            this.sink = undefined;
            this.missing = overflow(this.header!.size);
            sink?.end();
          }
          continue;
        }
        if (this.longHeader) {
          if (this.missing > this.buffered) break;
          this.consumeLongHeader();
          continue;
        }
        this.missing -= this.shiftFirst(this.missing);
        continue;
      }
      if (this.buffered < 512) break;
      this.consumeHeader();
    }
  }

  private consumeHeader(): void {
    // one 512-byte block: a view of the chunk, or copied when it straddles two
    const buf = this.queue[0]!.length - this.qoff >= 512 ? this.shift(512) : this.shift(512, this.block);
    const h = decodeHeader(buf);
    if (!h) return;
    h.byteOffset = this.shifted;
    this.header = h;
    switch (h.type) {
      case 'gnu-long-path':
      case 'gnu-long-link-path':
      case 'pax-global-header':
      case 'pax-header':
        this.longHeader = true;
        this.missing = h.size;
        if (this.missing > MAX_HEADER_SIZE) throw new Error('Header exceeds max size');
        return;
    }
    this.applyLongHeaders(h);
    if (!(h.size >= 0)) throw new Error('Invalid header');
    if (h.size === 0 || h.type === 'directory') {
      this.onEntry(h);
      return;
    }
    this.streaming = true;
    this.missing = h.size;
    this.sink = this.onEntry(h);
  }

  private applyLongHeaders(h: TarHeader): void {
    if (this.gnuLongPath) {
      h.name = this.gnuLongPath;
      this.gnuLongPath = null;
    }
    if (this.gnuLongLinkPath) {
      h.linkname = this.gnuLongLinkPath;
      this.gnuLongLinkPath = null;
    }
    if (this.pax) {
      if (this.pax.path) h.name = this.pax.path;
      if (this.pax.linkpath) h.linkname = this.pax.linkpath;
      if (this.pax.size) h.size = parseInt(this.pax.size, 10);
      h.pax = this.pax;
      this.pax = null;
    }
    // pax-bytes.ts patchDirectorySize: no data is read after a directory header
    if (h.type === 'directory') h.size = 0;
  }

  private consumeLongHeader(): void {
    this.longHeader = false;
    const h = this.header!;
    this.missing = overflow(h.size);
    const buf = this.shift(h.size);
    switch (h.type) {
      case 'gnu-long-path':
        this.gnuLongPath = decodeStr(buf, 0, buf.length);
        break;
      case 'gnu-long-link-path':
        this.gnuLongLinkPath = decodeStr(buf, 0, buf.length);
        break;
      case 'pax-global-header':
        this.paxGlobal = decodePaxPreservingXattrs(buf);
        break;
      case 'pax-header':
        this.pax = this.paxGlobal === null ? decodePaxPreservingXattrs(buf) : Object.assign({}, this.paxGlobal, decodePaxPreservingXattrs(buf));
        break;
    }
  }
}
