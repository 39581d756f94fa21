/** The bounds table: names, values with suffixes, refusals, and that readers see a changed bound. */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { afterEach, test } from 'node:test';
import { DEFAULT_LIMITS, limitName, limits, limitsSet, parseLimitValue, resetLimits, setLimit } from '../../src/source/limits.js';
import { Findings } from '../../src/store/findings.js';
import { readJsonLog } from '../../src/store/jsonlog.js';

afterEach(() => resetLimits());

test('sizes take binary suffixes; anything else is refused', () => {
  assert.equal(parseLimitValue('123'), 123);
  assert.equal(parseLimitValue('64M'), 64 * 1024 * 1024);
  assert.equal(parseLimitValue('1.5g'), 1.5 * 1024 ** 3);
  assert.equal(parseLimitValue('512KiB'), 512 * 1024);
  for (const bad of ['', '0', '-1', 'x', '1e9', '12Q', `${2 ** 60}`]) assert.equal(parseLimitValue(bad), undefined, bad);
});

test('--limit names are the kebab-case keys; unknown names and bad values say what is known', () => {
  assert.equal(limitName('tarKeepTotalBytes'), 'tar-keep-total-bytes');
  assert.equal(setLimit('metadata-bytes=1K'), undefined);
  assert.equal(limits.metadataBytes, 1024);
  assert.ok(limitsSet.has('metadataBytes'));
  assert.match(setLimit('nope=1')!, /unknown limit \(known: metadata-bytes, bolt-bytes/);
  assert.match(setLimit('metadata-bytes')!, /expected name=value/);
  assert.match(setLimit('log-line-bytes=big')!, /not a positive size/);
  assert.match(setLimit('__proto__=1')!, /unknown limit/);
  resetLimits();
  assert.deepEqual({ ...limits }, { ...DEFAULT_LIMITS });
});

test('a reader takes the bound in force when it starts', async () => {
  const line = `{"log":"${'x'.repeat(200)}\\n","stream":"stdout","time":"2024-01-01T00:00:00Z"}\n`;
  const run = async () => {
    const f = new Findings();
    let n = 0;
    for await (const _ of readJsonLog(Readable.from([Buffer.from(line)]), { path: 'x', findings: f })) n++;
    return { n, codes: f.list.map((x) => x.code) };
  };
  assert.deepEqual(await run(), { n: 1, codes: [] });
  setLimit('log-line-bytes=100');
  assert.deepEqual(await run(), { n: 0, codes: ['logs.line-too-long'] });
});
