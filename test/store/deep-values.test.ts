/**
 * Regressions from fuzzing: evidence values nested thousands deep used to crash the parsers while
 * they built a finding's message (JSON.stringify overflows the stack), and hostile varints in a
 * local-driver log aborted the whole process in V8's optimiser.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Findings } from '../../src/store/findings.js';
import { parseImageConfig } from '../../src/store/imageconfig.js';
import { decodeLogEntry } from '../../src/store/locallog.js';
import { preview } from '../../src/store/read.js';
import { parseRepositories } from '../../src/store/repositories.js';

const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);

test('a value nested 100,000 deep in repositories.json is a finding, not a crash', () => {
  const f = new Findings();
  const buf = Buffer.from(`{"Repositories":{"x":{"x:1":${deep(100_000)}}}}`);
  assert.deepEqual(parseRepositories(buf, 'repositories.json', f), []);
  assert.ok(f.list.some((x) => x.code === 'repositories.bad-id' && x.message.length < 400));
});

test('a deep diff_ids entry in an image config is a finding, not a crash', () => {
  const f = new Findings();
  assert.equal(parseImageConfig(Buffer.from(`{"rootfs":{"type":"layers","diff_ids":[${deep(100_000)}]}}`), 'c', f), undefined);
  assert.ok(f.list.some((x) => x.code === 'imagedb.bad-diffid'));
});

test('preview is short and never throws', () => {
  assert.ok(preview(JSON.parse(deep(50_000))).length <= 100);
  assert.equal(preview('x'.repeat(10_000)).length, 100);
  assert.equal(preview(5), '5');
});

test('hostile varints in local log frames never take the process down', () => {
  // Many over-long varints in a row, the pattern that made V8 abort once the loop was optimised.
  for (let i = 0; i < 20_000; i++) {
    const junk = Buffer.from([0x10, ...Array(9).fill(0xff), 0x7f, 0x1a, 0x02, 0x61, 0x62]);
    try {
      decodeLogEntry(junk);
    } catch (e) {
      assert.ok(e instanceof Error);
    }
  }
});

test('a deep value in a pre-1.10 repositories-<driver> file is a finding, not a crash', async () => {
  const { parseLegacyRepositories } = await import('../../src/store/legacy.js');
  const f = new Findings();
  const refs = parseLegacyRepositories(Buffer.from(`{"Repositories":{"busybox":{"latest":${deep(100_000)}}}}`), 'repositories-aufs', f);
  assert.deepEqual(refs, []);
  assert.ok(f.list.some((x) => x.code === 'legacy.bad-ref'));
});
