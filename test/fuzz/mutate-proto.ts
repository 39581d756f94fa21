/**
 * Mutations for the `local` log driver's files: frames `[u32 BE len][protobuf LogEntry][u32 BE len]`
 * and the protobuf messages inside them (varints, wire types, field numbers, lengths of
 * length-delimited fields, groups). Length fields are kept consistent most of the time, so the
 * message decoder is reached; sometimes they are made to disagree on purpose.
 */
import { clamp, mutateBytes, type Dict } from './mutate.js';
import type { Rng } from './prng.js';

interface Field {
  field: number;
  wire: number;
  /** Varint value (wire 0) or payload bytes (wire 1, 2, 5). */
  v?: bigint;
  data?: Buffer;
  /** Raw bytes for anything the walker did not understand. */
  raw?: Buffer;
}

function varint(x: bigint): Buffer {
  const out: number[] = [];
  let v = BigInt.asUintN(64, x);
  do {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v ? b | 0x80 : b);
  } while (v);
  return Buffer.from(out);
}

function readVarint(b: Buffer, pos: number): [bigint, number] | undefined {
  let v = 0n;
  for (let shift = 0n; shift < 70n; shift += 7n) {
    if (pos >= b.length) return undefined;
    const c = b[pos++]!;
    v |= BigInt(c & 0x7f) << shift;
    if (c < 0x80) return [v, pos];
  }
  return undefined;
}

export function parseFields(b: Buffer): Field[] {
  const out: Field[] = [];
  let pos = 0;
  while (pos < b.length) {
    const t = readVarint(b, pos);
    if (!t) {
      out.push({ field: 0, wire: 0, raw: b.subarray(pos) });
      break;
    }
    const field = Number(t[0] >> 3n);
    const wire = Number(t[0] & 7n);
    pos = t[1];
    if (wire === 0) {
      const v = readVarint(b, pos);
      if (!v) {
        out.push({ field: 0, wire: 0, raw: b.subarray(pos) });
        break;
      }
      out.push({ field, wire, v: v[0] });
      pos = v[1];
    } else if (wire === 2) {
      const l = readVarint(b, pos);
      if (!l || l[1] + Number(l[0]) > b.length) {
        out.push({ field: 0, wire: 0, raw: b.subarray(pos) });
        break;
      }
      out.push({ field, wire, data: b.subarray(l[1], l[1] + Number(l[0])) });
      pos = l[1] + Number(l[0]);
    } else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      out.push({ field, wire, data: b.subarray(pos, pos + n) });
      pos += n;
    } else {
      out.push({ field, wire });
    }
  }
  return out;
}

export function encodeFields(fs: Field[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of fs) {
    if (f.raw) {
      parts.push(f.raw);
      continue;
    }
    parts.push(varint((BigInt(f.field) << 3n) | BigInt(f.wire)));
    if (f.wire === 0) parts.push(varint(f.v ?? 0n));
    else if (f.wire === 2) parts.push(varint(BigInt(f.data?.length ?? 0)), f.data ?? Buffer.alloc(0));
    else if (f.wire === 1 || f.wire === 5) parts.push(f.data ?? Buffer.alloc(0));
  }
  return Buffer.concat(parts);
}

const BIG = [0n, 1n, 127n, 128n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n];

/** Mutates one LogEntry message (or its nested PartialLogEntryMetadata). */
export function mutateProto(msg: Buffer, rng: Rng, dict: Dict, depth = 0): Buffer {
  const fs = parseFields(msg);
  const op = rng.int(13);
  const i = fs.length ? rng.int(fs.length) : 0;
  const f = fs[i];
  switch (op) {
    case 0:
      if (f && f.wire === 0) f.v = rng.pick(BIG);
      else fs.push({ field: rng.range(1, 5), wire: 0, v: rng.pick(BIG) });
      break;
    case 1:
      if (f) f.wire = rng.pick([0, 1, 2, 3, 4, 5, 6, 7]);
      break;
    case 2:
      if (f) f.field = rng.pick([0, 1, 2, 3, 4, 5, 6, 15, 16, 2 ** 29 - 1, 2 ** 31, rng.int(64)]);
      break;
    case 3:
      if (f) fs.splice(i, 1);
      break;
    case 4:
      if (f) fs.splice(rng.int(fs.length + 1), 0, { ...f });
      break;
    case 5:
      if (f && f.wire === 2 && f.data) {
        // a length that lies: written raw so it survives encoding
        const lie = rng.pick([f.data.length + 1, f.data.length - 1, 0, 2 ** 31, 2 ** 32 + 1, rng.int(1 << 20)]);
        fs[i] = { field: f.field, wire: 2, raw: Buffer.concat([varint((BigInt(f.field) << 3n) | 2n), varint(BigInt(Math.max(0, lie))), f.data]) };
      }
      break;
    case 6:
      // overlong varints: 10 bytes of continuation, 11 bytes
      fs.splice(rng.int(fs.length + 1), 0, { field: 0, wire: 0, raw: Buffer.concat([varint(BigInt(rng.range(1, 5)) << 3n), Buffer.alloc(rng.pick([9, 10, 11]), 0xff), Buffer.from([0x01])]) });
      break;
    case 7: {
      // a group: start tag, fields, maybe an end tag; sometimes nested deep
      const field = rng.range(6, 40);
      const depthN = rng.pick([1, 2, 33, 40, 200]);
      const start = varint((BigInt(field) << 3n) | 3n);
      const end = varint((BigInt(field) << 3n) | 4n);
      const body = Buffer.concat([Buffer.concat(Array(depthN).fill(start)), varint(8n), varint(1n), rng.chance(0.8) ? Buffer.concat(Array(depthN).fill(end)) : Buffer.alloc(0)]);
      fs.splice(rng.int(fs.length + 1), 0, { field: 0, wire: 0, raw: body });
      break;
    }
    case 8:
      if (f && f.wire === 2 && f.data) {
        if (f.field === 5 && depth < 2) f.data = mutateProto(f.data, rng, dict, depth + 1);
        else f.data = mutateBytes(f.data, rng, dict).subarray(0, 1 << 18);
      } else fs.push({ field: 3, wire: 2, data: Buffer.from(rng.pick(['\u001b[31mred\n', 'x'.repeat(rng.pick([1, 16384, 16385])), '\r'])) });
      break;
    case 9:
      // partial metadata
      fs.push({ field: 4, wire: 0, v: rng.pick([0n, 1n, 2n]) });
      fs.push({ field: 5, wire: 2, data: encodeFields([{ field: 1, wire: 0, v: rng.pick([0n, 1n]) }, { field: 2, wire: 2, data: Buffer.from(rng.pick(['', 'p1', 'p2', '\0'])) }, { field: 3, wire: 0, v: rng.pick(BIG) }]) });
      break;
    case 10:
      // source (stream name)
      fs.push({ field: 1, wire: 2, data: Buffer.from(rng.pick(['stdout', 'stderr', '', 'STDOUT', 'stdin', '\u001b'])) });
      break;
    case 11:
      fs.push({ field: 2, wire: 0, v: rng.pick([...BIG, BigInt(Date.now()) * 1_000_000n, -1n]) });
      break;
    default:
      return clamp(mutateBytes(msg, rng, dict));
  }
  return encodeFields(fs);
}

interface Frame {
  msg: Buffer;
  /** Header/footer as stored when they differ from the message length. */
  head?: number;
  foot?: number;
}

export function parseFrames(b: Buffer): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = [];
  let pos = 0;
  while (pos + 4 <= b.length) {
    const len = b.readUInt32BE(pos);
    if (pos + 8 + len > b.length) break;
    const foot = b.readUInt32BE(pos + 4 + len);
    frames.push({ msg: b.subarray(pos + 4, pos + 4 + len), foot: foot === len ? undefined : foot });
    pos += 8 + len;
  }
  return { frames, rest: b.subarray(pos) };
}

export function encodeFrames(frames: Frame[], rest: Buffer = Buffer.alloc(0)): Buffer {
  const parts: Buffer[] = [];
  for (const f of frames) {
    const h = Buffer.alloc(4);
    h.writeUInt32BE((f.head ?? f.msg.length) >>> 0);
    const t = Buffer.alloc(4);
    t.writeUInt32BE((f.foot ?? f.msg.length) >>> 0);
    parts.push(h, f.msg, t);
  }
  parts.push(rest);
  return Buffer.concat(parts);
}

export function mutateLocalLog(input: Buffer, rng: Rng, dict: Dict, others: Buffer[] = []): Buffer {
  const { frames, rest } = parseFrames(input);
  if (frames.length === 0 || rng.chance(0.1)) return mutateBytes(input, rng, dict, others);
  let tail = rest;
  const n = 1 + rng.small(3);
  for (let k = 0; k < n; k++) {
    const i = rng.int(frames.length);
    const f = frames[i]!;
    switch (rng.int(10)) {
      case 0:
      case 1:
      case 2:
        frames[i] = { msg: mutateProto(f.msg, rng, dict) };
        break;
      case 3:
        frames[i] = { ...f, head: rng.pick([0, f.msg.length + 1, f.msg.length - 1, 1_000_001, 0xffffffff, rng.int(2000)]) };
        break;
      case 4:
        frames[i] = { ...f, foot: rng.pick([0, f.msg.length + 1, 0xffffffff, rng.int(2000)]) };
        break;
      case 5:
        frames.splice(i, 1);
        if (frames.length === 0) frames.push({ msg: Buffer.alloc(0) });
        break;
      case 6:
        frames.splice(rng.int(frames.length + 1), 0, { ...rng.pick(frames) });
        break;
      case 7: {
        // garbage between frames: the reader must resynchronise
        const g = rng.bytes(1 + rng.small(64));
        frames.splice(i, 0, { msg: Buffer.alloc(0), head: g.length > 3 ? g.readUInt32BE(0) : 0, foot: 0 });
        break;
      }
      case 8:
        tail = rng.chance(0.5) ? rng.bytes(rng.range(1, 7)) : Buffer.concat([tail, encodeFrames([rng.pick(frames)]).subarray(0, rng.range(1, 20))]);
        break;
      default:
        if (others.length) {
          const o = parseFrames(rng.pick(others)).frames;
          if (o.length) frames.splice(i, 0, rng.pick(o));
        }
    }
  }
  return clamp(encodeFrames(frames, tail));
}
