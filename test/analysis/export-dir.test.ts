/**
 * export over layer directories on disk (DirSource), where regular files are opened first and
 * described by the fstat of what was opened: the tar must be byte for byte the one written from
 * the walk's own lstat and the streaming reader, and the walk must not lstat regular files.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { writeExport } from '../../src/analysis/export.js';
import { MergedFs, type LayerDir } from '../../src/analysis/mergedfs.js';
import { DirSource } from '../../src/source/dir.js';
import type { Source } from '../../src/source/types.js';
import { tmpDir } from '../helpers/tarbuild.js';

const isRoot = process.getuid?.() === 0;

async function exportBytes(view: MergedFs) {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  const summary = await writeExport(view, sink);
  return { summary, tar: Buffer.concat(chunks) };
}

/** The same Source without openRegular: export plans from lstat and streams every file. */
function slowOnly(src: Source): Source {
  return {
    kind: src.kind,
    label: src.label,
    location: src.location,
    hasXattrs: src.hasXattrs,
    lstat: (p) => src.lstat(p),
    stat: (p) => src.stat(p),
    readdir: (p) => src.readdir(p),
    readFile: (p, l) => src.readFile(p, l),
    readlink: (p) => src.readlink(p),
    createReadStream: (p) => src.createReadStream(p),
    xattrs: (p) => src.xattrs(p),
    sub: (p) => src.sub(p),
  };
}

function tree() {
  const top = tmpDir();
  const at = (p: string) => path.join(top, p);
  for (const d of ['up/d', 'up/x', 'mid/d', 'base/d', 'base/x']) fs.mkdirSync(at(d), { recursive: true });
  const w = (p: string, b: string | Buffer) => fs.writeFileSync(at(p), b);
  w('base/d/big', Buffer.alloc(300_000 + 17, 0x5a)); // larger than one small-file read
  w('base/d/mid', Buffer.alloc(70_000, 1));
  w('base/d/empty', '');
  w('base/d/old', 'lower');
  w('base/x/keep', 'k');
  w('base/x/gone', 'g');
  w('mid/d/old', 'middle copy');
  fs.linkSync(at('base/d/mid'), at('base/d/mid-link'));
  fs.linkSync(at('base/d/mid'), at('mid/d/cross-layer-link')); // one inode seen from two layers
  fs.symlinkSync('big', at('up/d/sym'));
  w('up/d/top', 'upper');
  fs.utimesSync(at('up/d/top'), new Date(1_700_000_000_999), new Date(1_700_000_000_999));
  w('up/x/empty-plain', '');
  if (isRoot) {
    // xwhiteout (Linux 6.7+): an empty file with overlay.whiteout in a directory marked "x".
    w('up/x/gone', '');
    execFileSync('setfattr', ['-n', 'trusted.overlay.whiteout', '-v', 'y', at('up/x/gone')]);
    execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'x', at('up/x')]);
    // metacopy: the upper holds the metadata, the bytes are the lower file's.
    w('up/d/big', '');
    fs.chmodSync(at('up/d/big'), 0o600);
    execFileSync('setfattr', ['-n', 'trusted.overlay.metacopy', '-v', '', at('up/d/big')]);
  }
  return top;
}

function view(top: string, wrap: (s: Source) => Source = (s) => s): MergedFs {
  const src = new DirSource(top);
  const L: LayerDir[] = ['up', 'mid', 'base'].map((id, i) => ({ id, src: wrap(src.sub(id)), whiteouts: 'overlay', role: i ? 'image' : 'upper', path: id, index: 2 - i }));
  return new MergedFs(L);
}

test('export from directories: files described by their fstat give the same bytes as lstat and streaming', async () => {
  const top = tree();
  const fast = await exportBytes(view(top));
  const slow = await exportBytes(view(top, slowOnly));
  assert.deepEqual(fast.summary, slow.summary);
  assert.ok(fast.tar.equals(slow.tar), 'the fast path writes the tar the slow path writes');
  const list = execFileSync('tar', ['-tvf', '-'], { input: fast.tar, encoding: 'utf8' });
  assert.match(list, /^hrw.* d\/mid-link link to d\/cross-layer-link$/m);
  if (isRoot) {
    assert.doesNotMatch(list, / x\/gone$/m, 'the xwhiteout hides the lower file');
    assert.match(list, /^-rw------- .* 300017 .* d\/big$/m, 'metacopy: upper mode, lower size');
  }
  assert.equal(fast.summary.problems.length, 0, fast.summary.problems.join('\n'));
});

test('export from directories: regular files are opened, not lstat\'ed, on the way', async () => {
  const top = tree();
  const v = view(top);
  const seen: string[] = [];
  const lstat = fs.lstatSync;
  (fs as { lstatSync: unknown }).lstatSync = (p: fs.PathLike, o?: fs.StatSyncOptions) => {
    seen.push(String(p));
    return lstat(p, o as never);
  };
  try {
    await exportBytes(v);
  } finally {
    (fs as { lstatSync: unknown }).lstatSync = lstat;
  }
  // Not x/empty-plain: an empty file in a directory that announces xwhiteouts is lstat'ed to be told apart.
  const files = seen.filter((p) => /\/(mid|empty|old|keep|top|cross-layer-link|mid-link)$/.test(p));
  assert.deepEqual(files, []);
});
