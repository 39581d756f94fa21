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
import { Writable } from 'node:stream';
import type { OpenedFile } from '../source/dir.js';
import { isEvidenceError, type Source, type Stat } from '../source/types.js';
import type { MergedEntry, MergedFs } from './mergedfs.js';
import { BINARY_PREFIX, encodeUstar, type FdSink, MAX_USTAR_ID, MAX_USTAR_TIME, paxBlocks, TarOutput, type UstarHeader } from './tarwriter.js';

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
    const out = planEntry(view, e, e.stat, seen, skipped);
    if (out) yield out;
  }
}

/**
 * The tar entry of one walked entry described by `st` (its own stat, or the fstat of the file
 * export opened), or undefined when a tar cannot hold it (noted in `skipped`). `seen` maps the
 * inodes written so far to their first name.
 */
function planEntry(view: MergedFs, e: MergedEntry, st: Stat, seen: Map<string, string>, skipped: ExportSkip[]): ExportEntry | undefined {
  const type = TYPE[st.type];
  const name = e.path.slice(1) + (st.type === 'dir' ? '/' : '');
  if (!type) {
    skipped.push({ path: e.path, reason: `${st.type}: not representable in a tar (the engine skips it too)` });
    return undefined;
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
  return out;
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

function needsPax(h: { name: string; linkname?: string; uid: number; gid: number; mtime: number }): boolean {
  // eslint-disable-next-line no-control-regex
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

/**
 * What `new Date(seconds * 1000).getTime()` gives (ECMAScript TimeClip), without a Date per entry:
 * a time out of Date's range is NaN (written as 0), as it was when the header went through a Date.
 */
function dateMs(seconds: number): number {
  const ms = seconds * 1000;
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? Math.trunc(ms) + 0 : NaN;
}

/** tar-stream's pack defaults, kept so the bytes stay what they were: mode 0 became 0644 / 0755. */
const DMODE = 0o755;
const FMODE = 0o644;

/** The ustar header of an entry (pack's defaults applied) and its PAX records, when it needs some. */
function entryHeader(x: Omit<ExportEntry, 'entry'>): { h: UstarHeader; pax?: Record<string, Buffer> } {
  const size = x.type === 'symlink' ? 0 : x.size;
  const h: UstarHeader = {
    name: x.name,
    type: x.type,
    mode: x.mode || (x.type === 'directory' ? DMODE : FMODE),
    uid: x.uid,
    gid: x.gid,
    size,
    mtimeMs: dateMs(x.mtime),
    linkname: x.linkname,
    devmajor: x.devmajor,
    devminor: x.devminor,
  };
  if (x.capability) return { h, pax: { [`${BINARY_PREFIX}security.capability`]: x.capability } };
  if (needsPax({ name: x.name, linkname: x.linkname, uid: x.uid, gid: x.gid, mtime: x.mtime })) return { h, pax: {} };
  return { h };
}

/** The header block(s) writeExport writes for an entry: ustar, or PAX records then ustar. */
export function headerBytes(x: Omit<ExportEntry, 'entry'>): Buffer {
  const { h, pax } = entryHeader(x);
  if (!pax) {
    const b = Buffer.alloc(512);
    if (encodeUstar(b, 0, h)) return b;
  }
  return paxBlocks(h, pax ?? {});
}

/** Writes an entry's header block(s) at the output's position. */
async function writeHeader(out: TarOutput, x: ExportEntry): Promise<void> {
  const { h, pax } = entryHeader(x);
  if (!pax) {
    await out.reserve(512);
    if (encodeUstar(out.buffer, out.pos, h)) {
      out.pos += 512;
      return;
    }
  }
  await out.put(paxBlocks(h, pax ?? {}));
}

/**
 * Streams a file's bytes through the Source (the slow path: tar evidence, or a file the quick
 * open refused). Writes exactly `size` bytes: cut if it grew, zero-padded if short or unreadable.
 */
async function writeBodyStream(view: MergedFs, x: ExportEntry, out: TarOutput, problems: string[]): Promise<number> {
  let written = 0;
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
        const take = b.length > room ? b.subarray(0, room) : b;
        await out.put(take);
        written += take.length;
      }
    } finally {
      (stream as { destroy?: () => void }).destroy?.();
    }
  } catch (e) {
    if (out.failed) throw out.failed;
    if (!isEvidenceError(e) && !(e instanceof Error && 'code' in e)) throw e;
    problems.push(`${x.entry.path}: content unreadable after ${written} bytes (${(e as Error).message}); zero-filled`);
  }
  if (written < x.size) {
    if (!problems.some((p) => p.startsWith(`${x.entry.path}:`))) problems.push(`${x.entry.path}: ${x.size - written} bytes short of its recorded size; zero-filled`);
    await out.zeros(x.size - written);
  }
  return written;
}

/** What a Source may offer for reading many files in a row (DirSource does). */
type FastSource = Source & { openRegular?(p: string, withStat?: boolean): OpenedFile | undefined };

/**
 * A regular file's bytes opened once through its layer's Source (no path walk), with the fstat of
 * what was opened; undefined when the Source offers no such open or declines (the caller then
 * describes the entry by its own stat and streams it).
 */
function openFast(view: MergedFs, e: MergedEntry): OpenedFile | undefined {
  const d = view.dataOf(e);
  const src = view.layers[d.layer]?.src as FastSource | undefined;
  if (!src?.openRegular) return undefined;
  try {
    return src.openRegular(d.rel, true);
  } catch (e) {
    if (!isEvidenceError(e) && !(e instanceof Error && 'code' in e)) throw e;
    return undefined;
  }
}

/**
 * The fast path for a regular file: its bytes read from the file opened by openFast into the
 * output buffer. Returns the bytes written, or undefined when a small file did not read as its
 * size (nothing written; the caller streams it, which reports what it finds). Growth, shortness
 * and read errors of larger files are reported as the streaming path reports them.
 */
async function writeBodyFast(f: OpenedFile, x: ExportEntry, out: TarOutput, problems: string[]): Promise<number | undefined> {
  let written = 0;
  // A file that fits the output buffer is read with one read() straight into it, behind its
  // header; a larger one in buffer-sized pieces.
  if (x.size < out.capacity) {
    // One read of size + 1 into the buffer: a short read at the size is end of file.
    await out.reserve(x.size + 1);
    let n: number;
    try {
      n = f.read(out.buffer, out.pos, x.size + 1);
    } catch {
      return undefined; // the streaming path reads it again and reports what it finds
    }
    if (n !== x.size) return undefined;
    out.pos += n;
    return n;
  }
  for (;;) {
    if (out.room === 0) await out.flush();
    const want = Math.min(out.room, x.size - written);
    if (want === 0) break;
    let n: number;
    try {
      n = f.read(out.buffer, out.pos, want);
    } catch (e) {
      problems.push(`${x.entry.path}: content unreadable after ${written} bytes (${(e as Error).message}); zero-filled`);
      break;
    }
    if (n === 0) break;
    out.pos += n;
    written += n;
  }
  if (written === x.size) {
    const probe = Buffer.allocUnsafe(1);
    let more = 0;
    try {
      more = f.read(probe, 0, 1);
    } catch {
      more = 0;
    }
    if (more > 0) problems.push(`${x.entry.path}: longer than its recorded ${x.size} bytes; cut`);
  }
  if (written < x.size) {
    if (!problems.some((p) => p.startsWith(`${x.entry.path}:`))) problems.push(`${x.entry.path}: ${x.size - written} bytes short of its recorded size; zero-filled`);
    await out.zeros(x.size - written);
  }
  return written;
}

/**
 * Streams the merged view as a tar into `out`: a stream (ended, unless it is process.stdout) or a
 * file descriptor (written synchronously, left open).
 */
export async function writeExport(view: MergedFs, out: Writable | FdSink): Promise<ExportSummary> {
  const summary: ExportSummary = { entries: 0, files: 0, bytes: 0, hardlinks: 0, skipped: [], problems: [] };
  const tar = new TarOutput(out);
  const root = view.root();
  const seen = new Map<string, string>();
  // The walk and the entries are exportPlan's; a regular file is opened before its header is
  // written, and (unless a metacopy, whose metadata is the upper file's) described by the fstat of
  // what was opened: the header is the object read, and the walk's lstat of every file is spared.
  for (const e of root ? view.walk(root) : []) {
    if (tar.failed) throw tar.failed;
    const f = e.stat.type === 'file' ? openFast(view, e) : undefined;
    try {
      const x = planEntry(view, e, (!e.data && f?.stat) || e.stat, seen, summary.skipped);
      if (!x) continue;
      await writeHeader(tar, x);
      if (x.type === 'file') {
        if (x.size > 0) {
          // Nothing is written past the header when the fast path declines.
          const fast = f ? await writeBodyFast(f, x, tar, summary.problems) : undefined;
          summary.bytes += fast ?? (await writeBodyStream(view, x, tar, summary.problems));
          await tar.padTo512(x.size);
        }
        summary.files++;
      } else if (x.type === 'link') summary.hardlinks++;
      summary.entries++;
    } finally {
      f?.close();
    }
  }
  await tar.zeros(1024);
  await tar.end(!(out instanceof Writable) || out === process.stdout);
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
