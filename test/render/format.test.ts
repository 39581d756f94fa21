import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeText, safeJson } from '../../src/render/escape.js';
import { goG, humanSize } from '../../src/render/format.js';

test('sizes print like docker (go-units, %.3g)', () => {
  assert.equal(humanSize(1982539), '1.98MB');
  assert.equal(humanSize(70), '70B');
  assert.equal(humanSize(0), '0B');
  assert.equal(humanSize(1000), '1kB');
  assert.equal(humanSize(999_999), '1e+03kB'); // Docker's own quirk
  assert.equal(humanSize(123_456_789), '123MB');
  assert.equal(goG(0.00001234, 3), '1.23e-05');
});

test('control, C1 and bidi characters are escaped visibly and unambiguously', () => {
  assert.equal(escapeText('a\x1b[31mb'), 'a\\x1b[31mb');
  assert.equal(escapeText('x\r\n\ty'), 'x\\r\\n\\ty');
  assert.equal(escapeText('\u009b2J'), '\\x9b2J');
  assert.equal(escapeText('abc\u202Efed'), 'abc\\u{202e}fed');
  assert.equal(escapeText('\u2066x\u2069'), '\\u{2066}x\\u{2069}');
  assert.equal(escapeText('back\\slash'), 'back\\\\slash');
  assert.equal(escapeText('héllo 日本'), 'héllo 日本');
});

test('JSON keeps strings exact but escapes what a terminal would act on', () => {
  const s = 'a\x1b]0;title\x07\u009b\u202e';
  const text = safeJson({ s });
  assert.ok(!/[\x00-\x1f\x7f-\x9f\u202e]/.test(text.replace(/\n/g, '')));
  assert.equal(JSON.parse(text).s, s);
});

test('human output is bounded: huge evidence strings are clipped with a marker, tables stay fast', async () => {
  const { table } = await import('../../src/render/table.js');
  const big = 'x'.repeat(10 << 20);
  const e = escapeText(big);
  assert.ok(e.length < 70_000 && e.endsWith('more characters; --json has all]'));
  const t = table(['A'], [[big]]);
  assert.ok(t.length < 2000);
  assert.equal(escapeText('short'), 'short');
});
