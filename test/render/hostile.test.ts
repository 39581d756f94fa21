/**
 * Issue 7, renderer by renderer: each place an evidence string reached human output unescaped,
 * and the sinks that catch what a renderer forgets. Each case fails without its fix.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MountReport } from '../../src/analysis/mounts.js';
import type { VerifyReport } from '../../src/analysis/verify.js';
import { EXIT } from '../../src/cli/exit.js';
import { escapeText, terminalSafe } from '../../src/render/escape.js';
import { makeStyle } from '../../src/render/style.js';
import { csvField } from '../../src/render/timeline.js';
import { verifyText } from '../../src/render/verify.js';
import { mountsText } from '../../src/render/views.js';
import { Findings } from '../../src/store/findings.js';

const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const ESC = '\u001b[31m';
const plain = makeStyle(false);

test('container --mounts: the store name (a directory under image/) is escaped in the heading', () => {
  const m: MountReport = { driver: 'overlay2', store: `overlay2${ESC}`, stack: [], mergedPresent: false, lowerFromDisk: [], problems: [], volumes: [] };
  const text = mountsText(m, plain);
  assert.ok(!RAW.test(text), text);
  assert.match(text, /overlay2\\x1b\[31m store/);
});

test('verify: check names, IDs and details in the findings are escaped, each once', () => {
  const r: VerifyReport = {
    status: 'mismatch',
    store: [{ check: `odd${ESC}`, status: 'mismatch', detail: 'back\\slash' }],
    images: [{ id: `sha256:${'a'.repeat(10)}\u202e`, tags: [], status: 'mismatch', checks: [{ check: 'config', status: 'mismatch', detail: `x${ESC}` }], layers: [] }],
    layers: [
      {
        chainID: `sha256:bad\u0007${'b'.repeat(60)}`,
        status: 'mismatch',
        checks: [{ check: `c\r`, status: 'missing', detail: '' }],
        files: [{ path: `/etc/${ESC}`, status: 'modified', detail: `d\n` } as VerifyReport['layers'][number]['files'][number]],
        extras: [{ path: `/x${ESC}`, type: 'file' } as VerifyReport['layers'][number]['extras'][number]],
      },
    ],
    findings: new Findings(),
  };
  const text = verifyText(r, plain);
  assert.ok(!RAW.test(text), JSON.stringify(text));
  assert.match(text, /store: odd\\x1b\[31m mismatch: back\\\\slash/);
  assert.match(text, /layer bad\\x07b+: c\\r missing/);
});

test('timeline CSV on a terminal: CR and LF inside a value are escaped too (a raw CR rewrites the row on screen)', () => {
  assert.equal(csvField('a\rb\nc', true), 'a\\rb\\nc');
  assert.equal(csvField('a\\x1b', true), 'a\\\\x1b', 'a backslash is escaped, so the evidence cannot imitate an escape');
  assert.equal(csvField('a\rb', false), '"a\rb"', 'to a file or pipe the CSV keeps every byte');
});

test('escapeText shows lone surrogates escaped but leaves a character outside the BMP (a pair) alone', () => {
  assert.equal(escapeText('tag-\u{1F600}'), 'tag-\u{1F600}');
  assert.equal(escapeText('x\ud800y\udc00'), 'x\\u{d800}y\\u{dc00}');
  assert.equal(terminalSafe('\u{1F600}\ud800'), '\u{1F600}\\u{d800}');
});

test('the print sinks (terminalSafe) escape whatever a renderer left raw, and pass only our own colours', () => {
  assert.equal(terminalSafe(`a${ESC}b\nc\rd\u202ee\tf`), 'a\\x1b[31mb\nc\\rd\\u{202e}e\\tf');
  // already-escaped text is left as it is (no double escaping)
  assert.equal(terminalSafe(escapeText(`x${ESC}\\`)), escapeText(`x${ESC}\\`));
  const styled = `\u001b[1mbold\u001b[22m \u001b[31mred\u001b[39m`;
  assert.equal(terminalSafe(styled, true), styled, 'chalk SGR survives on a colour terminal');
  assert.equal(terminalSafe('\u001b[8mhidden\u001b[0m', true), '\\x1b[8mhidden\\x1b[0m', 'conceal and other SGR from evidence do not');
  assert.equal(terminalSafe('\u001b]0;title\u0007', true), '\\x1b]0;title\\x07');
  assert.equal(terminalSafe(styled, false), '\\x1b[1mbold\\x1b[22m \\x1b[31mred\\x1b[39m', 'no colour: no escape sequence at all');
});

test('an unexpected exception is reported as an escaped internal error with exit 70, not a raw stack', async () => {
  const { run } = await import('../../src/cli/context.js');
  const writes: string[] = [];
  const orig = process.stderr.write.bind(process.stderr);
  const saved = process.exitCode;
  (process.stderr as { write: unknown }).write = (s: string) => (writes.push(String(s)), true);
  try {
    await run(async () => {
      throw new TypeError(`key ${ESC}\u202e is odd`);
    });
  } finally {
    (process.stderr as { write: unknown }).write = orig;
  }
  const code = process.exitCode;
  process.exitCode = saved;
  assert.equal(code, EXIT.INTERNAL);
  const text = writes.join('');
  assert.match(text, /^dockscope: internal error: TypeError: key \\x1b\[31m\\u\{202e\} is odd\n/);
  assert.ok(!RAW.test(text));
});
