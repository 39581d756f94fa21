import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { resolvePath, type RawTree } from './resolve.js';
import { readXattrs, xattrReaderAvailable } from './xattr.js';
import { EvidenceError, type EntryType, type Source, type Stat } from './types.js';

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;

/** A single path component that names an entry (not '', '.', '..' and without NUL). */
function plainName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('\0');
}
/** O_NOATIME keeps reads from touching the evidence's atimes; Node does not export it on all builds. */
const O_NOATIME: number = (fs.constants as Record<string, number>).O_NOATIME ?? 0o1000000;

function typeOf(st: fs.BigIntStats | fs.Stats): EntryType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  return 'other';
}

function toStat(st: fs.BigIntStats, linkTarget?: string): Stat {
  const rdev = Number(st.rdev);
  return {
    type: typeOf(st),
    size: Number(st.size),
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    mtimeNs: st.mtimeNs,
    atimeNs: st.atimeNs,
    ctimeNs: st.ctimeNs,
    nlink: Number(st.nlink),
    inode: `${st.dev}:${st.ino}`,
    // Linux new_encode_dev: major in bits 8-19, minor in bits 0-7 and 20-31.
    rdevMajor: (rdev >>> 8) & 0xfff,
    rdevMinor: (rdev & 0xff) | ((rdev >>> 12) & 0xfff00),
    linkTarget,
  };
}

/** Bound on each path cache (entries); far more than the directories one store object spans. */
const CACHE_ENTRIES = 4096;
/** Paths per getfattr run: well inside the kernel's argument-size limit for long evidence paths. */
const XATTR_BATCH = 512;

/**
 * Directory listings kept (most recently used first). A store is read as "list a directory, then
 * read in each entry": the parent's listing stays in use while its entries are read, so a few
 * suffice, and each listing lives only as long as its directory is being worked on.
 */
const LISTINGS = 16;

/** Entry names of one directory with their (lstat) types, from one readdir. */
interface Listing {
  names: string[];
  /** By name: the entry (its `name` is the listing's own string, its type the lstat type). */
  entries: Map<string, fs.Dirent>;
}

function direntType(d: fs.Dirent): EntryType {
  if (d.isFile()) return 'file';
  if (d.isDirectory()) return 'dir';
  if (d.isSymbolicLink()) return 'symlink';
  if (d.isCharacterDevice()) return 'char';
  if (d.isBlockDevice()) return 'block';
  if (d.isFIFO()) return 'fifo';
  if (d.isSocket()) return 'socket';
  return 'other';
}

type PlainStat = Pick<Stat, 'size' | 'mode' | 'uid' | 'gid' | 'nlink' | 'inode' | 'rdevMajor' | 'rdevMinor'>;

/**
 * A Stat whose type came from the parent directory's listing: nothing else is read until a field
 * other than `type` (or a symlink's `linkTarget`) is asked for, then one lstat answers them all.
 * Listing a store records a Stat for thousands of directories and files whose times only the
 * timeline ever reads.
 */
class ListedStat implements Stat {
  private full?: Stat;
  /** The fields other than the times, from a plain (non-BigInt) lstat: see `p`. */
  private plain?: PlainStat;
  constructor(
    readonly type: EntryType,
    private readonly dir: string,
    private readonly name: string,
    readonly linkTarget?: string,
  ) {}

  private get s(): Stat {
    if (this.full) return this.full;
    const abs = `${this.dir}/${this.name}`;
    let st: fs.BigIntStats | undefined;
    try {
      st = fs.lstatSync(abs, { bigint: true, throwIfNoEntry: false });
    } catch {
      st = undefined;
    }
    // Gone (or replaced) since it was listed: the evidence changed under us. Keep the listed type
    // and report nothing else rather than a Stat of some other object.
    this.full =
      st && typeOf(st) === this.type
        ? toStat(st, this.linkTarget)
        : { type: this.type, size: 0, mode: 0, uid: 0, gid: 0, mtimeNs: 0n, nlink: 0, inode: `?:${abs}`, rdevMajor: 0, rdevMinor: 0, linkTarget: this.linkTarget };
    return this.full;
  }
  /**
   * The fields other than the times. Sizes and hard-link checks (treeStats, verify's size check)
   * ask for these of every file of every layer: a BigInt lstat allocates some 1 KB per call, a
   * plain one a fraction, and on a store of 20,000 layers that garbage was most of what `verify`
   * allocated. A plain lstat is exact while dev, ino, size and rdev are safe integers (a double
   * rounds only past 2^53, and a rounded value is never below it); otherwise the BigInt one answers.
   */
  private get p(): PlainStat {
    if (this.full) return this.full;
    if (this.plain) return this.plain;
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(`${this.dir}/${this.name}`, { throwIfNoEntry: false });
    } catch {
      st = undefined;
    }
    const safe = st && typeOf(st) === this.type && [st.dev, st.ino, st.size, st.rdev].every(Number.isSafeInteger);
    if (!safe) return this.s; // gone, replaced or past 2^53: the BigInt path decides
    const rdev = st!.rdev;
    this.plain = {
      size: st!.size,
      mode: st!.mode & 0o7777,
      uid: st!.uid,
      gid: st!.gid,
      nlink: st!.nlink,
      inode: `${st!.dev}:${st!.ino}`,
      rdevMajor: (rdev >>> 8) & 0xfff,
      rdevMinor: (rdev & 0xff) | ((rdev >>> 12) & 0xfff00),
    };
    return this.plain;
  }
  get size() {
    return this.p.size;
  }
  get mode() {
    return this.p.mode;
  }
  get uid() {
    return this.p.uid;
  }
  get gid() {
    return this.p.gid;
  }
  get mtimeNs() {
    return this.s.mtimeNs;
  }
  get atimeNs() {
    return this.s.atimeNs;
  }
  get ctimeNs() {
    return this.s.ctimeNs;
  }
  get nlink() {
    return this.p.nlink;
  }
  get inode() {
    return this.p.inode;
  }
  get rdevMajor() {
    return this.p.rdevMajor;
  }
  get rdevMinor() {
    return this.p.rdevMinor;
  }
}

/** Shared read buffer for small files (the process is single-threaded and readSync is synchronous). */
const SCRATCH = Buffer.allocUnsafe(64 * 1024);

function errCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** Shared state of every view onto one directory tree: the top and a cache of lstat answers. */
class DirTree implements RawTree {
  private readonly cache = new Map<string, Stat | null>();
  /** xattrs by absolute path, filled one view (e.g. a layer's diff dir) at a time. */
  readonly xattrCache = new Map<string, Map<string, Buffer>>();
  readonly xattrScanned = new Set<string>();
  /** Recent directory listings by absolute path, least recently used first. */
  private readonly listings = new Map<string, Listing>();
  private lastKey?: string;
  private lastListing?: Listing;
  private noatime = O_NOATIME;
  constructor(readonly top: string) {}

  /** The listing of a directory read lately (by absolute path), if still kept. */
  listing(abs: string): Listing | undefined {
    // The files of one directory are read in a row: the last listing asked for answers most.
    if (abs === this.lastKey) return this.lastListing;
    const l = this.listings.get(abs);
    if (l !== undefined) {
      // Most recently used last: the parent of the entries being read stays.
      this.listings.delete(abs);
      this.listings.set(abs, l);
      this.lastKey = abs;
      this.lastListing = l;
    }
    return l;
  }

  /** Reads a directory with its entries' types (one getdents pass) and keeps the listing. */
  list(abs: string): Listing {
    const ents = fs.readdirSync(abs, { withFileTypes: true });
    const entries = new Map<string, fs.Dirent>();
    const names: string[] = new Array(ents.length);
    for (let i = 0; i < ents.length; i++) {
      const d = ents[i]!;
      names[i] = d.name;
      entries.set(d.name, d);
    }
    names.sort();
    const l: Listing = { names, entries };
    this.listings.delete(abs);
    if (this.listings.size >= LISTINGS) {
      const oldest = this.listings.keys().next().value!;
      this.listings.delete(oldest);
      if (oldest === this.lastKey) this.lastKey = this.lastListing = undefined;
    }
    this.listings.set(abs, l);
    this.lastKey = abs;
    this.lastListing = l;
    return l;
  }

  /**
   * Caches an lstat answer. The cache only saves syscalls (path walks ask about the same directories
   * again and again, and those come in runs), so it is emptied when full rather than holding an entry
   * for each of the tens of thousands of directories and links of a large store for the whole run.
   */
  private remember(key: string, st: Stat | undefined): void {
    if (this.cache.size >= CACHE_ENTRIES) this.cache.clear();
    this.cache.set(key, st ?? null);
  }

  abs(parts: string[]): string {
    return parts.length === 0 ? this.top : this.top + '/' + parts.join('/');
  }

  rawLstat(parts: string[]): Stat | undefined {
    const key = parts.join('/');
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit ?? undefined;
    let st: Stat | undefined;
    try {
      const s = fs.lstatSync(this.abs(parts), { bigint: true });
      st = toStat(s, s.isSymbolicLink() ? fs.readlinkSync(this.abs(parts), 'utf8') : undefined);
    } catch (e) {
      const code = errCode(e);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new EvidenceError('EIO', key, `lstat: ${code ?? String(e)}`);
    }
    // Only directories and absences are cached: they are what path walks ask about again and again.
    if (!st || st.type === 'dir' || st.type === 'symlink') this.remember(key, st);
    return st;
  }

  /**
   * lstat of an absolute path below `top` whose parent directory is already resolved (DirSource's fast
   * path): the same answer and errors as rawLstat of its components, without building them.
   */
  lstatAbs(abs: string): Stat | undefined {
    const key = this.rel(abs);
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit ?? undefined;
    let s: fs.BigIntStats | undefined;
    try {
      s = fs.lstatSync(abs, { bigint: true, throwIfNoEntry: false });
    } catch (e) {
      const code = errCode(e);
      if (code !== 'ENOTDIR') throw new EvidenceError('EIO', key, `lstat: ${code ?? String(e)}`);
    }
    const st = s && toStat(s, s.isSymbolicLink() ? fs.readlinkSync(abs, 'utf8') : undefined);
    // The same cache as rawLstat: a directory lstat'ed here is not lstat'ed again when a path walks through it.
    if (!st || st.type === 'dir' || st.type === 'symlink') this.remember(key, st);
    return st;
  }

  /** Path relative to `top`, as rawLstat's keys and messages spell it. */
  rel(abs: string): string {
    return abs === this.top ? '' : abs.slice(this.top.length + 1);
  }

  /** Opens read-only, never following a final symlink (resolvePath already did that, inside the view). */
  open(parts: string[] | string, extra = 0): number {
    const p = typeof parts === 'string' ? parts : this.abs(parts);
    try {
      return fs.openSync(p, O_RDONLY | O_NOFOLLOW | this.noatime | extra);
    } catch (e) {
      // O_NOATIME is refused (EPERM) for files we do not own when not privileged.
      if (this.noatime !== 0 && errCode(e) === 'EPERM') {
        this.noatime = 0;
        return fs.openSync(p, O_RDONLY | O_NOFOLLOW | extra);
      }
      throw e;
    }
  }
}

export class DirSource implements Source {
  readonly kind = 'dir' as const;
  readonly hasXattrs = xattrReaderAvailable;
  private readonly tree: DirTree;
  private readonly base: string[];
  readonly label: string;
  readonly location: string;
  /**
   * Directories of this view already resolved (symlinks followed, containment checked), by the path
   * text callers used, to the absolute path they resolved to. A metadata file whose parent is in it
   * costs one lstat on a string instead of a component-by-component walk: listing a store reads
   * several files in each of thousands of directories.
   */
  private readonly dirs = new Map<string, string>();
  /** The last hit of `dirs` (the entry may since have been dropped from it: it stays true). */
  private lastDir?: string;
  private lastDirAbs?: string;

  constructor(top: string, tree?: DirTree, base: string[] = []) {
    this.tree = tree ?? new DirTree(fs.realpathSync(path.resolve(top)));
    this.base = base;
    this.location = this.tree.abs(base);
    this.label = this.location;
  }

  private resolve(p: string, followLast: boolean) {
    return resolvePath(this.tree, this.base, p, followLast);
  }

  /** Absolute path of a resolved directory `dir` of this view, or undefined when it is not one (or is refused). */
  private dirAbs(dir: string): string | undefined {
    // The files of one directory are asked for in a row: compare with the last answer before hashing.
    if (dir === this.lastDir) return this.lastDirAbs;
    const hit = this.dirs.get(dir);
    if (hit !== undefined) {
      this.lastDir = dir;
      this.lastDirAbs = hit;
      return hit;
    }
    // A directory its resolved parent's listing shows as a directory (not a symlink) resolves to
    // parent/name without a walk: the listing's type is what the walk's lstat would have said.
    // When that listing is no longer kept (a store's 20,000-entry driver dir is soon pushed out by
    // the small dirs of the layers being walked) one lstat of parent/name says the same, where the
    // walk below would lstat and rebuild every component of the path again.
    if (dir !== '') {
      const i = dir.lastIndexOf('/');
      const name = i < 0 ? dir : dir.slice(i + 1);
      if (plainName(name)) {
        const parent = this.dirAbs(i < 0 ? '' : dir.slice(0, i));
        const l = parent !== undefined ? this.tree.listing(parent) : undefined;
        let isDir = false;
        if (l !== undefined) isDir = l.entries.get(name)?.isDirectory() === true;
        else if (parent !== undefined) {
          try {
            isDir = this.tree.lstatAbs(`${parent}/${name}`)?.type === 'dir';
          } catch {
            isDir = false; // the walk below reports it
          }
        }
        if (isDir) {
          const abs = `${parent}/${name}`;
          if (this.dirs.size >= CACHE_ENTRIES) this.dirs.clear();
          this.dirs.set(dir, abs);
          return abs;
        }
      }
    }
    let r: ReturnType<DirSource['resolve']>;
    try {
      r = this.resolve(dir, true);
    } catch {
      return undefined; // the slow path reports it, for the path asked about
    }
    if (r.st?.type !== 'dir') return undefined;
    const abs = this.tree.abs(r.parts);
    if (this.dirs.size >= CACHE_ENTRIES) this.dirs.clear(); // a cache only: see DirTree.remember
    this.dirs.set(dir, abs);
    return abs;
  }

  /**
   * The resolved parent directory (absolute) and last component of `p` when its parent directory
   * resolves and its last component is a plain name, else undefined (then resolvePath walks it:
   * '..', NUL, '.', trailing '/', escapes, absences). The last component itself is not followed:
   * callers lstat it (or look it up in the parent's listing) and fall back if it is a symlink.
   */
  private quick(p: string): { dir: string; name: string } | undefined {
    const i = p.lastIndexOf('/');
    const name = i < 0 ? p : p.slice(i + 1);
    if (!plainName(name)) return undefined;
    const dir = this.dirAbs(i < 0 ? '' : p.slice(0, i));
    return dir === undefined ? undefined : { dir, name };
  }

  /**
   * What the parent's kept listing says of `name`: undefined when the parent was not listed lately,
   * null when the entry is absent, else a Stat that reads the rest only when asked.
   */
  private fromListing(dir: string, name: string): Stat | null | undefined {
    const l = this.tree.listing(dir);
    if (l === undefined) return undefined;
    const d = l.entries.get(name);
    if (d === undefined) return null;
    const type = direntType(d);
    // The listing's own name string: `name` is often a slice that would keep the whole path alive.
    if (type !== 'symlink') return new ListedStat(type, dir, d.name);
    let target: string;
    try {
      target = fs.readlinkSync(`${dir}/${name}`, 'utf8');
    } catch {
      return undefined; // changed since listed: ask the filesystem again
    }
    return new ListedStat(type, dir, d.name, target);
  }

  lstat(p: string): Stat | undefined {
    const q = this.quick(p);
    if (q !== undefined) {
      const st = this.fromListing(q.dir, q.name);
      if (st !== undefined) return st ?? undefined;
      return this.tree.lstatAbs(`${q.dir}/${q.name}`);
    }
    return this.resolve(p, false).st;
  }

  stat(p: string): Stat | undefined {
    const q = this.quick(p);
    if (q !== undefined) {
      const listed = this.fromListing(q.dir, q.name);
      if (listed === null) return undefined;
      const st = listed ?? this.tree.lstatAbs(`${q.dir}/${q.name}`);
      if (st?.type !== 'symlink') return st;
    }
    return this.resolve(p, true).st;
  }

  readdir(p: string): string[] | undefined {
    let abs = this.dirAbs(p);
    if (abs === undefined) {
      const { parts, st } = this.resolve(p, true);
      if (!st) return undefined;
      if (st.type !== 'dir') throw new EvidenceError('ENOTDIR', p);
      abs = this.tree.abs(parts);
    }
    // Kept listings answer again (callers may sort or change what they get: a copy).
    const kept = this.tree.listing(abs);
    if (kept !== undefined) return kept.names.slice();
    try {
      return this.tree.list(abs).names.slice();
    } catch (e) {
      throw new EvidenceError('EIO', p, `readdir: ${errCode(e) ?? String(e)}`);
    }
  }

  prefetch(p: string): void {
    try {
      this.readdir(p);
    } catch {
      // a hint only: the reads that follow report what is wrong
    }
  }

  readFile(p: string, limit: number): Buffer {
    const b = this.readFileIfPresent(p, limit);
    if (b === undefined) throw new EvidenceError('ENOENT', p);
    return b;
  }

  /** readFile, but absence is an answer (undefined) rather than an exception: most optional files are absent. */
  readFileIfPresent(p: string, limit: number): Buffer | undefined {
    const q = this.quick(p);
    if (q !== undefined) {
      const abs = `${q.dir}/${q.name}`;
      const l = this.tree.listing(q.dir);
      if (l !== undefined) {
        // The parent was listed: an absent file costs no syscall, a regular one no lstat.
        const d = l.entries.get(q.name);
        if (d === undefined) return undefined;
        const type = direntType(d);
        if (type !== 'symlink') return this.readResolved(p, abs, type, -1, limit);
      } else {
        // A plain (non-BigInt) lstat is enough to decide: only the type and size are used here.
        let st: fs.Stats | undefined;
        try {
          st = fs.lstatSync(abs, { throwIfNoEntry: false });
        } catch (e) {
          const code = errCode(e);
          if (code !== 'ENOTDIR') throw new EvidenceError('EIO', this.tree.rel(abs), `lstat: ${code ?? String(e)}`);
        }
        if (!st) return undefined;
        if (!st.isSymbolicLink()) return this.readResolved(p, abs, typeOf(st), st.size, limit);
      }
    }
    const { parts, st } = this.resolve(p, true);
    if (!st) return undefined;
    return this.readResolved(p, this.tree.abs(parts), st.type, st.size, limit);
  }

  /**
   * Reads a file already resolved to `abs`. `size` is its lstat size, or -1 when only its type is
   * known (from the parent's listing): then a short read is the end, as it is for a regular file.
   */
  private readResolved(p: string, abs: string, type: EntryType, size: number, limit: number): Buffer {
    if (type === 'dir') throw new EvidenceError('EISDIR', p);
    if (type !== 'file') throw new EvidenceError('EIO', p, `not a regular file (${type})`);
    let fd: number;
    try {
      // Without an lstat just before, O_NONBLOCK keeps a file swapped for a FIFO since from blocking the open.
      fd = this.tree.open(abs, size < 0 ? O_NONBLOCK : 0);
    } catch (e) {
      throw new EvidenceError(errCode(e) === 'ENOENT' ? 'ENOENT' : 'EIO', p, `open: ${errCode(e) ?? String(e)}`);
    }
    try {
      // Read by chunks up to limit+1 rather than trusting st.size: a live file may grow.
      const chunks: Buffer[] = [];
      let total = 0;
      // One byte past the size, so a file of exactly its size ends on a short read (no read of 0).
      const want = (size < 0 ? Math.min(SCRATCH.length, limit + 1) : Math.min(Math.max(size + 1, 4096), limit + 1, 1 << 20)) || 1;
      // Metadata files are small: read them through one shared buffer and keep an exact-size copy,
      // rather than allocating a fresh 4 KiB (outside Buffer's pool) per file.
      const chunk = want <= SCRATCH.length ? SCRATCH : Buffer.allocUnsafe(want);
      for (;;) {
        const n = fs.readSync(fd, chunk, 0, want, null);
        if (n === 0) break;
        total += n;
        if (total > limit) throw new EvidenceError('ETOOBIG', p, `larger than the ${limit}-byte bound`);
        chunks.push(Buffer.from(chunk.subarray(0, n)));
        // A short read that ends exactly at the size lstat just gave is end of file: spare the read
        // that would return 0 (one syscall per metadata file). A file that grew is still read on.
        if (n < want && (size < 0 || total === size)) break;
      }
      return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
    } finally {
      fs.closeSync(fd);
    }
  }

  readlink(p: string): string | undefined {
    const st = this.lstat(p);
    return st?.type === 'symlink' ? st.linkTarget : undefined;
  }

  createReadStream(p: string): Readable {
    const { parts, st } = this.resolve(p, true);
    if (!st) throw new EvidenceError('ENOENT', p);
    if (st.type !== 'file') throw new EvidenceError('EIO', p, `not a regular file (${st.type})`);
    const fd = this.tree.open(parts);
    return fs.createReadStream('', { fd, autoClose: true, highWaterMark: 1 << 20 });
  }

  xattrs(p: string): Map<string, Buffer> {
    if (!this.hasXattrs) return new Map();
    if (this.base.length > 0) {
      // A sub view scans its whole tree once, whatever `p` is: only the key is needed, and the
      // parent's cached resolution gives it without walking `p` component by component (export
      // asks for every entry's). Paths quick() declines take the full walk below, errors included.
      const q = this.quick(p);
      if (q !== undefined) {
        this.scanXattrs(this.location, true);
        return this.tree.xattrCache.get(`${q.dir}/${q.name}`) ?? new Map();
      }
    }
    const { parts, st } = this.resolve(p, false);
    if (!st) return new Map();
    const abs = this.tree.abs(parts);
    // A sub view (a layer's diff dir) is read in one walk the first time; the top view per path.
    const scanRoot = this.base.length > 0 ? this.location : abs;
    this.scanXattrs(scanRoot, this.base.length > 0);
    return this.tree.xattrCache.get(abs) ?? new Map();
  }

  prefetchXattrs(paths: readonly string[]): void {
    // A sub view reads its whole tree in one go already.
    if (!this.hasXattrs || this.base.length > 0) return;
    const todo: string[] = [];
    for (const p of paths) {
      let abs: string | undefined;
      try {
        const { parts, st } = this.resolve(p, false);
        if (st) abs = this.tree.abs(parts);
      } catch {
        continue; // xattrs(p) meets the same error and its caller reports it
      }
      if (abs !== undefined && !this.tree.xattrScanned.has(abs)) {
        this.tree.xattrScanned.add(abs);
        todo.push(abs);
      }
    }
    for (let i = 0; i < todo.length; i += XATTR_BATCH) {
      for (const [k, v] of readXattrs(todo.slice(i, i + XATTR_BATCH), false) ?? []) this.tree.xattrCache.set(k, v);
    }
  }

  private scanXattrs(root: string, recursive: boolean): void {
    if (this.tree.xattrScanned.has(root)) return;
    this.tree.xattrScanned.add(root);
    for (const [k, v] of readXattrs(root, recursive) ?? []) this.tree.xattrCache.set(k, v);
  }

  sub(p: string): Source {
    const { parts, st } = this.resolve(p, true);
    if (!st) throw new EvidenceError('ENOENT', p);
    if (st.type !== 'dir') throw new EvidenceError('ENOTDIR', p);
    return new DirSource(this.tree.top, this.tree, parts);
  }

  /**
   * A regular file of this view opened for one reader that reads it start to end (export, layer
   * reassembly: thousands of files in a row). Costs one open and one fstat: the parent comes from
   * the resolved-directory cache, the last component is opened with O_NOFOLLOW (a symlink swapped
   * in after the caller's lstat is refused, not followed) and O_NONBLOCK (a FIFO swapped in does
   * not hang the open), and fstat of the open file decides, so what is read is what was checked.
   * Undefined when the quick path does not apply or the object is not a regular file: the caller
   * then takes readFile / createReadStream, which report absences and oddities as always.
   * `withStat`: the fstat is taken in full (BigInt, as lstat gives it) and returned as `stat`, for
   * a caller that describes the file (export's tar header) and so needs no lstat of its own.
   */
  openRegular(p: string, withStat = false): OpenedFile | undefined {
    const q = this.quick(p);
    if (q === undefined) return undefined;
    const abs = `${q.dir}/${q.name}`;
    let fd: number;
    try {
      fd = fs.openSync(abs, O_RDONLY | O_NOFOLLOW | fs.constants.O_NONBLOCK | openRegularNoatime);
    } catch (e) {
      if (openRegularNoatime === 0 || errCode(e) !== 'EPERM') return undefined;
      // O_NOATIME is refused for files we do not own when not privileged.
      openRegularNoatime = 0;
      try {
        fd = fs.openSync(abs, O_RDONLY | O_NOFOLLOW | fs.constants.O_NONBLOCK);
      } catch {
        return undefined;
      }
    }
    let st: fs.Stats | fs.BigIntStats;
    try {
      st = withStat ? fs.fstatSync(fd, { bigint: true }) : fs.fstatSync(fd);
    } catch {
      fs.closeSync(fd);
      return undefined;
    }
    if (!st.isFile()) {
      fs.closeSync(fd);
      return undefined;
    }
    let open = true;
    return {
      size: Number(st.size),
      stat: withStat ? toStat(st as fs.BigIntStats) : undefined,
      read: (buf, off, len) => (len === 0 ? 0 : fs.readSync(fd, buf, off, len, null)),
      close: () => {
        if (open) fs.closeSync(fd);
        open = false;
      },
    };
  }
}

/** openRegular's O_NOATIME, dropped for good on the first EPERM (as DirTree.open does). */
let openRegularNoatime = O_NOATIME;

/** A regular file opened by DirSource.openRegular: sequential reads, then close (once). */
export interface OpenedFile {
  /** Size fstat gave when it was opened. */
  readonly size: number;
  /** The whole fstat, when asked for (`openRegular(p, true)`). */
  readonly stat?: Stat;
  /** Reads up to `len` bytes at the current offset into `buf[off…]`; 0 at end of file. Throws the fs error. */
  read(buf: Uint8Array, off: number, len: number): number;
  close(): void;
}
