/**
 * Generic mutators: bytes, short text files (ids, digests, sizes, link lists) and JSON. Every
 * mutator is a pure function of its input and the Rng, and caps what it produces at MAX_INPUT so
 * the fuzzer tests parsers, not the machine's memory.
 */
import type { Rng } from './prng.js';

/** Largest single file a mutator produces. */
export const MAX_INPUT = 1 << 20;

/** Strings and byte runs the mutators insert: things that mean something to a parser. */
export interface Dict {
  /** Tokens harvested from the input and its neighbours (ids, digests, keys, names). */
  tokens: string[];
}

export const INTERESTING_TEXT = [
  '',
  '\n',
  '\r\n',
  ' ',
  '\t',
  '\0',
  '\u001b[31m',
  '\u001b]0;pwned\u0007',
  '\u009b',
  '\u202e',
  '\u2066',
  '\ufeff',
  '\ud800',
  '\udfff',
  '\u{1f600}',
  'é',
  '../',
  '../../../../../../etc/passwd',
  '/etc/shadow',
  '/',
  '.',
  '..',
  'l/',
  ':',
  'sha256:',
  'sha512:',
  '%s%n',
  '__proto__',
  'constructor',
  'toString',
  '-1',
  '0',
  '+1',
  '18446744073709551615',
  '9223372036854775808',
  '9007199254740993',
  '1e309',
  'NaN',
  'Infinity',
  '0x10',
  '0001-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999999999Z',
  '2024-02-30T25:61:61Z',
  '-0001-01-01T00:00:00Z',
];

const INTERESTING_BYTES = [0x00, 0x01, 0x0a, 0x0d, 0x20, 0x22, 0x2c, 0x2f, 0x3a, 0x5b, 0x5c, 0x5d, 0x7b, 0x7d, 0x7f, 0x80, 0xc0, 0xef, 0xfe, 0xff];
const INTERESTING_INTS = [0, 1, 2, 7, 8, 15, 16, 0x7f, 0x80, 0xff, 0x100, 0x1ff, 0x200, 0x3ff, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff];

export function clamp(b: Buffer): Buffer {
  return b.length > MAX_INPUT ? b.subarray(0, MAX_INPUT) : b;
}

// ---------------------------------------------------------------------------------------------
// Bytes

export function mutateBytes(input: Buffer, rng: Rng, dict: Dict, others: Buffer[] = []): Buffer {
  let b: Buffer = Buffer.from(input);
  const n = 1 + rng.small(7);
  for (let i = 0; i < n; i++) b = byteOp(b, rng, dict, others);
  return clamp(b);
}

function pos(b: Buffer, rng: Rng, end = false): number {
  return rng.int(b.length + (end ? 1 : 0));
}

function byteOp(b: Buffer, rng: Rng, dict: Dict, others: Buffer[]): Buffer {
  const op = rng.int(16);
  if (b.length === 0 && op < 8) return Buffer.from(rng.pick(INTERESTING_TEXT) + rng.pick(dict.tokens.length ? dict.tokens : ['x']));
  switch (op) {
    case 0: {
      const p = pos(b, rng);
      b[p] ^= 1 << rng.int(8);
      return b;
    }
    case 1: {
      b[pos(b, rng)] = rng.pick(INTERESTING_BYTES);
      return b;
    }
    case 2: {
      b[pos(b, rng)] = rng.u32() & 0xff;
      return b;
    }
    case 3: {
      // interesting integer, any width and byte order
      const w = rng.pick([1, 2, 4, 8]);
      const p = rng.int(Math.max(1, b.length - w + 1));
      if (p + w > b.length) return b;
      const v = BigInt(rng.pick(INTERESTING_INTS)) + BigInt(rng.range(-1, 1));
      const x = BigInt.asUintN(w * 8, v);
      const le = rng.chance(0.5);
      for (let i = 0; i < w; i++) b[p + (le ? i : w - 1 - i)] = Number((x >> BigInt(8 * i)) & 0xffn);
      return b;
    }
    case 4: {
      // delete a range
      const p = pos(b, rng);
      const len = 1 + rng.small(Math.max(1, b.length - p - 1));
      return Buffer.concat([b.subarray(0, p), b.subarray(p + len)]);
    }
    case 5: {
      // insert random bytes
      const p = pos(b, rng, true);
      return Buffer.concat([b.subarray(0, p), rng.bytes(1 + rng.small(64)), b.subarray(p)]);
    }
    case 6: {
      // duplicate a range
      const p = pos(b, rng);
      const len = 1 + rng.small(Math.max(1, b.length - p));
      const q = pos(b, rng, true);
      const chunk = b.subarray(p, p + len);
      const times = rng.chance(0.1) ? Math.max(1, Math.min(1 + rng.small(1000), Math.floor(MAX_INPUT / Math.max(1, chunk.length)))) : 1;
      return Buffer.concat([b.subarray(0, q), ...Array(times).fill(chunk), b.subarray(q)]);
    }
    case 7: {
      // truncate
      return b.subarray(0, pos(b, rng));
    }
    case 8:
    case 9: {
      // insert a token
      const p = pos(b, rng, true);
      const tok = rng.chance(0.5) && dict.tokens.length ? rng.pick(dict.tokens) : rng.pick(INTERESTING_TEXT);
      return Buffer.concat([b.subarray(0, p), Buffer.from(tok), b.subarray(p)]);
    }
    case 10: {
      // overwrite with a token
      const p = pos(b, rng);
      const tok = Buffer.from(rng.chance(0.5) && dict.tokens.length ? rng.pick(dict.tokens) : rng.pick(INTERESTING_TEXT));
      tok.copy(b, p);
      return b;
    }
    case 11: {
      // splice with another input
      if (others.length === 0) return b;
      const o = rng.pick(others);
      const p = pos(b, rng, true);
      const q = o.length ? rng.int(o.length) : 0;
      return Buffer.concat([b.subarray(0, p), o.subarray(q)]);
    }
    case 12: {
      // swap two ranges
      if (b.length < 4) return b;
      const len = 1 + rng.small(Math.floor(b.length / 2) - 1);
      const p = rng.int(b.length - len);
      const q = rng.int(b.length - len);
      const x = Buffer.from(b.subarray(p, p + len));
      b.copy(b, p, q, q + len);
      x.copy(b, q);
      return b;
    }
    case 13: {
      // a digit run becomes something else
      const s = b.toString('latin1');
      const m = [...s.matchAll(/\d+/g)];
      if (m.length === 0) return b;
      const hit = rng.pick(m);
      const rep = rng.pick(['0', '-1', '4294967296', '18446744073709551616', '99999999999999999999999', '1e400', '0.5', '00', '-0', String(Number(hit[0]) + 1)]);
      return Buffer.from(s.slice(0, hit.index) + rep + s.slice(hit.index! + hit[0].length), 'latin1');
    }
    case 14: {
      // a long run of one byte
      const p = pos(b, rng, true);
      const len = rng.chance(0.2) ? rng.range(1 << 16, 1 << 19) : 1 + rng.small(4096);
      return Buffer.concat([b.subarray(0, p), Buffer.alloc(len, rng.pick([0x41, 0x00, 0x20, 0x5b, 0x7b, 0x0a, 0xff])), b.subarray(p)]);
    }
    default: {
      // case change of a letter run (Go matches JSON keys case-insensitively)
      const s = b.toString('latin1');
      const p = rng.int(s.length);
      const len = 1 + rng.small(16);
      const part = s.slice(p, p + len);
      const swapped = [...part].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join('');
      return Buffer.from(s.slice(0, p) + swapped + s.slice(p + len), 'latin1');
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Short text files: ids, digests, sizes, `lower` lists

const HEX = '0123456789abcdef';

export function randomHex(rng: Rng, n = 64): string {
  let s = '';
  for (let i = 0; i < n; i++) s += HEX[rng.int(16)];
  return s;
}

export function mutateText(input: Buffer, rng: Rng, dict: Dict, others: Buffer[] = []): Buffer {
  const s = input.toString('utf8');
  const tok = () => (dict.tokens.length && rng.chance(0.7) ? rng.pick(dict.tokens) : rng.pick(INTERESTING_TEXT));
  const op = rng.int(14);
  let out: string;
  switch (op) {
    case 0:
      out = tok();
      break;
    case 1:
      out = s + rng.pick(['\n', '\r\n', ' ', '\0', '\n\n', 'x', ':']);
      break;
    case 2:
      out = rng.pick(['', ' ', '\n', '+', '-', '0', 'sha256:', '../', '/']) + s;
      break;
    case 3:
      out = s.startsWith('sha256:') ? s.slice(7) : 'sha256:' + s;
      break;
    case 4:
      out = s.toUpperCase();
      break;
    case 5:
      out = s.slice(0, rng.int(s.length + 1));
      break;
    case 6:
      out = s + randomHex(rng, rng.range(1, 3));
      break;
    case 7:
      // a long list, e.g. `lower` with thousands of entries, or a 1 MB id
      {
        const unit = (rng.chance(0.5) ? (s.split(':')[0] || 'l/AAAAAAAAAAAAAAAAAAAAAAAAAA') + ':' : s) || 'x';
        out = unit.repeat(Math.max(2, Math.min(rng.range(2, 20_000), Math.floor(MAX_INPUT / unit.length))));
      }
      break;
    case 8:
      out = 'sha256:' + randomHex(rng);
      break;
    case 9:
      out = rng.pick(['0', '-1', '+5', ' 5', '5 ', '5\n', '00012', '9223372036854775807', '9223372036854775808', '18446744073709551615', '1e3', '0x1f', '1_000', '９']);
      break;
    case 10:
      out = s.includes(':') ? s.split(':').sort(() => rng.float() - 0.5).join(':') : `${s}:${tok()}`;
      break;
    case 11:
      out = `${tok()}:${tok()}`;
      break;
    case 12:
      out = s.replace(/[0-9a-f]/, () => rng.pick(['g', 'G', 'A', '\0', '/', '.']));
      break;
    default:
      return mutateBytes(input, rng, dict, others);
  }
  return clamp(Buffer.from(out, 'utf8'));
}

// ---------------------------------------------------------------------------------------------
// JSON: a small AST that keeps duplicate keys and exact number text, so mutations can produce
// what JSON.stringify never would (duplicate keys, 1e400, -0, raw garbage, deep nesting).

export type J =
  | { t: 'obj'; e: [string, J][] }
  | { t: 'arr'; e: J[] }
  | { t: 'str'; v: string }
  | { t: 'num'; raw: string }
  | { t: 'lit'; raw: 'true' | 'false' | 'null' }
  /** Text written as is: invalid tokens, or nesting too deep to hold as nodes. */
  | { t: 'raw'; raw: string };

const MAX_AST_DEPTH = 200;

/** Parses JSON text into the AST; undefined when it is not JSON (or nests deeper than the AST takes). */
export function parseJ(text: string): J | undefined {
  let i = 0;
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  };
  const fail = (): never => {
    throw new SyntaxError('not json');
  };
  const value = (depth: number): J => {
    if (depth > MAX_AST_DEPTH) fail();
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const e: [string, J][] = [];
      ws();
      if (text[i] === '}') {
        i++;
        return { t: 'obj', e };
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        const k = str();
        ws();
        if (text[i++] !== ':') fail();
        e.push([k, value(depth + 1)]);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return { t: 'obj', e };
        } else fail();
      }
    }
    if (c === '[') {
      i++;
      const e: J[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return { t: 'arr', e };
      }
      for (;;) {
        e.push(value(depth + 1));
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return { t: 'arr', e };
        } else fail();
      }
    }
    if (c === '"') return { t: 'str', v: str() };
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (m && m[0] !== '' && m[0] !== '-') {
      i += m[0].length;
      return { t: 'num', raw: m[0] };
    }
    for (const lit of ['true', 'false', 'null'] as const) {
      if (text.startsWith(lit, i)) {
        i += lit.length;
        return { t: 'lit', raw: lit };
      }
    }
    return fail();
  };
  const str = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) fail();
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  try {
    const v = value(0);
    ws();
    return i === text.length ? v : undefined;
  } catch {
    return undefined;
  }
}

export function printJ(j: J): string {
  switch (j.t) {
    case 'obj':
      return '{' + j.e.map(([k, v]) => JSON.stringify(k) + ':' + printJ(v)).join(',') + '}';
    case 'arr':
      return '[' + j.e.map(printJ).join(',') + ']';
    case 'str':
      return JSON.stringify(j.v);
    case 'num':
    case 'lit':
    case 'raw':
      return j.raw;
  }
}

/** Every node with a way to replace it. */
function nodes(root: J): { node: J; set: (n: J) => void; key?: string }[] {
  const out: { node: J; set: (n: J) => void; key?: string }[] = [];
  const visit = (n: J, set: (n: J) => void, key?: string) => {
    out.push({ node: n, set, key });
    if (n.t === 'obj') n.e.forEach((kv, i) => visit(kv[1], (x) => (n.e[i] = [kv[0], x]), kv[0]));
    else if (n.t === 'arr') n.e.forEach((x, i) => visit(x, (y) => (n.e[i] = y)));
  };
  let top = root;
  visit(root, (n) => (top = n));
  // the root replacement is handled by the caller through the returned holder
  void top;
  return out;
}

function cloneJ(j: J): J {
  switch (j.t) {
    case 'obj':
      return { t: 'obj', e: j.e.map(([k, v]) => [k, cloneJ(v)] as [string, J]) };
    case 'arr':
      return { t: 'arr', e: j.e.map(cloneJ) };
    default:
      return { ...j };
  }
}

const s = (v: string): J => ({ t: 'str', v });
const num = (raw: string): J => ({ t: 'num', raw });

function deep(rng: Rng): J {
  const n = rng.pick([64, 200, 1000, 5000, 100_000]);
  const [o, c] = rng.pick([
    ['[', ']'],
    ['{"a":', '}'],
    ['[{"x":', '}]'],
  ]);
  return { t: 'raw', raw: o!.repeat(n) + rng.pick(['1', '"s"', 'null', '[]', '{}']) + c!.repeat(n) };
}

/** Printed size of a node, counting no further than `cap`. */
function sizeJ(j: J, cap = MAX_INPUT): number {
  let n = 0;
  const visit = (x: J) => {
    if (n > cap) return;
    if (x.t === 'obj') {
      n += 2;
      for (const [k, v] of x.e) {
        n += k.length + 4;
        visit(v);
      }
    } else if (x.t === 'arr') {
      n += 2;
      x.e.forEach(visit);
    } else n += x.t === 'str' ? x.v.length + 2 : x.raw.length;
  };
  visit(j);
  return n;
}

function strangeValue(rng: Rng, dict: Dict, likeIn?: J): J {
  const tok = () => (dict.tokens.length ? rng.pick(dict.tokens) : 'x');
  // copies of a big node would make inputs of hundreds of MB
  const like = likeIn && sizeJ(likeIn, 4096) < 4096 ? likeIn : undefined;
  switch (rng.int(24)) {
    case 0:
      return { t: 'lit', raw: 'null' };
    case 1:
      return { t: 'lit', raw: rng.pick(['true', 'false']) };
    case 2:
      return num(rng.pick(['0', '-0', '1', '-1', '0.5', '1e308', '1e309', '-1e309', '1e-400', '9007199254740993', '18446744073709551616', '123456789012345678901234567890', '2147483648', '4294967295', '-9223372036854775809', '1.0']));
    case 3:
      return s('');
    case 4:
      return s(rng.pick(INTERESTING_TEXT));
    case 5:
      return s(tok());
    case 6:
      return s('x'.repeat(rng.pick([255, 256, 4096, 65536, 1 << 19])));
    case 7:
      return { t: 'arr', e: [] };
    case 8:
      return { t: 'obj', e: [] };
    case 9:
      return like ? { t: 'arr', e: [cloneJ(like)] } : { t: 'arr', e: [s(tok())] };
    case 10:
      return like ? { t: 'obj', e: [[tok(), cloneJ(like)]] } : { t: 'obj', e: [[tok(), s(tok())]] };
    case 11:
      return deep(rng);
    case 12:
      return { t: 'raw', raw: rng.pick(['NaN', 'Infinity', '-Infinity', 'undefined', "'x'", '01', '1.', '.5', '+1', '0x10', '"\\u12"', '"\\x41"', '"\n"', '"\t"', '//c', '', ',', '"\ud800"']) };
    case 13:
      return s(`sha256:${randomHex(rng)}`);
    case 14:
      return s(tok() + rng.pick(INTERESTING_TEXT));
    case 15:
    case 16: {
      const unit = like ?? s(tok());
      const count = Math.min(rng.pick([2, 10, 1000, 20_000]), Math.floor((128 << 10) / (sizeJ(unit) + 24)));
      return rng.chance(0.5)
        ? { t: 'arr', e: Array.from({ length: count }, () => cloneJ(unit)) }
        : { t: 'obj', e: Array.from({ length: count }, (_, i) => [`${tok().slice(0, 16)}${i}`, cloneJ(unit)] as [string, J]) };
    }
    case 17:
      return s(rng.pick(['../../../../../../etc', '/etc/passwd', 'a/../../b', 'l/AAAAAAAAAAAAAAAAAAAAAAAAAA', 'l/../../x', '\u0000', 'C:\\x']));
    case 18:
      return num(String(rng.int(2 ** 31) - rng.int(2 ** 31)));
    case 19:
      return s(rng.pick(['2020-01-01T00:00:00Z', '2020-01-01T00:00:00.123456789+01:00', '2020-13-01T00:00:00Z', '0001-01-01T00:00:00Z', '2020-01-01 00:00:00', '2020-01-01T00:00:00.1234567891234Z', '2020-02-29T23:59:60Z', '99999-01-01T00:00:00Z']));
    case 20:
      return s(String.fromCharCode(...Array.from({ length: 1 + rng.small(40) }, () => rng.int(0x30))));
    case 21:
      return s(Buffer.from(rng.bytes(1 + rng.small(24))).toString('base64'));
    default:
      return like ? cloneJ(like) : s(tok());
  }
}

const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf', ''];

/** One structural or value mutation of the AST; returns the (possibly new) root. */
export function mutateJ(root: J, rng: Rng, dict: Dict, donors: J[] = []): J {
  let top = root;
  const all = nodes(root);
  const pickAt = rng.int(all.length);
  const { node, key } = all[pickAt]!;
  const set = pickAt === 0 ? (n: J) => (top = n) : all[pickAt]!.set;
  const donorNode = (): J | undefined => {
    if (donors.length === 0) return undefined;
    const d = nodes(rng.pick(donors));
    return cloneJ(rng.pick(d).node);
  };
  switch (rng.int(12)) {
    case 0:
    case 1:
    case 2:
      set(strangeValue(rng, dict, node));
      break;
    case 3: {
      // a value of another type, same key
      const others = all.filter((x) => x.node.t !== node.t);
      set(others.length ? cloneJ(rng.pick(others).node) : strangeValue(rng, dict));
      break;
    }
    case 4:
      if (node.t === 'obj' && node.e.length) {
        const i = rng.int(node.e.length);
        const op = rng.int(5);
        if (op === 0) node.e.splice(i, 1);
        else if (op === 1) node.e.splice(rng.int(node.e.length + 1), 0, [node.e[i]![0], strangeValue(rng, dict, node.e[i]![1])]); // duplicate key
        else if (op === 2) node.e[i] = [rng.chance(0.5) ? node.e[i]![0].toLowerCase() : node.e[i]![0].toUpperCase(), node.e[i]![1]];
        else if (op === 3) node.e.push([rng.pick(PROTO_KEYS), strangeValue(rng, dict)]);
        else node.e[i] = [rng.pick(dict.tokens.length ? dict.tokens : PROTO_KEYS), node.e[i]![1]];
      } else if (node.t === 'arr' && node.e.length) {
        const i = rng.int(node.e.length);
        const op = rng.int(4);
        if (op === 0) node.e.splice(i, 1);
        else if (op === 1) node.e.splice(i, 0, cloneJ(node.e[i]!));
        else if (op === 2) node.e.reverse();
        else node.e.splice(i, 0, strangeValue(rng, dict, node.e[i]));
      } else set(strangeValue(rng, dict, node));
      break;
    case 5:
      if (node.t === 'str') {
        const v = node.v;
        const p = rng.int(v.length + 1);
        const op = rng.int(5);
        if (op === 0) node.v = v.slice(0, p) + rng.pick(INTERESTING_TEXT) + v.slice(p);
        else if (op === 1) node.v = v.slice(0, p);
        else if (op === 2) node.v = v + v;
        else if (op === 3) node.v = v.toUpperCase();
        else node.v = v.slice(0, p) + v.slice(p + 1 + rng.small(8));
      } else if (node.t === 'num') {
        const x = Number(node.raw);
        node.raw = rng.pick([String(x + 1), String(x - 1), String(-x), String(x * 2 ** rng.range(1, 64)), `${node.raw}.5`, `${node.raw}e${rng.range(-400, 400)}`, `${node.raw}0000000000000000000`]);
        if (!/^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(node.raw)) node.raw = '0';
      } else set(strangeValue(rng, dict, node));
      break;
    case 6: {
      const d = donorNode();
      set(d ?? strangeValue(rng, dict, node));
      break;
    }
    case 7: {
      // swap two subtrees' values
      const other = rng.pick(all).node;
      if (other !== node && !contains(node, other) && !contains(other, node)) {
        const a = cloneJ(node);
        set(cloneJ(other));
        const j = all.findIndex((x) => x.node === other);
        if (j > 0) all[j]!.set(a);
      }
      break;
    }
    case 8:
      // wrap
      set(rng.chance(0.5) ? { t: 'arr', e: [node] } : { t: 'obj', e: [[key ?? 'x', node]] });
      break;
    case 9:
      set(deep(rng));
      break;
    case 10:
      set({ t: 'raw', raw: printJ(node).slice(0, rng.int(printJ(node).length + 1)) });
      break;
    default:
      set(strangeValue(rng, dict));
  }
  return top;
}

function contains(a: J, b: J): boolean {
  if (a === b) return true;
  if (a.t === 'obj') return a.e.some(([, v]) => contains(v, b));
  if (a.t === 'arr') return a.e.some((v) => contains(v, b));
  return false;
}

/** Harvests string values and keys from JSON, for the dictionary. */
export function jsonTokens(j: J, out: Set<string>, max = 200): void {
  const visit = (n: J) => {
    if (out.size >= max) return;
    if (n.t === 'str' && n.v.length <= 200) out.add(n.v);
    else if (n.t === 'obj')
      for (const [k, v] of n.e) {
        if (k.length <= 80) out.add(k);
        visit(v);
      }
    else if (n.t === 'arr') n.e.forEach(visit);
  };
  visit(j);
}

const MAX_JSON = 256 << 10;

export function mutateJson(input: Buffer, rng: Rng, dict: Dict, others: Buffer[] = []): Buffer {
  const j = rng.chance(0.9) && input.length <= MAX_JSON ? parseJ(input.toString('utf8')) : undefined;
  if (!j) return rng.chance(0.5) ? mutateBytes(input, rng, dict, others) : Buffer.from(printJ(strangeValue(rng, dict)));
  const donors = others.slice(0, 4).flatMap((o) => {
    const d = o.length < 200_000 ? parseJ(o.toString('utf8')) : undefined;
    return d ? [d] : [];
  });
  let root = j;
  const n = 1 + rng.small(5);
  for (let i = 0; i < n; i++) root = mutateJ(root, rng, dict, donors);
  // JSON this big is slow to mutate structurally and adds little: grow it only by bytes
  if (sizeJ(root, MAX_JSON) > MAX_JSON) return mutateBytes(input, rng, dict, others);
  let out: Buffer = Buffer.from(printJ(root), 'utf8');
  // now and then, damage the text as well
  if (rng.chance(0.1)) out = mutateBytes(out, rng, dict, others);
  if (rng.chance(0.05)) out = Buffer.concat([Buffer.from(rng.pick(['\ufeff', ' \n', '\0'])), out]);
  return clamp(out);
}

// ---------------------------------------------------------------------------------------------
// Reduction, for minimising crash inputs that are JSON

/** Like parseJ, but nesting past the AST's depth is kept as one raw node instead of failing. */
export function parseJDeep(text: string): J | undefined {
  const direct = parseJ(text);
  if (direct) return direct;
  // Find the deepest point and cut: keep the outer 150 levels as nodes, the rest as raw text.
  let depth = 0;
  let inStr = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inStr) {
      if (c === '\\') i++;
      else if (c === '"') inStr = false;
      continue;
    }
    if (c === '"') inStr = true;
    else if (c === '[' || c === '{') {
      depth++;
      if (depth === 150) {
        // the value starting here runs to its matching bracket
        let d = 0;
        let s = false;
        let j = i;
        for (; j < text.length; j++) {
          const x = text[j];
          if (s) {
            if (x === '\\') j++;
            else if (x === '"') s = false;
            continue;
          }
          if (x === '"') s = true;
          else if (x === '[' || x === '{') d++;
          else if (x === ']' || x === '}') {
            d--;
            if (d === 0) break;
          }
        }
        const marker = '"\\u0000RAW\\u0000"';
        const outer = parseJ(text.slice(0, i) + marker + text.slice(j + 1));
        if (!outer) return undefined;
        const raw: J = { t: 'raw', raw: text.slice(i, j + 1) };
        const fix = (n: J): J => {
          if (n.t === 'str' && n.v === '\u0000RAW\u0000') return raw;
          if (n.t === 'obj') n.e = n.e.map(([k, v]) => [k, fix(v)]);
          else if (n.t === 'arr') n.e = n.e.map(fix);
          return n;
        };
        return fix(outer);
      }
    } else if (c === ']' || c === '}') depth--;
  }
  return undefined;
}

/** A raw run like '[[[[x]]]]' or '{"a":{"a":…}}' with its nesting halved; undefined otherwise. */
function halveNesting(raw: string): string | undefined {
  for (let p = 1; p <= 8; p++) {
    const u = raw.slice(0, p);
    let k = 0;
    while (raw.startsWith(u, k * p)) k++;
    if (k < 8) continue;
    for (let q = 1; q <= 8; q++) {
      const v = raw.slice(raw.length - q);
      let m = 0;
      while (raw.endsWith(v, raw.length - m * q)) m++;
      if (m < 8) continue;
      const cut = Math.floor(Math.min(k, m) / 2);
      return raw.slice(cut * p, raw.length - cut * q);
    }
  }
  return undefined;
}

/** Smaller variants of a JSON document, biggest cuts first. */
export function* reduceJson(text: string): Generator<string> {
  const root = parseJDeep(text);
  if (!root) return;
  const all: { node: J; parent?: J; index: number }[] = [];
  const visit = (n: J, parent: J | undefined, index: number) => {
    all.push({ node: n, parent, index });
    if (n.t === 'obj') n.e.forEach(([, v], i) => visit(v, n, i));
    else if (n.t === 'arr') n.e.forEach((v, i) => visit(v, n, i));
  };
  visit(root, undefined, 0);
  // Each edit is applied, printed and undone; candidates are ordered by how much they cut.
  type Edit = { gain: number; apply: () => () => void };
  const edits: Edit[] = [];
  const setAt = (parent: J | undefined, index: number, x: J): (() => void) => {
    if (parent?.t === 'obj') {
      const old = parent.e[index]!;
      parent.e[index] = [old[0], x];
      return () => (parent.e[index] = old);
    }
    if (parent?.t === 'arr') {
      const old = parent.e[index]!;
      parent.e[index] = x;
      return () => (parent.e[index] = old);
    }
    return () => {};
  };
  for (const { node, parent, index } of all) {
    if (!parent) continue;
    const size = sizeJ(node);
    if (parent.t === 'obj' || parent.t === 'arr') {
      edits.push({
        gain: size,
        apply: () => {
          const saved = parent.e.splice(index, 1);
          return () => parent.e.splice(index, 0, ...(saved as never[]));
        },
      });
    }
    if ((node.t === 'obj' || node.t === 'arr') && node.e.length > 0) {
      const child = node.t === 'obj' ? node.e[0]![1] : node.e[0]!;
      edits.push({ gain: size - sizeJ(child), apply: () => setAt(parent, index, child) });
    }
    if (node.t === 'raw') {
      const h = halveNesting(node.raw);
      if (h !== undefined) edits.push({ gain: node.raw.length - h.length, apply: () => setAt(parent, index, { t: 'raw', raw: h }) });
    }
    if (node.t === 'str' && node.v.length > 16) edits.push({ gain: node.v.length / 2, apply: () => setAt(parent, index, { t: 'str', v: node.v.slice(0, Math.floor(node.v.length / 2)) }) });
  }
  edits.sort((a, b) => b.gain - a.gain);
  for (const e of edits) {
    if (e.gain <= 0) continue;
    const undo = e.apply();
    const out = printJ(root);
    undo();
    yield out;
  }
}
