import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chainIDs } from '../../src/model/chainid.js';
import { familiarString, fullString, lookupKey, parseNormalizedNamed } from '../../src/model/reference.js';
import { goRFC3339Nano, unixNanos, unixSeconds } from '../../src/model/time.js';

test('references normalise like distribution/reference', () => {
  const cases: [string, string, string][] = [
    ['ubuntu', 'docker.io/library/ubuntu', 'ubuntu'],
    ['ubuntu:22.04', 'docker.io/library/ubuntu:22.04', 'ubuntu:22.04'],
    ['library/ubuntu', 'docker.io/library/ubuntu', 'ubuntu'],
    ['index.docker.io/library/ubuntu:x', 'docker.io/library/ubuntu:x', 'ubuntu:x'],
    ['me/app', 'docker.io/me/app', 'me/app'],
    ['localhost/fx/other:v1', 'localhost/fx/other:v1', 'localhost/fx/other:v1'],
    ['127.0.0.1:5601/fx/app:1', '127.0.0.1:5601/fx/app:1', '127.0.0.1:5601/fx/app:1'],
    ['registry:5000/x', 'registry:5000/x', 'registry:5000/x'],
    ['Upper/app', 'Upper/app', 'Upper/app'],
  ];
  for (const [input, full, familiar] of cases) {
    const r = parseNormalizedNamed(input)!;
    assert.ok(r, input);
    assert.equal(fullString(r), full, input);
    assert.equal(familiarString(r), familiar, input);
  }
  const d = 'sha256:' + 'ab'.repeat(32);
  assert.equal(lookupKey(parseNormalizedNamed(`ubuntu:1@${d}`)!), `ubuntu@${d}`);
  assert.equal(lookupKey(parseNormalizedNamed('ubuntu')!), 'ubuntu:latest');
});

test('references Docker refuses do not parse', () => {
  for (const bad of ['UPPER', 'a'.repeat(64).replace(/a/g, 'f'), 'x:', 'x@sha256:zz', 'a//b', '-x', 'x:-tag', '']) assert.equal(parseNormalizedNamed(bad), undefined, bad);
});

test('chainID test vector from image-spec', () => {
  const a = 'sha256:' + 'a'.repeat(64);
  const b = 'sha256:' + 'b'.repeat(64);
  assert.deepEqual(chainIDs([a, b]), [a, 'sha256:ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c']);
});

test('chainIDs with a memo shared by images gives what it gives without one', () => {
  const d = (c: string) => 'sha256:' + c.repeat(64);
  const memo = new Map<string, Map<string, string>>();
  // Shared prefixes, one diffID under two different parents, a repeated diffID, the same chain twice.
  const images = [[d('a'), d('b'), d('c')], [d('a'), d('b'), d('d')], [d('b'), d('c')], [d('a'), d('a'), d('a')], [d('a'), d('b'), d('c')]];
  for (const ids of images) assert.deepEqual(chainIDs(ids, memo), chainIDs(ids), ids.join(' '));
  // One entry per distinct parent chainID: [a], [a b], [b], [a a].
  assert.equal(memo.size, 4);
});

test('times print like Go RFC3339Nano', () => {
  assert.equal(goRFC3339Nano('2024-01-01T00:00:00.120000000Z'), '2024-01-01T00:00:00.12Z');
  assert.equal(goRFC3339Nano('2024-01-01T00:00:00.000Z'), '2024-01-01T00:00:00Z');
  assert.equal(goRFC3339Nano('2024-01-01T02:00:00+00:00'), '2024-01-01T02:00:00Z');
  assert.equal(goRFC3339Nano('2024-01-01T02:00:00.5+02:00'), '2024-01-01T02:00:00.5+02:00');
  assert.equal(unixSeconds('2024-01-01T02:00:00.9+02:00'), 1704067200);
  assert.equal(unixNanos('1970-01-01T00:00:01.000000005Z'), 1_000_000_005n);
});
