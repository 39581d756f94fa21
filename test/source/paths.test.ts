import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveLinkTarget, splitPath } from '../../src/source/paths.js';
import { EvidenceError } from '../../src/source/types.js';

test('splitPath drops empty and dot components and reads a leading slash as the view root', () => {
  assert.deepEqual(splitPath('/a//b/./c/'), ['a', 'b', 'c']);
  assert.deepEqual(splitPath(''), []);
});

test('splitPath refuses .. and NUL', () => {
  assert.throws(() => splitPath('a/../b'), (e: unknown) => e instanceof EvidenceError && e.code === 'EBADPATH');
  assert.throws(() => splitPath('a\0b'), (e: unknown) => e instanceof EvidenceError && e.code === 'EBADPATH');
});

test('resolveLinkTarget stays inside the view and calls absolute or climbing targets escapes', () => {
  assert.deepEqual(resolveLinkTarget(['overlay2', 'l'], '../abc/diff', 'x'), ['overlay2', 'abc', 'diff']);
  assert.throws(() => resolveLinkTarget(['l'], '../../etc', 'x'), (e: unknown) => e instanceof EvidenceError && e.code === 'ESCAPE');
  assert.throws(() => resolveLinkTarget(['l'], '/etc', 'x'), (e: unknown) => e instanceof EvidenceError && e.code === 'ESCAPE');
});
