/**
 * `verify --json` is written in pieces (jsonPieces) so a large store's report is never one string:
 * the bytes must be exactly what printJson (safeJson of the whole report) wrote before.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { safeJson } from '../../src/render/escape.js';
import { jsonPieces } from '../../src/render/verify.js';

const cases: Record<string, unknown>[] = [
  {},
  { status: 'ok', images: [], layers: [], store: [], findings: [] },
  {
    status: 'mismatch',
    images: [{ id: 'sha256:ab', tags: ['a:1', 'evil\u202e\u0085tag'], status: 'ok', checks: [{ check: 'L0', status: 'ok', detail: 'x' }], layers: [] }],
    layers: [
      { chainID: 'c1', status: 'ok', checks: [], files: [], extras: [], na: { link: 'n/a\n(multi-line?)' }, bytes: 12 },
      { chainID: 'c2', diffID: undefined, status: 'missing', checks: [{ check: 'lower', status: 'mismatch', detail: 'l/A → ../b/diff "quoted" \\ back' }], files: [{ name: 'a\u2028b', path: 'a', nested: [[1, [2, {}]], []] }], extras: [] },
      null,
    ],
    store: [{ check: 'repositories', status: 'ok', detail: '0 references' }],
    skipped: undefined,
    findings: [{ severity: 'warn', code: 'x', message: '\u001b[31mred', path: '/p' }],
    empty: {},
    n: 0,
  },
];

test('jsonPieces joins to the bytes of safeJson', () => {
  for (const c of cases) assert.equal([...jsonPieces(c)].join(''), safeJson(c));
});

test('jsonPieces yields an element at a time', () => {
  const layers = Array.from({ length: 1000 }, (_, i) => ({ chainID: `c${i}`, status: 'ok', checks: [] }));
  const pieces = [...jsonPieces({ status: 'ok', layers })];
  assert.ok(pieces.length > 1000);
  assert.ok(Math.max(...pieces.map((p) => p.length)) < 200);
});
