/**
 * Mutations of whole evidence trees: the content of one file, chosen by what the file is (JSON,
 * id text, bbolt, tar-split, logs), or the shape of the tree (entries removed, copied under new
 * names, turned into symlinks that loop or leave the root, into directories, devices, …).
 */
import { mutateBolt } from './mutate-bolt.js';
import { mutateLocalLog } from './mutate-proto.js';
import { mutateJsonLog, mutateTarSplitGz } from './mutate-stream.js';
import { INTERESTING_TEXT, MAX_INPUT, mutateBytes, mutateJson, mutateText, randomHex, type Dict } from './mutate.js';
import type { Rng } from './prng.js';
import { FAIL_XATTR, cloneTree, treeBytes, type Tree, type TreeNode } from './tree.js';

/** Whole-tree bound: a mutation that would pass it is dropped. */
export const MAX_TREE = 8 << 20;

export type FileKind = 'json' | 'text' | 'bolt' | 'tarsplit' | 'jsonlog' | 'locallog' | 'bytes';

export function fileKind(path: string): FileKind {
  const base = path.slice(path.lastIndexOf('/') + 1);
  if (base.endsWith('.db')) return 'bolt';
  if (base === 'tar-split.json.gz') return 'tarsplit';
  if (/-json\.log(\.\d+(\.gz)?)?$/.test(base)) return 'jsonlog';
  if (/^(container\.log|container-cached\.log)(\.\d+(\.gz)?)?$/.test(base)) return 'locallog';
  if (base.endsWith('.json') || base === 'json' || base.startsWith('repositories-') || /imagedb\/content\/sha256\/[^/]+$/.test(path) || path.includes('v2metadata-by-diffid/')) return 'json';
  if (base === 'tar-data.json.gz') return 'tarsplit';
  if (/\/diff\//.test(path) || /\/(merged|work)\//.test(path)) return 'bytes';
  return 'text';
}

export function mutateFile(path: string, body: Buffer, rng: Rng, dict: Dict, others: Buffer[] = []): Buffer {
  switch (fileKind(path)) {
    case 'json':
      return mutateJson(body, rng, dict, others);
    case 'bolt':
      return mutateBolt(body, rng, dict, others);
    case 'tarsplit':
      return mutateTarSplitGz(body, rng, dict, others);
    case 'jsonlog':
      return mutateJsonLog(body, rng, dict, others);
    case 'locallog':
      return mutateLocalLog(body, rng, dict, others);
    case 'text':
      return rng.chance(0.85) ? mutateText(body, rng, dict, others) : mutateBytes(body, rng, dict, others);
    default:
      return mutateBytes(body, rng, dict, others);
  }
}

/** Ids, digests, short links and names found in the tree: what its files refer to each other by. */
export function treeDict(t: Tree): Dict {
  const tokens = new Set<string>();
  for (const [p, n] of t) {
    for (const part of p.split('/')) if (/^[0-9a-f]{64}(-init)?$/.test(part) || /^[A-Z2-7]{26}$/.test(part)) tokens.add(part);
    if (n.body && n.body.length <= 200 && !p.includes('/diff/')) {
      const s = n.body.toString('utf8').trim();
      if (s && !s.startsWith('{')) tokens.add(s);
    }
    if (tokens.size > 400) break;
  }
  const list = [...tokens];
  for (const x of list.slice(0, 100)) if (/^[0-9a-f]{64}$/.test(x)) tokens.add(`sha256:${x}`);
  return { tokens: [...tokens] };
}

function relLink(from: string, to: string): string {
  const a = from.split('/').slice(0, -1);
  const b = to.split('/');
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return [...Array(a.length - i).fill('..'), ...b.slice(i)].join('/') || '.';
}

function weirdName(rng: Rng, like: string): string {
  return rng.pick([
    randomHex(rng),
    `${like}-init`,
    `${like}-${randomHex(rng, 8)}-removing`,
    like.toUpperCase(),
    `${like} `,
    `${like}\n`,
    `${like}\u001b[31m`,
    'l',
    'x'.repeat(255),
    `.${like}`,
    '-',
    'AAAAAAAAAAAAAAAAAAAAAAAAAA',
    'é',
  ]);
}

function subtree(t: Tree, p: string): string[] {
  return [...t.keys()].filter((k) => k === p || k.startsWith(p + '/'));
}

/** One to a few mutations of a tree. Never returns a tree bigger than MAX_TREE. */
export function mutateTree(input: Tree, rng: Rng, others: Tree[] = []): Tree {
  const t = cloneTree(input);
  const dict = treeDict(t);
  const n = 1 + rng.small(4);
  for (let k = 0; k < n; k++) treeOp(t, rng, dict, others);
  return treeBytes(t) > MAX_TREE ? input : t;
}

function treeOp(t: Tree, rng: Rng, dict: Dict, others: Tree[]): void {
  const paths = [...t.keys()];
  if (paths.length === 0) {
    t.set('x', { type: 'file', body: Buffer.from('x') });
    return;
  }
  const files = paths.filter((p) => t.get(p)!.type === 'file');
  const op = rng.weighted([
    [12, 'content'],
    [2, 'delete'],
    [2, 'symlink'],
    [1, 'retype'],
    [2, 'copy'],
    [1, 'rename'],
    [1, 'swap'],
    [1, 'donor'],
    [1, 'xattr'],
    [1, 'add'],
  ] as const);
  const p = rng.pick(op === 'content' && files.length ? files : paths);
  const node = t.get(p)!;
  switch (op) {
    case 'content': {
      if (node.type !== 'file') {
        t.set(p, { type: 'file', body: Buffer.from(rng.pick(dict.tokens.length ? dict.tokens : ['x'])) });
        break;
      }
      const donorBodies = files.filter((f) => f !== p && fileKindSame(f, p)).slice(0, 3).map((f) => t.get(f)!.body!);
      t.set(p, { ...node, body: mutateFile(p, node.body ?? Buffer.alloc(0), rng, dict, donorBodies) });
      break;
    }
    case 'delete':
      for (const q of subtree(t, p)) t.delete(q);
      break;
    case 'symlink': {
      for (const q of subtree(t, p)) if (q !== p) t.delete(q);
      const other = rng.pick(paths);
      const link = rng.pick([
        relLink(p, other),
        relLink(p, p),
        '../'.repeat(rng.range(1, 12)) + other,
        '/' + other,
        '/etc',
        '/',
        '',
        '.',
        '..',
        `${p.split('/').pop()}/x`,
        rng.pick(INTERESTING_TEXT),
      ]);
      t.set(p, { type: 'symlink', link });
      break;
    }
    case 'retype': {
      for (const q of subtree(t, p)) if (q !== p) t.delete(q);
      const to = rng.pick(['dir', 'file', 'char', 'block', 'fifo'] as const);
      const nn: TreeNode = { type: to };
      if (to === 'file') nn.body = Buffer.alloc(0);
      if (to === 'char' || to === 'block') nn.rdev = rng.pick([[0, 0] as [number, number], [1, 3] as [number, number], [rng.int(4096), rng.int(1 << 20)] as [number, number]]);
      t.set(p, nn);
      break;
    }
    case 'copy':
    case 'rename': {
      const parts = p.split('/');
      const i = rng.int(parts.length);
      const nameAt = parts.slice(0, i + 1).join('/');
      const fresh = [...parts.slice(0, i), weirdName(rng, parts[i]!)].join('/');
      if (fresh.includes('\0')) break;
      const moved = subtree(t, nameAt);
      if (moved.length > 2000) break;
      for (const q of moved) {
        t.set(fresh + q.slice(nameAt.length), { ...t.get(q)! });
        if (op === 'rename') t.delete(q);
      }
      break;
    }
    case 'swap': {
      if (files.length < 2) break;
      const a = rng.pick(files);
      const b = rng.pick(files);
      const x = t.get(a)!.body;
      t.get(a)!.body = t.get(b)!.body;
      t.get(b)!.body = x;
      break;
    }
    case 'donor': {
      const o = others.length ? rng.pick(others) : undefined;
      if (!o || o.size === 0) break;
      const q = rng.pick([...o.keys()]);
      const n = o.get(q)!;
      if (n.type === 'file' && (n.body?.length ?? 0) < MAX_INPUT) t.set(rng.chance(0.5) ? q : p, { ...n });
      break;
    }
    case 'xattr': {
      if (files.length && rng.chance(0.3)) {
        // a read that fails part-way
        const f = t.get(rng.pick(files))!;
        f.xattrs = { ...(f.xattrs ?? {}), [FAIL_XATTR]: Buffer.from(rng.pick(['eio', 'error'])) };
        break;
      }
      const dirs = paths.filter((x) => t.get(x)!.type === 'dir');
      const d = dirs.length ? rng.pick(dirs) : p;
      const nn = t.get(d)!;
      nn.xattrs = { ...(nn.xattrs ?? {}), [rng.pick(['trusted.overlay.opaque', 'user.overlay.opaque', 'trusted.overlay.redirect', 'security.capability'])]: Buffer.from(rng.pick(['y', 'n', '', 'yy', '\0'])) };
      break;
    }
    default: {
      // a stray entry next to an existing one
      const dir = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '';
      const name = weirdName(rng, p.split('/').pop()!);
      t.set(dir ? `${dir}/${name}` : name, rng.chance(0.5) ? { type: 'file', body: Buffer.from(rng.pick(dict.tokens.length ? dict.tokens : ['x'])) } : { type: 'dir' });
    }
  }
}

function fileKindSame(a: string, b: string): boolean {
  return fileKind(a) === fileKind(b);
}
