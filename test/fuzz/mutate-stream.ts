/**
 * Mutations for line-oriented and compressed artifacts: JSON lines (json-file logs, tar-split),
 * tar headers carried base64 inside tar-split segments (checksums recomputed so the header still
 * parses), and gzip wrappers (levels, several members, cut or damaged streams, trailing garbage,
 * bombs).
 */
import zlib from 'node:zlib';
import { clamp, mutateBytes, mutateJson, type Dict } from './mutate.js';
import type { Rng } from './prng.js';

// ---------------------------------------------------------------------------------------------
// gzip

export function isGzip(b: Buffer): boolean {
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}

/** Best-effort gunzip: what decompresses before any damage. */
export function gunzipLoose(b: Buffer, max = 1 << 20): Buffer {
  try {
    return zlib.gunzipSync(b, { maxOutputLength: max });
  } catch {
    try {
      return zlib.gunzipSync(b, { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: max });
    } catch {
      return Buffer.alloc(0);
    }
  }
}

/** Wraps `data` in gzip, sometimes badly. */
export function gzipVariant(data: Buffer, rng: Rng): Buffer {
  const level = rng.pick([0, 1, 6, 9]);
  const gz = () => zlib.gzipSync(data, { level });
  switch (rng.weighted([
    [10, 'plain'],
    [2, 'members'],
    [1, 'cut'],
    [1, 'flip'],
    [1, 'trailer'],
    [1, 'garbage'],
    [1, 'header'],
    [1, 'raw'],
    [1, 'bomb'],
    [1, 'empty-member'],
  ] as const)) {
    case 'plain':
      return gz();
    case 'members': {
      const cut = rng.int(data.length + 1);
      return Buffer.concat([zlib.gzipSync(data.subarray(0, cut)), zlib.gzipSync(data.subarray(cut))]);
    }
    case 'cut': {
      const g = gz();
      return g.subarray(0, rng.int(g.length));
    }
    case 'flip': {
      const g = Buffer.from(gz());
      if (g.length > 18) g[10 + rng.int(g.length - 18)] ^= 1 << rng.int(8);
      return g;
    }
    case 'trailer': {
      const g = Buffer.from(gz());
      g[g.length - 1 - rng.int(8)] ^= 0xff;
      return g;
    }
    case 'garbage':
      return Buffer.concat([gz(), rng.chance(0.5) ? rng.bytes(1 + rng.small(64)) : Buffer.from([0x1f, 0x8b, 0x08])]);
    case 'header': {
      // FEXTRA / FNAME / FCOMMENT / FHCRC flags with whatever follows
      const g = Buffer.from(gz());
      g[3] = rng.pick([0x04, 0x08, 0x10, 0x02, 0xff, 0xe0]);
      return g;
    }
    case 'raw':
      return zlib.deflateRawSync(data);
    case 'bomb': {
      // inflates far beyond the input: a run with no newline, or many copies of one line
      const line = data.indexOf(0x0a) > 0 ? data.subarray(0, data.indexOf(0x0a) + 1) : Buffer.from('{}\n');
      const mb = rng.pick([1, 2, 5]);
      const unit = rng.chance(0.5) ? Buffer.alloc(1 << 20, 0x20) : Buffer.concat(Array(Math.ceil((1 << 20) / line.length)).fill(line));
      return zlib.gzipSync(Buffer.concat([data, ...Array(mb).fill(unit)]), { level: 9 });
    }
    default:
      return Buffer.concat([zlib.gzipSync(Buffer.alloc(0)), gz()]);
  }
}

// ---------------------------------------------------------------------------------------------
// JSON lines

export function mutateLines(text: Buffer, rng: Rng, dict: Dict, others: Buffer[], line: (l: Buffer) => Buffer): Buffer {
  const lines = splitLines(text);
  const n = 1 + rng.small(4);
  for (let k = 0; k < n; k++) {
    const i = lines.length ? rng.int(lines.length) : 0;
    switch (rng.int(12)) {
      case 0:
      case 1:
      case 2:
      case 3:
        if (lines.length) lines[i] = line(lines[i]!);
        else lines.push(line(Buffer.from('{}')));
        break;
      case 4:
        lines.splice(i, 1);
        break;
      case 5:
        if (lines.length) lines.splice(rng.int(lines.length + 1), 0, lines[i]!);
        break;
      case 6:
        if (lines.length > 1) {
          const j = rng.int(lines.length);
          [lines[i], lines[j]] = [lines[j]!, lines[i]!];
        }
        break;
      case 7:
        lines.splice(i, 0, Buffer.from(rng.pick(['', ' ', '\r', '\t ', '\0', '{}', '[]', 'null', '1', '"x"', '{"a":1}{"b":2}'])));
        break;
      case 8:
        // join two lines (the newline vanishes)
        if (i + 1 < lines.length) lines.splice(i, 2, Buffer.concat([lines[i]!, lines[i + 1]!]));
        break;
      case 9:
        // a huge line
        lines.splice(i, 0, Buffer.concat([Buffer.from('{"log":"'), Buffer.alloc(rng.pick([1 << 16, (1 << 20) - 9, (1 << 20) + 10]), 0x61), Buffer.from('"}')]));
        break;
      case 10:
        if (others.length) {
          const o = splitLines(rng.pick(others));
          if (o.length) lines.splice(i, 0, rng.pick(o));
        }
        break;
      default:
        lines.splice(i, 1, ...lines.slice(i, i + 1).map((l) => Buffer.concat([l, Buffer.from(rng.pick(['\r', ' ', '\r\r']))])));
    }
  }
  let out: Buffer = Buffer.concat(lines.flatMap((l, i) => (i < lines.length - 1 || rng.chance(0.9) ? [l, Buffer.from('\n')] : [l])));
  if (rng.chance(0.05)) out = mutateBytes(out, rng, dict, others);
  return clamp(out);
}

export function splitLines(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off < b.length) {
    const nl = b.indexOf(0x0a, off);
    if (nl < 0) {
      out.push(b.subarray(off));
      break;
    }
    out.push(b.subarray(off, nl));
    off = nl + 1;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// tar-split entries and the tar headers in their payloads

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

/** Recomputes a 512-byte tar header's checksum in place. */
export function resealTarHeader(h: Buffer, off = 0): void {
  h.fill(0x20, off + 148, off + 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += h[off + i]!;
  h.write(octal(sum, 7) + ' ', off + 148, 8, 'latin1');
}

/** Mutates fields of a tar header block at `off` (name, size, typeflag, linkname, magic, prefix). */
export function mutateTarHeader(buf: Buffer, off: number, rng: Rng, dict: Dict): void {
  const h = buf;
  const write = (o: number, len: number, s: string | Buffer) => {
    const b = typeof s === 'string' ? Buffer.from(s, 'latin1') : s;
    h.fill(0, off + o, off + o + len);
    b.subarray(0, len).copy(h, off + o);
  };
  switch (rng.int(9)) {
    case 0:
      write(0, 100, rng.pick(['../../etc/passwd', '/abs/x', 'a/../../b', '', './', 'x\u001b[31m', 'dup', (dict.tokens[0] ?? 'x').slice(0, 99), 'a'.repeat(100)]));
      break;
    case 1:
      write(124, 12, rng.pick([octal(0, 12), octal(1, 12), octal(511, 12), octal(512, 12), octal(rng.int(1 << 20), 12), '77777777777\0', 'xyz', '', '\x80\0\0\0\0\0\0\0\0\0\x10\0', '\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff']));
      break;
    case 2:
      h[off + 156] = rng.pick([0x30, 0x00, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x78, 0x67, 0x4c, 0x4b, 0x53, 0x41]);
      break;
    case 3:
      write(157, 100, rng.pick(['../../../etc', '/etc/shadow', 'x', '']));
      break;
    case 4:
      write(257, 8, rng.pick(['ustar\x0000', 'ustar  \0', 'xxxxxx\0\0', '']));
      break;
    case 5:
      write(345, 155, rng.pick(['', 'pre', '../..', 'p'.repeat(155)]));
      break;
    case 6:
      write(100, 8, rng.pick([octal(0o4755, 8), octal(0o777, 8), 'zzzz']));
      break;
    case 7:
      h[off + rng.int(512)] = rng.u32() & 0xff;
      break;
    default:
      write(136, 12, rng.pick([octal(0, 12), '\x80\0\0\0\0\0\0\0\0\0\0\x01', 'x']));
  }
  if (rng.chance(0.85)) resealTarHeader(h, off);
}

/** A PAX record body "%d key=value\n" list, sometimes with lying lengths. */
function paxBody(rng: Rng): Buffer {
  const recs = rng.pick([
    [['size', rng.pick(['0', '1', '99999999999999999999', '-1', 'x', '1e3'])]],
    [['path', rng.pick(['../../x', '/abs', 'a\nb', 'ok'])]],
    [['SCHILY.xattr.trusted.overlay.opaque', 'y']],
    [
      ['mtime', '1700000000.123456789'],
      ['atime', 'x'],
    ],
  ]);
  let s = '';
  for (const [k, v] of recs) {
    const body = ` ${k}=${v}\n`;
    let len = body.length + 1;
    len += String(len).length - 1;
    if (String(len).length + body.length !== len) len++;
    s += `${rng.chance(0.9) ? len : rng.pick([0, 1, 99999, -5])}${body}`;
  }
  return Buffer.from(s, 'utf8');
}

function headerBlock(rng: Rng, name: string, size: number, type: string): Buffer {
  const h = Buffer.alloc(512);
  h.write(name.slice(0, 99), 0, 'latin1');
  h.write(octal(0o644, 8), 100, 'latin1');
  h.write(octal(0, 8), 108, 'latin1');
  h.write(octal(0, 8), 116, 'latin1');
  h.write(octal(size, 12), 124, 'latin1');
  h.write(octal(1_700_000_000, 12), 136, 'latin1');
  h.write(type, 156, 'latin1');
  h.write('ustar\x0000', 257, 'latin1');
  resealTarHeader(h);
  void rng;
  return h;
}

interface TsEntry {
  obj: Record<string, unknown>;
  /** The line as read: written back unless the entry was edited. */
  raw?: Buffer;
}

function parseEntries(text: Buffer): (TsEntry | Buffer)[] {
  return splitLines(text).map((l) => {
    if (l.length > 64 << 10) return l;
    try {
      const o = JSON.parse(l.toString('utf8')) as unknown;
      return typeof o === 'object' && o !== null && !Array.isArray(o) ? { obj: o as Record<string, unknown>, raw: l } : l;
    } catch {
      return l;
    }
  });
}

function entryLine(e: TsEntry | Buffer): Buffer {
  if (Buffer.isBuffer(e)) return e;
  if (e.raw) return e.raw;
  try {
    return Buffer.from(JSON.stringify(e.obj));
  } catch {
    return Buffer.from('{}');
  }
}

/** Mutates decompressed tar-split JSON lines with knowledge of the entry fields. */
export function mutateTarSplitText(text: Buffer, rng: Rng, dict: Dict, others: Buffer[]): Buffer {
  const entries = parseEntries(text);
  const objs = entries.filter((e): e is TsEntry => !Buffer.isBuffer(e));
  if (objs.length === 0 || rng.chance(0.25)) return mutateLines(text, rng, dict, others, (l) => mutateJson(l, rng, dict));
  const n = 1 + rng.small(3);
  for (let k = 0; k < n; k++) {
    const e = rng.pick(objs);
    const o = e.obj;
    e.raw = undefined;
    switch (rng.int(10)) {
      case 0:
      case 1: {
        // a segment's raw header bytes
        const segs = objs.filter((x) => x.obj.type === 2 && typeof x.obj.payload === 'string');
        if (!segs.length) break;
        const s = rng.pick(segs);
        s.raw = undefined;
        const raw = Buffer.from(s.obj.payload as string, 'base64');
        const blocks = Math.floor(raw.length / 512);
        if (blocks === 0) {
          s.obj.payload = Buffer.concat([raw, rng.chance(0.5) ? headerBlock(rng, rng.pick(['x', '../y', 'dup']), rng.int(3000), rng.pick(['0', '5', '2', 'x', 'g', 'L'])) : Buffer.alloc(0)]).toString('base64');
        } else {
          const out = Buffer.from(raw);
          mutateTarHeader(out, 512 * rng.int(blocks), rng, dict);
          s.obj.payload = out.toString('base64');
        }
        break;
      }
      case 2:
        o.size = rng.pick([0, 1, -1, 511, 512, 513, 1.5, 2 ** 53, 2 ** 40 + 1, '5', null, 1e300, (o.size as number) + 1]);
        break;
      case 3:
        o.name = rng.pick(['../../../etc/shadow', '/etc/passwd', 'a/../b', 'a/../../b', '', '.', './', 'x\u0000y', 'dup', 'dup/', '\u001b[31m', (dict.tokens.length ? rng.pick(dict.tokens) : 'x')]);
        break;
      case 4:
        o.name_raw = rng.pick([Buffer.from([0xff, 0xfe, 0x2f, 0x61]).toString('base64'), Buffer.from('../../x').toString('base64'), 'not base64!', '', 5, 'QQ', 'QQ==\n']);
        break;
      case 5:
        o.payload = rng.pick([null, '', 'AAAAAAAAAAA=', 'AAAAAAAAAAA', '-_-_', Buffer.alloc(8).toString('base64'), Buffer.alloc(9).toString('base64'), 7, rng.bytes(8).toString('base64')]);
        break;
      case 6:
        o.type = rng.pick([0, 1, 2, 3, -1, '1', null, 1.5]);
        break;
      case 7:
        o.position = rng.pick([0, -1, 1.5, 2 ** 53, 'x', null, (o.position as number) + 1]);
        break;
      case 8: {
        // a PAX or GNU long-name header chain before a file
        const i = entries.indexOf(e);
        const body = rng.chance(0.6) ? paxBody(rng) : Buffer.from('../../long/name/' + 'x'.repeat(rng.int(300)) + '\0');
        const t = rng.pick(['x', 'L', 'g', 'K']);
        const pad = Buffer.alloc((512 - (body.length % 512)) % 512);
        const seg = Buffer.concat([headerBlock(rng, 'PaxHeader', body.length, t), body, pad, headerBlock(rng, 'f', rng.int(40), '0')]);
        entries.splice(i, 0, { obj: { type: 2, payload: seg.toString('base64'), position: 0 } });
        break;
      }
      default:
        // same name twice
        entries.splice(rng.int(entries.length + 1), 0, { obj: { ...o } });
    }
  }
  const lines = entries.map(entryLine);
  return clamp(Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')])));
}

export function mutateTarSplitGz(input: Buffer, rng: Rng, dict: Dict, others: Buffer[]): Buffer {
  if (rng.chance(0.08)) return mutateBytes(input, rng, dict, others);
  const text = isGzip(input) ? gunzipLoose(input) : input;
  const otherTexts = others.slice(0, 3).map((o) => (isGzip(o) ? gunzipLoose(o) : o));
  const next = rng.chance(0.1) ? text : mutateTarSplitText(text, rng, dict, otherTexts);
  return clamp(gzipVariant(next, rng));
}

/** json-file logs: per-line JSON mutations; `.gz` rotations are unwrapped and rewrapped. */
export function mutateJsonLog(input: Buffer, rng: Rng, dict: Dict, others: Buffer[]): Buffer {
  const gz = isGzip(input);
  const text = gz ? gunzipLoose(input) : input;
  const out = mutateLines(text, rng, dict, others, (l) => mutateJson(l, rng, dict));
  return gz ? clamp(gzipVariant(out, rng)) : out;
}

// ---------------------------------------------------------------------------------------------
// Whole tar acquisitions

/** Offsets of the header blocks of a tar, following each header's size field. */
export function tarHeaders(b: Buffer): number[] {
  const out: number[] = [];
  let off = 0;
  while (off + 512 <= b.length && out.length < 100_000) {
    const h = b.subarray(off, off + 512);
    if (h.every((x) => x === 0)) break;
    out.push(off);
    const sizeText = h.toString('latin1', 124, 136).replace(/[\0 ]+$/, '').trim();
    const size = /^[0-7]+$/.test(sizeText) ? parseInt(sizeText, 8) : 0;
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

/** A tar acquisition, damaged the ways disks and attackers damage them. */
export function mutateTarBytes(input: Buffer, rng: Rng, dict: Dict, others: Buffer[]): Buffer {
  const gz = isGzip(input);
  let b: Buffer = Buffer.from(gz ? gunzipLoose(input, 4 << 20) : input);
  const heads = tarHeaders(b);
  const n = 1 + rng.small(3);
  for (let k = 0; k < n; k++) {
    const op = rng.int(8);
    if (heads.length === 0 || op >= 6) {
      b = op === 6 ? b.subarray(0, rng.int(b.length + 1)) : mutateBytes(b, rng, dict, others);
      continue;
    }
    const off = rng.pick(heads);
    if (off + 512 > b.length) continue; // cut short by an earlier step
    if (op < 4) mutateTarHeader(b, off, rng, dict);
    else if (op === 4) {
      // a header copied over another: duplicate names, a directory replaced by a file …
      const from = rng.pick(heads);
      if (from + 512 <= b.length) b.copy(b, off, from, from + 512);
      if (rng.chance(0.5)) mutateTarHeader(b, off, rng, dict);
    } else {
      // a hard link or symlink pointing somewhere it should not
      b[off + 156] = rng.pick([0x31, 0x32]);
      const target = rng.pick(['../../../etc/passwd', '/etc/passwd', 'var/lib/docker', '', 'nonexistent', ...dict.tokens.slice(0, 5)]);
      b.fill(0, off + 157, off + 257);
      b.write(target.slice(0, 99), off + 157, 'latin1');
      resealTarHeader(b, off);
    }
  }
  b = clamp(b);
  return gz || rng.chance(0.1) ? gzipVariant(b, rng) : b;
}
