import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Findings, type Deferred } from '../../src/store/findings.js';

function deferred(code: string, sev: 'info' | 'warn' | 'error' = 'warn') {
  let loads = 0;
  const d: Deferred & { loads: () => number } = {
    load(f) {
      loads++;
      f.add(sev, code, code);
    },
    loads: () => loads,
  };
  return d;
}

test('findings: deferred reads land where they were deferred, loaded once', () => {
  const f = new Findings();
  const a = deferred('a');
  const b = deferred('b', 'error');
  f.add('info', 'first', 'first');
  f.defer(a);
  f.add('info', 'second', 'second');
  f.defer(b);
  f.force(b); // asked for early: still in its place
  f.add('info', 'third', 'third');
  assert.equal(f.hasErrors, true, 'a forced error counts');
  assert.deepEqual(
    f.list.map((x) => x.code),
    ['first', 'a', 'second', 'b', 'third'],
  );
  assert.equal(a.loads(), 1);
  assert.equal(b.loads(), 1);
  const c = deferred('c');
  f.defer(c);
  f.add('info', 'fourth', 'fourth');
  assert.deepEqual(
    f.list.map((x) => x.code),
    ['first', 'a', 'second', 'b', 'third', 'c', 'fourth'],
  );
});

test('findings: hasErrors does not force what nobody asked for', () => {
  const f = new Findings();
  const a = deferred('a', 'error');
  f.defer(a);
  assert.equal(f.hasErrors, false);
  assert.equal(a.loads(), 0);
  assert.equal(f.list.length, 1);
  assert.equal(f.hasErrors, true);
});
