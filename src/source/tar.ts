import fs from 'node:fs';
import { PassThrough, Readable } from 'node:stream';
import zlib from 'node:zlib';
import tarStream from 'tar-stream';
import './pax-bytes.js';
import { splitPath } from './paths.js';
import { resolvePath, type RawTree } from './resolve.js';
import { EvidenceError, type EntryType, type Source, type Stat } from './types.js';

/** Bounds for indexing an acquisition; a hostile archive must not exhaust memory. */
export interface TarLimits {
  /** Bodies of regular files up to this size are kept in memory (metadata is small). */
  keepFileBytes: number;
  /** Total bytes of kept bodies; past this, bodies are re-read from the archive when needed. */
  keepTotalBytes: number;
  /** Most entries indexed. */
  maxEntries: number;
}

export const DEFAULT_TAR_LIMITS: TarLimits = {
  keepFileBytes: 1 << 20,
  keepTotalBytes: 512 << 20,
  maxEntries: 5_000_000,
};

interface Node {
  stat: Stat;
  xattrs?: Map<string, Buffer>;
  body?: Buffer;
  /** For a hard link: the archive path of the entry holding the data. */
  linkTo?: string;
  children?: Set<string>;
}

const TYPES: Record<string, EntryType> = {
  file: 'file',
  'contiguous-file': 'file',
  link: 'file',
  directory: 'dir',
  symlink: 'symlink',
  'character-device': 'char',
  'block-device': 'block',
  fifo: 'fifo',
};

/** "1700000000.123456789" (PAX) → ns; undefined when not a plain decimal time. */
export function paxTimeNs(v: string | undefined): bigint | undefined {
  if (!v || !/^-?\d{1,15}(\.\d{1,9}\d*)?$/.test(v)) return undefined;
  const [s, frac = ''] = v.split('.');
  const ns = BigInt((frac + '000000000').slice(0, 9));
  const sec = BigInt(s!);
  return sec < 0n ? sec * 1_000_000_000n - ns : sec * 1_000_000_000n + ns;
}

function paxXattrs(pax: Record<string, string> | null | undefined): Map<string, Buffer> | undefined {
  if (!pax) return undefined;
  let out: Map<string, Buffer> | undefined;
  for (const [k, v] of Object.entries(pax)) {
    let name: string | undefined;
    let val: Buffer | undefined;
    if (k.startsWith('SCHILY.xattr.')) {
      name = k.slice('SCHILY.xattr.'.length);
      val = Buffer.from(v, 'latin1');
    } else if (k.startsWith('LIBARCHIVE.xattr.')) {
      name = decodeURIComponent(k.slice('LIBARCHIVE.xattr.'.length));
      val = Buffer.from(v, 'base64');
    }
    if (name) (out ??= new Map()).set(name, val!);
  }
  return out;
}

/** Opens the file and returns an uncompressed byte stream, gunzipping when the magic says so. */
function openArchiveStream(file: string): Readable {
  const fd = fs.openSync(file, 'r');
  const head = Buffer.alloc(2);
  fs.readSync(fd, head, 0, 2, 0);
  const raw = fs.createReadStream('', { fd, autoClose: true, start: 0, highWaterMark: 1 << 20 });
  if (head[0] === 0x1f && head[1] === 0x8b) {
    const gz = zlib.createGunzip({ chunkSize: 1 << 18 });
    raw.on('error', (e) => gz.destroy(e));
    return raw.pipe(gz);
  }
  return raw;
}

class TarTree implements RawTree {
  readonly nodes = new Map<string, Node>();
  readonly problems: string[] = [];
  private kept = 0;
  private order = 0;

  constructor(
    readonly file: string,
    readonly limits: TarLimits,
  ) {
    this.nodes.set('', { stat: dirStat('root'), children: new Set() });
  }

  rawLstat(parts: string[]): Stat | undefined {
    return this.nodes.get(parts.join('/'))?.stat;
  }

  private ensureDir(parts: string[]): Node {
    const key = parts.join('/');
    let node = this.nodes.get(key);
    if (!node) {
      node = { stat: dirStat(key), children: new Set() };
      this.nodes.set(key, node);
      this.ensureDir(parts.slice(0, -1)).children!.add(parts[parts.length - 1]!);
    } else if (!node.children) {
      node.children = new Set();
    }
    return node;
  }

  async index(): Promise<void> {
    const extract = tarStream.extract();
    const input = openArchiveStream(this.file);
    input.on('error', (e) => extract.destroy(e));
    input.pipe(extract);
    try {
      for await (const entry of extract) {
        await this.add(entry.header, entry as unknown as Readable);
      }
    } catch (e) {
      // A truncated or corrupt acquisition still yields everything before the damage.
      this.problems.push(`archive read stopped early: ${(e as Error).message}`);
      input.destroy();
    }
  }

  private async add(h: tarStream.Header, body: Readable): Promise<void> {
    const type = TYPES[h.type ?? 'file'];
    let parts: string[];
    try {
      parts = splitPath(h.name);
    } catch {
      this.problems.push(`skipped archive entry with unsafe name ${JSON.stringify(h.name)}`);
      body.resume();
      return;
    }
    if (!type || parts.length === 0 || this.order >= this.limits.maxEntries) {
      if (this.order >= this.limits.maxEntries && this.order++ === this.limits.maxEntries)
        this.problems.push(`stopped indexing after ${this.limits.maxEntries} entries`);
      body.resume();
      return;
    }
    this.order++;
    const key = parts.join('/');
    const pax = h.pax as Record<string, string> | undefined;
    const mtimeNs = paxTimeNs(pax?.mtime) ?? BigInt(Math.trunc((h.mtime?.getTime() ?? 0) / 1000)) * 1_000_000_000n;
    const stat: Stat = {
      type,
      // As lstat reports it: a symlink's size is the length of its target.
      size: type === 'file' ? h.size ?? 0 : type === 'symlink' ? Buffer.byteLength(h.linkname ?? '') : 0,
      mode: (h.mode ?? 0) & 0o7777,
      uid: h.uid ?? 0,
      gid: h.gid ?? 0,
      mtimeNs,
      atimeNs: paxTimeNs(pax?.atime),
      ctimeNs: paxTimeNs(pax?.ctime),
      nlink: 1,
      inode: key,
      rdevMajor: h.devmajor ?? 0,
      rdevMinor: h.devminor ?? 0,
      linkTarget: type === 'symlink' ? h.linkname ?? '' : undefined,
    };
    const node: Node = { stat, xattrs: paxXattrs(pax) };
    if (h.type === 'link') {
      let target: string[] | undefined;
      try {
        target = splitPath(h.linkname ?? '');
      } catch {
        this.problems.push(`hard link ${JSON.stringify(h.name)} points outside the archive (${JSON.stringify(h.linkname)})`);
      }
      const tnode = target && this.nodes.get(target.join('/'));
      // Any non-directory can be hard-linked: a shared whiteout inode (char 0:0) too.
      if (tnode && tnode.stat.type !== 'dir') {
        const tkey = target!.join('/');
        node.linkTo = tnode.linkTo ?? tkey;
        node.body = tnode.body;
        node.xattrs ??= tnode.xattrs;
        Object.assign(stat, { type: tnode.stat.type, size: tnode.stat.size, inode: tnode.stat.inode, rdevMajor: tnode.stat.rdevMajor, rdevMinor: tnode.stat.rdevMinor, linkTarget: tnode.stat.linkTarget });
        tnode.stat.nlink++;
        stat.nlink = tnode.stat.nlink;
      } else if (target) {
        this.problems.push(`hard link ${JSON.stringify(h.name)} to missing entry ${JSON.stringify(h.linkname)}`);
      }
      body.resume();
    } else if (type === 'file' && stat.size > 0) {
      if (stat.size <= this.limits.keepFileBytes && this.kept + stat.size <= this.limits.keepTotalBytes) {
        const chunks: Buffer[] = [];
        for await (const c of body) chunks.push(c as Buffer);
        node.body = Buffer.concat(chunks);
        this.kept += node.body.length;
      } else {
        body.resume();
      }
    } else {
      if (type === 'file') node.body = Buffer.alloc(0);
      body.resume();
    }
    const prev = this.nodes.get(key);
    if (prev?.children && type === 'dir') node.children = prev.children;
    this.nodes.set(key, node);
    this.ensureDir(parts.slice(0, -1)).children!.add(parts[parts.length - 1]!);
    if (type === 'dir') node.children ??= new Set();
  }

  /** Streams one entry's data by reading the archive again up to it (bodies too big to keep). */
  streamEntry(key: string): Readable {
    const out = new PassThrough();
    const extract = tarStream.extract();
    const input = openArchiveStream(this.file);
    input.on('error', (e) => out.destroy(e));
    input.pipe(extract);
    (async () => {
      for await (const entry of extract) {
        let name: string;
        try {
          name = splitPath(entry.header.name).join('/');
        } catch {
          entry.resume();
          continue;
        }
        if (name === key && entry.header.type !== 'link') {
          for await (const c of entry) if (!out.write(c)) await new Promise((r) => out.once('drain', r));
          out.end();
          input.destroy();
          return;
        }
        entry.resume();
      }
      out.destroy(new EvidenceError('EIO', key, 'entry not found when re-reading the archive'));
    })().catch((e) => out.destroy(e as Error));
    return out;
  }
}

function dirStat(key: string): Stat {
  return { type: 'dir', size: 0, mode: 0o755, uid: 0, gid: 0, mtimeNs: 0n, nlink: 1, inode: key, rdevMajor: 0, rdevMinor: 0 };
}

export class TarSource implements Source {
  readonly kind = 'tar' as const;
  readonly hasXattrs = true;
  readonly label: string;
  readonly location: string;

  private constructor(
    private readonly tree: TarTree,
    private readonly base: string[],
  ) {
    this.location = '/' + base.join('/');
    this.label = base.length ? `${tree.file}:${base.join('/')}` : tree.file;
  }

  static async open(file: string, limits: TarLimits = DEFAULT_TAR_LIMITS): Promise<TarSource> {
    const tree = new TarTree(file, limits);
    await tree.index();
    return new TarSource(tree, []);
  }

  /** What went wrong while indexing (truncation, unsafe names, bounds hit). */
  get problems(): readonly string[] {
    return this.tree.problems;
  }

  private resolve(p: string, followLast: boolean) {
    return resolvePath(this.tree, this.base, p, followLast);
  }

  private node(p: string, followLast: boolean): Node | undefined {
    const { parts } = this.resolve(p, followLast);
    return this.tree.nodes.get(parts.join('/'));
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
    if (!n.body) throw new EvidenceError('ETOOBIG', p, 'too large to keep in memory; stream it instead');
    return n.body;
  }

  readlink(p: string): string | undefined {
    const st = this.lstat(p);
    return st?.type === 'symlink' ? st.linkTarget : undefined;
  }

  createReadStream(p: string): Readable {
    const { parts } = this.resolve(p, true);
    const key = parts.join('/');
    const n = this.tree.nodes.get(key);
    if (!n) throw new EvidenceError('ENOENT', p);
    if (n.stat.type !== 'file') throw new EvidenceError('EIO', p, `not a regular file (${n.stat.type})`);
    if (n.body) return Readable.from([n.body]);
    return this.tree.streamEntry(n.linkTo ?? key);
  }

  xattrs(p: string): Map<string, Buffer> {
    return this.node(p, false)?.xattrs ?? new Map();
  }

  sub(p: string): Source {
    const { parts, st } = this.resolve(p, true);
    if (!st) throw new EvidenceError('ENOENT', p);
    if (st.type !== 'dir') throw new EvidenceError('ENOTDIR', p);
    return new TarSource(this.tree, parts);
  }
}
