/**
 * Evidence trees for the Source-based targets: a plain map of paths to nodes that mutators edit,
 * an in-memory Source over it (containment through the same resolvePath the real backends use),
 * and conversion to and from .tar.gz, the form trees take on disk (seeds, corpus, crashes) and
 * the form an analyst's acquisition has, so any saved input can be opened with `--root x.tgz`.
 */
import fs from 'node:fs';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import tarStream from 'tar-stream';
import { splitPath } from '../../src/source/paths.js';
import { resolvePath, type RawTree } from '../../src/source/resolve.js';
import { EvidenceError, type EntryType, type Source, type Stat } from '../../src/source/types.js';
import { buildTar, type TarEntry } from '../helpers/tarbuild.js';

export interface TreeNode {
  type: EntryType;
  /** Regular files only. */
  body?: Buffer;
  /** Symlinks only: the target exactly as stored. */
  link?: string;
  mode?: number;
  rdev?: [number, number];
  /** Extended attributes (overlay markers); values as bytes. */
  xattrs?: Record<string, Buffer>;
}

/** '/'-separated paths without leading './' or '/'; parents are implied when absent. */
export type Tree = Map<string, TreeNode>;

export function isTree(v: unknown): v is Tree {
  return v instanceof Map;
}

export function cloneTree(t: Tree): Tree {
  const out: Tree = new Map();
  for (const [p, n] of t) out.set(p, { ...n });
  return out;
}

export function treeBytes(t: Tree): number {
  let n = 0;
  for (const [p, node] of t) n += p.length + 64 + (node.body?.length ?? 0) + (node.link?.length ?? 0);
  return n;
}

/** Parent directories of every path, so that a tree listing `a/b/c` also has `a` and `a/b`. */
function withParents(t: Tree): Map<string, TreeNode> {
  const out = new Map<string, TreeNode>();
  for (const [p, n] of t) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!t.has(d) && !out.has(d)) out.set(d, { type: 'dir' });
    }
    out.set(p, n);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// In-memory Source

interface MemNode {
  stat: Stat;
  body?: Buffer;
  xattrs?: Map<string, Buffer>;
  children?: Set<string>;
}

const T0 = 1_700_000_000n * 1_000_000_000n;

/**
 * An xattr the fuzzer sets on a file to make its stream fail part-way: 'eio' (an EvidenceError, a
 * bad sector) or 'error' (a plain Error, what TarSource's re-read of a truncated archive gives).
 */
export const FAIL_XATTR = 'user.dockscope-fuzz.fail';

class MemTree implements RawTree {
  readonly nodes = new Map<string, MemNode>();
  constructor(t: Tree) {
    this.nodes.set('', { stat: mkStat('dir', 0, ''), children: new Set() });
    let i = 0;
    for (const [p, n] of withParents(t)) {
      let parts: string[];
      try {
        parts = splitPath(p);
      } catch {
        continue; // like TarSource: an entry with an unusable name is skipped
      }
      if (parts.length === 0) continue;
      const key = parts.join('/');
      const st = mkStat(n.type, n.type === 'file' ? n.body?.length ?? 0 : n.type === 'symlink' ? Buffer.byteLength(n.link ?? '') : 0, key);
      st.mode = n.mode ?? (n.type === 'dir' ? 0o755 : 0o644);
      st.mtimeNs = T0 + BigInt(i++) * 1_000_000n;
      if (n.type === 'symlink') st.linkTarget = n.link ?? '';
      if (n.rdev) [st.rdevMajor, st.rdevMinor] = n.rdev;
      const node: MemNode = { stat: st };
      if (n.type === 'file') node.body = n.body ?? Buffer.alloc(0);
      if (n.xattrs) node.xattrs = new Map(Object.entries(n.xattrs));
      const prev = this.nodes.get(key);
      if (n.type === 'dir') node.children = prev?.children ?? new Set();
      this.nodes.set(key, node);
      this.ensureDir(parts.slice(0, -1)).children!.add(parts[parts.length - 1]!);
    }
  }
  private ensureDir(parts: string[]): MemNode {
    const key = parts.join('/');
    let node = this.nodes.get(key);
    if (!node) {
      node = { stat: mkStat('dir', 0, key), children: new Set() };
      this.nodes.set(key, node);
      this.ensureDir(parts.slice(0, -1)).children!.add(parts[parts.length - 1]!);
    } else if (!node.children) {
      // A file where a directory is needed: the later entry wins, as in a tar.
      node.children = new Set();
    }
    return node;
  }
  rawLstat(parts: string[]): Stat | undefined {
    return this.nodes.get(parts.join('/'))?.stat;
  }
}

function mkStat(type: EntryType, size: number, inode: string): Stat {
  return { type, size, mode: 0o755, uid: 0, gid: 0, mtimeNs: T0, nlink: 1, inode, rdevMajor: 0, rdevMinor: 0 };
}

/** A Source over a Tree, with TarSource's semantics (whole bodies in memory, PAX-like xattrs). */
export class MemSource implements Source {
  readonly kind = 'tar' as const;
  readonly hasXattrs = true;
  readonly label: string;
  readonly location: string;
  private readonly tree: MemTree;
  private original?: Tree;
  /** The Tree this source was made from (top view only). */
  treeOf(): Tree | undefined {
    return this.original;
  }

  constructor(t: Tree | MemTree, private readonly base: string[] = [], label = 'fuzz.tgz') {
    this.tree = t instanceof MemTree ? t : new MemTree(t);
    if (!(t instanceof MemTree)) this.original = t;
    this.location = '/' + base.join('/');
    this.label = base.length ? `${label}:${base.join('/')}` : label;
  }

  private resolve(p: string, followLast: boolean) {
    return resolvePath(this.tree, this.base, p, followLast);
  }
  private node(p: string, followLast: boolean): MemNode | undefined {
    return this.tree.nodes.get(this.resolve(p, followLast).parts.join('/'));
  }
  lstat(p: string): Stat | undefined {
    return this.resolve(p, false).st;
  }
  stat(p: string): Stat | undefined {
    return this.resolve(p, true).st;
  }
  readdir(p: string): string[] | undefined {
    const n = this.node(p, true);
    if (!n) return undefined;
    if (n.stat.type !== 'dir') throw new EvidenceError('ENOTDIR', p);
    return [...(n.children ?? [])].sort();
  }
  readFile(p: string, limit: number): Buffer {
    const n = this.node(p, true);
    if (!n) throw new EvidenceError('ENOENT', p);
    if (n.stat.type === 'dir') throw new EvidenceError('EISDIR', p);
    if (n.stat.type !== 'file') throw new EvidenceError('EIO', p, `not a regular file (${n.stat.type})`);
    if (n.stat.size > limit) throw new EvidenceError('ETOOBIG', p, `larger than the ${limit}-byte bound`);
    return n.body!;
  }
  readlink(p: string): string | undefined {
    const st = this.lstat(p);
    return st?.type === 'symlink' ? st.linkTarget : undefined;
  }
  createReadStream(p: string): Readable {
    const n = this.node(p, true);
    if (!n) throw new EvidenceError('ENOENT', p);
    if (n.stat.type !== 'file') throw new EvidenceError('EIO', p, `not a regular file (${n.stat.type})`);
    // Several chunks, as a file stream would give them.
    const b = n.body!;
    const parts: Buffer[] = [];
    for (let off = 0; off < b.length; off += 4096) parts.push(b.subarray(off, off + 4096));
    const fail = n.xattrs?.get(FAIL_XATTR)?.toString('latin1');
    if (fail === undefined) return Readable.from(parts);
    // A read that breaks off after the first chunk, the way a damaged disk (EIO) or a truncated
    // archive re-read by TarSource (a plain Error from tar-stream) breaks off.
    const err = fail === 'eio' ? new EvidenceError('EIO', p, 'input/output error') : new Error('Unexpected end of data');
    return Readable.from(
      (async function* () {
        if (parts[0]) yield parts[0];
        throw err;
      })(),
    );
  }
  xattrs(p: string): Map<string, Buffer> {
    return this.node(p, false)?.xattrs ?? new Map();
  }
  sub(p: string): Source {
    const { parts, st } = this.resolve(p, true);
    if (!st) throw new EvidenceError('ENOENT', p);
    if (st.type !== 'dir') throw new EvidenceError('ENOTDIR', p);
    return new MemSource(this.tree, parts, this.label);
  }
}

// ---------------------------------------------------------------------------------------------
// .tar.gz <-> Tree

const TAR_TYPE: Partial<Record<EntryType, TarEntry['type']>> = {
  file: 'file',
  dir: 'directory',
  symlink: 'symlink',
  char: 'character-device',
  block: 'block-device',
  fifo: 'fifo',
};

/** Names tar can carry and TarSource will index (no NUL, no '..'); others are dropped. */
function tarSafe(p: string): boolean {
  try {
    return splitPath(p).length > 0;
  } catch {
    return false;
  }
}

export async function treeToTgz(t: Tree): Promise<Buffer> {
  const entries: TarEntry[] = [];
  const all = withParents(t);
  for (const p of [...all.keys()].sort()) {
    const n = all.get(p)!;
    const type = TAR_TYPE[n.type];
    if (!type || !tarSafe(p)) continue;
    const e: TarEntry = { name: n.type === 'dir' ? p + '/' : p, type, mode: n.mode };
    if (n.type === 'file') e.body = n.body ?? Buffer.alloc(0);
    if (n.type === 'symlink') e.linkname = n.link ?? '';
    if (n.rdev) [e.devmajor, e.devminor] = n.rdev;
    if (n.xattrs) {
      e.pax = {};
      for (const [k, v] of Object.entries(n.xattrs)) e.pax[`SCHILY.xattr.${k}`] = v.toString('latin1');
    }
    entries.push(e);
  }
  return buildTar(entries, true);
}

const FROM_TAR: Record<string, EntryType> = {
  file: 'file',
  'contiguous-file': 'file',
  link: 'file',
  directory: 'dir',
  symlink: 'symlink',
  'character-device': 'char',
  'block-device': 'block',
  fifo: 'fifo',
};

/** Reads a .tar or .tar.gz into a Tree (hard links become copies). */
export async function tgzToTree(buf: Buffer): Promise<Tree> {
  const raw = buf[0] === 0x1f && buf[1] === 0x8b ? zlib.gunzipSync(buf) : buf;
  const extract = tarStream.extract();
  const t: Tree = new Map();
  const done = (async () => {
    for await (const entry of extract) {
      const h = entry.header;
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      const type = FROM_TAR[h.type ?? 'file'];
      const name = h.name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
      if (!type || name === '' || name === '.') continue;
      const n: TreeNode = { type, mode: h.mode };
      if (h.type === 'link') n.body = t.get(h.linkname ?? '')?.body ?? Buffer.alloc(0);
      else if (type === 'file') n.body = Buffer.concat(chunks);
      if (type === 'symlink') n.link = h.linkname ?? '';
      if (type === 'char' || type === 'block') n.rdev = [h.devmajor ?? 0, h.devminor ?? 0];
      const pax = (h as { pax?: Record<string, string> }).pax;
      if (pax) {
        for (const [k, v] of Object.entries(pax)) if (k.startsWith('SCHILY.xattr.')) (n.xattrs ??= {})[k.slice(13)] = Buffer.from(v, 'latin1');
      }
      t.set(name, n);
    }
  })();
  Readable.from([raw]).pipe(extract);
  await done;
  return t;
}

/** A directory on disk (an extracted fixture) as a Tree, filtered by a predicate on the path. */
export function dirToTree(top: string, keep: (p: string, type: EntryType) => boolean, maxFile = 64 << 10): Tree {
  const t: Tree = new Map();
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(rel === '' ? top : `${top}/${rel}`).sort()) {
      const p = rel === '' ? name : `${rel}/${name}`;
      const st = fs.lstatSync(`${top}/${p}`);
      const type: EntryType = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : st.isCharacterDevice() ? 'char' : st.isBlockDevice() ? 'block' : st.isFIFO() ? 'fifo' : 'other';
      if (!keep(p, type)) continue;
      const n: TreeNode = { type, mode: st.mode & 0o7777 };
      if (type === 'file') {
        const b = fs.readFileSync(`${top}/${p}`);
        n.body = b.length > maxFile ? b.subarray(0, maxFile) : b;
      }
      if (type === 'symlink') n.link = fs.readlinkSync(`${top}/${p}`);
      if (type === 'char' || type === 'block') n.rdev = [Number(BigInt(st.rdev) >> 8n) & 0xfff, st.rdev & 0xff];
      t.set(p, n);
      if (type === 'dir') walk(p);
    }
  };
  walk('');
  return t;
}
