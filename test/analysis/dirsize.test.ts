/**
 * treeStats with `newest: false` (verify's size check) must give the same size and entry count,
 * and must not ask a directory for anything but its type: on a directory source each such question
 * is an lstat, which verify --no-content paid for every directory of every layer.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { treeStats } from '../../src/analysis/dirsize.js';
import type { Source, Stat } from '../../src/source/types.js';
import { Findings } from '../../src/store/findings.js';

const TREE: Record<string, { type: Stat['type']; size?: number; inode?: string; nlink?: number; mtimeNs?: bigint }> = {
  d: { type: 'dir', mtimeNs: 5n },
  'd/a': { type: 'file', size: 10, mtimeNs: 7n },
  'd/sub': { type: 'dir', mtimeNs: 9n },
  'd/sub/b': { type: 'file', size: 20, inode: 'i1', nlink: 2, mtimeNs: 3n },
  'd/sub/c': { type: 'file', size: 20, inode: 'i1', nlink: 2, mtimeNs: 3n },
  'd/sub/l': { type: 'symlink', size: 4, mtimeNs: 1n },
  'd/sub/deeper': { type: 'dir', mtimeNs: 2n },
};

function fakeSource(dirAsked: string[]): Source {
  const stat = (p: string): Stat | undefined => {
    const e = TREE[p];
    if (!e) return undefined;
    const full = { type: e.type, size: e.size ?? 0, mode: 0, uid: 0, gid: 0, mtimeNs: e.mtimeNs ?? 0n, nlink: e.nlink ?? 1, inode: e.inode ?? p, rdevMajor: 0, rdevMinor: 0 };
    // Like the directory source's listed entries: the type is free, anything else is a question.
    return new Proxy(full, { get: (t, k) => (k !== 'type' && e.type === 'dir' && dirAsked.push(`${p}.${String(k)}`), t[k as keyof typeof t]) }) as Stat;
  };
  return {
    lstat: stat,
    readdir: (p: string) =>
      Object.keys(TREE)
        .filter((k) => k.startsWith(p + '/') && !k.slice(p.length + 1).includes('/'))
        .map((k) => k.slice(p.length + 1)),
  } as unknown as Source;
}

test('treeStats without the newest time: same size, no question to a directory but its type', () => {
  const asked: string[] = [];
  const all = treeStats(fakeSource([]), 'd', new Findings());
  const sized = treeStats(fakeSource(asked), 'd', new Findings(), { newest: false });
  assert.equal(all.size, 34);
  assert.equal(all.newestNs, 9n);
  assert.deepEqual({ ...sized }, { size: all.size, entries: all.entries, truncated: false });
  assert.deepEqual(asked, []);
});
