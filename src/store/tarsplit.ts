import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { limits } from '../source/limits.js';
import { isEvidenceError, type Source } from '../source/types.js';
import { Findings, type Severity } from './findings.js';
import { preview, tryJson } from './read.js';

/**
 * `layerdb/sha256/<chainID>/tar-split.json.gz` (FORMATS.md §4): gzip of JSON lines written by
 * vbatts/tar-split's `jsonPacker`, one `storage.Entry` per tar header or raw byte run:
 *
 *   {"type":2,"payload":"<base64 raw header/padding bytes>","position":0}
 *   {"type":1,"name":"etc/hostname","size":10,"payload":"<base64 CRC-64, 8 bytes>","position":1}
 *
 * Docker reassembles the layer tar from these entries plus the file bodies in the layer's driver
 * directory and checks the result against the layer's diffID. Read here as a stream with bounded
 * memory: the gzip output is capped (a bomb ends as a finding), each JSON line is capped, and every
 * oddity is a finding while parsing carries on where it sensibly can.
 *
 * What Docker itself would refuse (its `jsonUnpacker` and `WriteOutputTarStream` stop at the first
 * problem) is reported as 'error'; what it silently accepts (positions out of order, unknown entry
 * types, absolute names) as 'warn' or 'info'.
 */

/** A tar header's entry: one per header `archive/tar.Reader.Next` returned (files, dirs, links…). */
export interface TarSplitFile {
  type: 'file';
  /**
   * The name as a string: `name`, or `name_raw` decoded as UTF-8 (lossy only when the bytes are not
   * UTF-8, which is exactly when tar-split used `name_raw`).
   */
  name: string;
  /** The exact name bytes of the tar header (`Entry.GetNameBytes()`). */
  nameRaw: Buffer;
  /** True when the name came from `name_raw` (not valid UTF-8 in the original tar). */
  rawName: boolean;
  /** The name made relative to the layer directory (see `cleanTarName`). */
  clean: CleanName;
  /** Body size from the tar header; 0 for directories, links, devices and empty files. */
  size: number;
  /** The CRC-64/GO-ISO of the body as stored (8 bytes, big-endian); absent when `payload` was null. */
  crc?: Buffer;
  position: number;
  /** 1-based line in the decompressed JSON, for messages. */
  line: number;
  /**
   * The tar typeflag of this entry's header, read from the raw header bytes in the segment(s) just
   * before it ('0' file, '1' hard link, '2' symlink, '3' char, '4' block, '5' dir, '6' fifo,
   * 'g' PAX global header pseudo-entry, …). Undefined when the header bytes do not parse.
   */
  typeflag?: string;
}

/** Raw bytes of the tar stream (headers, padding, end-of-archive, trailing data), written verbatim. */
export interface TarSplitSegment {
  type: 'segment';
  payload: Buffer;
  position: number;
  line: number;
}

export type TarSplitEntry = TarSplitFile | TarSplitSegment;

export interface TarSplitOptions {
  /** Evidence path of the tar-split file, put on findings. */
  path?: string;
  /** Most decompressed JSON bytes read before giving up (gzip bombs). Default 1 GiB. */
  maxInflatedBytes?: number;
  /**
   * Longest JSON line accepted. Default 8 MiB: a segment holds at most a few header blocks with
   * their PAX/GNU bodies (Go caps each at 1 MiB) or a ≤1 MiB chunk of trailing data. tar-split
   * before v0.10.2 put all data after the end of the archive in one segment, which can be longer.
   */
  maxLineBytes?: number;
  /** Most entries (lines) read. Default 20 million. */
  maxEntries?: number;
  /** File sizes above this are called absurd. Default 1 TiB. */
  maxFileSize?: number;
  /** Findings kept per code before the rest are only counted. Default 100. */
  maxFindingsPerCode?: number;
}

export interface TarSplitSummary {
  /** JSON lines read (blank lines included). */
  lines: number;
  files: number;
  segments: number;
  /** Decompressed JSON bytes read. */
  inflatedBytes: number;
  /** Length of the tar the entries describe: segment bytes plus file sizes. */
  tarBytes: number;
  /** False when reading stopped early (cap hit, gzip damaged). */
  complete: boolean;
}

/** The bounds in force (`--limit tarsplit-…`), read when a file is opened. */
export function tarsplitDefaults() {
  return {
    maxInflatedBytes: limits.tarsplitInflatedBytes,
    maxLineBytes: limits.tarsplitLineBytes,
    maxEntries: limits.tarsplitEntries,
    maxFileSize: 2 ** 40,
    maxFindingsPerCode: 100,
  };
}

// ---------------------------------------------------------------------------------------------
// Names

/** A tar-split name made relative to the layer directory it is read from. */
export interface CleanName {
  /** Root-relative, '/'-separated, no '.', '..' or empty parts; '' for the layer root itself. */
  path: string;
  /** The name started with '/'. Docker joins it under the layer dir all the same. */
  absolute: boolean;
  /** The name had '..' components. */
  dotdot: boolean;
  /**
   * '..' climbed above the layer root: Docker's `filepath.Join(root, name)` would read outside
   * the layer directory. Never read; reported.
   */
  escapes: boolean;
  /** The name holds a NUL byte (impossible in a real tar header; the OS would refuse it). */
  nul: boolean;
}

/**
 * Lexically resolves a tar-split name against the layer root, the way Docker's
 * `filepath.Join(root, name)` would, except that climbing above the root is flagged (`escapes`)
 * instead of followed. Exists because names are evidence: `../../etc/shadow`, `/etc/shadow` and
 * `a/../../b` are all valid JSON.
 */
export function cleanTarName(name: string): CleanName {
  // Nearly every name is already clean ("usr/bin/x", "etc/", "./a"): no '..', no '.' or empty
  // component past a leading "./" or "/". Those need no split and join.
  const plain = plainTarName(name);
  if (plain !== undefined) return { path: plain, absolute: name.startsWith('/'), dotdot: false, escapes: false, nul: name.includes('\0') };
  return cleanTarNameBySplit(name);
}

/** cleanTarName's general path, for any name (exported for the test that holds the fast path to it). */
export function cleanTarNameBySplit(name: string): CleanName {
  const out: string[] = [];
  let dotdot = false;
  let escapes = false;
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      dotdot = true;
      if (out.length === 0) escapes = true;
      else out.pop();
      continue;
    }
    out.push(part);
  }
  return { path: out.join('/'), absolute: name.startsWith('/'), dotdot, escapes, nul: name.includes('\0') };
}

/**
 * `name` without a leading "/" or "./" and a trailing "/" when nothing else in it needs cleaning
 * (no empty, '.' or '..' component), else undefined.
 */
function plainTarName(name: string): string | undefined {
  let start = 0;
  if (name.startsWith('./')) start = 2;
  else if (name.startsWith('/')) start = 1;
  let end = name.length;
  if (end > start && name.charCodeAt(end - 1) === 0x2f) end--;
  let seg = start;
  for (let i = start; i <= end; i++) {
    if (i < end && name.charCodeAt(i) !== 0x2f) continue;
    const len = i - seg;
    if (len === 0 && end > start) return undefined;
    if (len === 1 && name.charCodeAt(seg) === 0x2e) return undefined;
    if (len === 2 && name.charCodeAt(seg) === 0x2e && name.charCodeAt(seg + 1) === 0x2e) return undefined;
    seg = i + 1;
  }
  return name.slice(start, end);
}

/**
 * Whether `p` is already a clean relative path: not empty, no leading or trailing '/', no empty,
 * '.' or '..' component. Cleaning such a path by splitting and joining gives it back unchanged.
 */
export function isCleanRelative(p: string): boolean {
  return p !== '' && plainTarName(p) === p;
}

/**
 * Go's `path.Clean` (= `filepath.Clean` on Unix), used by tar-split to detect duplicate names.
 * Works on any string; pass bytes as latin1 to compare names byte for byte.
 */
export function goClean(p: string): string {
  // Already clean: the common case.
  return isCleanRelative(p) ? p : goCleanBySplit(p);
}

/** goClean's general path, for any string (exported for the test that holds the fast path to it). */
export function goCleanBySplit(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const s = out.join('/');
  if (rooted) return '/' + s;
  return s === '' ? '.' : s;
}

// ---------------------------------------------------------------------------------------------
// Findings with a per-code cap: a hostile file with a million bad lines must not become a million
// findings in memory.

export class CappedFindings {
  private readonly counts = new Map<string, { n: number; severity: Severity }>();
  constructor(
    readonly findings: Findings,
    readonly cap: number,
    readonly path?: string,
  ) {}

  add(severity: Severity, code: string, message: string): void {
    const c = this.counts.get(code) ?? { n: 0, severity };
    c.n++;
    if (severity === 'error') c.severity = 'error';
    this.counts.set(code, c);
    if (c.n <= this.cap) this.findings.add(severity, code, message, this.path);
  }

  /** Adds one summary finding per code that went over the cap. */
  flush(): void {
    for (const [code, c] of this.counts) {
      if (c.n > this.cap) {
        this.findings.add(c.severity, code, `${c.n - this.cap} more '${code}' findings not listed (${c.n} in all)`, this.path);
      }
      c.n = Math.min(c.n, this.cap);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Tar header bytes inside segments

const HEADER_ONLY = new Set(['1', '2', '3', '4', '5', '6']);

function octalOrBase256(h: Buffer, off: number, len: number): number | undefined {
  const first = h[off]!;
  if (first & 0x80) {
    // GNU base-256: big-endian two's complement in the remaining bits.
    if (first === 0xff) return undefined; // negative
    let v = first & 0x7f;
    for (let i = 1; i < len; i++) {
      v = v * 256 + h[off + i]!;
      if (v > Number.MAX_SAFE_INTEGER) return undefined;
    }
    return v;
  }
  // Octal digits, with leading spaces and trailing NULs or spaces (a NUL or space in between is
  // not accepted). Parsed by hand: this runs twice per tar header, on every file of the layer.
  let i = off;
  const end = off + len;
  while (i < end && h[i] === 0x20) i++;
  let j = end;
  while (j > i && (h[j - 1] === 0 || h[j - 1] === 0x20)) j--;
  let v = 0;
  for (let k = i; k < j; k++) {
    const d = h[k]! - 0x30;
    if (d < 0 || d > 7) return undefined;
    v = v * 8 + d;
  }
  return v;
}

function checksumOk(h: Buffer): boolean {
  const stored = octalOrBase256(h, 148, 8);
  if (stored === undefined) return false;
  // The checksum field counts as eight spaces; a signed sum differs by 256 per byte ≥ 128.
  let unsigned = 8 * 0x20;
  let high = 0;
  for (let i = 0; i < 512; i++) {
    if (i === 148) i = 156;
    const b = h[i]!;
    unsigned += b;
    if (b >= 128) high++;
  }
  const signed = unsigned - 256 * high;
  // An all-zero block sums to 256 with the blank checksum field but is end-of-archive, not a header.
  return unsigned !== 256 && (stored === unsigned || stored === signed);
}

/** The `size` record of a PAX extended header body, when present and sane. */
function paxSize(body: Buffer): number | undefined {
  let off = 0;
  let size: number | undefined;
  for (let n = 0; off < body.length && n < 10_000; n++) {
    const sp = body.indexOf(0x20, off);
    if (sp < 0) break;
    const len = Number(body.toString('latin1', off, sp));
    if (!Number.isSafeInteger(len) || len <= 0 || off + len > body.length) break;
    const rec = body.toString('utf8', sp + 1, off + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0 && rec.slice(0, eq) === 'size' && /^\d+$/.test(rec.slice(eq + 1))) size = Number(rec.slice(eq + 1));
    off += len;
  }
  return size;
}

interface HeaderInfo {
  typeflag: string;
  /** Body size the header declares (PAX `size` wins over the ustar field). */
  declaredSize: number;
  /** Bytes of the global header body in the segment, whose padding comes in the next segment. */
  deferredBody: number;
}

/**
 * Walks the tar header blocks in `buf` from `start` (just past the previous entry's padding):
 * PAX `x` and GNU `L`/`K` meta headers with their padded bodies, then the entry's own header. The
 * walk must end exactly at the end of `buf`, except after a PAX global header (`g`) whose body's
 * padding tar-split's reader only consumes at the next entry.
 */
function walkHeaders(buf: Buffer, start: number): HeaderInfo | undefined {
  let off = start;
  let pax: number | undefined;
  for (let hops = 0; hops < 64; hops++) {
    if (off < 0 || off + 512 > buf.length) return undefined;
    const h = buf.subarray(off, off + 512);
    if (!checksumOk(h)) return undefined;
    const tf = String.fromCharCode(h[156]!);
    const size = octalOrBase256(h, 124, 12);
    if (size === undefined) return undefined;
    if (tf === 'x' || tf === 'L' || tf === 'K') {
      const end = off + 512 + size;
      if (end > buf.length) return undefined;
      if (tf === 'x') pax = paxSize(buf.subarray(off + 512, end)) ?? pax;
      off = off + 512 + Math.ceil(size / 512) * 512;
      continue;
    }
    if (tf === 'g') return off + 512 + size === buf.length ? { typeflag: tf, declaredSize: 0, deferredBody: size } : undefined;
    return off + 512 === buf.length ? { typeflag: tf, declaredSize: pax ?? size, deferredBody: 0 } : undefined;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// JSON lines → entries

/**
 * Go's `encoding/json` for `[]byte`: standard base64 with padding; it skips '\r' and '\n'. Node's
 * decoder is lenient (it skips junk, takes '-' and '_'), so the text is checked: any skipped
 * character shows as a decoded length short of what the text's length promises.
 */
function decodeBase64(s: string): Buffer | undefined {
  const t = s.includes('\n') || s.includes('\r') ? s.replace(/[\r\n]/g, '') : s;
  if (t.length % 4 !== 0 || t.includes('-') || t.includes('_')) return undefined;
  const pad = t.endsWith('==') ? 2 : t.endsWith('=') ? 1 : 0;
  const b = Buffer.from(t, 'base64');
  return b.length === (t.length / 4) * 3 - pad ? b : undefined;
}

function describe(v: unknown): string {
  // preview, not JSON.stringify: a value nested thousands deep overflows the stack (test/fuzz)
  const s = preview(v, 1000);
  return s.length > 80 ? s.slice(0, 77) + '...' : s;
}

/** A line over the bound: its length, and whether it ended the stream without a newline. */
interface LongLine {
  bytes: number;
  last: boolean;
}

/**
 * Splits a byte stream into lines, never holding more than `max` bytes of one line. Yields the
 * lines of each chunk together (one await per chunk, not per line: a layer of 10,000 files has
 * 20,000 lines); a line over the bound comes in its place as a LongLine.
 */
async function* lines(chunks: AsyncIterable<Buffer>, max: number): AsyncGenerator<(Buffer | LongLine)[]> {
  let parts: Buffer[] = [];
  let len = 0;
  let skipping = false;
  let skipped = 0;
  for await (const chunk of chunks) {
    const out: (Buffer | LongLine)[] = [];
    let off = 0;
    while (off < chunk.length) {
      const nl = chunk.indexOf(0x0a, off);
      const end = nl < 0 ? chunk.length : nl;
      const piece = chunk.subarray(off, end);
      if (skipping) skipped += piece.length;
      else if (len + piece.length > max) {
        skipping = true;
        skipped = len + piece.length;
        parts = [];
        len = 0;
      } else if (piece.length > 0) {
        parts.push(piece);
        len += piece.length;
      }
      if (nl < 0) break;
      if (skipping) {
        out.push({ bytes: skipped, last: false });
        skipping = false;
      } else {
        out.push(parts.length === 1 ? parts[0]! : Buffer.concat(parts, len));
      }
      parts = [];
      len = 0;
      off = nl + 1;
    }
    if (out.length > 0) yield out;
  }
  if (skipping) yield [{ bytes: skipped, last: true }];
  else if (len > 0) yield [parts.length === 1 ? parts[0]! : Buffer.concat(parts, len)];
}

/**
 * Parses already-decompressed tar-split JSON lines. Yields entries in file order; the generator's
 * return value is a summary. Findings go to `findings`.
 *
 * Memory: one line at a time, plus the set of cleaned names for the duplicate check (as
 * tar-split keeps), bounded by `maxEntries`. Go's decoder would also take objects that are not
 * newline-separated; tar-split never writes them, and here they are a 'tarsplit.bad-json' line.
 */
export async function* parseTarSplitJson(
  json: AsyncIterable<Buffer>,
  findings: Findings,
  options: TarSplitOptions = {},
  state: { inflatedBytes: number; complete: boolean } = { inflatedBytes: 0, complete: true },
): AsyncGenerator<TarSplitEntry, TarSplitSummary> {
  const o = { ...tarsplitDefaults(), ...options };
  const f = new CappedFindings(findings, o.maxFindingsPerCode, o.path);
  const summary: TarSplitSummary = { lines: 0, files: 0, segments: 0, inflatedBytes: 0, tarBytes: 0, complete: true };
  const seen = new Set<string>();
  let expectedPos = 0;
  // Raw bytes since the last file entry: where its tar header must be.
  let pending: Buffer[] = [];
  let pendingLen = 0;
  let pendingOverflow = false;
  const PENDING_MAX = 4 << 20;
  let padBefore = 0;

  const lineIter = lines(json, o.maxLineBytes);
  const EMPTY = Buffer.alloc(0);
  try {
    outer: for await (const batch of lineIter) for (const item of batch) {
      let raw: Buffer;
      if (Buffer.isBuffer(item)) raw = item;
      else {
        // Reported as it was met; an unterminated last line is not counted as a line.
        f.add('error', 'tarsplit.line-too-long', `line ${summary.lines + 1}: ${item.bytes} bytes, over the ${o.maxLineBytes}-byte bound; skipped`);
        if (item.last) continue;
        raw = EMPTY; // keeps line numbers honest: an empty line
      }
      const lineNo = ++summary.lines;
      if (lineNo > o.maxEntries) {
        f.add('error', 'tarsplit.too-many-entries', `more than ${o.maxEntries} lines; stopped reading`);
        state.complete = false;
        break outer;
      }
      const text = raw.toString('utf8');
      if (text.trim() === '') continue; // Go's decoder skips whitespace between values
      const parsed = tryJson(text);
      if ('error' in parsed) {
        f.add('error', 'tarsplit.bad-json', `line ${lineNo}: not a JSON value (${parsed.error})`);
        continue;
      }
      const v = parsed.value;
      if (typeof v !== 'object' || v === null || Array.isArray(v)) {
        f.add('error', 'tarsplit.bad-json', `line ${lineNo}: expected a JSON object, got ${describe(v)}`);
        continue;
      }
      const obj = v as Record<string, unknown>;
      const where = `line ${lineNo}`;

      // position: informational only (Docker's unpacker never looks at it), but must count 0,1,2…
      const pos = obj.position;
      let position = expectedPos;
      if (typeof pos !== 'number' || !Number.isSafeInteger(pos)) {
        f.add('error', 'tarsplit.bad-position', `${where}: position ${describe(pos)} is not an integer`);
      } else {
        position = pos;
        if (pos !== expectedPos) {
          f.add('warn', 'tarsplit.position-sequence', `${where}: position ${pos}, expected ${expectedPos}`);
        }
      }
      expectedPos = position + 1;

      const t = obj.type;
      if (t !== 1 && t !== 2) {
        // WriteOutputTarStream's switch ignores other types; a missing "type" decodes as 0.
        f.add('warn', 'tarsplit.unknown-type', `${where}: entry type ${describe(t)} is neither 1 (file) nor 2 (segment); ignored, as Docker does`);
        continue;
      }

      let payload: Buffer | undefined;
      if (obj.payload !== undefined && obj.payload !== null) {
        if (typeof obj.payload !== 'string') {
          f.add('error', 'tarsplit.bad-payload', `${where}: payload is ${describe(obj.payload)}, not base64 text`);
          continue;
        }
        payload = decodeBase64(obj.payload);
        if (!payload) {
          f.add('error', 'tarsplit.bad-base64', `${where}: payload is not valid base64`);
          continue;
        }
      }

      if (t === 2) {
        const seg = payload ?? Buffer.alloc(0);
        summary.segments++;
        summary.tarBytes += seg.length;
        if (!pendingOverflow) {
          if (pendingLen + seg.length > PENDING_MAX) {
            pendingOverflow = true;
            pending = [];
            pendingLen = 0;
          } else if (seg.length > 0) {
            pending.push(seg);
            pendingLen += seg.length;
          }
        }
        yield { type: 'segment', payload: seg, position, line: lineNo };
        continue;
      }

      // ---- file entry
      let nameRaw: Buffer;
      let rawName = false;
      if (obj.name_raw !== undefined && obj.name_raw !== null && obj.name_raw !== '') {
        const b = typeof obj.name_raw === 'string' ? decodeBase64(obj.name_raw) : undefined;
        if (!b) {
          f.add('error', 'tarsplit.bad-base64', `${where}: name_raw is not valid base64`);
          continue;
        }
        nameRaw = b;
        rawName = b.length > 0;
      } else nameRaw = Buffer.alloc(0);
      if (!rawName) {
        if (obj.name !== undefined && obj.name !== null && typeof obj.name !== 'string') {
          f.add('error', 'tarsplit.bad-name', `${where}: name is ${describe(obj.name)}, not a string`);
          continue;
        }
        nameRaw = Buffer.from((obj.name as string | undefined) ?? '', 'utf8');
      }
      const name = rawName ? nameRaw.toString('utf8') : ((obj.name as string | undefined) ?? '');

      let size = 0;
      let sizeOk = true;
      const sz = obj.size;
      if (sz !== undefined && sz !== null) {
        sizeOk = false;
        if (typeof sz !== 'number' || !Number.isInteger(sz)) {
          f.add('error', 'tarsplit.bad-size', `${where}: size ${describe(sz)} of ${describe(name)} is not an integer; taken as 0`);
        } else if (sz < 0) {
          f.add('error', 'tarsplit.bad-size', `${where}: negative size ${sz} for ${describe(name)}; taken as 0`);
        } else if (!Number.isSafeInteger(sz)) {
          f.add('error', 'tarsplit.bad-size', `${where}: size ${describe(sz)} of ${describe(name)} is beyond 2^53; taken as 0`);
        } else {
          if (sz > o.maxFileSize) f.add('error', 'tarsplit.bad-size', `${where}: absurd size ${sz} for ${describe(name)}`);
          size = sz;
          sizeOk = true;
        }
      }

      let crc: Buffer | undefined;
      if (payload) {
        if (payload.length !== 8) {
          f.add('error', 'tarsplit.bad-crc', `${where}: CRC payload of ${describe(name)} is ${payload.length} bytes, not 8`);
        } else crc = payload;
      }
      if (size > 0 && !crc && payload === undefined) {
        f.add('error', 'tarsplit.missing-crc', `${where}: ${describe(name)} has ${size} bytes but no CRC (Docker's integrity check would fail)`);
      }
      if (size === 0 && sizeOk && payload !== undefined) {
        f.add('warn', 'tarsplit.unexpected-crc', `${where}: empty entry ${describe(name)} carries a payload`);
      }

      // The header in the raw bytes since the previous file entry.
      let typeflag: string | undefined;
      if (!pendingOverflow) {
        const buf = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingLen);
        const hdr = walkHeaders(buf, padBefore) ?? (buf.length >= 512 ? walkHeaders(buf, buf.length - 512) : undefined);
        if (hdr) {
          typeflag = hdr.typeflag;
          if (hdr.typeflag !== 'g' && hdr.declaredSize !== size) {
            f.add('error', 'tarsplit.size-mismatch', `${where}: ${describe(name)} has size ${size} but its tar header says ${hdr.declaredSize}`);
          }
          padBefore = hdr.typeflag === 'g' ? (512 - (hdr.deferredBody % 512)) % 512 : HEADER_ONLY.has(hdr.typeflag) ? 0 : (512 - (size % 512)) % 512;
        } else {
          f.add('warn', 'tarsplit.no-header', `${where}: no tar header for ${describe(name)} in the bytes before it`);
          padBefore = (512 - (size % 512)) % 512;
        }
      } else padBefore = (512 - (size % 512)) % 512;
      pending = [];
      pendingLen = 0;
      pendingOverflow = false;

      const clean = cleanTarName(name);
      if (clean.nul) f.add('error', 'tarsplit.bad-name', `${where}: name ${describe(name)} contains a NUL byte`);
      if (clean.escapes) {
        f.add('error', 'tarsplit.name-escape', `${where}: name ${describe(name)} climbs out of the layer directory; its body is never read`);
      } else if (clean.dotdot) {
        f.add('warn', 'tarsplit.dotdot-name', `${where}: name ${describe(name)} contains '..' (read as ${describe(clean.path)})`);
      }
      // GNU tar names its PAX global headers /tmp/GlobalHead.<pid>.<n>: absolute but harmless.
      if (clean.absolute && typeflag !== 'g') {
        f.add('warn', 'tarsplit.absolute-name', `${where}: absolute name ${describe(name)} (read as ${describe(clean.path)} in the layer)`);
      }
      if (name === '') f.add('warn', 'tarsplit.empty-name', `${where}: file entry without a name`);

      // tar-split's packer and unpacker both refuse duplicate names after filepath.Clean.
      const key = goClean(nameRaw.toString('latin1'));
      if (seen.has(key)) {
        f.add('error', 'tarsplit.duplicate-name', `${where}: ${describe(name)} appears twice (Docker refuses the whole file: ErrDuplicatePath)`);
      } else seen.add(key);

      summary.files++;
      summary.tarBytes += size;
      yield { type: 'file', name, nameRaw, rawName, clean, size, crc, position, line: lineNo, typeflag };
    }
  } finally {
    await lineIter.return(undefined);
    summary.inflatedBytes = state.inflatedBytes;
    summary.complete = state.complete;
    f.flush();
    if (summary.files + summary.segments === 0 && state.complete) f.add('warn', 'tarsplit.empty', 'no entries');
  }
  return summary;
}

/**
 * Reads a gzip-compressed tar-split stream. `input` is the compressed bytes (a file stream from a
 * Source, or any async iterable of Buffers). Decompression stops at `maxInflatedBytes`.
 */
export async function* readTarSplit(
  input: Readable | AsyncIterable<Buffer>,
  findings: Findings,
  options: TarSplitOptions = {},
): AsyncGenerator<TarSplitEntry, TarSplitSummary> {
  const cap = options.maxInflatedBytes ?? limits.tarsplitInflatedBytes;
  const state = { inflatedBytes: 0, complete: true };
  const src = input instanceof Readable ? input : Readable.from(input, { objectMode: false });
  const gunzip = zlib.createGunzip({ chunkSize: 64 << 10 });
  src.on('error', (e) => gunzip.destroy(e));
  src.pipe(gunzip);

  async function* inflated(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of gunzip) {
        const c = chunk as Buffer;
        if (state.inflatedBytes + c.length > cap) {
          state.complete = false;
          findings.add('error', 'tarsplit.too-large', `decompresses to more than ${cap} bytes; stopped there (gzip bomb?)`, options.path);
          const keep = cap - state.inflatedBytes;
          state.inflatedBytes = cap;
          if (keep > 0) yield c.subarray(0, keep);
          return;
        }
        state.inflatedBytes += c.length;
        yield c;
      }
    } catch (e) {
      state.complete = false;
      const code = (e as NodeJS.ErrnoException | undefined)?.code;
      if (typeof code === 'string' && code.startsWith('Z_')) {
        findings.add('error', 'tarsplit.gzip', `gzip stream damaged after ${state.inflatedBytes} decompressed bytes: ${(e as Error).message}`, options.path);
      } else if (!isEvidenceError(e) && e instanceof Error && !(e instanceof TypeError || e instanceof ReferenceError)) {
        // The evidence could not be read to the end: an OS read error (EIO, EACCES…), or the
        // archive backend's re-read of a truncated acquisition (a plain Error from the tar reader,
        // found by test/fuzz: corpus/reassemble/crash-stream-error*). Programming errors still throw.
        findings.add('error', 'tarsplit.read', `read failed after ${state.inflatedBytes} decompressed bytes: ${e.message}`, options.path);
      } else findings.caught(e, 'tarsplit.read', options.path);
    } finally {
      src.unpipe(gunzip);
      src.destroy();
      gunzip.destroy();
    }
  }

  return yield* parseTarSplitJson(inflated(), findings, options, state);
}

/** Opens `path` in `src` (e.g. `layerdb/sha256/<chainID>/tar-split.json.gz`) and reads it. */
export async function* openTarSplit(
  src: Source,
  path: string,
  findings: Findings,
  options: TarSplitOptions = {},
): AsyncGenerator<TarSplitEntry, TarSplitSummary> {
  const opts = { ...options, path: options.path ?? path };
  let stream: Readable;
  try {
    stream = src.createReadStream(path);
  } catch (e) {
    findings.caught(e, 'tarsplit.read', path);
    return { lines: 0, files: 0, segments: 0, inflatedBytes: 0, tarBytes: 0, complete: false };
  }
  return yield* readTarSplit(stream, findings, opts);
}
