/**
 * A userland union mount: the merged view of a stack of layer directories, as overlayfs (or aufs)
 * would show it to the container, read without root, without a kernel mount and without ever
 * following a link onto the analyst's machine.
 *
 * Semantics (FORMATS.md §5, §6; Linux fs/overlayfs/namei.c, readdir.c):
 *  - Lookup of a name in a merged directory walks the directory's layers top first. The first
 *    layer holding the name decides: a non-directory hides everything below; a directory merges
 *    with the directories of the same name below it, down to the first opaque one (or the first
 *    layer where the name is not a directory, or is whited out).
 *  - overlay whiteouts: a character device 0:0 hides the name below; a directory with
 *    `trusted.overlay.opaque` / `user.overlay.opaque` = "y" hides the lower directories.
 *    Kernel 6.7+ "xwhiteouts" (a file with an `overlay.whiteout` xattr, in a directory whose
 *    opaque xattr is "x") are honoured too. `overlay.redirect` on a directory (redirect_dir)
 *    sends the lookup in lower layers to the directory's old path; `overlay.metacopy` on a file
 *    (metadata-only copy-up) takes the bytes from the lower file.
 *  - aufs whiteouts (also what fuse-overlayfs stores): `.wh.<name>` hides `<name>` below,
 *    `.wh..wh..opq` makes its directory opaque, and every `.wh.*` name is a marker, never content
 *    (`.wh..wh.aufs`, `.wh..wh.plnk/`, `.wh..wh.orph/` are aufs' own metadata).
 *  - The root directory merges every layer; an opaque mark on a layer root is ignored, as the
 *    kernel does.
 *  - Symbolic links are resolved inside the merged root, as the container sees them: an absolute
 *    target starts again at the container's '/', '..' stops at it. Hops and steps are bounded.
 *
 * Opaque directories are only known where the source can read xattrs (`Source.hasXattrs`); on a
 * directory copy read without root they cannot be seen, and `opaqueKnown` says so.
 */
import type { Readable } from 'node:stream';
import type { ContainerNode, GraphStore, ImageNode, Model } from '../model/graph.js';
import { resolveContainer, resolveImage, ResolveError } from '../model/resolve.js';
import { MAX_SYMLINK_HOPS } from '../source/paths.js';
import { EvidenceError, isEvidenceError, type Source, type Stat } from '../source/types.js';

/** How a layer directory records deletions (FORMATS.md §5, §12.7). */
export type WhiteoutStyle =
  /** overlay2, containerd overlayfs: char 0:0 and opaque xattrs; `.wh.` names are ordinary files. */
  | 'overlay'
  /** aufs: literal `.wh.*` files; a char device is a device. */
  | 'aufs'
  /** fuse-overlayfs: either form. */
  | 'both'
  /** vfs, btrfs: full copies, deletions already applied. */
  | 'none';

export interface LayerDir {
  /** Identity of the directory (driver dir id, snapshot key): two stacks share a layer when ids match. */
  id: string;
  /** Contained view whose root is the layer's '/'. */
  src: Source;
  whiteouts: WhiteoutStyle;
  role: 'upper' | 'init' | 'image';
  /** Where the directory is, relative to the view it was opened from (for messages). */
  path: string;
  /** Image layers: chainID, diffID and position in the image rootfs (base = 0). */
  chainID?: string;
  diffID?: string;
  index?: number;
}

/** A directory of one layer that takes part in a merged directory. */
export interface LayerRef {
  layer: number;
  /** Path inside that layer ('' = its root). */
  rel: string;
}

export interface MergedEntry {
  /** Container path: '/' for the root, else '/a/b'. */
  path: string;
  name: string;
  /** What the merged view shows (for a directory: the topmost layer's directory). */
  stat: Stat;
  /** The layer the entry comes from, and its path there. */
  layer: number;
  rel: string;
  /** Directories: every layer directory merged into this one, top first. */
  dirs?: LayerRef[];
  /** Directory hides the layers below it (opaque mark, or aufs `.wh.` of itself). */
  opaque?: boolean;
  /** Directory carries a redirect to this lower path. */
  redirect?: string;
  /** Regular files copied up metadata-only: where the bytes are. */
  data?: LayerRef;
}

export interface MergedOptions {
  /** Symlinks one lookup may pass (Linux: 40). */
  maxSymlinks?: number;
  /** Deepest directory walk() descends into. */
  maxDepth?: number;
}

const OVERLAY_OPAQUE = ['trusted.overlay.opaque', 'user.overlay.opaque'];
/** fuse-overlayfs' unprivileged name for the same mark. */
const FUSE_OPAQUE = 'user.fuseoverlayfs.opaque';
const OVERLAY_REDIRECT = ['trusted.overlay.redirect', 'user.overlay.redirect'];
const OVERLAY_METACOPY = ['trusted.overlay.metacopy', 'user.overlay.metacopy'];
const OVERLAY_WHITEOUT = ['trusted.overlay.whiteout', 'user.overlay.whiteout'];

const WH_PREFIX = '.wh.';
const WH_OPAQUE = '.wh..wh..opq';

/** Bound on path components processed by one lookup (symlink expansion included). */
const MAX_LOOKUP_STEPS = 65_536;

/** Byte-wise (UTF-8) order of names, as Go's sort and filepath.Walk use. */
export function compareNames(a: string, b: string): number {
  // UTF-16 order equals UTF-8 byte order unless a surrogate meets U+E000..U+FFFF.
  if (!/[\ud800-\uffff]/.test(a) && !/[\ud800-\uffff]/.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function joinRel(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

function childPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

function usesOverlay(s: WhiteoutStyle): boolean {
  return s === 'overlay' || s === 'both';
}

function usesAufs(s: WhiteoutStyle): boolean {
  return s === 'aufs' || s === 'both';
}

/** An overlay whiteout device (char 0:0). */
export function isWhiteoutDevice(st: Stat): boolean {
  return st.type === 'char' && st.rdevMajor === 0 && st.rdevMinor === 0;
}

/**
 * A copy of `st` with another size. Field by field: a Source may answer with an object whose
 * fields are getters (DirSource reads the lstat on demand), which a spread would not copy.
 */
function withSize(st: Stat, size: number): Stat {
  const out: Stat = { type: st.type, size, mode: st.mode, uid: st.uid, gid: st.gid, mtimeNs: st.mtimeNs, nlink: st.nlink, inode: st.inode, rdevMajor: st.rdevMajor, rdevMinor: st.rdevMinor };
  if (st.atimeNs !== undefined) out.atimeNs = st.atimeNs;
  if (st.ctimeNs !== undefined) out.ctimeNs = st.ctimeNs;
  if (st.linkTarget !== undefined) out.linkTarget = st.linkTarget;
  return out;
}

/** Splits a container path, keeping '..' (resolved by the walk, not lexically). */
function splitContainerPath(p: string): string[] {
  if (p.includes('\0')) throw new EvidenceError('EBADPATH', p, 'path contains a NUL byte');
  return p.split('/').filter((x) => x !== '' && x !== '.');
}

/**
 * The merged filesystem of a layer stack (upper first). Every read goes through the layers'
 * Sources, so containment is the source layer's; nothing here touches node:fs.
 */
export class MergedFs {
  /** Things the view could not decide or read (unreadable entries, odd markers); for reports. */
  readonly notes: string[] = [];
  private readonly maxSymlinks: number;
  readonly maxDepth: number;
  private rootEntry: MergedEntry | null | undefined;
  private readonly noted = new Set<string>();
  private xwhLast: { layer: number; dir: string; yes: boolean } | undefined;

  constructor(
    readonly layers: LayerDir[],
    opts: MergedOptions = {},
  ) {
    this.maxSymlinks = opts.maxSymlinks ?? MAX_SYMLINK_HOPS;
    this.maxDepth = opts.maxDepth ?? 1024;
  }

  /**
   * Whether opaque directories (and xattr-marked whiteouts) can be seen: false when a layer that
   * marks them with xattrs is read from a source that cannot read xattrs.
   */
  get opaqueKnown(): boolean {
    return this.layers.every((l) => !usesOverlay(l.whiteouts) || l.src.hasXattrs);
  }

  private note(msg: string): void {
    if (this.noted.has(msg) || this.noted.size > 1000) return;
    this.noted.add(msg);
    this.notes.push(msg);
  }

  private lstat(layer: number, rel: string): Stat | undefined {
    try {
      return this.layers[layer]!.src.lstat(rel);
    } catch (e) {
      if (!isEvidenceError(e)) throw e;
      this.note(`${this.layers[layer]!.path}/${rel}: ${e.message}`);
      return undefined;
    }
  }

  private readdirLayer(layer: number, rel: string): string[] {
    try {
      return this.layers[layer]!.src.readdir(rel) ?? [];
    } catch (e) {
      if (!isEvidenceError(e)) throw e;
      this.note(`${this.layers[layer]!.path}/${rel}: ${e.message}`);
      return [];
    }
  }

  private layerXattrs(layer: number, rel: string): Map<string, Buffer> {
    try {
      return this.layers[layer]!.src.xattrs(rel);
    } catch (e) {
      if (!isEvidenceError(e)) throw e;
      return new Map();
    }
  }

  private xattrValue(layer: number, rel: string, names: string[]): Buffer | undefined {
    const x = this.layerXattrs(layer, rel);
    if (x.size === 0) return undefined;
    for (const n of names) {
      const v = x.get(n);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  /** The opaque xattr value of a directory ("y" opaque, "x" holds xwhiteouts), or undefined. */
  private opaqueXattr(layer: number, rel: string): string | undefined {
    const style = this.layers[layer]!.whiteouts;
    if (!usesOverlay(style)) return undefined;
    const v = this.xattrValue(layer, rel, style === 'both' ? [...OVERLAY_OPAQUE, FUSE_OPAQUE] : OVERLAY_OPAQUE);
    return v?.toString('latin1');
  }

  /** Whether a layer's directory hides the layers below it. */
  private isOpaqueDir(layer: number, rel: string): boolean {
    if (this.opaqueXattr(layer, rel) === 'y') return true;
    if (usesAufs(this.layers[layer]!.whiteouts) && this.lstat(layer, joinRel(rel, WH_OPAQUE)) !== undefined) return true;
    return false;
  }

  /** Whether `name` in a layer's directory `dir` is an overlay whiteout. */
  private isOverlayWhiteout(layer: number, dir: string, st: Stat, rel: string): boolean {
    if (!usesOverlay(this.layers[layer]!.whiteouts)) return false;
    if (isWhiteoutDevice(st)) return true;
    // xwhiteout (Linux 6.7+): only looked for in directories that announce them. The directory is
    // asked before the size: a size read from a listing costs an lstat per file of the walk.
    if (st.type === 'file' && this.holdsXwhiteouts(layer, dir) && st.size === 0) return this.xattrValue(layer, rel, OVERLAY_WHITEOUT) !== undefined;
    return false;
  }

  /** Whether a layer's directory announces xwhiteouts (opaque "x"); the last answer is kept, as a directory's names are looked up in a row. */
  private holdsXwhiteouts(layer: number, dir: string): boolean {
    const m = this.xwhLast;
    if (m !== undefined && m.layer === layer && m.dir === dir) return m.yes;
    const yes = this.opaqueXattr(layer, dir) === 'x';
    this.xwhLast = { layer, dir, yes };
    return yes;
  }

  /** Whether a name is an aufs marker in this layer (never content). */
  private hiddenName(layer: number, name: string): boolean {
    return usesAufs(this.layers[layer]!.whiteouts) && name.startsWith(WH_PREFIX);
  }

  /** The merged root; undefined when no layer has a root directory. */
  root(): MergedEntry | undefined {
    if (this.rootEntry !== undefined) return this.rootEntry ?? undefined;
    const dirs: LayerRef[] = [];
    let top: { layer: number; stat: Stat } | undefined;
    for (let i = 0; i < this.layers.length; i++) {
      const st = this.lstat(i, '');
      if (!st) continue;
      if (st.type !== 'dir') {
        this.note(`${this.layers[i]!.path} is a ${st.type}, not a directory; layer skipped`);
        continue;
      }
      top ??= { layer: i, stat: st };
      dirs.push({ layer: i, rel: '' });
      if (this.opaqueXattr(i, '') === 'y' || (usesAufs(this.layers[i]!.whiteouts) && this.lstat(i, WH_OPAQUE)))
        this.note(`${this.layers[i]!.path}: the layer root is marked opaque; ignored, as overlayfs does`);
    }
    this.rootEntry = top ? { path: '/', name: '', stat: top.stat, layer: top.layer, rel: '', dirs } : null;
    return this.rootEntry ?? undefined;
  }

  /** Looks `name` up in a merged directory; undefined when absent or whited out. */
  child(dir: MergedEntry, name: string): MergedEntry | undefined {
    if (!dir.dirs || name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) return undefined;
    let found: MergedEntry | undefined;
    const refs = dir.dirs;
    for (let k = 0; k < refs.length; k++) {
      const { layer, rel: dirRel } = refs[k]!;
      const style = this.layers[layer]!.whiteouts;
      const rel = joinRel(dirRel, name);
      // aufs: `.wh.<name>` beside it hides <name> in the layers below this one.
      const aufsWhiteout = usesAufs(style) && !name.startsWith(WH_PREFIX) && this.lstat(layer, joinRel(dirRel, WH_PREFIX + name)) !== undefined;
      const st = this.hiddenName(layer, name) ? undefined : this.lstat(layer, rel);
      if (st) {
        if (this.isOverlayWhiteout(layer, dirRel, st, rel)) break;
        if (!found) {
          found = { path: childPath(dir.path, name), name, stat: st, layer, rel };
          if (st.type !== 'dir') {
            if (st.type === 'file' && usesOverlay(style) && this.xattrValue(layer, rel, OVERLAY_METACOPY) !== undefined) this.metacopy(found, refs.slice(k + 1), name);
            break;
          }
          found.dirs = [{ layer, rel }];
          const redirect = usesOverlay(style) ? this.xattrValue(layer, rel, OVERLAY_REDIRECT) : undefined;
          if (this.isOpaqueDir(layer, rel) || aufsWhiteout) {
            found.opaque = true;
            break;
          }
          if (redirect !== undefined) {
            this.followRedirect(found, layer, dirRel, redirect);
            break;
          }
        } else {
          if (st.type !== 'dir') break;
          found.dirs!.push({ layer, rel });
          if (this.isOpaqueDir(layer, rel) || aufsWhiteout) break;
        }
      }
      if (aufsWhiteout) break;
    }
    return found;
  }

  /** Metadata-only copy-up: the bytes are in the first lower layer holding a regular file there. */
  private metacopy(e: MergedEntry, below: LayerRef[], name: string): void {
    for (const { layer, rel: dirRel } of below) {
      const rel = joinRel(dirRel, name);
      const st = this.lstat(layer, rel);
      if (!st) continue;
      if (st.type === 'file') {
        e.data = { layer, rel };
        e.stat = withSize(e.stat, st.size);
      }
      break;
    }
    if (!e.data) this.note(`${e.path}: metacopy file without lower data (the bytes are not in this stack)`);
  }

  /**
   * redirect_dir: the directory was renamed; its lower contents are at the redirect path
   * (absolute from the layer root, or a name in the same parent).
   */
  private followRedirect(e: MergedEntry, layer: number, dirRel: string, raw: Buffer): void {
    const v = raw.toString('utf8');
    e.redirect = v;
    const parts = (v.startsWith('/') ? v : joinRel(dirRel, v)).split('/').filter((x) => x !== '' && x !== '.');
    if (parts.includes('..') || v.includes('\0')) {
      this.note(`${e.path}: unusable overlay redirect ${JSON.stringify(v)}`);
      return;
    }
    const target = parts.join('/');
    for (let j = layer + 1; j < this.layers.length; j++) {
      // Every component on the way must be a plain directory of that layer.
      let ok = true;
      let cur = '';
      for (const p of parts.slice(0, -1)) {
        cur = joinRel(cur, p);
        if (this.lstat(j, cur)?.type !== 'dir') {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      const st = this.lstat(j, target);
      if (!st) continue;
      if (st.type !== 'dir') break;
      e.dirs!.push({ layer: j, rel: target });
      if (this.isOpaqueDir(j, target)) break;
    }
  }

  /** Names in a merged directory, byte-sorted (whiteouts and markers left out, nothing stat'ed). */
  names(dir: MergedEntry): string[] {
    if (!dir.dirs) return [];
    const names = new Set<string>();
    for (const { layer, rel } of dir.dirs) {
      for (const n of this.readdirLayer(layer, rel)) if (!this.hiddenName(layer, n)) names.add(n);
    }
    return [...names].sort(compareNames);
  }

  /** The entries of a merged directory, byte-sorted. */
  list(dir: MergedEntry): MergedEntry[] {
    const out: MergedEntry[] = [];
    for (const n of this.names(dir)) {
      const e = this.child(dir, n);
      if (e) out.push(e);
    }
    return out;
  }

  /**
   * Resolves a container path in the merged view. Intermediate symlinks are always followed, the
   * last one when `follow`; inside the container's root only. Undefined when absent; throws
   * EvidenceError ENOTDIR / ELOOP / EBADPATH.
   */
  lookup(path: string, follow = true): MergedEntry | undefined {
    const root = this.root();
    if (!root) return undefined;
    let chain: MergedEntry[] = [root];
    let pending = splitContainerPath(path);
    let hops = 0;
    let steps = 0;
    while (pending.length > 0) {
      if (++steps > MAX_LOOKUP_STEPS) throw new EvidenceError('ELOOP', path, 'path expands to too many components');
      const name = pending[0]!;
      pending = pending.slice(1);
      const cur = chain[chain.length - 1]!;
      if (name === '..') {
        if (chain.length > 1) chain.pop();
        continue;
      }
      if (cur.stat.type !== 'dir') throw new EvidenceError('ENOTDIR', path, `${cur.path} is not a directory`);
      const next = this.child(cur, name);
      if (!next) return undefined;
      if (next.stat.type === 'symlink' && (pending.length > 0 || follow)) {
        if (++hops > this.maxSymlinks) throw new EvidenceError('ELOOP', path, 'too many levels of symbolic links');
        const target = next.stat.linkTarget ?? '';
        if (target === '') return undefined;
        if (target.startsWith('/')) chain = [root];
        pending = [...splitContainerPath(target), ...pending];
        continue;
      }
      chain.push(next);
    }
    return chain[chain.length - 1];
  }

  /**
   * Where a symlink leads inside the container: the resolved entry, or undefined when it dangles.
   * Throws ELOOP for loops.
   */
  resolveLink(e: MergedEntry): MergedEntry | undefined {
    if (e.stat.type !== 'symlink') return e;
    return this.lookup(e.path, true);
  }

  /** The layer and path holding a regular file's bytes. */
  dataOf(e: MergedEntry): LayerRef {
    return e.data ?? { layer: e.layer, rel: e.rel };
  }

  /** Streams a regular file's bytes. */
  open(e: MergedEntry): Readable {
    if (e.stat.type !== 'file') throw new EvidenceError('EIO', e.path, `not a regular file (${e.stat.type})`);
    const d = this.dataOf(e);
    return this.layers[d.layer]!.src.createReadStream(d.rel);
  }

  readFile(e: MergedEntry, limit: number): Buffer {
    if (e.stat.type !== 'file') throw new EvidenceError('EIO', e.path, `not a regular file (${e.stat.type})`);
    const d = this.dataOf(e);
    return this.layers[d.layer]!.src.readFile(d.rel, limit);
  }

  /** Extended attributes of the entry as its layer stores them (overlay's private ones included). */
  xattrs(e: MergedEntry): Map<string, Buffer> {
    return this.layerXattrs(e.layer, e.rel);
  }

  /**
   * Pre-order walk below `start` (not included), names byte-sorted in every directory: the order
   * Go's filepath.Walk, hence `docker export`, uses. Symlinks are not followed. Stops descending
   * past maxDepth (noted).
   */
  *walk(start: MergedEntry, opts: { maxDepth?: number } = {}): Generator<MergedEntry> {
    const maxDepth = Math.min(opts.maxDepth ?? this.maxDepth, this.maxDepth);
    const stack: { entries: MergedEntry[]; i: number }[] = [{ entries: this.list(start), i: 0 }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.i >= top.entries.length) {
        stack.pop();
        continue;
      }
      const e = top.entries[top.i++]!;
      yield e;
      if (e.stat.type === 'dir') {
        if (stack.length >= maxDepth) {
          if (maxDepth === this.maxDepth) this.note(`${e.path}: deeper than ${this.maxDepth} levels; not descended`);
          continue;
        }
        stack.push({ entries: this.list(e), i: 0 });
      }
    }
  }

  /**
   * What each layer holds at a container path (no symlinks followed, redirects ignored): the
   * copies the merged entry hides, whiteouts and opaque marks. For `fs stat`.
   */
  versions(path: string): { layer: number; what: 'whiteout' | 'entry'; stat: Stat; opaque?: boolean }[] {
    const parts = splitContainerPath(path);
    if (parts.includes('..')) return [];
    const out: { layer: number; what: 'whiteout' | 'entry'; stat: Stat; opaque?: boolean }[] = [];
    for (let i = 0; i < this.layers.length; i++) {
      let rel = '';
      let ok = true;
      for (const p of parts.slice(0, -1)) {
        rel = joinRel(rel, p);
        if (this.lstat(i, rel)?.type !== 'dir') {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      const name = parts[parts.length - 1];
      if (name === undefined) continue;
      if (usesAufs(this.layers[i]!.whiteouts)) {
        const wh = this.lstat(i, joinRel(rel, WH_PREFIX + name));
        if (wh) out.push({ layer: i, what: 'whiteout', stat: wh });
      }
      const full = joinRel(rel, name);
      const st = this.hiddenName(i, name) ? undefined : this.lstat(i, full);
      if (!st) continue;
      if (this.isOverlayWhiteout(i, rel, st, full)) out.push({ layer: i, what: 'whiteout', stat: st });
      else out.push({ layer: i, what: 'entry', stat: st, opaque: st.type === 'dir' ? this.isOpaqueDir(i, full) : undefined });
    }
    return out;
  }
}

// -------------------------------------------------------------------------------------------------
// Layer stacks of containers and images

/** A container's or image's layer directories, and what Docker's Changes compares against. */
export interface LayerStack {
  kind: 'container' | 'image';
  /** Graph driver or snapshotter name. */
  driver: string;
  /** Image store name. */
  store: string;
  /** The merged view's layers, upper first (only those present). */
  layers: LayerDir[];
  /**
   * The stack Docker's `Changes` compares the container's view with (`mountedLayer.cacheParent`:
   * the init layer and the image below it). Containers only.
   */
  base?: LayerDir[];
  /**
   * How Docker computes changes for this driver: 'naive' = two merged trees compared
   * (`archive.ChangesDirs`; overlay2, fuse-overlayfs, vfs, btrfs, containerd), 'aufs' = the RW
   * branch walked against its parents (`archive.Changes`).
   */
  changes: 'naive' | 'aufs';
  /** Layers that should be there and are not, and other reasons the view may be incomplete. */
  problems: string[];
}

/** Thrown when no stack can be built at all (unsupported driver, no RW layer). */
export class StackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StackError';
  }
}

interface DriverLayout {
  /** Layer dir of a driver id, relative to the data root. */
  dir(id: string, role: LayerDir['role']): string;
  whiteouts: WhiteoutStyle;
  /** Image layers' whiteout style when it differs (overlay v1: `root/` trees had deletions applied). */
  imageWhiteouts?: WhiteoutStyle;
  /**
   * overlay (v1): image layers are full trees `overlay/<id>/root` (hard-link farms of the parent
   * plus the layer's diff, deletions applied); a container or init layer is `upper/` over the
   * one lowerdir named by its `lower-id` (FORMATS.md §8).
   */
  overlay1?: boolean;
  /** Each dir is a full copy of the tree (vfs, btrfs): the view is the top dir alone. */
  fullCopy: boolean;
  changes: LayerStack['changes'];
}

function driverLayout(driver: string, home: string): DriverLayout | undefined {
  switch (driver) {
    case 'overlay2':
      return { dir: (id) => `${home}/${id}/diff`, whiteouts: 'overlay', fullCopy: false, changes: 'naive' };
    case 'fuse-overlayfs':
      return { dir: (id) => `${home}/${id}/diff`, whiteouts: 'both', fullCopy: false, changes: 'naive' };
    case 'aufs':
      return { dir: (id) => `aufs/diff/${id}`, whiteouts: 'aufs', fullCopy: false, changes: 'aufs' };
    case 'vfs':
      return { dir: (id) => `vfs/dir/${id}`, whiteouts: 'none', fullCopy: true, changes: 'naive' };
    case 'btrfs':
      return { dir: (id) => `btrfs/subvolumes/${id}`, whiteouts: 'none', fullCopy: true, changes: 'naive' };
    case 'overlay':
      // Upper dirs are written by the kernel (char 0:0 whiteouts, opaque xattrs); Docker wraps the
      // driver in NaiveDiffDriver, so changes compare two merged trees.
      return { dir: (id, role) => `overlay/${id}/${role === 'image' ? 'root' : 'upper'}`, whiteouts: 'overlay', imageWhiteouts: 'none', fullCopy: false, overlay1: true, changes: 'naive' };
    default:
      return undefined;
  }
}

/** Driver ids come from evidence files: only a single plain path component is used. */
function safeId(id: string | undefined): id is string {
  return id !== undefined && id !== '' && id !== '.' && id !== '..' && !id.includes('/') && !id.includes('\0');
}

function openLayer(src: Source, path: string, problems: string[], what: string): Source | undefined {
  try {
    const st = src.lstat(path);
    if (!st) {
      problems.push(`${what}: ${path} is missing`);
      return undefined;
    }
    if (st.type !== 'dir') {
      problems.push(`${what}: ${path} is a ${st.type}, not a directory`);
      return undefined;
    }
    return src.sub(path);
  } catch (e) {
    if (!isEvidenceError(e)) throw e;
    problems.push(`${what}: ${path}: ${e.message}`);
    return undefined;
  }
}

interface Want {
  role: LayerDir['role'];
  id: string;
  chainID?: string;
  diffID?: string;
  index?: number;
}

function materialise(src: Source, layout: DriverLayout, wants: Want[], problems: string[]): LayerDir[] {
  const out: LayerDir[] = [];
  for (const w of wants) {
    if (!safeId(w.id)) {
      problems.push(`${w.role} layer: unusable driver id ${JSON.stringify(w.id)}`);
      continue;
    }
    const path = layout.dir(w.id, w.role);
    const what = w.role === 'image' ? `image layer ${w.index ?? '?'}${w.chainID ? ` (${w.chainID})` : ''}` : `${w.role} layer`;
    const s = openLayer(src, path, problems, what);
    const whiteouts = w.role === 'image' ? (layout.imageWhiteouts ?? layout.whiteouts) : layout.whiteouts;
    if (s) out.push({ id: w.id, src: s, whiteouts, role: w.role, path, chainID: w.chainID, diffID: w.diffID, index: w.index });
  }
  return out;
}

/** Image layers of a chain, top first, as driver ids. */
function chainWants(model: Model, topChainID: string | undefined, problems: string[], total?: number): Want[] {
  if (!topChainID) return [];
  const { chain, problem } = model.parentChain(topChainID);
  if (problem) problems.push(problem);
  const n = total ?? chain.length;
  return chain.map((layer, i) => ({ role: 'image' as const, id: layer.record?.cacheID ?? '', chainID: layer.chainID, diffID: layer.record?.diffID, index: n - 1 - i }));
}

/**
 * A container's layer directories, upper first: RW (`mount-id`), init (`init-id`), then the image
 * chain from `layerdb/mounts/<id>/parent` (FORMATS.md §1.4). Graph-driver stores; containerd
 * stores go through the hook below.
 */
export function containerStack(model: Model, c: ContainerNode): LayerStack {
  if (c.store?.kind === 'containerd') return containerdContainerStack(model, c);
  const driver = c.record.driver;
  const store = c.store?.kind === 'graphdriver' ? c.store : model.stores.find((s) => s.driver === driver);
  if (!store) throw new StackError(`no image store for driver ${JSON.stringify(driver)} in this evidence`);
  const layout = driverLayout(store.driver, store.dirs.home);
  if (!layout) throw new StackError(`the ${store.driver} driver keeps no plain layer directories dockscope can read`);
  const problems: string[] = [];
  const m = c.mount;
  if (!m?.mountID) throw new StackError(`container ${c.id} has no RW layer (layerdb/mounts/${c.id}/mount-id)`);
  const upper: Want = { role: 'upper', id: m.mountID };
  const init: Want | undefined = m.initID ? { role: 'init', id: m.initID } : undefined;
  const image = chainWants(model, m.parent, problems);
  const [rw] = materialise(model.src, layout, [upper], problems);
  if (!rw) throw new StackError(problems.join('; '));
  if (layout.overlay1) return overlay1ContainerStack(model, store, c, rw, init, image, layout, problems);
  const below = materialise(model.src, layout, [...(init ? [init] : []), ...image], problems);
  if (layout.fullCopy) {
    // vfs/btrfs: each dir is whole; Docker diffs the RW dir against the init dir (or the image top).
    return { kind: 'container', driver, store: store.name, layers: [rw], base: below.slice(0, 1), changes: layout.changes, problems };
  }
  return { kind: 'container', driver, store: store.name, layers: [rw, ...below], base: below, changes: layout.changes, problems };
}

/**
 * overlay v1 (`moby@v20.10.0:daemon/graphdriver/overlay/overlay.go`): `Create` of a layer on an
 * image layer writes `lower-id` = that layer and an empty `upper/`; on a layer with an `upper/`
 * (a container on its init layer) it copies the parent's `lower-id` and its whole `upper/`. So
 * what the container saw is its own `upper/` over `overlay/<lower-id>/root` alone: the init
 * layer's files are already copies in the container's upper (a file the container then deleted
 * leaves no whiteout when it was not in the lowerdir, so stacking init below would resurrect it).
 * Docker's Changes (NaiveDiffDriver) compares that with the init layer's own view: init `upper/`
 * over the same root.
 */
function overlay1ContainerStack(model: Model, store: GraphStore, c: ContainerNode, rw: LayerDir, init: Want | undefined, image: Want[], layout: DriverLayout, problems: string[]): LayerStack {
  const top = image[0];
  let lowerId = c.rw?.lowerId;
  if (!lowerId) {
    // Create copied the init layer's lower-id, so that one names the same root.
    const fromInit = init ? store.dirs.dir(init.id)?.lowerId : undefined;
    problems.push(`overlay/${rw.id}/lower-id is missing or unreadable; using ${fromInit ? `the init layer's lower-id` : 'the image top layer'}`);
    lowerId = fromInit;
  }
  if (lowerId && top && top.id !== lowerId) problems.push(`lower-id ${lowerId} is not the image top layer's cache-id ${top.id}; the lower-id is what was mounted`);
  const lowerWant: Want | undefined = lowerId ? { ...(top?.id === lowerId ? top : {}), role: 'image', id: lowerId } : top;
  const [lower] = lowerWant ? materialise(model.src, layout, [lowerWant], problems) : [];
  const [initDir] = init ? materialise(model.src, layout, [init], problems) : [];
  const below = lower ? [lower] : [];
  return { kind: 'container', driver: c.record.driver, store: store.name, layers: [rw, ...below], base: initDir ? [initDir, ...below] : below, changes: layout.changes, problems };
}

/** An image's layer directories, top first (its rootfs diffIDs, base-first in the config, reversed). */
export function imageStack(model: Model, img: ImageNode): LayerStack {
  if (img.store.kind === 'containerd') return containerdImageStack(model, img);
  const store = img.store;
  const layout = driverLayout(store.driver, store.dirs.home);
  if (!layout) throw new StackError(`the ${store.driver} driver keeps no plain layer directories dockscope can read`);
  const problems: string[] = [];
  const wants: Want[] = [];
  for (let i = img.layers.length - 1; i >= 0; i--) {
    const l = img.layers[i]!;
    const id = l.layer?.record?.cacheID;
    if (!id) {
      problems.push(`image layer ${i} (${l.chainID}) is not in layerdb or has no cache-id`);
      continue;
    }
    wants.push({ role: 'image', id, chainID: l.chainID, diffID: l.diffID, index: i });
  }
  // overlay v1 image layers are full trees too: the top `root/` is the whole image.
  let layers = materialise(model.src, layout, layout.overlay1 ? wants.slice(0, 1) : wants, problems);
  if (layout.fullCopy) layers = layers.slice(0, 1);
  return { kind: 'image', driver: store.driver, store: store.name, layers, changes: layout.changes, problems };
}

// -------------------------------------------------------------------------------------------------
// HOOK(containerd): containerd image store stacks.
//
// A containerd container is `<cid>` (Active, the upper) on `<cid>-init` on the image's committed
// snapshots; each snapshot's files are in `<snapshotter root>/snapshots/<id>/fs` (FORMATS.md §9),
// overlay whiteouts as in overlay2. The model exposes them as `c.snapshots` {rw, init, lower[]}
// with `fsDir` relative to the containerd root view `store.src`. Everything containerd-specific
// stays in the two functions below; the rest of this module (MergedFs, diff, export) is
// store-agnostic.

function snapshotLayer(store: { src: Source }, s: { key: string; fsDir?: string; fsPresent: boolean } | undefined, role: LayerDir['role'], problems: string[], extra: Partial<LayerDir> = {}): LayerDir | undefined {
  if (!s) return undefined;
  if (!s.fsDir) {
    problems.push(`${role} snapshot ${s.key}: its directory is unknown`);
    return undefined;
  }
  const src = openLayer(store.src, s.fsDir, problems, `${role} snapshot ${s.key}`);
  return src ? { id: `snapshot:${s.key}`, src, whiteouts: 'overlay', role, path: s.fsDir, ...extra } : undefined;
}

function containerdContainerStack(_model: Model, c: ContainerNode): LayerStack {
  const store = c.store;
  const cs = c.snapshots;
  if (!store || store.kind !== 'containerd' || !cs) throw new StackError(`container ${c.id}: containerd snapshots not resolved`);
  const problems = [...cs.problems];
  const rw = snapshotLayer(store, cs.rw, 'upper', problems);
  if (!rw) throw new StackError(problems.join('; ') || `container ${c.id} has no RW snapshot`);
  const below: LayerDir[] = [];
  const init = snapshotLayer(store, cs.init, 'init', problems);
  if (init) below.push(init);
  for (const s of cs.lower) {
    const l = snapshotLayer(store, s, 'image', problems, { chainID: s.isLayer ? s.key : undefined });
    if (l) below.push(l);
  }
  return { kind: 'container', driver: c.record.driver, store: store.name, layers: [rw, ...below], base: below, changes: 'naive', problems };
}

function containerdImageStack(_model: Model, img: ImageNode): LayerStack {
  const store = img.store;
  if (store.kind !== 'containerd') throw new StackError('not a containerd image');
  const problems: string[] = [];
  const layers: LayerDir[] = [];
  for (let i = img.layers.length - 1; i >= 0; i--) {
    const l = img.layers[i]!;
    const snap = l.layer?.snapshot;
    if (!snap) {
      problems.push(`image layer ${i} (${l.chainID}) has no snapshot`);
      continue;
    }
    const d = snapshotLayer(store, snap, 'image', problems, { chainID: l.chainID, diffID: l.diffID, index: i });
    if (d) layers.push(d);
  }
  return { kind: 'image', driver: store.driver, store: store.name, layers, changes: 'naive', problems };
}
// END HOOK(containerd)
// -------------------------------------------------------------------------------------------------

/** Short label of a layer for tables: 'upper', 'init', 'L3' (image layer 3, base = 0). */
export function layerLabel(l: LayerDir): string {
  return l.role === 'image' ? `L${l.index ?? '?'}` : l.role;
}

// -------------------------------------------------------------------------------------------------
// What the commands ask of a view

/** A container or image a command was pointed at. */
export interface Target {
  kind: 'container' | 'image';
  id: string;
  /** Container name, or the image's first tag. */
  name: string;
  container?: ContainerNode;
  image?: ImageNode;
}

/**
 * Resolves `ref` like `docker inspect` without --type: a container first (ID, name, prefix), then
 * an image. An ambiguous container prefix is an error rather than a fall-through.
 */
export function resolveTarget(model: Model, ref: string, only?: 'container' | 'image'): Target {
  const asContainer = (c: ContainerNode): Target => ({ kind: 'container', id: c.id, name: c.record.name.replace(/^\//, ''), container: c });
  const asImage = (i: ImageNode): Target => ({ kind: 'image', id: i.id, name: i.repoTags[0] ?? i.id, image: i });
  if (only === 'container') return asContainer(resolveContainer(model, ref));
  if (only === 'image') return asImage(resolveImage(model, ref));
  try {
    return asContainer(resolveContainer(model, ref));
  } catch (e) {
    if (!(e instanceof ResolveError) || e.candidates.length > 0) throw e;
  }
  try {
    return asImage(resolveImage(model, ref));
  } catch (e) {
    if (!(e instanceof ResolveError) || e.candidates.length > 0) throw e;
    throw new ResolveError(`no container or image ${JSON.stringify(ref)}: searched ${model.containers.size} containers and ${model.images.size} images`);
  }
}

/** The layer stack and merged view of a target. Throws StackError when there is none. */
export function openView(model: Model, t: Target, opts: MergedOptions = {}): { stack: LayerStack; view: MergedFs } {
  const stack = t.container ? containerStack(model, t.container) : imageStack(model, t.image!);
  if (stack.layers.length === 0) throw new StackError(`no layer directory of ${t.kind} ${t.id} is in the evidence${stack.problems.length ? `: ${stack.problems.join('; ')}` : ''}`);
  return { stack, view: new MergedFs(stack.layers, opts) };
}

/** A merged entry as commands print it. Times are nanoseconds as decimal strings. */
export interface EntryInfo {
  path: string;
  name: string;
  type: Stat['type'];
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  mtimeNs: string;
  atimeNs?: string;
  ctimeNs?: string;
  rdev?: { major: number; minor: number };
  linkTarget?: string;
  layer: { label: string; role: LayerDir['role']; index?: number; id: string; path: string };
  opaque?: boolean;
  redirect?: string;
  /** metacopy: the layer holding the bytes. */
  dataLayer?: string;
}

export function describeEntry(view: MergedFs, e: MergedEntry): EntryInfo {
  const st = e.stat;
  const l = view.layers[e.layer]!;
  const info: EntryInfo = {
    path: e.path,
    name: e.name,
    type: st.type,
    mode: st.mode,
    uid: st.uid,
    gid: st.gid,
    size: st.size,
    nlink: st.nlink,
    mtimeNs: st.mtimeNs.toString(),
    layer: { label: layerLabel(l), role: l.role, index: l.index, id: l.id, path: e.rel ? `${l.path}/${e.rel}` : l.path },
  };
  if (st.atimeNs !== undefined) info.atimeNs = st.atimeNs.toString();
  if (st.ctimeNs !== undefined) info.ctimeNs = st.ctimeNs.toString();
  if (st.type === 'char' || st.type === 'block') info.rdev = { major: st.rdevMajor, minor: st.rdevMinor };
  if (st.type === 'symlink') info.linkTarget = st.linkTarget ?? '';
  if (e.opaque) info.opaque = true;
  if (e.redirect !== undefined) info.redirect = e.redirect;
  if (e.data) info.dataLayer = layerLabel(view.layers[e.data.layer]!);
  return info;
}

/** find(1)-style glob (`*`, `?`, `[...]`, `[!...]`, `\x`) to a whole-name regular expression. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else if (ch === '\\' && i + 1 < glob.length) re += glob[++i]!.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
    else if (ch === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, end);
      const neg = body.startsWith('!') || body.startsWith('^');
      if (neg) body = body.slice(1);
      re += `[${neg ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
      i = end;
    } else re += ch.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

export interface FindFilter {
  /** Name globs (any matches). */
  names?: string[];
  /** f d l c b p s */
  types?: string[];
  /** mtime strictly after (ns). */
  newerThanNs?: bigint;
  /** mtime at or before (ns). */
  olderThanNs?: bigint;
  /** Only entries from layers with this label ('upper', 'init', 'L0', …) or role ('image'). */
  layer?: string;
  maxDepth?: number;
}

const TYPE_LETTER: Record<Stat['type'], string> = { file: 'f', dir: 'd', symlink: 'l', char: 'c', block: 'b', fifo: 'p', socket: 's', other: '?' };

/** Entries at and below `start` that pass the filter, in walk order. */
export function* findEntries(view: MergedFs, start: MergedEntry, f: FindFilter): Generator<MergedEntry> {
  const res = (f.names ?? []).map(globToRegExp);
  const ok = (e: MergedEntry): boolean => {
    if (res.length && !res.some((r) => r.test(e.name || '/'))) return false;
    if (f.types?.length && !f.types.includes(TYPE_LETTER[e.stat.type])) return false;
    if (f.newerThanNs !== undefined && !(e.stat.mtimeNs > f.newerThanNs)) return false;
    if (f.olderThanNs !== undefined && !(e.stat.mtimeNs <= f.olderThanNs)) return false;
    if (f.layer !== undefined) {
      const l = view.layers[e.layer]!;
      if (layerLabel(l) !== f.layer && l.role !== f.layer) return false;
    }
    return true;
  };
  if (ok(start)) yield start;
  if (start.stat.type !== 'dir' || f.maxDepth === 0) return;
  const base = start.path === '/' ? 0 : start.path.split('/').length - 1;
  const maxDepth = f.maxDepth === undefined ? undefined : f.maxDepth;
  for (const e of view.walk(start, { maxDepth })) {
    if (maxDepth !== undefined && e.path.split('/').length - 1 - base > maxDepth) continue;
    if (ok(e)) yield e;
  }
}

/** "2024-01-01", "2024-01-01T10:00:00.123456789Z", "+02:00" offsets, or Unix seconds[.frac] → ns. */
export function parseTimeNs(s: string): bigint {
  const m = /^(\d{4})-(\d\d)-(\d\d)(?:[Tt ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,9})\d*)?)?)?\s*(Z|z|[+-]\d\d:?\d\d)?$/.exec(s.trim());
  if (m) {
    const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0));
    if (Number.isNaN(ms) || Number(m[2]) > 12 || Number(m[3]) > 31 || Number(m[4] ?? 0) > 23 || Number(m[5] ?? 0) > 59 || Number(m[6] ?? 0) > 60) throw new Error(`${JSON.stringify(s)}: out of range`);
    let off = 0;
    const z = m[8];
    if (z && z !== 'Z' && z !== 'z') {
      const d = z.replace(':', '');
      off = (d[0] === '-' ? -1 : 1) * (Number(d.slice(1, 3)) * 3600 + Number(d.slice(3, 5)) * 60);
    }
    return (BigInt(ms / 1000) - BigInt(off)) * 1_000_000_000n + BigInt((m[7] ?? '').padEnd(9, '0') || '0');
  }
  const u = /^(-?\d{1,15})(?:\.(\d{1,9})\d*)?$/.exec(s.trim());
  if (u) return BigInt(u[1]!) * 1_000_000_000n + BigInt((u[2] ?? '').padEnd(9, '0') || '0');
  throw new Error(`${JSON.stringify(s)} is not an ISO 8601 time or Unix seconds`);
}
