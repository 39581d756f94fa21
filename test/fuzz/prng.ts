/**
 * Seeded PRNG for the fuzzer (sfc32: small, fast, good enough for mutation choices). Everything the
 * fuzzer decides comes from one of these, so a (target, seed, iteration) triple names one input.
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number | string) {
    const h = typeof seed === 'number' ? mix32(seed >>> 0, (seed / 2 ** 32) >>> 0) : hashString(seed);
    this.a = h ^ 0x9e3779b9;
    this.b = mix32(h, 0x243f6a88);
    this.c = mix32(h, 0x85a308d3);
    this.d = 1;
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** A fresh generator for a sub-task, independent of how much of this one is used later. */
  fork(label: string | number): Rng {
    return new Rng(`${this.u32()}:${label}`);
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 2 ** 32;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (n <= 1) return 0;
    if (n <= 2 ** 32) return Math.floor(this.float() * n);
    return Math.floor((this.u32() * 2 ** 21 + (this.u32() >>> 11)) / 2 ** 53 * n);
  }

  /** Uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(list: readonly T[]): T {
    if (list.length === 0) throw new Error('Rng.pick on an empty list');
    return list[this.int(list.length)]!;
  }

  /** Picks by weight: [[weight, value], …]. */
  weighted<T>(list: readonly (readonly [number, T])[]): T {
    const total = list.reduce((n, [w]) => n + w, 0);
    let x = this.float() * total;
    for (const [w, v] of list) {
      if (x < w) return v;
      x -= w;
    }
    return list[list.length - 1]![1];
  }

  /** Small numbers far more often than large ones: 0..max with a roughly exponential tail. */
  small(max: number): number {
    const bits = this.int(Math.max(1, Math.ceil(Math.log2(max + 1))) + 1);
    return Math.min(max, this.int(2 ** bits));
  }

  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
}

export function hashString(s: string): number {
  // FNV-1a 32 then a final mix.
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return mix32(h >>> 0, s.length);
}

function mix32(a: number, b: number): number {
  let h = (a ^ Math.imul(b ^ 0x5bd1e995, 0x27d4eb2d)) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
  return (h ^ (h >>> 15)) >>> 0;
}
