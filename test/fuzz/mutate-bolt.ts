/**
 * bbolt-aware mutations. Two kinds:
 *  - raw: edit the length, count, offset and page-id fields bbolt files are made of (page headers,
 *    leaf and branch elements, bucket headers, the freelist, the meta pages, resealing the meta
 *    checksum so the edit is not simply refused), copy pages over each other, cut the file;
 *  - logical: read the file with openBolt, change keys, values (JSON-aware) and bucket nesting,
 *    then write a new, well-formed file with the test bbolt writer under random layout options
 *    (page size, byte order, inline buckets, leaf/branch fan-out, stale and unlisted pages), so
 *    the records themselves reach the volume and network parsers.
 */
import { fnv1a64, openBolt, type Bucket } from '../../src/store/bbolt.js';
import { buildBolt, type BoltTree, type BoltValue, type WriterOptions } from '../helpers/bboltwriter.js';
import { clamp, mutateBytes, mutateJson, mutateText, type Dict } from './mutate.js';
import type { Rng } from './prng.js';

interface Layout {
  le: boolean;
  ps: number;
  pages: number;
}

function layout(b: Buffer): Layout | undefined {
  if (b.length < 80) return undefined;
  let le: boolean;
  if (b.readUInt32LE(16) === 0xed0cdaed) le = true;
  else if (b.readUInt32BE(16) === 0xed0cdaed) le = false;
  else return undefined;
  const ps = le ? b.readUInt32LE(24) : b.readUInt32BE(24);
  if (ps < 256 || ps > 1 << 24) return undefined;
  return { le, ps, pages: Math.ceil(b.length / ps) };
}

const rd = (b: Buffer, L: Layout, o: number, w: 2 | 4 | 8): bigint => {
  if (o + w > b.length) return 0n;
  if (w === 2) return BigInt(L.le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  if (w === 4) return BigInt(L.le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  return L.le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o);
};

const wr = (b: Buffer, L: Layout, o: number, w: 2 | 4 | 8, v: bigint): void => {
  if (o < 0 || o + w > b.length) return;
  const x = BigInt.asUintN(w * 8, v);
  if (w === 2) L.le ? b.writeUInt16LE(Number(x), o) : b.writeUInt16BE(Number(x), o);
  else if (w === 4) L.le ? b.writeUInt32LE(Number(x), o) : b.writeUInt32BE(Number(x), o);
  else L.le ? b.writeBigUInt64LE(x, o) : b.writeBigUInt64BE(x, o);
};

export function resealMetas(b: Buffer, L: Layout): void {
  for (const off of [0, L.ps]) {
    if (off + 80 > b.length) continue;
    if (rd(b, L, off + 16, 4) !== 0xed0cdaedn) continue;
    wr(b, L, off + 72, 8, fnv1a64(b.subarray(off + 16, off + 72)));
  }
}

function pageIdValue(rng: Rng, L: Layout, near: bigint): bigint {
  return rng.pick([0n, 1n, 2n, near, near + 1n, near - 1n, BigInt(L.pages - 1), BigInt(L.pages), BigInt(L.pages + 1), BigInt(rng.int(L.pages)), 2n ** 32n, 2n ** 53n + 1n, 2n ** 64n - 1n]);
}

function sizeValue(rng: Rng, L: Layout, cur: bigint): bigint {
  return rng.pick([0n, 1n, cur + 1n, cur - 1n, cur * 2n, BigInt(L.ps), BigInt(L.ps * L.pages), 0x7fffffffn, 0xffffffffn, 0xffffn, BigInt(rng.int(L.ps))]);
}

export function mutateBoltRaw(input: Buffer, rng: Rng, dict: Dict, others: Buffer[] = []): Buffer {
  const L = layout(input);
  if (!L) return mutateBytes(input, rng, dict, others);
  let b: Buffer = Buffer.from(input);
  const n = 1 + rng.small(4);
  let touchedMeta = false;
  for (let k = 0; k < n; k++) {
    const op = rng.int(12);
    const pg = rng.int(L.pages);
    const off = pg * L.ps;
    switch (op) {
      case 0: {
        // page header field
        const [o, w] = rng.pick([
          [0, 8],
          [8, 2],
          [10, 2],
          [12, 4],
        ] as const);
        const cur = rd(b, L, off + o, w);
        const v = o === 0 ? pageIdValue(rng, L, BigInt(pg)) : o === 8 ? BigInt(rng.pick([0, 1, 2, 4, 0x10, 3, 0x12, 0xffff, rng.int(0x10000)])) : sizeValue(rng, L, cur);
        wr(b, L, off + o, w, v);
        if (pg < 2) touchedMeta = true;
        break;
      }
      case 1:
      case 2:
      case 3: {
        // an element of a leaf or branch page
        const flags = Number(rd(b, L, off + 8, 2));
        const count = Number(rd(b, L, off + 10, 2));
        if (count === 0 || (flags !== 1 && flags !== 2)) {
          b = mutateBytes(b, rng, dict, others);
          break;
        }
        const i = rng.int(Math.min(count, Math.floor((L.ps - 16) / 16)));
        const eo = off + 16 + 16 * i;
        if (flags === 2) {
          const f = rng.int(5);
          if (f === 0) wr(b, L, eo, 4, BigInt(rng.pick([0, 1, 2, 3, 0xffffffff])));
          else if (f === 4) {
            // the bucket header inside a bucket element's value
            const start = eo + Number(rd(b, L, eo + 4, 4)) + Number(rd(b, L, eo + 8, 4));
            const which = rng.int(4);
            if (which === 0) wr(b, L, start, 8, pageIdValue(rng, L, BigInt(pg)));
            else if (which === 1) wr(b, L, start, 8, 0n);
            else if (which === 2) wr(b, L, start + 16 + 10, 2, BigInt(rng.pick([0, 1, 2, 0xffff, rng.int(300)])));
            else wr(b, L, start + 16 + 8, 2, BigInt(rng.pick([0, 1, 2, 4, 0x10])));
          } else wr(b, L, eo + 4 * f, 4, sizeValue(rng, L, rd(b, L, eo + 4 * f, 4)));
        } else {
          const f = rng.int(3);
          if (f === 2) wr(b, L, eo + 8, 8, pageIdValue(rng, L, BigInt(pg)));
          else wr(b, L, eo + 4 * f, 4, sizeValue(rng, L, rd(b, L, eo + 4 * f, 4)));
        }
        break;
      }
      case 4: {
        // a meta field
        const m = rng.int(2) * L.ps;
        const [o, w] = rng.pick([
          [20, 4],
          [24, 4],
          [28, 4],
          [32, 8],
          [40, 8],
          [48, 8],
          [56, 8],
          [64, 8],
        ] as const);
        const v =
          o === 24
            ? BigInt(rng.pick([0, 255, 256, 512, 1000, 1024, 4096, 8192, 65536, 1 << 24, 0xffffffff]))
            : o === 48
              ? rng.pick([2n ** 64n - 1n, pageIdValue(rng, L, 2n)])
              : o === 20
                ? BigInt(rng.pick([1, 2, 3]))
                : o === 64
                  ? rd(b, L, m + o, 8) + BigInt(rng.range(-2, 2))
                  : pageIdValue(rng, L, rd(b, L, m + o, 8));
        wr(b, L, m + o, w, v);
        touchedMeta = true;
        break;
      }
      case 5: {
        // copy a page over another (shared pages, cycles, stale copies)
        const src = rng.int(L.pages);
        if (src * L.ps >= b.length || off >= b.length) break;
        b.copy(b, off, src * L.ps, Math.min(b.length, src * L.ps + L.ps));
        if (rng.chance(0.5)) wr(b, L, off, 8, BigInt(pg));
        if (pg < 2) touchedMeta = true;
        break;
      }
      case 6:
        // cut the file: at a page boundary or anywhere
        b = b.subarray(0, rng.chance(0.5) ? rng.int(L.pages + 1) * L.ps : rng.int(b.length + 1));
        break;
      case 7:
        // grow it: garbage pages, or copies of existing ones past the high-water mark
        b = Buffer.concat([b, rng.chance(0.5) ? Buffer.alloc(L.ps * rng.range(1, 4)) : b.subarray(rng.int(L.pages) * L.ps).subarray(0, L.ps * rng.range(1, 3))]);
        break;
      case 8: {
        // the freelist page
        const fl = Number(rd(b, L, 48, 8));
        if (fl > 1 && fl < L.pages) {
          const fo = fl * L.ps;
          const c = rng.int(3);
          if (c === 0) wr(b, L, fo + 10, 2, rng.pick([0n, 1n, 0xffffn, BigInt(rng.int(600))]));
          else if (c === 1) wr(b, L, fo + 16, 8, rng.pick([0n, 1n, 2n ** 32n, 2n ** 63n, BigInt(L.pages), BigInt(rng.int(L.pages))]));
          else wr(b, L, fo + 16 + 8 * rng.int(8), 8, pageIdValue(rng, L, 2n));
        }
        break;
      }
      case 9:
        // bytes inside one page, the page keeping its size
        b = spliceInto(b, off, mutateBytes(b.subarray(off, off + L.ps), rng, dict, []));
        break;
      case 10: {
        // swap the two metas, or make one page the other's copy
        if (b.length >= 2 * L.ps) {
          const m0 = Buffer.from(b.subarray(0, L.ps));
          if (rng.chance(0.5)) {
            b.copy(b, 0, L.ps, 2 * L.ps);
            m0.copy(b, L.ps);
          } else b.copy(b, L.ps, 0, L.ps);
        }
        touchedMeta = true;
        break;
      }
      default:
        b = mutateBytes(b, rng, dict, others);
    }
  }
  if (touchedMeta ? rng.chance(0.85) : rng.chance(0.1)) resealMetas(b, L);
  return clamp(b);
}

function spliceInto(b: Buffer, off: number, chunk: Buffer): Buffer {
  const out = Buffer.from(b);
  chunk.subarray(0, Math.max(0, Math.min(chunk.length, out.length - off))).copy(out, off);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Logical: dump, edit, rewrite.

type LTree = Map<Buffer, LVal>;
type LVal = Buffer | LTree;

function dump(bk: Bucket, depth: number, budget: { n: number }): LTree {
  const out: LTree = new Map();
  for (const e of bk.entries()) {
    if (--budget.n < 0) break;
    if (e.bucket && depth < 8) out.set(Buffer.from(e.key), dump(e.bucket, depth + 1, budget));
    else if (e.value) out.set(Buffer.from(e.key), Buffer.from(e.value));
  }
  return out;
}

function toWriter(t: LTree): BoltTree {
  const m = new Map<string | Buffer, BoltValue>();
  for (const [k, v] of t) m.set(k, Buffer.isBuffer(v) ? v : toWriter(v));
  return m;
}

function allBuckets(t: LTree, out: LTree[] = []): LTree[] {
  out.push(t);
  for (const v of t.values()) if (!Buffer.isBuffer(v)) allBuckets(v, out);
  return out;
}

function mutateValue(v: Buffer, rng: Rng, dict: Dict): Buffer {
  // libnetwork values: 8-byte index + JSON; volume values: JSON.
  const idx = v.length >= 8 && v[8] === 0x7b ? 8 : 0;
  if (rng.chance(0.15)) return mutateBytes(v, rng, dict);
  if (idx === 8 && rng.chance(0.2)) {
    const out = Buffer.from(v);
    out.writeBigUInt64LE(rng.pick([0n, 1n, 2n ** 64n - 1n, BigInt(rng.u32())]), 0);
    return out;
  }
  return Buffer.concat([v.subarray(0, idx), mutateJson(v.subarray(idx), rng, dict)]);
}

function keyVariant(k: Buffer, rng: Rng, dict: Dict): Buffer {
  switch (rng.int(6)) {
    case 0:
      return Buffer.alloc(0);
    case 1:
      return Buffer.concat([k, Buffer.from([rng.int(256)])]);
    case 2:
      return Buffer.from(rng.bytes(1 + rng.small(40)));
    case 3:
      return mutateText(k, rng, dict);
    case 4:
      return Buffer.from(k.toString('latin1').replace(/\/$/, '') + rng.pick(['', '/', '//', '/x/', '/../']), 'latin1');
    default:
      return Buffer.from('\xff\xfe' + k.toString('latin1'), 'latin1');
  }
}

export function mutateBoltLogical(input: Buffer, rng: Rng, dict: Dict, others: Buffer[] = []): Buffer {
  const { db } = openBolt(input);
  if (!db) return mutateBoltRaw(input, rng, dict, others);
  const root = dump(db.root(), 0, { n: 5000 });
  const n = 1 + rng.small(4);
  for (let i = 0; i < n; i++) {
    const buckets = allBuckets(root);
    const bk = rng.pick(buckets);
    const entries = [...bk.entries()];
    const op = rng.int(9);
    if (entries.length === 0 || op === 0) {
      bk.set(Buffer.from(rng.pick(dict.tokens.length ? dict.tokens : ['k'])), rng.chance(0.3) ? new Map() : Buffer.from(rng.pick(dict.tokens.length ? dict.tokens : ['v'])));
      continue;
    }
    const [k, v] = rng.pick(entries);
    switch (op) {
      case 1:
      case 2:
      case 3:
        if (Buffer.isBuffer(v)) bk.set(k, mutateValue(v, rng, dict));
        else v.set(Buffer.from('x'), Buffer.from('{}'));
        break;
      case 4:
        bk.delete(k);
        break;
      case 5:
        // same key bytes twice (a Map keyed by Buffer object allows it)
        bk.set(Buffer.from(k), Buffer.isBuffer(v) ? mutateValue(v, rng, dict) : new Map());
        break;
      case 6:
        bk.delete(k);
        bk.set(keyVariant(k, rng, dict), v);
        break;
      case 7:
        // bucket <-> value
        bk.set(k, Buffer.isBuffer(v) ? new Map([[Buffer.from('k'), v]]) : Buffer.from('{}'));
        break;
      default: {
        // many copies: forces branch pages and overflow
        // bounded by the input limit: 2000 copies of a large value once took the child to 3 GiB
        const size = k.length + 8 + (Buffer.isBuffer(v) ? v.length : 64);
        const count = Math.min(rng.pick([50, 300, 2000]), Math.max(1, Math.floor((1 << 20) / size)));
        for (let j = 0; j < count; j++) bk.set(Buffer.concat([k, Buffer.from(`-${j}`)]), Buffer.isBuffer(v) ? v : new Map());
      }
    }
  }
  // The test writer loops forever when a key does not fit a branch page twice over (each branch
  // then holds one child and the level never shrinks): pick a page size the keys fit.
  let longest = 0;
  for (const bk of allBuckets(root)) for (const k of bk.keys()) longest = Math.max(longest, k.length);
  const sizes = [512, 1024, 4096, 4096, 8192, 65536].filter((ps) => ps >= 4 * (longest + 32));
  if (sizes.length === 0) return mutateBoltRaw(input, rng, dict, others);
  const o: WriterOptions = {
    pageSize: rng.pick(sizes),
    bigEndian: rng.chance(0.15),
    inline: rng.pick(['auto', 'auto', 'always', 'never'] as const),
    txid: rng.range(2, 1000),
  };
  if (rng.chance(0.3)) o.maxLeafKeys = rng.range(1, 8);
  if (rng.chance(0.3)) o.maxBranchKeys = rng.range(2, 6);
  const stale = (): BoltTree => {
    const b = rng.pick(allBuckets(root));
    const t: BoltTree = new Map();
    for (const [k, v] of b) if (Buffer.isBuffer(v)) t.set(k, rng.chance(0.3) ? mutateValue(v, rng, dict) : v);
    const named = new Map<string | Buffer, BoltValue>([[rng.pick([...root.keys()].concat([Buffer.from('x')])), t]]);
    return rng.chance(0.5) ? t : named;
  };
  if (rng.chance(0.3)) o.stale = [stale()];
  if (rng.chance(0.2)) o.unlisted = [stale()];
  if (rng.chance(0.2)) o.beyondHighWater = [stale()];
  if (rng.chance(0.1)) o.freelist = rng.pick(['big-count', 'none'] as const);
  if (rng.chance(0.05)) o.corruptMeta0 = rng.pick(['checksum', 'magic', 'version'] as const);
  const tree = toWriter(root);
  if (rng.chance(0.2)) o.rootSequence = BigInt(rng.u32());
  try {
    const built = buildBolt(tree, o).buf;
    return built.length > 1 << 20 ? mutateBoltRaw(input, rng, dict, others) : built;
  } catch {
    // the writer refuses layouts it cannot express (freelist overflow …)
    return mutateBoltRaw(input, rng, dict, others);
  }
}

export function mutateBolt(input: Buffer, rng: Rng, dict: Dict, others: Buffer[] = []): Buffer {
  const r = rng.float();
  if (r < 0.45) return mutateBoltLogical(input, rng, dict, others);
  if (r < 0.9) return mutateBoltRaw(input, rng, dict, others);
  return mutateBytes(input, rng, dict, others);
}
