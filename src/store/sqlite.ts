import type { Findings } from './findings.js';

/**
 * A minimal read-only SQLite 3 reader: enough to list the rows of a table from the file bytes
 * (https://www.sqlite.org/fileformat2.html: §1.3 header, §1.6 b-tree pages, §1.7 cell payload and
 * overflow pages, §2.1 record format). It exists for `linkgraph.db` (pre-1.10 container names and
 * links, FORMATS.md §7.3): a few KiB, two tables. No journal/WAL replay (a `-wal` beside the file
 * is not read), no indexes, UTF-8 text only. Every page number, count and length comes from
 * evidence: pages are visited at most once, the tree depth and row count are bounded, and
 * anything out of range is a finding, never a throw.
 */
export type SqlValue = null | number | bigint | string | Buffer;

export interface SqliteTable {
  name: string;
  rootPage: number;
  sql: string;
}

const MAX_DEPTH = 64;
const MAX_ROWS = 1_000_000;

export class SqliteFile {
  readonly pageSize: number;
  readonly usable: number;
  readonly pageCount: number;
  readonly ok: boolean;

  constructor(
    private readonly buf: Buffer,
    private readonly path: string,
    private readonly f: Findings,
  ) {
    this.ok = false;
    this.pageSize = 0;
    this.usable = 0;
    this.pageCount = 0;
    if (buf.length < 100 || buf.subarray(0, 16).toString('latin1') !== 'SQLite format 3\0') {
      f.add('error', 'sqlite.not-sqlite', 'not an SQLite 3 database (bad header)', path);
      return;
    }
    const raw = buf.readUInt16BE(16);
    const pageSize = raw === 1 ? 65536 : raw;
    if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) {
      f.add('error', 'sqlite.bad-header', `page size ${raw}`, path);
      return;
    }
    const encoding = buf.readUInt32BE(56);
    if (encoding !== 0 && encoding !== 1) {
      f.add('error', 'sqlite.unsupported', `text encoding ${encoding} (only UTF-8 is read)`, path);
      return;
    }
    this.pageSize = pageSize;
    this.usable = pageSize - buf[20]!;
    this.pageCount = Math.floor(buf.length / pageSize);
    if (buf.length % pageSize !== 0) f.add('warn', 'sqlite.truncated', `file size ${buf.length} is not a multiple of the page size ${pageSize}`, path);
    this.ok = this.usable >= 480;
    if (!this.ok) f.add('error', 'sqlite.bad-header', `usable page size ${this.usable}`, path);
  }

  private page(n: number): Buffer | undefined {
    if (!Number.isInteger(n) || n < 1 || n > this.pageCount) return undefined;
    return this.buf.subarray((n - 1) * this.pageSize, n * this.pageSize);
  }

  /** Tables named in sqlite_master (page 1). */
  tables(): SqliteTable[] {
    const out: SqliteTable[] = [];
    for (const row of this.rows(1)) {
      const [type, name, , rootPage, sql] = row.values;
      if (type === 'table' && typeof name === 'string' && typeof rootPage === 'number') out.push({ name, rootPage, sql: typeof sql === 'string' ? sql : '' });
    }
    return out;
  }

  /** Every row of the table b-tree rooted at `root`, in rowid order. */
  *rows(root: number): Generator<{ rowid: bigint | number; values: SqlValue[] }> {
    if (!this.ok) return;
    const seen = new Set<number>();
    let count = 0;
    const walk = function* (this: SqliteFile, n: number, depth: number): Generator<{ rowid: bigint | number; values: SqlValue[] }> {
      const page = this.page(n);
      if (!page || seen.has(n) || depth > MAX_DEPTH) {
        this.f.add('warn', 'sqlite.bad-page', `b-tree page ${n} is ${!page ? 'out of range' : seen.has(n) ? 'visited twice (a loop)' : 'too deep'}`, this.path);
        return;
      }
      seen.add(n);
      const h = n === 1 ? 100 : 0;
      const type = page[h];
      const cells = page.readUInt16BE(h + 3);
      const interior = type === 0x05;
      if (type !== 0x0d && type !== 0x05) {
        this.f.add('warn', 'sqlite.bad-page', `page ${n} is not a table b-tree page (type ${type})`, this.path);
        return;
      }
      const ptrs = h + (interior ? 12 : 8);
      if (ptrs + cells * 2 > page.length) {
        this.f.add('warn', 'sqlite.bad-page', `page ${n} claims ${cells} cells`, this.path);
        return;
      }
      for (let i = 0; i < cells; i++) {
        const off = page.readUInt16BE(ptrs + i * 2);
        if (off >= page.length) {
          this.f.add('warn', 'sqlite.bad-cell', `page ${n} cell ${i} at ${off}`, this.path);
          continue;
        }
        if (interior) {
          if (off + 4 > page.length) continue;
          yield* walk.call(this, page.readUInt32BE(off), depth + 1);
          continue;
        }
        if (++count > MAX_ROWS) {
          this.f.add('warn', 'sqlite.too-many-rows', `more than ${MAX_ROWS} rows; the rest not read`, this.path);
          return;
        }
        const row = this.leafCell(page, off, n);
        if (row) yield row;
      }
      if (interior) yield* walk.call(this, page.readUInt32BE(h + 8), depth + 1);
    };
    yield* walk.call(this, root, 0);
  }

  private leafCell(page: Buffer, off: number, n: number): { rowid: bigint | number; values: SqlValue[] } | undefined {
    const p = varint(page, off);
    const r = p && varint(page, off + p.len);
    if (!p || !r) return this.bad(n, 'cell header');
    const size = Number(p.value);
    const start = off + p.len + r.len;
    const payload = this.payload(page, start, size, n);
    if (!payload) return undefined;
    const values = record(payload);
    if (!values) return this.bad(n, 'record');
    const rowid = r.value <= BigInt(Number.MAX_SAFE_INTEGER) && r.value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(r.value) : r.value;
    return { rowid, values };
  }

  /** The cell's payload, following overflow pages (fileformat2 §1.6 "Cell Payload Overflow Pages"). */
  private payload(page: Buffer, start: number, size: number, n: number): Buffer | undefined {
    const U = this.usable;
    const X = U - 35;
    if (size <= X) return start + size <= page.length ? page.subarray(start, start + size) : this.bad(n, 'payload');
    if (size > this.buf.length) return this.bad(n, `payload of ${size} bytes`);
    const M = Math.floor(((U - 12) * 32) / 255) - 23;
    const K = M + ((size - M) % (U - 4));
    const local = K <= X ? K : M;
    if (start + local + 4 > page.length) return this.bad(n, 'payload');
    const parts = [page.subarray(start, start + local)];
    let got = local;
    let next = page.readUInt32BE(start + local);
    const seen = new Set<number>();
    while (got < size) {
      const ov = this.page(next);
      if (!ov || seen.has(next)) return this.bad(n, `overflow page ${next}`);
      seen.add(next);
      const take = Math.min(U - 4, size - got);
      parts.push(ov.subarray(4, 4 + take));
      got += take;
      next = ov.readUInt32BE(0);
    }
    return Buffer.concat(parts);
  }

  private bad(n: number, what: string): undefined {
    this.f.add('warn', 'sqlite.bad-cell', `page ${n}: unreadable ${what}`, this.path);
    return undefined;
  }
}

/** SQLite varint: 1–9 bytes, big-endian, 7 bits each except the 9th (8 bits). */
export function varint(b: Buffer, off: number): { value: bigint; len: number } | undefined {
  let v = 0n;
  for (let i = 0; i < 9; i++) {
    if (off + i >= b.length) return undefined;
    const byte = b[off + i]!;
    if (i === 8) return { value: (v << 8n) | BigInt(byte), len: 9 };
    v = (v << 7n) | BigInt(byte & 0x7f);
    if ((byte & 0x80) === 0) return { value: v, len: i + 1 };
  }
  return undefined;
}

/** A record (fileformat2 §2.1): header of serial types, then the values. */
export function record(p: Buffer): SqlValue[] | undefined {
  const hs = varint(p, 0);
  if (!hs || hs.value > BigInt(p.length)) return undefined;
  const headerEnd = Number(hs.value);
  const types: bigint[] = [];
  for (let o = hs.len; o < headerEnd; ) {
    const t = varint(p, o);
    if (!t) return undefined;
    types.push(t.value);
    o += t.len;
  }
  const out: SqlValue[] = [];
  let o = headerEnd;
  const INT = [0, 1, 2, 3, 4, 6, 8];
  for (const tb of types) {
    const t = Number(tb);
    if (t === 0) out.push(null);
    else if (t >= 1 && t <= 6) {
      const n = INT[t]!;
      if (o + n > p.length) return undefined;
      const v = BigInt.asIntN(n * 8, p.subarray(o, o + n).reduce((a, x) => (a << 8n) | BigInt(x), 0n));
      out.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
      o += n;
    } else if (t === 7) {
      if (o + 8 > p.length) return undefined;
      out.push(p.readDoubleBE(o));
      o += 8;
    } else if (t === 8 || t === 9) out.push(t - 8);
    else if (t >= 12) {
      const n = Math.floor((t - (t % 2 === 0 ? 12 : 13)) / 2);
      if (o + n > p.length) return undefined;
      const bytes = p.subarray(o, o + n);
      out.push(t % 2 === 0 ? Buffer.from(bytes) : bytes.toString('utf8'));
      o += n;
    } else return undefined;
  }
  return out;
}
