/**
 * The export tar writer against the tar-stream pack it replaced: the bytes must not change (the
 * oracle tests compare the entries with `docker export`; these pin every header byte, PAX and
 * padding included, for the cases the fixtures do not have).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { PassThrough, Writable } from 'node:stream';
import { describe, test } from 'node:test';
import tarStream from 'tar-stream';
import { headerBytes, type ExportEntry, type TarType } from '../../src/analysis/export.js';
import { encodeUstar, OUT_CHUNK, PIPE_CHUNK, TarOutput, type UstarHeader } from '../../src/analysis/tarwriter.js';

const require = createRequire(import.meta.url);
// headers.js is not in the package's exports: load it by path, next to the entry point.
const tsHeaders = require(require.resolve('tar-stream').replace(/index\.js$/, 'headers.js')) as { encode(h: Record<string, unknown>): Buffer | null };

type Entry = Omit<ExportEntry, 'entry'>;

// ---- the reference: export.ts as it was before the writer (tar-stream pack + binary-safe PAX)

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len), 'ascii'), body]);
}
const BINARY_PREFIX = 'SCHILY.xattr.';
const MAX_USTAR_ID = 0o777777;
const MAX_USTAR_TIME = 0x7fffffff;
function ustarFallback(s: string | undefined, max: number): string | undefined {
  if (!s) return s;
  // eslint-disable-next-line no-control-regex
  const ascii = s.replace(/[^\x20-\x7e]/g, '_');
  return Buffer.byteLength(ascii) <= max ? ascii : ascii.slice(0, max);
}
function needsPax(h: { name: string; linkname?: string; uid: number; gid: number; mtime: number }): boolean {
  // eslint-disable-next-line no-control-regex
  const ascii = (s: string) => /^[\x00-\x7f]*$/.test(s);
  if (!ascii(h.name) || (h.linkname && !ascii(h.linkname))) return true;
  if (Buffer.byteLength(h.name) > 100) {
    const i = h.name.lastIndexOf('/', h.name.length - 2);
    if (i <= 0 || i > 155 || h.name.length - i - 1 > 100) return true;
  }
  if (h.linkname && Buffer.byteLength(h.linkname) > 100) return true;
  return h.uid > MAX_USTAR_ID || h.gid > MAX_USTAR_ID || h.mtime < 0 || h.mtime > MAX_USTAR_TIME;
}
type PackInternals = { _encode(header: Record<string, unknown>): void; _encodePax?: (header: Record<string, unknown>) => void; push(b: Buffer): boolean };
function installBinaryPax(pack: tarStream.Pack): void {
  const p = pack as unknown as PackInternals;
  p._encodePax = function (this: PackInternals, header: Record<string, unknown>) {
    const recs: Buffer[] = [];
    const name = String(header.name ?? '');
    const linkname = header.linkname ? String(header.linkname) : undefined;
    const uid = Number(header.uid ?? 0);
    const gid = Number(header.gid ?? 0);
    const mtime = header.mtime instanceof Date ? Math.floor(header.mtime.getTime() / 1000) : 0;
    recs.push(paxRecord('path', Buffer.from(name, 'utf8')));
    if (linkname) recs.push(paxRecord('linkpath', Buffer.from(linkname, 'utf8')));
    if (uid > MAX_USTAR_ID) recs.push(paxRecord('uid', Buffer.from(String(uid))));
    if (gid > MAX_USTAR_ID) recs.push(paxRecord('gid', Buffer.from(String(gid))));
    if (mtime < 0 || mtime > MAX_USTAR_TIME) recs.push(paxRecord('mtime', Buffer.from(String(mtime))));
    const pax = (header.pax ?? {}) as Record<string, string>;
    for (const k of Object.keys(pax).sort()) recs.push(paxRecord(k, Buffer.from(pax[k]!, k.startsWith(BINARY_PREFIX) ? 'latin1' : 'utf8')));
    const body = Buffer.concat(recs);
    const clampId = (n: number) => (n > MAX_USTAR_ID ? 0 : n);
    const safeTime = mtime < 0 || mtime > MAX_USTAR_TIME ? new Date(0) : header.mtime;
    const base = { mode: header.mode, uid: clampId(uid), gid: clampId(gid), mtime: safeTime };
    const paxName = ustarFallback(`PaxHeaders/${name.replace(/\/$/, '').split('/').pop() ?? ''}`, 100)!;
    this._encode({ ...base, name: paxName, type: 'pax-header', size: body.length });
    this.push(body);
    const pad = (512 - (body.length % 512)) % 512;
    if (pad) this.push(Buffer.alloc(pad));
    this._encode({ ...header, ...base, pax: undefined, name: ustarFallback(name, 100), linkname: ustarFallback(linkname, 100) });
  };
}
function oldHeader(x: Entry): Record<string, unknown> {
  const h: Record<string, unknown> = { name: x.name, type: x.type, mode: x.mode, uid: x.uid, gid: x.gid, size: x.size, mtime: new Date(x.mtime * 1000), linkname: x.linkname, devmajor: x.devmajor, devminor: x.devminor };
  const pax: Record<string, string> = {};
  if (x.capability) pax[`${BINARY_PREFIX}security.capability`] = x.capability.toString('latin1');
  if (Object.keys(pax).length || needsPax({ name: x.name, linkname: x.linkname, uid: x.uid, gid: x.gid, mtime: x.mtime })) h.pax = pax;
  return h;
}
async function referenceTar(entries: Entry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  installBinaryPax(pack);
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  for (const x of entries) {
    const body = x.type === 'file' ? Buffer.alloc(x.size, 0x61) : undefined;
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (body && body.length) pack.entry(oldHeader(x) as unknown as tarStream.Header, body, cb);
      else if (x.type === 'file') (pack.entry(oldHeader(x) as unknown as tarStream.Header, cb) as unknown as { end(): void }).end();
      else pack.entry(oldHeader(x) as unknown as tarStream.Header, cb);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}
function newTar(entries: Entry[]): Buffer {
  const parts: Buffer[] = [];
  for (const x of entries) {
    parts.push(headerBytes(x));
    if (x.type === 'file' && x.size > 0) {
      parts.push(Buffer.alloc(x.size, 0x61));
      if (x.size % 512) parts.push(Buffer.alloc(512 - (x.size % 512)));
    }
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

const T = 1_700_000_000;
const e = (name: string, type: TarType, extra: Partial<Entry> = {}): Entry => ({ name, type, mode: 0o644, uid: 0, gid: 0, size: 0, mtime: T, ...extra });
const seg = (c: string, n: number) => c.repeat(n);

const CASES: [string, Entry][] = [
  ['plain file', e('etc/passwd', 'file', { size: 1234 })],
  ['empty file', e('empty', 'file')],
  ['file of exactly 512', e('five12', 'file', { size: 512 })],
  ['mode 0 file (pack default 0644)', e('nomode', 'file', { mode: 0, size: 3 })],
  ['mode 0 directory (pack default 0755)', e('nomode/', 'directory', { mode: 0 })],
  ['setuid, setgid, sticky', e('bin/su', 'file', { mode: 0o7755, size: 1 })],
  ['directory', e('usr/local/', 'directory', { mode: 0o755 })],
  ['symlink', e('lib', 'symlink', { linkname: 'usr/lib', mode: 0o777 })],
  ['symlink to nothing', e('empty-link', 'symlink', { linkname: '' })],
  ['hard link', e('bin/sh2', 'link', { linkname: 'bin/sh' })],
  ['char device', e('dev/null', 'character-device', { devmajor: 1, devminor: 3, mode: 0o666 })],
  ['block device, big minor', e('dev/sda9', 'block-device', { devmajor: 259, devminor: 1048575 })],
  ['whiteout-like char 0:0', e('dev/wh', 'character-device', { devmajor: 0, devminor: 0, mode: 0 })],
  ['fifo', e('run/fifo', 'fifo')],
  ['uid 1000', e('home/u/f', 'file', { uid: 1000, gid: 1000, size: 10 })],
  ['uid exactly 0o777777', e('idmax', 'file', { uid: 0o777777, gid: 0o777777, size: 1 })],
  ['uid over ustar (PAX)', e('bigid', 'file', { uid: 338377, gid: 0o1000000, size: 5 })],
  ['mtime 0', e('epoch', 'file', { mtime: 0 })],
  ['mtime negative (PAX)', e('old', 'file', { mtime: -1 })],
  ['mtime 2^31-1', e('y2038', 'file', { mtime: 0x7fffffff })],
  ['mtime 2^31 (PAX)', e('y2038b', 'file', { mtime: 0x80000000 })],
  ['mtime beyond Date (PAX, NaN)', e('far', 'file', { mtime: 1e13 })],
  ['name of 100', e(seg('a', 100), 'file', { size: 1 })],
  ['name of 101 without slash (PAX)', e(seg('a', 101), 'file', { size: 1 })],
  ['name split into prefix', e(`${seg('d', 60)}/${seg('e', 60)}/${seg('f', 90)}`, 'file', { size: 1 })],
  ['dir name of 101 with slash', e(`${seg('d', 50)}/${seg('e', 49)}/`, 'directory')],
  ['prefix over 155 (PAX or split)', e(`${seg('p', 100)}/${seg('q', 100)}/${seg('r', 50)}`, 'file')],
  ['component over 100 (PAX)', e(`x/${seg('c', 120)}`, 'file', { size: 2 })],
  ['name over 255 (PAX)', e(Array.from({ length: 40 }, (_, i) => `dir${i}`).join('/') + '/file', 'file', { size: 700 })],
  ['non-ASCII name (PAX)', e('etc/caf\u00e9/na\u00efve \u2603', 'file', { size: 9 })],
  ['non-ASCII directory (PAX)', e('\u00fcber/', 'directory')],
  ['non-ASCII link target (PAX)', e('l', 'symlink', { linkname: '/\u00e9t\u00e9' })],
  ['link target of 101 (PAX)', e('l2', 'symlink', { linkname: seg('t', 101) })],
  ['hard link, long target (PAX)', e('h2', 'link', { linkname: `${seg('a', 80)}/${seg('b', 80)}` })],
  ['control characters in the name (PAX fallback keeps ustar ASCII)', e('a\u0001b\nc\u00ff', 'file', { size: 1 })],
  ['capability xattr, binary (PAX)', e('usr/bin/ping', 'file', { size: 4, capability: Buffer.from('0100000200200000000000000000000000000000', 'hex') })],
  ['capability v3 bytes incl. 0x80+', e('usr/bin/cap', 'file', { size: 1, capability: Buffer.from([1, 0, 0, 2, 0xff, 0x80, 0xc3, 0x28, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) })],
  ['capability on a long name', e(`${seg('z', 120)}/cap`, 'file', { size: 1, capability: Buffer.from([1, 2, 3]) })],
  ['PAX record lengths across a digit boundary', e(seg('n', 9) + '/' + seg('m', 200), 'file', { size: 1 })],
];

describe('export tar writer', () => {
  for (const [what, x] of CASES) {
    test(`same bytes as the tar-stream writer: ${what}`, async () => {
      const want = await referenceTar([x]);
      const got = newTar([x]);
      assert.equal(got.length, want.length);
      assert.ok(got.equals(want), 'bytes differ');
    });
  }

  test('a whole stream of every case in a row is byte-identical', async () => {
    const all = CASES.map(([, x]) => x);
    assert.ok(newTar(all).equals(await referenceTar(all)));
  });

  test('encodeUstar equals tar-stream headers.encode, and declines where it returns null', () => {
    const base: UstarHeader = { name: 'f', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtimeMs: T * 1000 };
    const hs: UstarHeader[] = [
      base,
      { ...base, size: 8 ** 11 - 1 },
      { ...base, size: 8 ** 11 }, // base-256
      { ...base, size: 2 ** 40 + 12345 },
      { ...base, uid: 0o777777 + 1, gid: 2 ** 31 }, // all sevens
      { ...base, mtimeMs: NaN },
      { ...base, mtimeMs: 2 ** 33 * 1000 }, // |0 wraps
      { ...base, mode: 0o107777 },
      { ...base, devmajor: 0o7777777, devminor: 5 },
      { ...base, name: `${seg('a', 155)}/${seg('b', 100)}` },
      { ...base, name: `${seg('a', 156)}/${seg('b', 100)}` },
      { ...base, name: `a/${seg('b', 101)}` },
      { ...base, name: 'caf\u00e9' },
      { ...base, type: 'symlink', linkname: seg('l', 100) },
      { ...base, type: 'symlink', linkname: seg('l', 101) },
      { ...base, type: 'symlink', linkname: '\u00e9' }, // encode writes UTF-8 there
      { ...base, type: 'pax-header', name: 'PaxHeaders/x', size: 99 },
    ];
    for (const h of hs) {
      const ref = tsHeaders.encode({ ...h, mtime: new Date(h.mtimeMs) });
      const buf = Buffer.alloc(1024, 0xee);
      const ok = encodeUstar(buf, 256, h);
      assert.equal(ok, ref !== null, JSON.stringify(h));
      if (ref) assert.ok(buf.subarray(256, 768).equals(ref), JSON.stringify(h));
      if (ok) assert.ok(buf.subarray(0, 256).every((b) => b === 0xee) && buf.subarray(768).every((b) => b === 0xee), 'wrote outside its block');
    }
  });

  test('TarOutput: bytes in order through a slow writer, buffers reused only after their write', async () => {
    const got: Buffer[] = [];
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _enc, cb) {
        // Keep a copy made later: a buffer reused before this callback would show up changed.
        setTimeout(() => {
          got.push(Buffer.from(chunk));
          cb();
        }, 1);
      },
    });
    const out = new TarOutput(slow);
    const want: Buffer[] = [];
    for (let i = 0; i < 40; i++) {
      const b = Buffer.alloc(100_000 + i * 997, i);
      want.push(b);
      await out.put(b);
    }
    await out.zeros(3);
    want.push(Buffer.alloc(3));
    await out.end();
    assert.ok(Buffer.concat(got).equals(Buffer.concat(want)));
  });

  test('TarOutput: a destroyed output makes the writer fail, not hang', async () => {
    const sink = new PassThrough({ highWaterMark: 16 });
    const out = new TarOutput(sink);
    // Nobody reads: the writer waits for 'drain' until the output is destroyed under it.
    const writing = (async () => {
      for (let i = 0; i < 10; i++) await out.put(Buffer.alloc(1 << 20, i));
      await out.end();
    })();
    await new Promise((r) => setTimeout(r, 20));
    sink.destroy(Object.assign(new Error('EPIPE'), { code: 'EPIPE' }));
    await assert.rejects(writing);
  });
  /** What the writer is fed in these tests: pieces of many sizes, so buffer edges fall everywhere. */
  async function feed(out: TarOutput): Promise<Buffer> {
    const want: Buffer[] = [];
    for (let i = 0; i < 60; i++) {
      const b = Buffer.alloc(1 + ((i * 7919) % 150_000), i);
      want.push(b);
      await out.put(b);
      if (i % 7 === 0) {
        await out.zeros(i);
        want.push(Buffer.alloc(i));
      }
    }
    await out.end();
    return Buffer.concat(want);
  }

  test('TarOutput to a file descriptor: a regular file gets MiB writes, every byte in order, left open', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tarout-'));
    const file = path.join(dir, 'out.tar');
    const fd = fs.openSync(file, 'w');
    try {
      const out = new TarOutput({ fd });
      assert.equal(out.capacity, OUT_CHUNK);
      const want = await feed(out);
      fs.writeSync(fd, Buffer.from('after')); // still open: the caller closes it
      assert.ok(fs.readFileSync(file).equals(Buffer.concat([want, Buffer.from('after')])));
    } finally {
      fs.closeSync(fd);
      fs.rmSync(dir, { recursive: true });
    }
  });

  test('TarOutput to a non-blocking pipe: PIPE_CHUNK buffers, full pipe waited out, nothing lost', async () => {
    // Node keeps its end of a child's stdin non-blocking, so a full pipe answers EAGAIN.
    const child = spawn('sha256sum', [], { stdio: ['pipe', 'pipe', 'inherit'] });
    const fd = (child.stdin as unknown as { _handle: { fd: number } })._handle.fd;
    let digest = '';
    child.stdout.on('data', (d: Buffer) => (digest += d.toString()));
    const closed = new Promise((r) => child.on('close', r));
    let want: Buffer;
    try {
      const out = new TarOutput({ fd });
      assert.equal(out.capacity, PIPE_CHUNK);
      want = await feed(out);
    } finally {
      child.stdin.end(); // also when the writer failed: a live child would hold the test open
    }
    await closed;
    assert.equal(digest.split(' ')[0], createHash('sha256').update(want).digest('hex'));
  });
});
