/**
 * `docker diff` offline: what a container changed, as the set of A/C/D entries the engine's
 * `GET /containers/<id>/changes` reports (Kind 0 = C modified, 1 = A added, 2 = D deleted).
 *
 * Facts from moby (v20.10.24 and v26.1.5 agree):
 *  - `mountedLayer.Changes` diffs the RW layer against `cacheParent()`: the init layer when there
 *    is one, so the init layer's placeholders (/etc/hosts, /.dockerenv, …) never show.
 *  - overlay2, fuse-overlayfs, vfs, btrfs and the containerd store use the naive differ
 *    (`NaiveDiffDriver.Changes` → `archive.ChangesDirs(merged RW, merged init)`): two whole trees
 *    compared file by file (`FileInfo.addChanges`):
 *      - a path only in the new tree is A, and so is everything below it;
 *      - a path only in the old tree is D, and nothing below it is listed;
 *      - a path in both is C when `statDifferent` (st_mode incl. type bits, uid, gid, rdev; and,
 *        unless the *old* st_mode has the S_IFDIR bit, mtime — equal when seconds match and
 *        either nanosecond part is 0 — and size) or its `security.capability` differs;
 *      - a directory (st_mode & S_IFDIR: block devices and sockets count, a Go quirk kept here)
 *        that was not itself A or C but has changes below it is reported C;
 *      - the old tree's children are only looked at when the new path is such a "directory".
 *    The two merged trees differ only where the RW layer has entries, so only those subtrees
 *    are compared here: a subtree whose layer directories are the same in both views is skipped.
 *  - aufs uses `archive.Changes(parent dirs, rw)`: the RW branch is walked alone (see aufsChanges).
 */
import { createHash } from 'node:crypto';
import type { ContainerNode, Model } from '../model/graph.js';
import { isEvidenceError, type Source, type Stat } from '../source/types.js';
import { compareNames, containerStack, isWhiteoutDevice, MergedFs, type LayerDir, type LayerRef, type LayerStack, type MergedEntry } from './mergedfs.js';

export const KIND = { C: 0, A: 1, D: 2 } as const;
export type ChangeKind = 0 | 1 | 2;
export const KIND_LETTER = ['C', 'A', 'D'] as const;

/** One entry as the Engine API returns it. */
export interface Change {
  Path: string;
  Kind: ChangeKind;
}

const S_IFMT: Record<Stat['type'], number> = {
  file: 0o100000,
  dir: 0o040000,
  symlink: 0o120000,
  char: 0o020000,
  block: 0o060000,
  fifo: 0o010000,
  socket: 0o140000,
  other: 0,
};
const S_IFDIR = 0o040000;

/** st_mode as Go's syscall.Stat_t has it: type bits and permission bits. */
export function stMode(st: Stat): number {
  return S_IFMT[st.type] | (st.mode & 0o7777);
}

/** `FileInfo.isDir` in moby: `Mode() & S_IFDIR != 0`, true for block devices and sockets too. */
function dirBit(st: Stat): boolean {
  return (stMode(st) & S_IFDIR) !== 0;
}

const NS = 1_000_000_000n;

function timespec(ns: bigint): [bigint, bigint] {
  let sec = ns / NS;
  let nsec = ns % NS;
  if (nsec < 0n) {
    sec -= 1n;
    nsec += NS;
  }
  return [sec, nsec];
}

/** moby `sameFsTimeSpec`: same second and same nanoseconds, or either nanosecond part is 0. */
export function sameFsTime(a: bigint, b: bigint): boolean {
  const [as, an] = timespec(a);
  const [bs, bn] = timespec(b);
  return as === bs && (an === bn || an === 0n || bn === 0n);
}

/** moby `statDifferent` (changes_unix.go). */
export function statDifferent(oldSt: Stat, newSt: Stat): boolean {
  if (stMode(oldSt) !== stMode(newSt) || oldSt.uid !== newSt.uid || oldSt.gid !== newSt.gid) return true;
  if (oldSt.rdevMajor !== newSt.rdevMajor || oldSt.rdevMinor !== newSt.rdevMinor) return true;
  if (!dirBit(oldSt) && (!sameFsTime(oldSt.mtimeNs, newSt.mtimeNs) || oldSt.size !== newSt.size)) return true;
  return false;
}

function capability(fs: MergedFs, e: MergedEntry): Buffer | undefined {
  return fs.xattrs(e).get('security.capability');
}

function sameBuf(a: Buffer | undefined, b: Buffer | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.equals(b);
}

function refKey(fs: MergedFs, r: LayerRef): string {
  return `${fs.layers[r.layer]!.id}\0${r.rel}`;
}

/** Both views read this entry from the same layer path: its stat and subtree are identical. */
function sameSource(nfs: MergedFs, n: MergedEntry, ofs: MergedFs, o: MergedEntry): boolean {
  if (refKey(nfs, { layer: n.layer, rel: n.rel }) !== refKey(ofs, { layer: o.layer, rel: o.rel })) return false;
  const nd = n.dirs ?? [];
  const od = o.dirs ?? [];
  if (nd.length !== od.length) return false;
  for (let i = 0; i < nd.length; i++) if (refKey(nfs, nd[i]!) !== refKey(ofs, od[i]!)) return false;
  const ndata = n.data ? refKey(nfs, n.data) : '';
  const odata = o.data ? refKey(ofs, o.data) : '';
  return ndata === odata;
}

/**
 * archive.ChangesDirs(new, old) over two merged views, with moby's rules (see the file comment).
 * Depth is bounded by the views' maxDepth; what is deeper is noted in `notes`.
 */
export function naiveChanges(nfs: MergedFs, ofs: MergedFs | undefined, notes: string[] = []): Change[] {
  const changes: Change[] = [];
  const nroot = nfs.root();
  if (!nroot) return changes;
  const oroot = ofs?.root();
  const visit = (info: MergedEntry, old: MergedEntry | undefined, added: boolean, depth: number) => {
    const sizeAtEntry = changes.length;
    if (!old && depth > 0) {
      changes.push({ Path: info.path, Kind: KIND.A });
      added = true;
    }
    const isRealDir = info.stat.type === 'dir';
    if (old && isRealDir && old.stat.type === 'dir' && sameSource(nfs, info, ofs!, old)) return;
    if (depth > nfs.maxDepth) {
      notes.push(`${info.path}: deeper than ${nfs.maxDepth} levels; not compared`);
      return;
    }
    const isDir = info.path === '/' || dirBit(info.stat);
    const oldChildren = new Map<string, MergedEntry>();
    if (old && isDir && old.stat.type === 'dir') for (const c of ofs!.list(old)) oldChildren.set(c.name, c);
    const newChildren = isRealDir ? nfs.list(info) : [];
    for (const child of newChildren) {
      const oc = oldChildren.get(child.name);
      let childAdded = false;
      if (oc) {
        if (!sameSource(nfs, child, ofs!, oc) && (statDifferent(oc.stat, child.stat) || !sameBuf(capability(ofs!, oc), capability(nfs, child)))) {
          changes.push({ Path: child.path, Kind: KIND.C });
          childAdded = true;
        }
        oldChildren.delete(child.name);
      }
      visit(child, oc, childAdded, depth + 1);
    }
    for (const oc of [...oldChildren.values()].sort((a, b) => compareNames(a.name, b.name))) changes.push({ Path: oc.path, Kind: KIND.D });
    if (changes.length > sizeAtEntry && isDir && !added && info.path !== '/') changes.splice(sizeAtEntry, 0, { Path: info.path, Kind: KIND.C });
  };
  // The roots are never reported. Without a base Docker compares with an empty directory: every
  // path is then an addition.
  visit(nroot, oroot, false, 0);
  return changes;
}

// -------------------------------------------------------------------------------------------------
// aufs

interface RawEntry {
  /** Container path, '/a/b'. */
  path: string;
  rel: string;
  stat: Stat;
}

/** filepath.Walk over one layer directory: pre-order, names byte-sorted, symlinks not followed. */
function* walkRaw(src: Source, maxDepth: number, notes: string[]): Generator<RawEntry> {
  const list = (rel: string): RawEntry[] => {
    let names: string[];
    try {
      names = src.readdir(rel) ?? [];
    } catch (e) {
      if (!isEvidenceError(e)) throw e;
      notes.push(`${rel || '.'}: ${e.message}`);
      return [];
    }
    const out: RawEntry[] = [];
    for (const n of names.sort(compareNames)) {
      const r = rel ? `${rel}/${n}` : n;
      try {
        const st = src.lstat(r);
        if (st) out.push({ path: `/${r}`, rel: r, stat: st });
      } catch (e) {
        if (!isEvidenceError(e)) throw e;
        notes.push(`${r}: ${e.message}`);
      }
    }
    return out;
  };
  const stack: { entries: RawEntry[]; i: number }[] = [{ entries: list(''), i: 0 }];
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    if (top.i >= top.entries.length) {
      stack.pop();
      continue;
    }
    const e = top.entries[top.i++]!;
    yield e;
    if (e.stat.type === 'dir') {
      if (stack.length >= maxDepth) notes.push(`${e.path}: deeper than ${maxDepth} levels; not walked`);
      else stack.push({ entries: list(e.rel), i: 0 });
    }
  }
}

/** os.Stat in a lower branch: follows symlinks inside it; what cannot be followed counts as present. */
function statInLayer(src: Source, rel: string): Stat | undefined {
  try {
    return src.stat(rel);
  } catch (e) {
    if (!isEvidenceError(e)) throw e;
    try {
      return src.lstat(rel);
    } catch {
      return undefined;
    }
  }
}

/**
 * moby `archive.Changes(layers, rw)` with the aufs callbacks (pkg/archive/changes.go):
 *  - the RW branch is walked alone; `/.wh..wh.*` at its root is skipped (its children are not);
 *  - `.wh.<name>` is D of `<name>` (so `.wh..wh..opq` yields D of `.wh..opq`, as the engine does);
 *  - anything else is A, or C if the path exists (os.Stat, links followed) in any parent
 *    branch — unless both are directories with equal size, mode and mtime, then it is skipped;
 *  - an A or D adds its parent directory as C once, unless the parent was itself listed.
 */
export function aufsChanges(rw: LayerDir, parents: LayerDir[], maxDepth = 1024, notes: string[] = []): Change[] {
  const changes: Change[] = [];
  const changedDirs = new Set<string>();
  for (const e of walkRaw(rw.src, maxDepth, notes)) {
    const slash = e.path.lastIndexOf('/');
    const dir = slash === 0 ? '/' : e.path.slice(0, slash);
    const base = e.path.slice(slash + 1);
    if (dir === '/' && base.startsWith('.wh..wh.')) continue;
    let change: Change;
    if (base.startsWith('.wh.')) {
      change = { Path: dir === '/' ? `/${base.slice(4)}` : `${dir}/${base.slice(4)}`, Kind: KIND.D };
    } else {
      change = { Path: e.path, Kind: KIND.A };
      let skip = false;
      for (const l of parents) {
        const st = statInLayer(l.src, e.rel);
        if (!st) continue;
        if (st.type === 'dir' && e.stat.type === 'dir' && e.stat.size === st.size && stMode(e.stat) === stMode(st) && sameFsTime(e.stat.mtimeNs, st.mtimeNs)) skip = true;
        change.Kind = KIND.C;
        break;
      }
      if (skip) continue;
    }
    if (e.stat.type === 'dir') changedDirs.add(e.path);
    if (change.Kind === KIND.A || change.Kind === KIND.D) {
      if (!changedDirs.has(dir) && dir !== '/') {
        changes.push({ Path: dir, Kind: KIND.C });
        changedDirs.add(dir);
      }
    }
    changes.push(change);
  }
  return changes;
}

// -------------------------------------------------------------------------------------------------
// Container diff

export interface DiffResult {
  container: string;
  name: string;
  driver: string;
  method: LayerStack['changes'];
  /** Sorted by path. */
  changes: Change[];
  /** The merged view (RW on top), for details of added/changed entries. */
  view: MergedFs;
  stack: LayerStack;
  /** Why the answer may be incomplete: missing layers, unreadable entries, unknown opaque marks. */
  problems: string[];
}

function byPath(a: Change, b: Change): number {
  return compareNames(a.Path, b.Path) || a.Kind - b.Kind;
}

/** What `docker diff <container>` would list, from the evidence. Throws StackError when there is no RW layer. */
export function containerDiff(model: Model, c: ContainerNode): DiffResult {
  const stack = containerStack(model, c);
  const view = new MergedFs(stack.layers);
  const problems = [...stack.problems];
  const notes: string[] = [];
  let changes: Change[];
  if (stack.changes === 'aufs') {
    changes = aufsChanges(stack.layers[0]!, stack.base ?? [], view.maxDepth, notes);
  } else {
    const base = stack.base && stack.base.length ? new MergedFs(stack.base) : undefined;
    changes = naiveChanges(view, base, notes);
    if (base) notes.push(...base.notes);
  }
  notes.push(...view.notes);
  if (!view.opaqueKnown) problems.push('extended attributes are not readable from this source (directory evidence needs root and getfattr): opaque directories are unknown, so deletions hidden by an opaque directory are missed and lower files may show through');
  // Dedupe while keeping the engine's set semantics (a path is listed once per kind).
  const seen = new Set<string>();
  const out: Change[] = [];
  for (const ch of changes.sort(byPath)) {
    const k = `${ch.Kind}\0${ch.Path}`;
    if (!seen.has(k)) {
      seen.add(k);
      out.push(ch);
    }
  }
  return { container: c.id, name: c.record.name, driver: stack.driver, method: stack.changes, changes: out, view, stack, problems: [...problems, ...new Set(notes)] };
}

// -------------------------------------------------------------------------------------------------
// --long: details and flags

export interface LongChange extends Change {
  kind: 'A' | 'C' | 'D';
  type?: Stat['type'];
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  /** Nanoseconds since the epoch, as a decimal string (JSON has no bigint). */
  mtimeNs?: string;
  sha256?: string;
  linkTarget?: string;
  /** Layer that holds the entry ('upper' for everything the container wrote). */
  layer?: string;
  flags: string[];
  error?: string;
}

const PERSISTENCE: [RegExp, string][] = [
  [/^\/etc\/(crontab|anacrontab|cron\.(d|daily|hourly|weekly|monthly|allow|deny))(\/|$)/, 'persistence:cron'],
  [/^\/var\/spool\/(cron|anacron)(\/|$)/, 'persistence:cron'],
  [/^\/(etc|lib|usr\/lib|usr\/local\/lib|run)\/systemd\/(system|user)(\/|$)/, 'persistence:systemd'],
  [/\/\.config\/systemd\/user(\/|$)/, 'persistence:systemd'],
  [/^\/etc\/(init\.d|rc\d?\.d)(\/|$)|^\/etc\/rc\.local$|^\/etc\/inittab$/, 'persistence:init'],
  [/(^|\/)\.ssh\/authorized_keys2?$/, 'persistence:ssh-key'],
  [/^\/etc\/ssh\/sshd_config(\.d(\/|$)|$)/, 'persistence:sshd-config'],
  [/^\/etc\/ld\.so\.preload$/, 'persistence:ld-preload'],
  [/^\/etc\/ld\.so\.conf(\.d(\/|$)|$)/, 'persistence:ld-config'],
  [/^\/etc\/(profile|bash\.bashrc|bashrc|environment|zshrc|zprofile|zshenv|zlogin|zsh\/[^/]+)$|^\/etc\/profile\.d(\/|$)/, 'persistence:shell-rc'],
  [/(^|\/)\.(bashrc|bash_profile|bash_login|bash_logout|profile|zshrc|zprofile|zshenv|zlogin|kshrc|cshrc|tcshrc)$/, 'persistence:shell-rc'],
  [/^\/etc\/update-motd\.d(\/|$)/, 'persistence:motd'],
];

const ACCOUNTS = /^\/etc\/(passwd|shadow|group|gshadow|sudoers|sudoers\.d(\/.*)?|subuid|subgid)$/;

/** Flags from the path alone (apply to every kind, deletions included). */
export function pathFlags(path: string): string[] {
  const flags: string[] = [];
  for (const [re, flag] of PERSISTENCE) if (re.test(path) && !flags.includes(flag)) flags.push(flag);
  if (ACCOUNTS.test(path)) flags.push('accounts');
  const base = path.slice(path.lastIndexOf('/') + 1);
  if (base.startsWith('.')) flags.push('hidden');
  else if (/^[\s.]*$/.test(base) || /[\u0000-\u001f\u007f-\u009f]/.test(base)) flags.push('odd-name');
  return flags;
}

/** Streams a file once: its sha256 and its first bytes (for ELF / script detection). */
async function hashFile(view: MergedFs, e: MergedEntry): Promise<{ sha256: string; head: Buffer }> {
  const h = createHash('sha256');
  let head = Buffer.alloc(0);
  for await (const chunk of view.open(e)) {
    const b = chunk as Buffer;
    if (head.length < 4) head = Buffer.concat([head, b.subarray(0, 4 - head.length)]);
    h.update(b);
  }
  return { sha256: h.digest('hex'), head };
}

/** The --long view of a diff: metadata, hashes and analyst flags for each change. */
export async function longChanges(d: DiffResult, opts: { hash?: boolean } = {}): Promise<LongChange[]> {
  const out: LongChange[] = [];
  for (const ch of d.changes) {
    const lc: LongChange = { ...ch, kind: KIND_LETTER[ch.Kind], flags: pathFlags(ch.Path) };
    out.push(lc);
    if (ch.Kind === KIND.D) continue;
    let e: MergedEntry | undefined;
    try {
      e = d.view.lookup(ch.Path, false);
    } catch (err) {
      if (!isEvidenceError(err)) throw err;
      lc.error = err.message;
      continue;
    }
    if (!e) {
      lc.error = 'not found in the merged view';
      continue;
    }
    const st = e.stat;
    Object.assign(lc, { type: st.type, mode: st.mode, uid: st.uid, gid: st.gid, size: st.size, mtimeNs: st.mtimeNs.toString() });
    const l = d.view.layers[e.layer]!;
    lc.layer = l.role === 'image' ? `image:${l.index ?? '?'}` : l.role;
    if (st.type === 'symlink') lc.linkTarget = st.linkTarget;
    if (st.type === 'file') {
      if (st.mode & 0o111) lc.flags.push('executable');
      if (st.mode & 0o4000) lc.flags.push('setuid');
      if (st.mode & 0o2000 && st.mode & 0o010) lc.flags.push('setgid');
      if (st.mode & 0o002) lc.flags.push('world-writable');
      if (d.view.xattrs(e).has('security.capability')) lc.flags.push('capabilities');
      if (opts.hash !== false) {
        try {
          const { sha256, head } = await hashFile(d.view, e);
          lc.sha256 = sha256;
          if (head.length >= 4 && head.readUInt32BE(0) === 0x7f454c46) lc.flags.push('elf');
          else if (head[0] === 0x23 && head[1] === 0x21) lc.flags.push('script');
        } catch (err) {
          if (!isEvidenceError(err) && !(err instanceof Error && 'code' in err)) throw err;
          lc.error = `content unreadable: ${(err as Error).message}`;
        }
      }
    } else if ((st.type === 'char' || st.type === 'block') && !isWhiteoutDevice(st)) {
      lc.flags.push('device');
    }
  }
  return out;
}
