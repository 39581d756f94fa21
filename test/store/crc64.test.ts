import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CRC64_ISO_POLY,
  Crc64,
  crc64,
  crc64Base64,
  crc64Digest,
  crc64StateDigest,
  crc64StateFromDigest,
  crc64Update,
} from '../../src/store/crc64.js';

/** Bit-at-a-time reference, written straight from the definition (reflected, init ~0, xorout ~0). */
function reference(data: Uint8Array, prev = 0n): bigint {
  const M = 0xffffffffffffffffn;
  let crc = ~prev & M;
  for (const b of data) {
    crc ^= BigInt(b);
    for (let i = 0; i < 8; i++) crc = crc & 1n ? (crc >> 1n) ^ CRC64_ISO_POLY : crc >> 1n;
  }
  return ~crc & M;
}

/** Deterministic pseudo-random bytes (xorshift32). */
function bytes(n: number, seed = 0x9e3779b9): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

test('CRC-64/GO-ISO check value and tar-split payload form', () => {
  const nine = Buffer.from('123456789');
  assert.equal(crc64(nine), 0xb90956c775a41001n);
  assert.equal(crc64Digest(nine).toString('hex'), 'b90956c775a41001');
  assert.equal(crc64Base64(nine), 'uQlWx3WkEAE=');
  assert.equal(crc64(Buffer.alloc(0)), 0n);
  // Not CRC-64/XZ (ECMA-182), whose check value is 0x995DC9BBDF1939FA.
  assert.notEqual(crc64(nine), 0x995dc9bbdf1939fan);
});

test("Go's hash/crc64 golden values (ISO table)", () => {
  // From go/src/hash/crc64/crc64_test.go, column outISO.
  const golden: [bigint, string][] = [
    [0x0n, ''],
    [0x3420000000000000n, 'a'],
    [0x36c4200000000000n, 'ab'],
    [0x3776c42000000000n, 'abc'],
    [0x336776c420000000n, 'abcd'],
    [0x32d36776c4200000n, 'abcde'],
    [0x3002d36776c42000n, 'abcdef'],
    [0x31b002d36776c420n, 'abcdefg'],
    [0x0e21b002d36776c4n, 'abcdefgh'],
    [0x8b6e21b002d36776n, 'abcdefghi'],
    [0x7f5b6e21b002d367n, 'abcdefghij'],
    [0x8ec0e7c835bf9cdfn, 'Discard medicine more than two years old.'],
    [0xc7db1759e2be5ab4n, 'He who has a shady past knows that nice guys finish last.'],
    [0xfbf9d9603a6fa020n, "I wouldn't marry him with a ten foot pole."],
    [0xeafc4211a6daa0efn, 'Free! Free!/A trip/to Mars/for 900/empty jars/Burma Shave'],
  ];
  for (const [want, s] of golden) assert.equal(crc64(Buffer.from(s)), want, JSON.stringify(s));
});

test('payloads written by the real tar-split CLI (Go) for bodies in the test vectors', () => {
  // test/data/tarsplit/pax/tar-split.json.gz: ./data/one = "x", ./etc/hard = "dockscope\n".
  assert.equal(crc64Base64(Buffer.from('x')), 'IxAAAAAAAAA=');
  assert.equal(crc64Base64(Buffer.from('dockscope\n')), 'Ky1prDdsevc=');
  assert.equal(crc64Base64(Buffer.from('kept\n')), 'YVh+otrAAAA=');
});

test('slicing-by-8 agrees with the bitwise reference for every length, alignment and split', () => {
  const data = bytes(300);
  for (let off = 0; off < 8; off++) {
    for (let len = 0; off + len <= 200; len += 1) {
      const v = data.subarray(off, off + len);
      assert.equal(crc64(v), reference(v), `off ${off} len ${len}`);
    }
  }
  const v = data.subarray(3, 283);
  const want = reference(v);
  for (let split = 0; split <= v.length; split++) {
    const c = new Crc64().update(v.subarray(0, split)).update(v.subarray(split));
    assert.equal(c.value(), want, `split at ${split}`);
  }
  // Many small odd chunks.
  const c = new Crc64();
  for (let i = 0; i < v.length; i += 7) c.update(v.subarray(i, Math.min(i + 7, v.length)));
  assert.equal(c.value(), want);
});

test('a large buffer matches the reference', () => {
  const big = bytes(1 << 16, 12345);
  assert.equal(crc64(big), reference(big));
});

test('state round-trips through the 8-byte digest and continues like crc64.Update', () => {
  const a = Buffer.from('hello, ');
  const b = Buffer.from('world');
  const digest = crc64Digest(a);
  const state = crc64StateFromDigest(digest);
  assert.deepEqual(crc64StateDigest(state), digest);
  crc64Update(state, b);
  assert.equal(crc64StateDigest(state).toString('hex'), crc64Digest(Buffer.concat([a, b])).toString('hex'));
  assert.equal(reference(b, crc64(a)), crc64(Buffer.concat([a, b])));
  assert.throws(() => crc64StateFromDigest(Buffer.alloc(7)), RangeError);
});

test('Crc64 object: hex, base64, reset', () => {
  const c = new Crc64().update(Buffer.from('123456789'));
  assert.equal(c.hex(), 'b90956c775a41001');
  assert.equal(c.base64(), 'uQlWx3WkEAE=');
  c.reset();
  assert.equal(c.value(), 0n);
  assert.equal(c.update(Buffer.from('a')).hex(), '3420000000000000');
});
