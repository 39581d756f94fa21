import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { DirSource } from '../../src/source/dir.js';
import { EvidenceError } from '../../src/source/types.js';
import { tmpDir } from '../helpers/tarbuild.js';

const isCode = (code: string) => (e: unknown) => e instanceof EvidenceError && e.code === code;

function tree() {
  const top = tmpDir();
  const outside = path.join(top, 'outside');
  const root = path.join(top, 'root');
  fs.mkdirSync(path.join(root, 'overlay2/abc/diff'), { recursive: true });
  fs.mkdirSync(path.join(root, 'overlay2/l'), { recursive: true });
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'secret'), 'host file');
  fs.writeFileSync(path.join(root, 'overlay2/abc/diff/f'), 'inside');
  fs.symlinkSync('../abc/diff', path.join(root, 'overlay2/l/LINK'));
  fs.symlinkSync('../../../outside', path.join(root, 'overlay2/l/REL_OUT'));
  fs.symlinkSync(outside, path.join(root, 'overlay2/l/ABS_OUT'));
  fs.symlinkSync(path.join(outside, 'secret'), path.join(root, 'overlay2/abc/diff/abs-file'));
  fs.symlinkSync('a', path.join(root, 'overlay2/l/b'));
  fs.symlinkSync('b', path.join(root, 'overlay2/l/a'));
  return { root, outside };
}

test('dir: follows symlinks that stay inside', () => {
  const { root } = tree();
  const src = new DirSource(root);
  assert.equal(src.readFile('overlay2/l/LINK/f', 100).toString(), 'inside');
  assert.deepEqual(src.readdir('overlay2/l/LINK'), ['abs-file', 'f']);
  assert.equal(src.lstat('overlay2/l/LINK')!.type, 'symlink');
  assert.equal(src.stat('overlay2/l/LINK')!.type, 'dir');
});

test('dir: never reads outside the root, whether by relative, absolute or intermediate symlink', () => {
  const { root } = tree();
  const src = new DirSource(root);
  assert.throws(() => src.readdir('overlay2/l/REL_OUT'), isCode('ESCAPE'));
  assert.throws(() => src.readFile('overlay2/l/REL_OUT/secret', 100), isCode('ESCAPE'));
  assert.throws(() => src.readFile('overlay2/l/ABS_OUT/secret', 100), isCode('ESCAPE'));
  assert.throws(() => src.readFile('overlay2/abc/diff/abs-file', 100), isCode('ESCAPE'));
  assert.throws(() => src.stat('overlay2/l/a'), isCode('ELOOP'));
  assert.throws(() => src.readFile('../outside/secret', 100), isCode('EBADPATH'));
  // lstat of the link itself is fine: it does not follow.
  assert.equal(src.lstat('overlay2/l/ABS_OUT')!.linkTarget, path.join(path.dirname(root), 'outside'));
});

test('dir: a sub view cannot climb into its parent', () => {
  const { root } = tree();
  const sub = new DirSource(root).sub('overlay2/abc');
  assert.equal(sub.readFile('diff/f', 100).toString(), 'inside');
  assert.throws(() => sub.readFile('../l/LINK/f', 100), isCode('EBADPATH'));
  assert.throws(() => new DirSource(root).sub('overlay2/l').readdir('LINK'), isCode('ESCAPE'));
});

test('dir: bounded reads, typed absence', () => {
  const { root } = tree();
  const src = new DirSource(root);
  assert.throws(() => src.readFile('overlay2/abc/diff/f', 3), isCode('ETOOBIG'));
  assert.throws(() => src.readFile('nope', 3), isCode('ENOENT'));
  assert.equal(src.lstat('nope/deeper'), undefined);
  assert.equal(src.readdir('nope'), undefined);
});

test('dir: once a directory is known (one lstat per file), every answer and refusal stays the same', () => {
  const { root } = tree();
  const src = new DirSource(root);
  // Resolve both directories first, so that what follows goes through the resolved-directory path.
  assert.equal(src.readFile('overlay2/abc/diff/f', 100).toString(), 'inside');
  assert.equal(src.lstat('overlay2/l/LINK')!.type, 'symlink');
  assert.throws(() => src.readFile('overlay2/abc/diff/abs-file', 100), isCode('ESCAPE'));
  assert.equal(src.lstat('overlay2/abc/diff/abs-file')!.type, 'symlink');
  assert.equal(src.readlink('overlay2/l/LINK'), '../abc/diff');
  assert.throws(() => src.stat('overlay2/l/a'), isCode('ELOOP'));
  assert.throws(() => src.readFile('overlay2/l/REL_OUT', 100), isCode('ESCAPE'));
  assert.equal(src.stat('overlay2/l/LINK')!.type, 'dir');
  assert.equal(src.readFile('overlay2/l/LINK/f', 100).toString(), 'inside');
  assert.equal(src.readFile('/overlay2//abc/./diff/f', 100).toString(), 'inside');
  assert.throws(() => src.readFile('overlay2/abc/diff/..', 100), isCode('EBADPATH'));
  assert.throws(() => src.readFile('overlay2/abc/diff/../diff/f', 100), isCode('EBADPATH'));
  assert.throws(() => src.readFile('overlay2/abc/diff/f\0', 100), isCode('EBADPATH'));
  assert.equal(src.readFileIfPresent('overlay2/abc/diff/none', 100), undefined);
  assert.throws(() => src.readFile('overlay2/abc/diff/none', 100), isCode('ENOENT'));
  assert.throws(() => src.readFile('overlay2/abc', 100), isCode('EISDIR'));
  assert.throws(() => src.readFile('overlay2/abc/diff/f/x', 100), isCode('ENOTDIR'));
  assert.equal(src.lstat('overlay2/abc/diff/none'), undefined);
  assert.throws(() => src.lstat('overlay2/abc/diff/f/x'), isCode('ENOTDIR'));
  // A sub view keeps its own resolved directories and its containment.
  const sub = src.sub('overlay2/abc');
  assert.equal(sub.readFile('diff/f', 100).toString(), 'inside');
  assert.throws(() => sub.readFile('diff/abs-file', 100), isCode('ESCAPE'));
});

test('dir: whole files of every size around the read buffers, special files refused without opening', () => {
  const { root } = tree();
  const src = new DirSource(root);
  const dir = path.join(root, 'overlay2/abc/diff');
  for (const n of [0, 1, 4095, 4096, 4097, 65535, 65536, 65537, (1 << 20) + 3]) {
    const body = Buffer.alloc(n, n % 251);
    fs.writeFileSync(path.join(dir, `s${n}`), body);
    assert.ok(src.readFile(`overlay2/abc/diff/s${n}`, 2 << 20).equals(body), String(n));
    if (n > 0) assert.throws(() => src.readFile(`overlay2/abc/diff/s${n}`, n - 1), isCode('ETOOBIG'), String(n));
  }
  // Two reads in a row return distinct buffers (nothing aliases the shared read buffer).
  const a = src.readFile('overlay2/abc/diff/s1', 10);
  const b = src.readFile('overlay2/abc/diff/s4095', 10_000);
  assert.equal(a[0], 1);
  assert.equal(b.length, 4095);
  // A FIFO would block an open(): it must be refused from its lstat.
  if (spawnSync('mkfifo', [path.join(dir, 'fifo')]).status === 0) {
    assert.throws(() => src.readFile('overlay2/abc/diff/fifo', 100), isCode('EIO'));
    assert.throws(() => src.readFileIfPresent('overlay2/abc/diff/fifo', 100), isCode('EIO'));
  }
});

test('dir: answers from a listing give the same results, escapes included', () => {
  const { root, outside } = tree();
  fs.writeFileSync(path.join(root, 'overlay2/abc/link'), 'ABC\n');
  fs.writeFileSync(path.join(root, 'overlay2/abc/big'), Buffer.alloc(200_000, 7));
  spawnSync('mkfifo', [path.join(root, 'overlay2/abc/fifo')]);
  const cold = new DirSource(root);
  const warm = new DirSource(root);
  warm.prefetch('overlay2/abc');
  warm.prefetch('overlay2/l');
  warm.prefetch('overlay2');
  for (const src of [cold, warm]) {
    assert.equal(src.readFile('overlay2/abc/link', 100).toString(), 'ABC\n');
    assert.equal(src.readFile('overlay2/abc/big', 1 << 20).length, 200_000);
    assert.throws(() => src.readFile('overlay2/abc/big', 1000), isCode('ETOOBIG'));
    assert.equal(src.readFileIfPresent!('overlay2/abc/absent', 100), undefined);
    assert.equal(src.lstat('overlay2/abc/absent'), undefined);
    assert.throws(() => src.readFile('overlay2/abc/diff', 100), isCode('EISDIR'));
    assert.throws(() => src.readFile('overlay2/l/ABS_OUT/secret', 100), isCode('ESCAPE'));
    assert.throws(() => src.readFile('overlay2/l/REL_OUT/secret', 100), isCode('ESCAPE'));
    assert.equal(src.readFile('overlay2/l/LINK/f', 100).toString(), 'inside');
    assert.equal(src.lstat('overlay2/l/ABS_OUT')!.linkTarget, outside);
    assert.equal(src.readlink('overlay2/l/LINK'), '../abc/diff');
    assert.equal(src.stat('overlay2/l/LINK')!.type, 'dir');
    assert.deepEqual(src.readdir('overlay2/abc'), fs.readdirSync(path.join(root, 'overlay2/abc')).sort());
  }
  // A Stat from a listing reads the rest on demand and agrees with a real lstat.
  for (const p of ['overlay2/abc', 'overlay2/abc/link', 'overlay2/l/LINK']) {
    const a = cold.lstat(p)!;
    const b = warm.lstat(p)!;
    for (const k of ['type', 'size', 'mode', 'uid', 'gid', 'mtimeNs', 'ctimeNs', 'nlink', 'inode', 'linkTarget'] as const) assert.equal(b[k], a[k], `${p} ${k}`);
  }
  if (fs.existsSync(path.join(root, 'overlay2/abc/fifo'))) {
    // Listed as a FIFO: refused without opening it (an open would block).
    assert.throws(() => warm.readFile('overlay2/abc/fifo', 100), isCode('EIO'));
  }
});
