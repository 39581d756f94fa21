/**
 * cleanTarName and goClean skip their split-and-join for names that are already clean. The fast
 * path must answer exactly what the general one does: checked here against their general paths.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc64Update } from '../../src/store/crc64.js';
import { Findings } from '../../src/store/findings.js';
import { cleanTarName, cleanTarNameBySplit, goClean, goCleanBySplit, parseTarSplitJson } from '../../src/store/tarsplit.js';

const parts = ['', '.', '..', 'a', 'bc', '.x', '..y', '...', 'a\0b', '/'];
const names = new Set<string>(['', '/', './', '.', '..', '//', '///a', 'a//', './/a', '/./a', 'a/.', 'a/..', 'usr/bin/x', 'etc/', './etc/passwd', '/abs/p']);
for (const a of parts) for (const b of parts) for (const c of parts) for (const sep of ['/', '//']) names.add(`${a}${sep}${b}${c === '' ? '' : '/' + c}`);

test('cleanTarName matches the general algorithm on every shape of name', () => {
  for (const n of names) assert.deepEqual(cleanTarName(n), cleanTarNameBySplit(n), JSON.stringify(n));
});

test('goClean matches its general path (Go path.Clean, checked on Go\'s own cases in tarsplit.test.ts) on every shape of name', () => {
  for (const n of names) assert.equal(goClean(n), goCleanBySplit(n), JSON.stringify(n));
});

test('crc64Update gives the same value on aligned words and on bytes', () => {
  const buf = Buffer.alloc(4096 + 16);
  for (let i = 0; i < buf.length; i++) buf[i] = (i * 131 + 7) & 0xff;
  for (const [off, len] of [[0, 4096], [1, 4095], [2, 100], [4, 64], [8, 4096], [3, 63], [0, 71]] as const) {
    const whole = crc64Update({ hi: 0, lo: 0 }, buf.subarray(off, off + len));
    const bytewise = { hi: 0, lo: 0 };
    for (let i = off; i < off + len; i++) crc64Update(bytewise, buf.subarray(i, i + 1));
    assert.deepEqual(whole, bytewise, `offset ${off} length ${len}`);
  }
});

// parseTarSplitJson takes the lines of each input chunk together: what it yields and reports, and
// in which order, must not depend on where the chunks end.

async function run(text: Buffer, chunk: number, options: { maxLineBytes?: number; maxEntries?: number }) {
  const findings = new Findings();
  async function* chunks() {
    for (let i = 0; i < text.length; i += chunk) yield text.subarray(i, i + chunk);
  }
  const it = parseTarSplitJson(chunks(), findings, options);
  const entries: unknown[] = [];
  let r = await it.next();
  while (!r.done) {
    entries.push({ type: r.value.type, line: r.value.line, position: r.value.position });
    r = await it.next();
  }
  return { entries, summary: r.value, findings: findings.list.map((f) => `${f.code} ${f.message}`) };
}

test('tar-split lines: the same entries and findings whatever the input chunks', async () => {
  const seg = (p: number, pad = '') => `{"type":2,"payload":"${Buffer.alloc(3).toString('base64')}${pad}","position":${p}}`;
  const long = `{"type":2,"payload":"${'A'.repeat(400)}","position":1}`;
  const body = [seg(0), long, '', seg(2), 'not json', long, seg(5), seg(6), seg(7)].join('\n') + '\n' + long;
  const text = Buffer.from(body);
  for (const options of [{ maxLineBytes: 200 }, { maxLineBytes: 200, maxEntries: 5 }, { maxLineBytes: 200, maxEntries: 2 }]) {
    const whole = await run(text, text.length, options);
    assert.ok(whole.findings.some((m) => m.startsWith('tarsplit.line-too-long line 2:')), whole.findings.join('\n'));
    if (!options.maxEntries) assert.ok(whole.findings.some((m) => m.startsWith('tarsplit.line-too-long line 10:')));
    for (const chunk of [1, 7, 64, 300]) assert.deepEqual(await run(text, chunk, options), whole, `chunks of ${chunk}, ${JSON.stringify(options)}`);
  }
});
