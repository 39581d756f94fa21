/**
 * `docker export` offline: the merged filesystem of a container (or an image) as a tar stream,
 * written with tar-stream in constant memory (one directory listing per level of the walk, one
 * read chunk at a time, and the first path of every multiply-linked inode).
 *
 * What `docker export` writes (moby pkg/archive TarWithOptions over the mounted rootfs, checked
 * on v20.10.24 and v26.1.5; the entries equal the engine's on the fixtures):
 *  - filepath.Walk order: pre-order, names byte-sorted per directory; the root itself is left out;
 *  - names relative, directories with a trailing '/'; uid/gid numeric, no user/group names;
 *  - mode = permission bits with setuid/setgid/sticky; mtime truncated to the second; no atime/ctime;
 *  - a non-directory with nlink > 1 whose inode was already written becomes a hard link
 *    (type '1', size 0) to the first path written;
 *  - symlinks with their target as stored; char/block devices with major/minor; FIFOs;
 *    sockets are skipped (Go's tar refuses them, the engine logs and goes on);
 *  - `security.capability` is carried as a PAX `SCHILY.xattr.` record, no other xattr.
 * Deliberate differences: tar-stream cannot put the type bits into the mode field that Go's
 * writer sets (040755 for a directory); GNU and Go readers ignore them.
 */
import nodeFs from 'node:fs';
import nodePath from 'node:path';
import { Transform, type Writable } from 'node:stream';
import tarStream from 'tar-stream';
import { isEvidenceError } from '../source/types.js';
import type { MergedEntry, MergedFs } from './mergedfs.js';

export type TarType = 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';

/** One tar entry as it will be written. */
export interface ExportEntry {
  /** Tar name: relative, directories end in '/'. */
  name: string;
  type: TarType;
  /** Permission bits incl. setuid/setgid/sticky. */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of data that follow (0 except for regular files). */
  size: number;
  /** Seconds since the epoch (truncated, as Docker does). */
  mtime: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** `security.capability`, raw. */
  capability?: Buffer;
  entry: MergedEntry;
}

export interface ExportSkip {
  path: string;
  reason: string;
}

const TYPE: Partial<Record<MergedEntry['stat']['type'], TarType>> = {
  file: 'file',
  dir: 'directory',
  symlink: 'symlink',
  char: 'character-device',
  block: 'block-device',
  fifo: 'fifo',
};

function secondsOf(ns: bigint): number {
  // Go's Time.Truncate(time.Second) rounds toward the zero time (year 1), i.e. floor for any Unix time.
  let s = ns / 1_000_000_000n;
  if (ns < 0n && ns % 1_000_000_000n !== 0n) s -= 1n;
  return Number(s);
}

/**
 * The entries `docker export` would write for this view, in order. Hard links are decided here
 * (first path of an inode wins), so the plan is exactly what writeExport writes.
 */
export function* exportPlan(view: MergedFs, skipped: ExportSkip[] = []): Generator<ExportEntry> {
  const root = view.root();
  if (!root) return;
  const seen = new Map<string, string>();
  for (const e of view.walk(root)) {
    const st = e.stat;
    const type = TYPE[st.type];
    const name = e.path.slice(1) + (st.type === 'dir' ? '/' : '');
    if (!type) {
      skipped.push({ path: e.path, reason: `${st.type}: not representable in a tar (the engine skips it too)` });
      continue;
    }
    const out: ExportEntry = { name, type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: type === 'file' ? st.size : 0, mtime: secondsOf(st.mtimeNs), entry: e };
    if (type === 'symlink') out.linkname = st.linkTarget ?? '';
    if (type === 'character-device' || type === 'block-device') {
      out.devmajor = st.rdevMajor;
      out.devminor = st.rdevMinor;
    }
    const cap = view.xattrs(e).get('security.capability');
    if (cap) out.capability = normaliseCapability(cap);
    if (st.type !== 'dir' && st.nlink > 1) {
      // Layers are views of one evidence tree: an inode string names one file across them.
      const first = seen.get(st.inode);
      if (first !== undefined) {
        out.type = 'link';
        out.linkname = first;
        out.size = 0;
        delete out.devmajor;
        delete out.devminor;
      } else seen.set(st.inode, name);
    }
    yield out;
  }
}

/**
 * moby ReadSecurityXattrToTarHeader (26.x): a VFS_CAP_REVISION_3 value (with a rootid) is
 * rewritten to revision 2 and cut to 20 bytes, as root UID makes no sense outside the namespace.
 */
function normaliseCapability(v: Buffer): Buffer {
  if (v.length >= 20 && v[3] === 3) {
    const c = Buffer.from(v.subarray(0, 20));
    c[3] = 2;
    return c;
  }
  return v;
}

// -------------------------------------------------------------------------------------------------
// PAX, binary-safe

/** `"%d %s=%s\n"` where the length counts itself (POSIX pax). */
function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len), 'ascii'), body]);
}

/** Keys whose values are raw bytes (held as latin1 strings in the header object). */
const BINARY_PREFIX = 'SCHILY.xattr.';
/**
 * Largest uid/gid the ustar header carries here: tar-stream writes them with 6 octal digits
 * (`encodeOct(uid, 6)`) and turns anything larger into 777777 = 262143. Old hosts' files owned by
 * directory-service ids (e.g. 338377 in the docker-explorer archives) go to PAX instead.
 */
const MAX_USTAR_ID = 0o777777;
/** tar-stream encodes the ustar mtime through a 32-bit integer: later times go to PAX. */
const MAX_USTAR_TIME = 0x7fffffff;

/** An ASCII, ustar-encodable stand-in for a name a PAX record carries in full. */
function ustarFallback(s: string | undefined, max: number): string | undefined {
  if (!s) return s;
  // eslint-disable-next-line no-control-regex
  const ascii = s.replace(/[^\x20-\x7e]/g, '_');
  return Buffer.byteLength(ascii) <= max ? ascii : ascii.slice(0, max);
}

function needsPax(h: { name: string; linkname?: string; uid: number; gid: number; mtime: number }): boolean {
  const ascii = (s: string) => /^[\x00-\x7f]*$/.test(s);
  if (!ascii(h.name) || (h.linkname && !ascii(h.linkname))) return true;
  if (Buffer.byteLength(h.name) > 100) {
    // ustar can split at a '/' into a 155-byte prefix and a 100-byte name.
    const i = h.name.lastIndexOf('/', h.name.length - 2);
    if (i <= 0 || i > 155 || h.name.length - i - 1 > 100) return true;
  }
  if (h.linkname && Buffer.byteLength(h.linkname) > 100) return true;
  return h.uid > MAX_USTAR_ID || h.gid > MAX_USTAR_ID || h.mtime < 0 || h.mtime > MAX_USTAR_TIME;
}

type PackInternals = {
  _encode(header: Record<string, unknown>): void;
  _encodePax?: (header: Record<string, unknown>) => void;
  push(b: Buffer): boolean;
};

/**
 * tar-stream writes PAX values as UTF-8 text, which would alter a binary xattr value; this
 * replaces the pack's PAX encoder with one that writes values as bytes (and carries
 * uid/gid/mtime out of ustar range), then encodes the entry's own header with a ustar-safe name.
 */
function installBinaryPax(pack: tarStream.Pack): boolean {
  const p = pack as unknown as PackInternals;
  if (typeof p._encodePax !== 'function' || typeof p._encode !== 'function') return false;
  p._encodePax = function (this: PackInternals, header: Record<string, unknown>) {
    const recs: Buffer[] = [];
    const name = String(header.name ?? '');
    const linkname = header.linkname ? String(header.linkname) : undefined;
    const uid = Number(header.uid ?? 0);
    const gid = Number(header.gid ?? 0);
    const mtime = header.mtime instanceof Date ? Math.floor(header.mtime.getTime() / 1000) : 0;
    recs.push(paxRecord('path', Buffer.from(name, 'utf8')));
    if (linkname) recs.push(paxRecord('linkpath', Buffer.from(linkname, 'utf8')));
    if (uid > MAX_USTAR_ID) recs.push(paxRecord('uid', Buffer.from(String(uid))));
    if (gid > MAX_USTAR_ID) recs.push(paxRecord('gid', Buffer.from(String(gid))));
    if (mtime < 0 || mtime > MAX_USTAR_TIME) recs.push(paxRecord('mtime', Buffer.from(String(mtime))));
    const pax = (header.pax ?? {}) as Record<string, string>;
    for (const k of Object.keys(pax).sort()) recs.push(paxRecord(k, Buffer.from(pax[k]!, k.startsWith(BINARY_PREFIX) ? 'latin1' : 'utf8')));
    const body = Buffer.concat(recs);
    const clampId = (n: number) => (n > MAX_USTAR_ID ? 0 : n);
    const safeTime = mtime < 0 || mtime > MAX_USTAR_TIME ? new Date(0) : header.mtime;
    const base = { mode: header.mode, uid: clampId(uid), gid: clampId(gid), mtime: safeTime };
    const paxName = ustarFallback(`PaxHeaders/${name.replace(/\/$/, '').split('/').pop() ?? ''}`, 100)!;
    this._encode({ ...base, name: paxName, type: 'pax-header', size: body.length });
    this.push(body);
    const pad = (512 - (body.length % 512)) % 512;
    if (pad) this.push(Buffer.alloc(pad));
    this._encode({ ...header, ...base, pax: undefined, name: ustarFallback(name, 100), linkname: ustarFallback(linkname, 100) });
  };
  return true;
}

// -------------------------------------------------------------------------------------------------
// Writing

export interface ExportSummary {
  entries: number;
  files: number;
  bytes: number;
  hardlinks: number;
  skipped: ExportSkip[];
  /** Files whose content could not be read in full (padded with zeros to the recorded size). */
  problems: string[];
}

function waitDrain(out: Writable): Promise<void> {
  if (!out.writableNeedDrain) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = () => {
      out.off('drain', done);
      out.off('error', fail);
      out.off('close', done);
      resolve();
    };
    const fail = (e: Error) => {
      out.off('drain', done);
      out.off('close', done);
      reject(e);
    };
    out.once('drain', done);
    out.once('close', done);
    out.once('error', fail);
  });
}

type EntryHeader = Partial<tarStream.Header> & { name: string; pax?: Record<string, string> };

/** The part of tar-stream's entry sink (a streamx Writable) used here. */
interface SinkLike {
  write(b: Buffer): boolean;
  end(): unknown;
  once(ev: 'drain' | 'close', f: () => void): unknown;
  off(ev: 'drain' | 'close', f: () => void): unknown;
}

function entryHeader(x: ExportEntry): EntryHeader {
  const h: EntryHeader = {
    name: x.name,
    type: x.type,
    mode: x.mode,
    uid: x.uid,
    gid: x.gid,
    size: x.size,
    mtime: new Date(x.mtime * 1000),
    linkname: x.linkname,
    devmajor: x.devmajor,
    devminor: x.devminor,
  };
  const pax: Record<string, string> = {};
  if (x.capability) pax[`${BINARY_PREFIX}security.capability`] = x.capability.toString('latin1');
  if (Object.keys(pax).length || needsPax({ name: x.name, linkname: x.linkname, uid: x.uid, gid: x.gid, mtime: x.mtime })) h.pax = pax;
  return h;
}

/** Writes exactly `size` bytes of the file into the entry: cut if it grew, zero-padded if short or unreadable. */
async function writeBody(view: MergedFs, x: ExportEntry, sink: SinkLike, problems: string[]): Promise<number> {
  let written = 0;
  if (x.size === 0) return 0;
  const put = async (b: Buffer) => {
    if (b.length === 0) return;
    if (!sink.write(b))
      await new Promise<void>((resolve, reject) => {
        // A sink destroyed under us (the reader went away) never drains: give up instead.
        const onDrain = () => {
          sink.off('close', onClose);
          resolve();
        };
        const onClose = () => {
          sink.off('drain', onDrain);
          reject(new Error('tar entry closed'));
        };
        sink.once('drain', onDrain);
        sink.once('close', onClose);
      });
    written += b.length;
  };
  try {
    const stream = view.open(x.entry);
    try {
      for await (const chunk of stream) {
        const b = chunk as Buffer;
        const room = x.size - written;
        if (room <= 0) {
          problems.push(`${x.entry.path}: longer than its recorded ${x.size} bytes; cut`);
          break;
        }
        await put(b.length > room ? b.subarray(0, room) : b);
      }
    } finally {
      (stream as { destroy?: () => void }).destroy?.();
    }
  } catch (e) {
    if (!isEvidenceError(e) && !(e instanceof Error && 'code' in e)) throw e;
    problems.push(`${x.entry.path}: content unreadable after ${written} bytes (${(e as Error).message}); zero-filled`);
  }
  if (written < x.size) {
    if (!problems.some((p) => p.startsWith(`${x.entry.path}:`))) problems.push(`${x.entry.path}: ${x.size - written} bytes short of its recorded size; zero-filled`);
    const zero = Buffer.alloc(Math.min(1 << 16, x.size - written));
    while (written < x.size) await put(zero.subarray(0, Math.min(zero.length, x.size - written)));
  }
  return written;
}

/**
 * Files up to this size are read with one synchronous read through the Source (no fs.ReadStream,
 * whose set-up and 1 MiB read buffer cost more than the bytes of a small file) and handed to the
 * pack as one buffer. Larger files, and any small file the quick read cannot take, are streamed.
 */
const SMALL_FILE = 256 * 1024;

/**
 * A small file's exact `size` bytes in one buffer, or undefined to take the streaming path (which
 * reports growth, shortness and read errors as it always has). The bound is the recorded size, so
 * a file of that size is read with one read() (a short read at the size ends it) and one that grew
 * is refused (ETOOBIG) and streamed, where the cut is reported.
 */
function readSmall(view: MergedFs, x: ExportEntry): Buffer | undefined {
  let b: Buffer;
  try {
    b = view.readFile(x.entry, x.size);
  } catch (e) {
    if (!isEvidenceError(e) && !(e instanceof Error && 'code' in e)) throw e;
    return undefined;
  }
  return b.length === x.size ? b : undefined;
}

/** Chunks the pack emits are gathered up to this size before they are written. */
const BATCH = 256 * 1024;

/**
 * Coalesces the pack's output: it pushes a header, a body and its padding separately, so a small
 * file cost three writes (three syscalls on a pipe, where stdout writes are synchronous). Chunks
 * of a batch's size or more pass through as they are.
 */
function batcher(): Transform {
  let buf: Buffer | undefined;
  let used = 0;
  const flush = (t: Transform) => {
    if (buf && used > 0) t.push(used === buf.length ? buf : buf.subarray(0, used));
    buf = undefined;
    used = 0;
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (chunk.length >= BATCH) {
        flush(this);
        this.push(chunk);
        return cb();
      }
      if (buf && used + chunk.length > buf.length) flush(this);
      buf ??= Buffer.allocUnsafe(BATCH);
      chunk.copy(buf, used);
      used += chunk.length;
      if (used === buf.length) flush(this);
      cb();
    },
    flush(cb) {
      flush(this);
      cb();
    },
  });
}

/** Streams the merged view as a tar into `out` (which is ended). */
export async function writeExport(view: MergedFs, out: Writable): Promise<ExportSummary> {
  const summary: ExportSummary = { entries: 0, files: 0, bytes: 0, hardlinks: 0, skipped: [], problems: [] };
  const pack = tarStream.pack();
  if (!installBinaryPax(pack)) summary.problems.push('tar-stream internals changed: binary xattr values may be altered');
  let failed: Error | undefined;
  const batch = batcher();
  let finished = false;
  const ended = new Promise<void>((resolve, reject) => {
    out.on('error', (e) => {
      failed = e;
      batch.destroy();
      reject(e);
    });
    out.on('finish', () => {
      finished = true;
      resolve();
    });
    // Closed before it finished (the reader went away): the pack must stop too.
    out.on('close', () => {
      if (!finished) batch.destroy();
    });
  });
  ended.catch(() => undefined);
  // A reader that goes away (EPIPE) destroys the batcher, the pack and its entry sinks: their
  // errors are reported once, as `out`'s, not as unhandled events.
  pack.on('error', () => undefined);
  batch.on('error', () => undefined);
  pack.pipe(batch as unknown as NodeJS.WritableStream);
  batch.pipe(out as unknown as NodeJS.WritableStream);
  for (const x of exportPlan(view, summary.skipped)) {
    if (failed) break;
    const header = entryHeader(x);
    const small = x.type === 'file' && x.size > 0 && x.size <= SMALL_FILE ? readSmall(view, x) : undefined;
    if (small) {
      try {
        await new Promise<void>((resolve, reject) => pack.entry(header, small, (err) => (err ? reject(err) : resolve())).on('error', () => undefined));
      } catch (e) {
        if (failed) break;
        throw e;
      }
      summary.bytes += small.length;
      summary.files++;
    } else if (x.type === 'file') {
      // A regular-file sink waits for end(), even when empty.
      let settle!: (err?: Error | null) => void;
      const done = new Promise<void>((resolve, reject) => {
        settle = (err) => (err ? reject(err) : resolve());
      });
      const sink = pack.entry(header, (err) => settle(err)) as unknown as SinkLike & { on(ev: 'error', f: () => void): unknown };
      sink.on('error', () => undefined);
      try {
        summary.bytes += await writeBody(view, x, sink, summary.problems);
        sink.end();
        await done;
      } catch (e) {
        if (failed) break;
        throw e;
      }
      summary.files++;
    } else {
      try {
        await new Promise<void>((resolve, reject) => pack.entry(header, (err) => (err ? reject(err) : resolve())).on('error', () => undefined));
      } catch (e) {
        if (failed) break;
        throw e;
      }
      if (x.type === 'link') summary.hardlinks++;
    }
    summary.entries++;
    await waitDrain(out);
  }
  if (failed) throw failed;
  pack.finalize();
  await ended;
  summary.problems.push(...view.notes);
  return summary;
}

// -------------------------------------------------------------------------------------------------
// Where the tar may go

/**
 * Why `out` must not be written, or undefined when it may: it is (or lies inside) the evidence
 * directory, or is the evidence archive itself (also through a symlink or a hard link). Paths
 * are compared after resolving symlinks of the directories on the way.
 */
export function unsafeOutput(out: string, evidence: { kind: 'dir' | 'tar'; location: string; spec: string }): string | undefined {
  const fs = nodeFs;
  const abs = nodePath.resolve(out);
  let parent: string;
  try {
    parent = fs.realpathSync(nodePath.dirname(abs));
  } catch {
    return `the directory of ${abs} does not exist`;
  }
  const real = nodePath.join(parent, nodePath.basename(abs));
  const inside = (p: string, dir: string) => {
    const rel = nodePath.relative(dir, p);
    return rel === '' || (!rel.startsWith('..') && !nodePath.isAbsolute(rel));
  };
  let existing: nodeFs.Stats | undefined;
  try {
    existing = fs.lstatSync(real);
  } catch {
    existing = undefined;
  }
  if (existing?.isSymbolicLink()) return `${real} is a symbolic link; refusing to write through it`;
  if (evidence.kind === 'dir') {
    let top: string;
    try {
      top = fs.realpathSync(evidence.location);
    } catch {
      top = evidence.location;
    }
    if (inside(real, top)) return `${real} is inside the evidence directory ${top}`;
  } else {
    const file = fs.existsSync(evidence.spec) ? evidence.spec : evidence.spec.slice(0, Math.max(0, evidence.spec.lastIndexOf(':')));
    try {
      const ev = fs.statSync(file);
      if (fs.realpathSync(file) === real) return `${real} is the evidence archive`;
      if (existing && existing.dev === ev.dev && existing.ino === ev.ino) return `${real} is the evidence archive (a hard link to it)`;
    } catch {
      // The archive is not where the spec says: nothing to compare with.
    }
  }
  return undefined;
}
