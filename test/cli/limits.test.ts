/** `--limit name=value` on the command line: it reaches the readers, and bad names are usage errors. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cli } from '../helpers/cli.js';
import { listFixtures } from '../helpers/fixtures.js';

const f = listFixtures((n) => n === 'overlay2-20.10')[0]!;

test('a lowered bound is reported as a finding and the answer is partial (exit 3)', () => {
  const ok = cli(['--root', f.archive, 'images']);
  assert.equal(ok.code, 0, ok.stderr);
  const r = cli(['--root', f.archive, '--limit', 'metadata-bytes=1K', 'images']);
  assert.equal(r.code, 3, r.stderr);
  const info = cli(['--root', f.archive, '--limit', 'metadata-bytes=1K', 'info']);
  assert.equal(info.code, 3);
  assert.match(info.stdout, /imagedb\.unreadable .*larger than the 1024-byte bound/);
});

test('repeated, and after the command, each --limit applies', () => {
  const r = cli(['--root', f.archive, 'logs', 'logs', '--limit', 'log-line-bytes=100', '--limit', 'metadata-bytes=64M']);
  assert.match(r.stderr, /logs\.line-too-long .*longer than 100 bytes/);
});

test('unknown names and values that are no size are usage errors (exit 2)', () => {
  for (const spec of ['nope=1', 'metadata-bytes=lots', 'metadata-bytes']) {
    const r = cli(['--root', f.archive, '--limit', spec, 'info']);
    assert.equal(r.code, 2, spec);
    assert.match(r.stderr, /--limit/);
  }
});
