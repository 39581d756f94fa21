/**
 * The `local` log driver's files: `containers/<id>/local-logs/container.log` (+ `.N` / `.N.gz`
 * rotations), and the dual-logging cache `containers/<id>/container-cached.log` that 20.10+ keeps
 * in the same format for drivers docker cannot read back (FORMATS.md §11; moby
 * `daemon/logger/local`). The file is a sequence of frames
 *
 *   [u32 BE length][protobuf LogEntry, `length` bytes][u32 BE length]
 *
 * LogEntry (`api/types/plugins/logdriver/entry.proto`): 1 source string, 2 time_nano int64,
 * 3 line bytes, 4 partial bool, 5 partial_log_metadata {1 last bool, 2 id string, 3 ordinal int32}.
 * The copier strips the newline of every complete line; the reader adds it back.
 */
import { FileFindings, type LogEntry, type LogTime } from './jsonlog.js';
import type { Findings } from './findings.js';
import { limits } from '../source/limits.js';


export interface PartialMeta {
  last: boolean;
  id: string;
  ordinal: number;
}

export interface LocalLogEntry {
  source: string;
  timeNano: bigint;
  line: Buffer;
  partial: boolean;
  partialMeta?: PartialMeta;
}

// ---------------------------------------------------------------------------------------------
// A tiny protobuf reader: varints (≤10 bytes) and length-delimited fields, every length checked
// against what is left. Semantics follow the gogo-generated Unmarshal dockerd uses: a repeated
// scalar field keeps the last value, a repeated message field is merged, unknown fields are
// skipped, a known field with the wrong wire type is an error.

class ProtoError extends Error {}

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): bigint {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (shift >= 64n) throw new ProtoError('varint longer than 10 bytes');
      if (this.pos >= this.buf.length) throw new ProtoError('unexpected end inside a varint');
      const b = this.buf[this.pos++]!;
      v |= BigInt(b & 0x7f) << shift;
      // A mask, not BigInt.asUintN(64, v): once this loop is hot on hostile varints, Node 20's
      // optimizing compiler (V8 11.3) aborts the whole process on asUintN here ("RepresentationChangerError:
      // Phi of kRepTagged (UnsignedBigInt64)"); found by test/fuzz (corpus/logentry, fuzz.test.ts).
      if (b < 0x80) return v & 0xffffffffffffffffn;
    }
  }
  bytes(): Buffer {
    const n = this.varint();
    if (BigInt.asIntN(64, n) < 0n) throw new ProtoError('negative length');
    if (n > BigInt(this.buf.length - this.pos)) throw new ProtoError(`length ${n} runs past the end of the message`);
    const out = this.buf.subarray(this.pos, this.pos + Number(n));
    this.pos += Number(n);
    return out;
  }
  skip(wire: number, depth = 0): void {
    switch (wire) {
      case 0:
        this.varint();
        return;
      case 1:
        if (this.buf.length - this.pos < 8) throw new ProtoError('unexpected end inside a fixed64');
        this.pos += 8;
        return;
      case 2:
        this.bytes();
        return;
      case 5:
        if (this.buf.length - this.pos < 4) throw new ProtoError('unexpected end inside a fixed32');
        this.pos += 4;
        return;
      case 3: {
        // A group: skip fields up to its end-group tag.
        if (depth > 32) throw new ProtoError('groups nested too deep');
        for (;;) {
          if (this.done) throw new ProtoError('unterminated group');
          const tag = this.varint();
          const w = Number(tag & 7n);
          if (w === 4) return;
          this.skip(w, depth + 1);
        }
      }
      default:
        throw new ProtoError(`illegal wire type ${wire}`);
    }
  }
  /** Next (field, wire type), or undefined at the end. */
  tag(what: string): [number, number] | undefined {
    if (this.done) return undefined;
    const t = this.varint();
    const field = Number(BigInt.asIntN(32, t >> 3n));
    const wire = Number(t & 7n);
    if (wire === 4) throw new ProtoError(`${what}: end-group tag outside a group`);
    if (field <= 0) throw new ProtoError(`${what}: illegal field number ${field}`);
    return [field, wire];
  }
}

function want(what: string, wire: number, expected: number): void {
  if (wire !== expected) throw new ProtoError(`wrong wire type ${wire} for ${what}`);
}

function decodeMeta(buf: Buffer, into: PartialMeta): void {
  const r = new Reader(buf);
  for (let t = r.tag('PartialLogEntryMetadata'); t; t = r.tag('PartialLogEntryMetadata')) {
    const [field, wire] = t;
    if (field === 1) {
      want('last', wire, 0);
      into.last = r.varint() !== 0n;
    } else if (field === 2) {
      want('id', wire, 2);
      into.id = r.bytes().toString('utf8');
    } else if (field === 3) {
      want('ordinal', wire, 0);
      into.ordinal = Number(BigInt.asIntN(32, r.varint()));
    } else r.skip(wire);
  }
}

/** Decodes one LogEntry message; a string is the reason it does not decode. */
export function decodeLogEntry(buf: Buffer): LocalLogEntry | string {
  const e: LocalLogEntry = { source: '', timeNano: 0n, line: Buffer.alloc(0), partial: false };
  const r = new Reader(buf);
  try {
    for (let t = r.tag('LogEntry'); t; t = r.tag('LogEntry')) {
      const [field, wire] = t;
      switch (field) {
        case 1:
          want('source', wire, 2);
          e.source = r.bytes().toString('utf8');
          break;
        case 2:
          want('time_nano', wire, 0);
          e.timeNano = BigInt.asIntN(64, r.varint());
          break;
        case 3:
          want('line', wire, 2);
          e.line = r.bytes();
          break;
        case 4:
          want('partial', wire, 0);
          e.partial = r.varint() !== 0n;
          break;
        case 5:
          want('partial_log_metadata', wire, 2);
          e.partialMeta ??= { last: false, id: '', ordinal: 0 };
          decodeMeta(r.bytes(), e.partialMeta);
          break;
        default:
          r.skip(wire);
      }
    }
  } catch (err) {
    if (err instanceof ProtoError) return err.message;
    throw err;
  }
  return e;
}

// ---------------------------------------------------------------------------------------------
// Byte queue: frames span chunks; keep the pending bytes as a list and merge only what a frame needs.

class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    if (b.length === 0) return;
    this.chunks.push(b);
    this.length += b.length;
  }
  /** The first n bytes (n ≤ length) as one buffer. */
  peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const merged = Buffer.concat(this.chunks, this.length);
    this.chunks = [merged];
    return merged.subarray(0, n);
  }
  u32(at: number): number {
    return this.peek(at + 4).readUInt32BE(at);
  }
  skip(n: number): void {
    this.length -= n;
    while (n > 0) {
      const first = this.chunks[0]!;
      if (first.length <= n) {
        n -= first.length;
        this.chunks.shift();
      } else {
        this.chunks[0] = first.subarray(n);
        n = 0;
      }
    }
  }
}

export interface LocalLogOptions {
  /** Evidence path, for entries and findings. */
  path: string;
  findings: Findings;
  /**
   * Engines before 22.06 (moby 990b0e28) add the newline back only to entries that are not
   * partial, so the last piece of a split line prints without one; 22.06+ add it to that last
   * piece too. `docker logs` output depends on which engine reads the file.
   */
  legacyNewline?: boolean;
  /** Largest frame accepted (default: dockerd's own bound). */
  maxFrame?: number;
  /** Bound on decode attempts while hunting for the next good frame after damage. */
  maxResyncAttempts?: number;
}

function entryOf(p: LocalLogEntry, opts: LocalLogOptions, offset: number): LogEntry {
  const last = p.partial && p.partialMeta?.last === true;
  const e: LogEntry = {
    stream: p.source,
    time: { ns: p.timeNano, offset: 0 } satisfies LogTime,
    line: p.line,
    newline: !p.partial || (last && opts.legacyNewline !== true),
    eol: !p.partial || last,
    file: opts.path,
    offset,
  };
  if (p.partial) {
    e.partialId = p.partialMeta?.id ?? '';
    e.ordinal = p.partialMeta?.ordinal ?? 0;
  }
  return e;
}

/**
 * Streams entries from a local-format log (already decompressed). Like dockerd reading forward,
 * a frame is `length` bytes after its header and the footer is only checked (a mismatch is a
 * warning). A frame that is too large or does not decode is an error finding; the reader then
 * looks for the next offset where header, footer and message agree, and reports what it skipped.
 */
export async function* readLocalLog(input: AsyncIterable<Buffer | Uint8Array>, opts: LocalLogOptions): AsyncGenerator<LogEntry> {
  const maxFrame = opts.maxFrame ?? limits.logFrameBytes;
  const maxAttempts = opts.maxResyncAttempts ?? 100_000;
  const ff = new FileFindings(opts.findings, opts.path);
  const q = new ByteQueue();
  let base = 0; // file offset of q's first byte
  let ended = false;
  let resyncing = false;
  let resyncFrom = 0;
  let attempts = 0;
  const it = input[Symbol.asyncIterator]();

  const fill = async (n: number): Promise<boolean> => {
    while (q.length < n && !ended) {
      const r = await it.next();
      if (r.done) ended = true;
      else q.push(Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength));
    }
    return q.length >= n;
  };

  /** Tries a frame at the queue's head: the entry and its size, or why not. */
  const tryFrame = async (): Promise<{ entry: LocalLogEntry; size: number; footer: number } | { bad: string; decoded?: boolean } | { short: string }> => {
    if (!(await fill(4))) return { short: `${q.length} stray bytes at the end` };
    const len = q.u32(0);
    if (len > maxFrame) return { bad: `frame length ${len} exceeds ${maxFrame}` };
    if (!(await fill(len + 8))) return { short: `frame of ${len} bytes cut off after ${q.length - 4}` };
    const footer = q.u32(4 + len);
    // While hunting after damage, a candidate must look whole: footer = header, a real stream.
    if (resyncing && footer !== len) return { bad: 'footer differs' };
    const p = decodeLogEntry(Buffer.from(q.peek(4 + len).subarray(4)));
    if (typeof p === 'string') return { bad: `message does not decode: ${p}`, decoded: true };
    if (resyncing && p.source !== 'stdout' && p.source !== 'stderr') return { bad: 'no stream', decoded: true };
    return { entry: p, size: len + 8, footer };
  };

  try {
    for (;;) {
      if (!(await fill(1))) {
        if (resyncing) ff.add('error', 'logs.bad-frame', `skipped ${base - resyncFrom} damaged bytes from offset ${resyncFrom} to the end; no good frame after them`);
        break;
      }
      const r = await tryFrame();
      if ('entry' in r) {
        if (resyncing) {
          ff.add('error', 'logs.bad-frame', `skipped ${base - resyncFrom} damaged bytes (offsets ${resyncFrom}-${base - 1}); frames resume at ${base}`);
          resyncing = false;
        } else if (r.footer !== r.size - 8) {
          ff.add('warn', 'logs.frame-footer', `frame at byte ${base}: header says ${r.size - 8} bytes, footer says ${r.footer}; read as dockerd does`);
        }
        const e = entryOf(r.entry, opts, base);
        q.skip(r.size);
        base += r.size;
        yield e;
        continue;
      }
      if ('short' in r && !resyncing) {
        ff.add('error', 'logs.truncated', `frame at byte ${base}: ${r.short}`);
        break;
      }
      // A bad frame (or, while hunting, a candidate that runs past the end): look for the next
      // plausible frame one byte further on.
      if (!resyncing) {
        ff.add('error', 'logs.bad-frame', `frame at byte ${base}: ${'bad' in r ? r.bad : ''}`);
        resyncing = true;
        resyncFrom = base;
      }
      if ('bad' in r && r.decoded && ++attempts > maxAttempts) {
        ff.add('error', 'logs.bad-frame', `gave up looking for a good frame after ${maxAttempts} candidates (offset ${base}); the rest of the file is not read`);
        break;
      }
      q.skip(1);
      base += 1;
    }
  } finally {
    ff.flush();
    await it.return?.();
  }
}
