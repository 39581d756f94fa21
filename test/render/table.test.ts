/**
 * The direct table layout against cli-table3, which it stands in for on plain-ASCII tables:
 * the lines must be the same, colour codes and ragged widths included.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { padded, table, viaCliTable } from '../../src/render/table.js';

/** A small deterministic generator (xorshift), so a failure names its seed. */
function rng(seed: number): () => number {
  let x = seed || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const PIECES = ['', ' ', 'a', 'sha256:', '0123456789ab', '<none>', 'fx/app:1, fx/app:2', 'ok', '  lead', 'trail  ', '\u001b[32m✓ ok\u001b[39m', '\u001b[1m\u001b[31mbad\u001b[39m\u001b[22m', '\u001b[2m-\u001b[22m'];

function cell(r: () => number, ascii: boolean): string {
  let s = '';
  const n = Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const p = PIECES[Math.floor(r() * PIECES.length)]!;
    s += ascii ? p.replace(/✓ /g, '') : p;
  }
  return s;
}

test('padded lays out plain-ASCII tables exactly as cli-table3 does (colour codes included)', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const r = rng(seed);
    const cols = 1 + Math.floor(r() * 5);
    const head = Array.from({ length: cols }, () => cell(r, true) || 'H');
    const rows = Array.from({ length: Math.floor(r() * 8) }, () => Array.from({ length: cols }, () => cell(r, true)));
    const fast = padded(head, rows);
    assert.ok(fast, `seed ${seed}: an ASCII table must take the direct path`);
    assert.deepEqual(fast, viaCliTable(head, rows), `seed ${seed}`);
  }
});

test('anything else goes to cli-table3: wide or non-ASCII text, ragged rows', () => {
  assert.equal(padded(['A', 'B'], [['日本', 'x']]), undefined);
  assert.equal(padded(['A', 'B'], [['\u001b[32m✓\u001b[39m', 'x']]), undefined);
  assert.equal(padded(['A', 'B'], [['x']]), undefined);
  // The whole table still comes out right, through cli-table3: a wide character takes two columns.
  assert.equal(table(['NAME', 'N'], [['日本', 1], ['abcde', 2]]), 'NAME    N\n日本    1\nabcde   2');
});

test('table escapes evidence in either path, so a cell cannot forge a row', () => {
  const out = table(['A', 'B'], [['evil\nrow', 'x\u001b[2J']]);
  assert.equal(out.split('\n').length, 2);
  assert.ok(!out.includes('\u001b'));
});
