/**
 * DirSource.openRegular, the one-open path export and verify read layer files through: it must
 * refuse everything readFile refuses (escapes, symlinks, non-regular files) by returning
 * undefined, so the caller's slow path reports it, and it must never block or follow.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { DirSource } from '../../src/source/dir.js';
import { tmpDir } from '../helpers/tarbuild.js';

function tree() {
  const top = tmpDir();
  const outside = path.join(top, 'outside');
  const root = path.join(top, 'root');
  const diff = path.join(root, 'overlay2/abc/diff');
  fs.mkdirSync(path.join(diff, 'sub'), { recursive: true });
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'secret'), 'host file');
  fs.writeFileSync(path.join(diff, 'f'), 'inside');
  fs.writeFileSync(path.join(diff, 'sub/g'), Buffer.alloc(70_000, 7));
  fs.writeFileSync(path.join(diff, 'empty'), '');
  fs.symlinkSync(path.join(outside, 'secret'), path.join(diff, 'abs-link'));
  fs.symlinkSync('f', path.join(diff, 'rel-link'));
  fs.symlinkSync(outside, path.join(diff, 'out-dir'));
  execFileSync('mkfifo', [path.join(diff, 'fifo')]);
  return { root, diff, outside };
}

function readAll(f: { read(b: Uint8Array, o: number, l: number): number }): Buffer {
  const parts: Buffer[] = [];
  for (;;) {
    const b = Buffer.alloc(4096);
    const n = f.read(b, 0, b.length);
    if (n === 0) return Buffer.concat(parts);
    parts.push(b.subarray(0, n));
  }
}

test('openRegular reads regular files with their fstat size, in the top view and a sub view', () => {
  const { root } = tree();
  const top = new DirSource(root);
  const sub = top.sub('overlay2/abc/diff') as DirSource;
  for (const [src, p] of [
    [top, 'overlay2/abc/diff/f'],
    [sub, 'f'],
  ] as const) {
    const f = src.openRegular(p)!;
    assert.equal(f.size, 6);
    assert.equal(readAll(f).toString(), 'inside');
    f.close();
    f.close(); // idempotent
  }
  const g = sub.openRegular('sub/g')!;
  assert.equal(g.size, 70_000);
  assert.ok(readAll(g).equals(Buffer.alloc(70_000, 7)));
  g.close();
  const e = sub.openRegular('empty')!;
  assert.equal(e.size, 0);
  assert.equal(e.read(Buffer.alloc(1), 0, 1), 0);
  e.close();
});

test('openRegular declines symlinks (inside or out), escapes, directories, FIFOs and absences without following or blocking', () => {
  const { root } = tree();
  const sub = new DirSource(root).sub('overlay2/abc/diff') as DirSource;
  for (const p of ['abs-link', 'rel-link', 'out-dir/secret', '../../../../outside/secret', '/abs-link', 'sub', 'fifo', 'missing', 'sub/missing', '', '.', 'sub/..', 'f\0x']) {
    assert.equal(sub.openRegular(p), undefined, p);
  }
  // What it declines, readFile still answers or refuses as before.
  assert.equal(sub.readFile('rel-link', 100).toString(), 'inside');
  assert.throws(() => sub.readFile('abs-link', 100));
});

test('a symlink swapped in after the walk saw a file is not followed', () => {
  const { root, diff, outside } = tree();
  const sub = new DirSource(root).sub('overlay2/abc/diff') as DirSource;
  assert.equal(sub.lstat('sub/g')!.type, 'file'); // the parent is now in the resolved-directory cache
  fs.rmSync(path.join(diff, 'sub/g'));
  fs.symlinkSync(path.join(outside, 'secret'), path.join(diff, 'sub/g'));
  assert.equal(sub.openRegular('sub/g'), undefined);
});
