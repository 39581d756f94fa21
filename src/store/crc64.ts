/**
 * CRC-64/GO-ISO, exactly as Go's `hash/crc64` with `crc64.MakeTable(crc64.ISO)`: the checksum
 * tar-split stores for every file body (`tar/storage/getter.go:CRCTable`, FORMATS.md §4).
 *
 * Reflected polynomial 0xD800000000000000 (ISO 3309, normal form 0x1B), init ~0, xorout ~0:
 * Go's `update` complements on the way in and out, so a running value can be fed back in and the
 * CRC of nothing is 0. check("123456789") = 0xB90956C775A41001. It is *not* CRC-64/XZ (ECMA).
 *
 * Layer content is large, so the hot loop is slicing-by-8 on two 32-bit halves: no BigInt, no
 * allocation per byte. The state a caller carries is the finished CRC value itself, as in Go's
 * `crc64.Update(crc, tab, p)`, so chunks can be fed one at a time.
 */

/** Go's `crc64.ISO`: the reflected ISO 3309 polynomial. */
export const CRC64_ISO_POLY = 0xd800000000000000n;

/** A CRC-64 value as two unsigned 32-bit halves. */
export interface Crc64State {
  hi: number;
  lo: number;
}

/** 8 tables × 256 entries, split into low and high halves (slicing-by-8, as Go's `slicing8Table`). */
const TLO = new Uint32Array(8 * 256);
const THI = new Uint32Array(8 * 256);

(function makeTables(): void {
  const t0: bigint[] = [];
  for (let i = 0; i < 256; i++) {
    let crc = BigInt(i);
    for (let j = 0; j < 8; j++) crc = crc & 1n ? (crc >> 1n) ^ CRC64_ISO_POLY : crc >> 1n;
    t0.push(crc);
  }
  let prev = t0;
  for (let k = 0; k < 8; k++) {
    const cur = k === 0 ? t0 : prev.map((c) => t0[Number(c & 0xffn)]! ^ (c >> 8n));
    for (let i = 0; i < 256; i++) {
      TLO[k * 256 + i] = Number(cur[i]! & 0xffffffffn);
      THI[k * 256 + i] = Number(cur[i]! >> 32n);
    }
    prev = cur;
  }
})();

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Go's `crc64.Update`: returns the CRC of (whatever `state` summarised) followed by `p`. Mutates
 * and returns `state`. Start from {hi: 0, lo: 0}.
 */
export function crc64Update(state: Crc64State, p: Uint8Array): Crc64State {
  let lo = ~state.lo;
  let hi = ~state.hi;
  const n = p.length;
  let i = 0;
  const end8 = n - (n & 7);
  if (LITTLE_ENDIAN && (p.byteOffset & 3) === 0 && n >= 64) {
    // The same loop on whole 32-bit words: two loads instead of eight bytes and their shifts.
    const w = new Int32Array(p.buffer, p.byteOffset, end8 >>> 2);
    for (let k = 0; k < w.length; k += 2) {
      lo ^= w[k]!;
      hi ^= w[k + 1]!;
      const a = 7 * 256 + (lo & 0xff);
      const b = 6 * 256 + ((lo >>> 8) & 0xff);
      const c = 5 * 256 + ((lo >>> 16) & 0xff);
      const d = 4 * 256 + (lo >>> 24);
      const e = 3 * 256 + (hi & 0xff);
      const f = 2 * 256 + ((hi >>> 8) & 0xff);
      const g = 256 + ((hi >>> 16) & 0xff);
      const h = hi >>> 24;
      lo = TLO[a]! ^ TLO[b]! ^ TLO[c]! ^ TLO[d]! ^ TLO[e]! ^ TLO[f]! ^ TLO[g]! ^ TLO[h]!;
      hi = THI[a]! ^ THI[b]! ^ THI[c]! ^ THI[d]! ^ THI[e]! ^ THI[f]! ^ THI[g]! ^ THI[h]!;
    }
    i = end8;
  }
  for (; i < end8; i += 8) {
    lo ^= p[i]! | (p[i + 1]! << 8) | (p[i + 2]! << 16) | (p[i + 3]! << 24);
    hi ^= p[i + 4]! | (p[i + 5]! << 8) | (p[i + 6]! << 16) | (p[i + 7]! << 24);
    // crc = tab[7][b0] ^ tab[6][b1] ^ … ^ tab[0][b7], byte b0 being the lowest of the 64-bit value.
    const a = 7 * 256 + (lo & 0xff);
    const b = 6 * 256 + ((lo >>> 8) & 0xff);
    const c = 5 * 256 + ((lo >>> 16) & 0xff);
    const d = 4 * 256 + (lo >>> 24);
    const e = 3 * 256 + (hi & 0xff);
    const f = 2 * 256 + ((hi >>> 8) & 0xff);
    const g = 256 + ((hi >>> 16) & 0xff);
    const h = hi >>> 24;
    lo = TLO[a]! ^ TLO[b]! ^ TLO[c]! ^ TLO[d]! ^ TLO[e]! ^ TLO[f]! ^ TLO[g]! ^ TLO[h]!;
    hi = THI[a]! ^ THI[b]! ^ THI[c]! ^ THI[d]! ^ THI[e]! ^ THI[f]! ^ THI[g]! ^ THI[h]!;
  }
  for (; i < n; i++) {
    const idx = (lo ^ p[i]!) & 0xff;
    lo = ((lo >>> 8) | (hi << 24)) ^ TLO[idx]!;
    hi = (hi >>> 8) ^ THI[idx]!;
  }
  state.lo = ~lo >>> 0;
  state.hi = ~hi >>> 0;
  return state;
}

/** The 8-byte big-endian form Go's `Sum` appends: what tar-split stores (base64) as a file payload. */
export function crc64StateDigest(state: Crc64State): Buffer {
  const out = Buffer.allocUnsafe(8);
  out.writeUInt32BE(state.hi >>> 0, 0);
  out.writeUInt32BE(state.lo >>> 0, 4);
  return out;
}

/** Reads an 8-byte big-endian digest back into a state (for comparison or to continue a CRC). */
export function crc64StateFromDigest(digest: Uint8Array): Crc64State {
  if (digest.length !== 8) throw new RangeError(`a CRC-64 digest is 8 bytes, not ${digest.length}`);
  const b = Buffer.from(digest.buffer, digest.byteOffset, 8);
  return { hi: b.readUInt32BE(0), lo: b.readUInt32BE(4) };
}

/** Streaming CRC-64/GO-ISO: `new Crc64().update(a).update(b).digest()`. */
export class Crc64 {
  private readonly state: Crc64State = { hi: 0, lo: 0 };

  update(chunk: Uint8Array): this {
    crc64Update(this.state, chunk);
    return this;
  }

  reset(): this {
    this.state.hi = 0;
    this.state.lo = 0;
    return this;
  }

  /** 8 bytes, big-endian (Go's `hash.Sum(nil)`). */
  digest(): Buffer {
    return crc64StateDigest(this.state);
  }

  /** Standard base64 with padding of the digest: the `payload` of a tar-split file entry. */
  base64(): string {
    return this.digest().toString('base64');
  }

  /** 16 lowercase hex digits. */
  hex(): string {
    return this.digest().toString('hex');
  }

  value(): bigint {
    return (BigInt(this.state.hi) << 32n) | BigInt(this.state.lo);
  }
}

/** One-shot CRC-64/GO-ISO as a bigint. */
export function crc64(data: Uint8Array): bigint {
  return new Crc64().update(data).value();
}

/** One-shot 8-byte big-endian digest. */
export function crc64Digest(data: Uint8Array): Buffer {
  return new Crc64().update(data).digest();
}

/** One-shot digest in the base64 form tar-split payloads use ("123456789" → "uQlWx3WkEAE="). */
export function crc64Base64(data: Uint8Array): string {
  return new Crc64().update(data).base64();
}
