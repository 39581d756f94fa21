import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { OpenedFile } from '../source/dir.js';
import { EvidenceError, isEvidenceError, type EntryType, type Source, type Stat } from '../source/types.js';
import { Crc64 } from '../store/crc64.js';
import { Findings, type Severity } from '../store/findings.js';
import { CappedFindings, isCleanRelative, type TarSplitEntry, type TarSplitFile } from '../store/tarsplit.js';

/**
 * Rebuilds a layer's exact tar stream from its tar-split entries and the file bodies in the layer's
 * driver directory, the way Docker's `asm.WriteOutputTarStream` does when it exports or pushes a
 * layer (FORMATS.md §4), and says file by file what no longer matches. The sha256 of the stream is
 * the layer's diffID when nothing was touched.
 *
 * Differences from Docker, on purpose:
 *  - A file is copied for exactly its recorded `size` bytes. Docker copies the whole file, so a
 *    grown file makes its tar unreadable; here the stream stays a valid tar and the file is
 *    reported `grown`.
 *  - A missing, short, unreadable or unsafe file is padded with zeros to its recorded size, so the
 *    stream stays structurally valid (and the diffID mismatch still tells) instead of stopping.
 *  - A name that climbs out of the layer directory is never read (Docker would read it, outside).
 *  - Nothing is followed: a symlink where a file should be is reported `replaced`, not read.
 *
 * Memory is constant in the size of the layer (one read chunk at a time), plus one report per
 * file that is not ok and, when a tree listing is given for the extras check, one string per name.
 */

/** What a layer file getter says about a path (lstat: a final symlink is not followed). */
export interface LayerFileStat {
  type: EntryType;
  size: number;
  rdevMajor?: number;
  rdevMinor?: number;
}

/**
 * Access to one layer's files (overlay2 `<cacheID>/diff`, aufs `diff/<id>`, a vfs dir…). Paths are
 * already cleaned and relative to the layer directory; the tar-split entry is passed too, so a
 * backend able to address raw bytes can use `entry.nameRaw`. Methods may throw `EvidenceError`.
 */
export interface LayerFiles {
  readonly label?: string;
  /** Like lstat: undefined when nothing is there. */
  lstat(path: string, entry: TarSplitFile): LayerFileStat | undefined;
  /** The bytes of the regular file at `path`. */
  open(path: string, entry: TarSplitFile): Readable;
  /**
   * Optional fast path for small files: the whole file, throwing `EvidenceError('ETOOBIG')` when it
   * is longer than `limit` (the caller then streams it). Saves a stream per file on layers made of
   * many small files.
   */
  read?(path: string, entry: TarSplitFile, limit: number): Buffer;
  /** Whether directory `path` is marked opaque (overlay xattr); undefined when it cannot tell. */
  opaque?(path: string): boolean | undefined;
  /**
   * Optional fast path: the regular file at `path` opened for reading start to end, with its size,
   * in one open and one fstat (no lstat, no path walk, no stream). Undefined when it cannot be
   * opened that way (absent, not a regular file, a symlink, …): the caller then takes lstat and
   * read/open, which say what is there. Never follows a final symlink.
   */
  openRegular?(path: string, entry: TarSplitFile): OpenedFile | undefined;
}

/** overlayfs xattrs marking an opaque directory (FORMATS.md §5). */
const OPAQUE_XATTRS = ['trusted.overlay.opaque', 'user.overlay.opaque'];

function isOpaque(x: Map<string, Buffer>): boolean {
  return OPAQUE_XATTRS.some((k) => x.get(k)?.toString('latin1') === 'y');
}

/**
 * LayerFiles over a Source view of the layer directory (e.g. `root.sub('overlay2/<cacheID>/diff')`).
 * Source paths are strings, so a name that is not valid UTF-8 (tar-split `name_raw`) cannot be
 * addressed; such files are reported `unreadable` rather than silently `missing`.
 */
export function layerFilesFromSource(src: Source): LayerFiles {
  const check = (path: string, entry: TarSplitFile): void => {
    if (!isUtf8(entry.nameRaw)) {
      throw new EvidenceError('EBADPATH', path, `name ${JSON.stringify(entry.name)} is not UTF-8; this source cannot address it`);
    }
  };
  const fast = (src as Source & { openRegular?(p: string): OpenedFile | undefined }).openRegular;
  return {
    label: src.label,
    lstat(path, entry) {
      check(path, entry);
      return src.lstat(path);
    },
    open(path, entry) {
      check(path, entry);
      return src.createReadStream(path);
    },
    read(path, entry, limit) {
      check(path, entry);
      return src.readFile(path, limit);
    },
    openRegular: fast
      ? (path, entry) => {
          if (!isUtf8(entry.nameRaw)) return undefined; // check() reports it on the slow path
          return fast.call(src, path);
        }
      : undefined,
    opaque(path) {
      const x = src.xattrs(path);
      if (isOpaque(x)) return true;
      // Where xattrs cannot be read (no reader, trusted.* without root), absence proves nothing.
      return src.hasXattrs ? false : undefined;
    },
  };
}

/** How the layer directory represents the tar's whiteouts (FORMATS.md §5). */
export type WhiteoutStyle =
  /** overlay2: `.wh.<n>` is a char device 0:0 `<n>`, `.wh..wh..opq` an opaque xattr on the dir. */
  | 'overlay'
  /** aufs, fuse-overlayfs: the `.wh.*` files exist as such. */
  | 'literal'
  /** vfs, btrfs, zfs: whiteouts were applied and leave no trace; they are not checked. */
  | 'none';

export type FileStatus =
  /** Present, same size, same CRC (or, for an empty entry, present with the right type). */
  | 'ok'
  /** Same size, different CRC. */
  | 'modified'
  /** Shorter than recorded; padded with zeros. */
  | 'truncated'
  /** Longer than recorded; only the recorded size was used (`crcMatches` says whether those match). */
  | 'grown'
  /** Not there; padded with zeros. */
  | 'missing'
  /** Something of another type is there (a symlink or dir where a file was…). */
  | 'replaced'
  /** There but could not be read (I/O error, unaddressable name); padded with zeros. */
  | 'unreadable'
  /** The name climbs out of the layer or holds a NUL: never read; padded with zeros. */
  | 'unsafe';

export const FILE_STATUSES: readonly FileStatus[] = ['ok', 'modified', 'truncated', 'grown', 'missing', 'replaced', 'unreadable', 'unsafe'];

export interface FileReport {
  /** Name as tar-split records it (lossy for non-UTF-8 names; see `nameHex`). */
  name: string;
  /** Hex of the raw name bytes, for names that are not UTF-8. */
  nameHex?: string;
  /** Where it was looked up, relative to the layer directory. */
  path: string;
  position: number;
  /** 'content': a body was copied and checked. 'presence': an empty entry, only its presence and type. */
  check: 'content' | 'presence';
  status: FileStatus;
  /** Recorded size. */
  size: number;
  /** Size found in the layer directory, when something was there. */
  actualSize?: number;
  /** Recorded CRC-64 (16 hex), when there was one. */
  expectedCrc?: string;
  /** CRC-64 of the first `size` bytes found, when the file was read that far. */
  actualCrc?: string;
  crcMatches?: boolean;
  detail?: string;
}

/** One object in the layer directory, for the extras check. */
export interface TreeEntry {
  path: string;
  type: EntryType;
  size?: number;
  rdevMajor?: number;
  rdevMinor?: number;
  /** Directory carries the overlay opaque xattr. */
  opaque?: boolean;
}

/** Something in the layer directory that the tar-split does not account for. */
export interface ExtraFile {
  path: string;
  type: EntryType;
  /** The name it would have in a layer tar (`.wh.` forms for overlay whiteouts and opaque dirs). */
  tarName: string;
}

export interface ReassembleOptions {
  /** Where findings go (a new Findings when absent; hashLayer returns it). */
  findings?: Findings;
  /** Evidence path of the layer directory, put on findings. */
  path?: string;
  whiteouts?: WhiteoutStyle;
  /** Check that empty entries (dirs, links, empty files, whiteouts) exist with the right type. Default true. */
  checkPresence?: boolean;
  /** Listing of the layer directory (e.g. `walkLayerTree(src)`) to find files the tar-split lacks. */
  tree?: Iterable<TreeEntry> | AsyncIterable<TreeEntry>;
  /** Keep reports for files that are ok too. Default false. */
  keepOk?: boolean;
  /** Called for every report, ok ones included. */
  onFile?: (r: FileReport) => void;
  /** Most reports kept in the summary (counts stay exact). Default 100 000. */
  maxReports?: number;
  /** Most extras kept (the total stays exact). Default 10 000. */
  maxExtras?: number;
  /** Most zero bytes written in place of absent data before giving up. Default 1 GiB. */
  maxPadBytes?: number;
  /** Findings per code before the rest are only counted. Default 100. */
  maxFindingsPerCode?: number;
}

export interface ReassembleSummary {
  /** Bytes of tar produced. */
  bytes: number;
  /** False when reassembly stopped early (padding bound hit). */
  complete: boolean;
  counts: Record<FileStatus, number>;
  /** Reports of files that are not ok (all files with `keepOk`), up to `maxReports`. */
  files: FileReport[];
  /** File entries (content and presence) checked. */
  checked: number;
  extras: ExtraFile[];
  extrasTotal: number;
}

const PAD_CHUNK = 1 << 20;
/** Largest read (and yielded buffer) of the fast path: big files go to the hash in 4 MiB pieces. */
const FAST_CHUNK = 4 << 20;
/** Reads up to SLAB_PIECE bytes go into a shared SLAB-byte buffer (see reassemble's scratch). */
const SLAB = 1 << 20;
const SLAB_PIECE = 64 << 10;
/** Files up to this size are read whole through `LayerFiles.read` when offered. */
const SMALL_FILE = 256 << 10;

const SEVERITY: Record<FileStatus, Severity> = {
  ok: 'info',
  modified: 'warn',
  truncated: 'warn',
  grown: 'warn',
  missing: 'warn',
  replaced: 'warn',
  unreadable: 'error',
  unsafe: 'warn',
};

/** Typeflags of regular files (a hard link, '1', takes its size from the file it links to). */
const REGULAR = new Set(['0', '\0', '7']);

/** Tar typeflag → the object type extraction creates. */
function expectedType(typeflag: string | undefined): EntryType | undefined {
  switch (typeflag) {
    case '0':
    case '\0':
    case '7':
    case '1': // hard link: a regular file sharing the target's inode
      return 'file';
    case '2':
      return 'symlink';
    case '3':
      return 'char';
    case '4':
      return 'block';
    case '5':
      return 'dir';
    case '6':
      return 'fifo';
    default:
      return undefined;
  }
}

function hex(b: Buffer | undefined): string | undefined {
  return b?.toString('hex');
}

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function isProgrammingError(e: unknown): boolean {
  return e instanceof TypeError || e instanceof ReferenceError;
}

function parentOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
}

function baseOf(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

function joinRel(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

/**
 * Streams the reassembled layer tar. Yields Buffers in order; the generator's return value is the
 * summary. Stopping early (break) closes any open file.
 */
export async function* reassemble(
  entries: AsyncIterable<TarSplitEntry>,
  files: LayerFiles,
  options: ReassembleOptions = {},
): AsyncGenerator<Buffer, ReassembleSummary> {
  const findings = options.findings ?? new Findings();
  const f = new CappedFindings(findings, options.maxFindingsPerCode ?? 100, options.path);
  const whiteouts = options.whiteouts ?? 'overlay';
  const checkPresence = options.checkPresence ?? true;
  const maxReports = options.maxReports ?? 100_000;
  const maxPad = options.maxPadBytes ?? 2 ** 30;
  const counts = Object.fromEntries(FILE_STATUSES.map((s) => [s, 0])) as Record<FileStatus, number>;
  const summary: ReassembleSummary = { bytes: 0, complete: true, counts, files: [], checked: 0, extras: [], extrasTotal: 0 };
  const tarNames = options.tree ? new Set<string>() : undefined;
  let padded = 0;

  const report = (r: FileReport): void => {
    summary.checked++;
    counts[r.status]++;
    options.onFile?.(r);
    if ((r.status !== 'ok' || options.keepOk) && summary.files.length < maxReports) summary.files.push(r);
    if (r.status !== 'ok') {
      const what = r.detail ? `: ${r.detail}` : '';
      f.add(SEVERITY[r.status], `reassemble.${r.status}`, `${JSON.stringify(r.name)} (position ${r.position}) ${r.status}${what}`);
    }
  };

  function base(e: TarSplitFile, check: 'content' | 'presence'): FileReport {
    const r: FileReport = { name: e.name, path: e.clean.path, position: e.position, check, status: 'ok', size: e.size };
    if (e.rawName) r.nameHex = e.nameRaw.toString('hex');
    if (e.crc) r.expectedCrc = e.crc.toString('hex');
    return r;
  }

  /** Zeros in place of `n` absent bytes; false when the padding bound is hit. */
  async function* pad(n: number): AsyncGenerator<Buffer, boolean> {
    if (padded + n > maxPad) {
      f.add('error', 'reassemble.pad-limit', `over ${maxPad} bytes of absent data to pad; reassembly stopped (the stream is incomplete)`);
      return false;
    }
    padded += n;
    while (n > 0) {
      const k = Math.min(n, PAD_CHUNK);
      summary.bytes += k;
      yield Buffer.alloc(k);
      n -= k;
    }
    return true;
  }

  function presence(e: TarSplitFile): FileReport | undefined {
    const r = base(e, 'presence');
    const path = e.clean.path;
    if (path === '') return undefined; // './' itself
    const name = baseOf(path);
    let lookup = path;
    let want = expectedType(e.typeflag);
    let wantDev: [number, number] | undefined;
    let opaqueOf: string | undefined;
    if (name.startsWith('.wh.')) {
      if (whiteouts === 'none') return undefined;
      if (whiteouts === 'overlay') {
        if (name === '.wh..wh..opq') {
          lookup = parentOf(path);
          want = 'dir';
          opaqueOf = lookup;
        } else {
          lookup = joinRel(parentOf(path), name.slice(4));
          want = 'char';
          wantDev = [0, 0];
        }
        r.path = lookup;
      }
    }
    let st: LayerFileStat | undefined;
    try {
      st = files.lstat(lookup, e);
    } catch (err) {
      if (isProgrammingError(err)) throw err;
      r.status = 'unreadable';
      r.detail = errMessage(err);
      return r;
    }
    if (!st) {
      r.status = 'missing';
      if (lookup !== path) r.detail = `expected ${want === 'char' ? 'a whiteout char device 0:0' : 'an opaque directory'} at ${JSON.stringify(lookup)}`;
      return r;
    }
    r.actualSize = st.size;
    if (want && st.type !== want) {
      r.status = 'replaced';
      r.detail = `expected ${want}, found ${st.type}`;
    } else if (wantDev && ((st.rdevMajor ?? 0) !== wantDev[0] || (st.rdevMinor ?? 0) !== wantDev[1])) {
      r.status = 'replaced';
      r.detail = `expected a whiteout (char 0:0), found char ${st.rdevMajor}:${st.rdevMinor}`;
    } else if (opaqueOf !== undefined && files.opaque?.(opaqueOf) === false) {
      r.status = 'modified';
      r.detail = 'directory is no longer marked opaque';
    } else if (st.type === 'file' && REGULAR.has(e.typeflag ?? '') && st.size > 0) {
      r.status = 'grown';
      r.detail = `recorded empty, now ${st.size} bytes (not part of the tar stream)`;
    }
    return r;
  }

  /** files.openRegular, where an error means "take the slow path", which reports it. */
  function openFast(e: TarSplitFile): OpenedFile | undefined {
    try {
      return files.openRegular!(e.clean.path, e);
    } catch (err) {
      if (isProgrammingError(err)) throw err;
      return undefined;
    }
  }
  let opened: OpenedFile | undefined;
  // Small files are read into one shared slab, each into its own part of it: a new Buffer (its own
  // ArrayBuffer) per 4 KiB file cost as much as the read. What was yielded is never written over.
  let slab: Buffer | undefined;
  let slabUsed = 0;
  const scratch = (n: number): Buffer => {
    if (n > SLAB_PIECE) return Buffer.allocUnsafe(n);
    if (!slab || slabUsed + n > slab.length) {
      slab = Buffer.allocUnsafe(SLAB);
      slabUsed = 0;
    }
    return slab.subarray(slabUsed, slabUsed + n);
  };

  for await (const e of entries) {
    if (e.type === 'segment') {
      if (e.payload.length > 0) {
        summary.bytes += e.payload.length;
        yield e.payload;
      }
      continue;
    }
    if (e.typeflag === 'g' && e.size === 0) continue; // PAX global header: nothing on disk
    if (tarNames && !e.clean.escapes) tarNames.add(e.clean.path);

    if (e.size === 0) {
      if (!checkPresence) continue;
      if (e.clean.escapes || e.clean.nul) {
        report({ ...base(e, 'presence'), status: 'unsafe', detail: 'name leaves the layer directory or holds a NUL; not looked up' });
        continue;
      }
      const r = presence(e);
      if (r) report(r);
      continue;
    }

    // ---- a body to copy
    const r = base(e, 'content');
    let remaining = e.size;
    if (e.clean.escapes || e.clean.nul) {
      r.status = 'unsafe';
      r.detail = 'name leaves the layer directory or holds a NUL; not read, zeros written';
    } else if (files.openRegular && (opened = openFast(e))) {
      // One open + fstat instead of lstat, lstat, open, stream: the per-file cost of a layer of small files.
      r.actualSize = opened.size;
      const crc = new Crc64();
      let more = false;
      try {
        for (;;) {
          // Read one byte past what is still wanted, so a file that grew is noticed without another read.
          const want = Math.min(remaining + 1, FAST_CHUNK);
          const buf = scratch(want);
          const n = opened.read(buf, 0, want);
          if (buf.buffer === slab?.buffer) slabUsed += (n + 7) & ~7; // 8-aligned: CRC-64 reads whole words
          if (n === 0) break; // end of file
          const take = n <= remaining ? buf.subarray(0, n) : buf.subarray(0, remaining);
          if (take.length > 0) {
            crc.update(take);
            remaining -= take.length;
            summary.bytes += take.length;
            yield take;
          }
          if (n > take.length) {
            more = true;
            break;
          }
          // A short read that ends exactly at the recorded size is end of file (as readFile takes
          // it): spares the read that would return 0, one syscall per file.
          if (remaining === 0 && n < want) break;
        }
      } catch (err) {
        if (isProgrammingError(err)) throw err;
        r.status = 'unreadable';
        r.detail = `read failed after ${e.size - remaining} bytes: ${errMessage(err)}`;
      } finally {
        opened.close();
        opened = undefined;
      }
      if (r.status === 'ok') {
        if (remaining > 0) {
          r.status = 'truncated';
          r.actualSize = e.size - remaining;
          r.detail = `${e.size - remaining} of ${e.size} bytes; zeros written for the rest`;
        } else {
          const got = crc.digest();
          r.crcMatches = e.crc !== undefined && got.equals(e.crc);
          r.actualCrc = r.crcMatches ? r.expectedCrc : got.toString('hex');
          if (more) {
            if (r.actualSize !== undefined && r.actualSize <= e.size) delete r.actualSize;
            r.status = 'grown';
            r.detail = `longer than the recorded ${e.size} bytes; only those were used, and they ${r.crcMatches ? 'match' : 'do not match'} the recorded CRC`;
          } else if (!r.crcMatches) {
            r.status = 'modified';
            if (!e.crc) r.detail = 'no CRC recorded in the tar-split';
          }
        }
      }
    } else {
      let st: LayerFileStat | undefined;
      try {
        st = files.lstat(e.clean.path, e);
        if (!st) {
          r.status = 'missing';
        } else if (st.type !== 'file') {
          r.status = 'replaced';
          r.actualSize = st.size;
          r.detail = `expected a regular file, found ${st.type}; not read, zeros written`;
        } else {
          r.actualSize = st.size;
        }
      } catch (err) {
        if (isProgrammingError(err)) throw err;
        r.status = 'unreadable';
        r.detail = errMessage(err);
      }
      let whole: Buffer | undefined;
      if (r.status === 'ok' && files.read && e.size <= SMALL_FILE) {
        try {
          whole = files.read(e.clean.path, e, e.size);
        } catch (err) {
          if (isProgrammingError(err)) throw err;
          // ETOOBIG: it grew; the stream below reads what is needed and notices the rest.
          if (!isEvidenceError(err, 'ETOOBIG')) {
            r.status = 'unreadable';
            r.detail = errMessage(err);
          }
        }
      }
      if (r.status === 'ok') {
        const crc = new Crc64();
        let more = false;
        let stream: Readable | undefined;
        try {
          if (whole) {
            // read() refused anything longer than the recorded size.
            crc.update(whole);
            remaining -= whole.length;
            summary.bytes += whole.length;
            if (whole.length > 0) yield whole;
          } else stream = files.open(e.clean.path, e);
          for await (const chunk of stream ?? []) {
            const c = chunk as Buffer;
            if (c.length === 0) continue;
            if (remaining === 0) {
              more = true;
              break;
            }
            const take = c.length <= remaining ? c : c.subarray(0, remaining);
            crc.update(take);
            remaining -= take.length;
            summary.bytes += take.length;
            yield take;
            if (take.length < c.length) {
              more = true;
              break;
            }
          }
        } catch (err) {
          if (isProgrammingError(err)) throw err;
          r.status = 'unreadable';
          r.detail = `read failed after ${e.size - remaining} bytes: ${errMessage(err)}`;
        } finally {
          stream?.destroy();
        }
        if (r.status === 'ok') {
          if (remaining > 0) {
            r.status = 'truncated';
            r.actualSize = e.size - remaining;
            r.detail = `${e.size - remaining} of ${e.size} bytes; zeros written for the rest`;
          } else {
            r.actualCrc = crc.hex();
            r.crcMatches = e.crc !== undefined && r.actualCrc === r.expectedCrc;
            if (more) {
              // It grew after the lstat: the new size is unknown.
              if (r.actualSize !== undefined && r.actualSize <= e.size) delete r.actualSize;
              r.status = 'grown';
              r.detail = `longer than the recorded ${e.size} bytes; only those were used, and they ${r.crcMatches ? 'match' : 'do not match'} the recorded CRC`;
            } else if (!r.crcMatches) {
              r.status = 'modified';
              if (!e.crc) r.detail = 'no CRC recorded in the tar-split';
            }
          }
        }
      }
    }
    if (remaining > 0) {
      const ok = yield* pad(remaining);
      if (!ok) {
        report(r);
        summary.complete = false;
        break;
      }
    }
    report(r);
  }

  if (options.tree && tarNames && summary.complete) {
    await findExtras(options.tree, tarNames, whiteouts, summary, options.maxExtras ?? 10_000);
    if (summary.extrasTotal > 0) {
      const shown = summary.extras.slice(0, 20).map((x) => JSON.stringify(x.path)).join(', ');
      f.add('warn', 'reassemble.extra', `${summary.extrasTotal} object(s) in the layer directory that the tar-split does not list: ${shown}${summary.extrasTotal > 20 ? ', …' : ''}`);
    }
  }
  f.flush();
  return summary;
}

/** Diffs a layer-directory listing against the tar-split names; directories themselves are ignored. */
async function findExtras(
  tree: Iterable<TreeEntry> | AsyncIterable<TreeEntry>,
  tarNames: Set<string>,
  whiteouts: WhiteoutStyle,
  summary: ReassembleSummary,
  maxExtras: number,
): Promise<void> {
  const add = (x: ExtraFile): void => {
    summary.extrasTotal++;
    if (summary.extras.length < maxExtras) summary.extras.push(x);
  };
  for await (const t of tree) {
    const path = cleanTreePath(t.path);
    if (path === '') continue;
    if (t.type === 'dir') {
      if (whiteouts === 'overlay' && t.opaque) {
        const marker = joinRel(path, '.wh..wh..opq');
        if (!tarNames.has(marker)) add({ path, type: 'dir', tarName: marker });
      }
      continue;
    }
    let tarName = path;
    if (whiteouts === 'overlay' && t.type === 'char' && (t.rdevMajor ?? 0) === 0 && (t.rdevMinor ?? 0) === 0) {
      tarName = joinRel(parentOf(path), '.wh.' + baseOf(path));
    }
    if (!tarNames.has(tarName)) add({ path, type: t.type, tarName });
  }
}

function cleanTreePath(p: string): string {
  // walkLayerTree's paths are already clean: skip the split and join for those.
  if (isCleanRelative(p)) return p;
  return p
    .split('/')
    .filter((s) => s !== '' && s !== '.')
    .join('/');
}

export interface WalkOptions {
  findings?: Findings;
  /** Deepest directory nesting walked. Default 512. */
  maxDepth?: number;
  /** Most objects listed. Default 10 million. */
  maxEntries?: number;
  /** Evidence path of the layer directory, for findings. */
  path?: string;
  /** Called with every object's lstat answer as the walk meets it (verify sizes the layer from it). */
  onStat?: (path: string, st: Stat) => void;
  /** Called when the walk leaves something out: an unreadable directory or object, a depth or count bound. */
  onIncomplete?: () => void;
}

/**
 * Lists a layer directory (never following symlinks) for the extras check, depth-first, sorted.
 * Directories are listed too, with their opaque marker when the source has xattrs.
 */
export function* walkLayerTree(src: Source, options: WalkOptions = {}): Generator<TreeEntry> {
  const maxDepth = options.maxDepth ?? 512;
  const maxEntries = options.maxEntries ?? 10_000_000;
  const findings = options.findings;
  let n = 0;
  const stack: { dir: string; depth: number }[] = [{ dir: '', depth: 0 }];
  while (stack.length > 0) {
    const { dir, depth } = stack.pop()!;
    let names: string[] | undefined;
    try {
      names = src.readdir(dir);
    } catch (e) {
      if (isProgrammingError(e)) throw e;
      findings?.add('error', 'reassemble.walk', `cannot list ${JSON.stringify(dir)}: ${errMessage(e)}`, options.path);
      options.onIncomplete?.();
      continue;
    }
    const subdirs: string[] = [];
    for (const name of names ?? []) {
      const p = joinRel(dir, name);
      let st;
      try {
        st = src.lstat(p);
      } catch (e) {
        if (isProgrammingError(e)) throw e;
        findings?.add('error', 'reassemble.walk', `cannot stat ${JSON.stringify(p)}: ${errMessage(e)}`, options.path);
        options.onIncomplete?.();
        continue;
      }
      if (!st) continue;
      if (++n > maxEntries) {
        findings?.add('error', 'reassemble.walk', `more than ${maxEntries} objects in the layer directory; listing stopped`, options.path);
        options.onIncomplete?.();
        return;
      }
      options.onStat?.(p, st);
      // A directory's size and device numbers are never looked at: asking would cost an lstat
      // per directory where the source answers the type from the parent's listing.
      const t: TreeEntry = st.type === 'dir' ? { path: p, type: 'dir' } : { path: p, type: st.type, size: st.size, rdevMajor: st.rdevMajor, rdevMinor: st.rdevMinor };
      if (st.type === 'dir') {
        try {
          if (isOpaque(src.xattrs(p))) t.opaque = true;
        } catch (e) {
          if (isProgrammingError(e)) throw e;
        }
        if (depth + 1 >= maxDepth) {
          findings?.add('warn', 'reassemble.walk', `${JSON.stringify(p)} is nested deeper than ${maxDepth}; not listed`, options.path);
          options.onIncomplete?.();
        } else subdirs.push(p);
      }
      yield t;
    }
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push({ dir: subdirs[i]!, depth: depth + 1 });
  }
}

export interface LayerHash extends ReassembleSummary {
  /** "sha256:<hex>" of the reassembled stream. */
  diffID: string;
  findings: Findings;
  /** When `expectedDiffID` was given: whether it matches. */
  matches?: boolean;
}

/**
 * Reassembles and sha256-hashes a layer without holding it: the diffID Docker would compute when
 * exporting it. With `expectedDiffID`, a mismatch is a finding.
 */
export async function hashLayer(
  entries: AsyncIterable<TarSplitEntry>,
  files: LayerFiles,
  options: ReassembleOptions & { expectedDiffID?: string } = {},
): Promise<LayerHash> {
  const findings = options.findings ?? new Findings();
  const hash = createHash('sha256');
  const it = reassemble(entries, files, { ...options, findings });
  let r = await it.next();
  while (!r.done) {
    hash.update(r.value);
    r = await it.next();
  }
  const out: LayerHash = { ...r.value, diffID: 'sha256:' + hash.digest('hex'), findings };
  if (options.expectedDiffID !== undefined) {
    out.matches = out.complete && options.expectedDiffID.trim() === out.diffID;
    if (!out.matches) {
      findings.add(
        'warn',
        'reassemble.diffid-mismatch',
        `reassembled layer hashes to ${out.diffID}, not the recorded ${options.expectedDiffID.trim()}${out.complete ? '' : ' (reassembly incomplete)'}`,
        options.path,
      );
    }
  }
  return out;
}
