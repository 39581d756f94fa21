import assert from 'node:assert/strict';
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
