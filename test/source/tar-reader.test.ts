/**
 * The tar reader against GNU tar as the writer (every format it writes: gnu, oldgnu, posix, ustar,
 * v7), fed in chunks of every awkward size, and against hand-made damage.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { TarReader, type TarHeader } from '../../src/source/tar-reader.js';

interface Read {
  headers: TarHeader[];
  data: Map<string, Buffer>;
  error?: string;
}

function read(archive: Buffer, chunk: number | ((i: number) => number) = 1 << 16): Read {
  const headers: TarHeader[] = [];
  const data = new Map<string, Buffer>();
  const r = new TarReader((h) => {
    headers.push(h);
    const parts: Buffer[] = [];
    return { data: (b, s, e) => parts.push(Buffer.from(b.subarray(s, e))), end: () => data.set(h.name, Buffer.concat(parts)) };
  });
  try {
    for (let i = 0, k = 0; i < archive.length; k++) {
      const n = typeof chunk === 'number' ? chunk : chunk(k);
      r.write(archive.subarray(i, i + n));
      i += n;
    }
    r.end();
  } catch (e) {
    return { headers, data, error: (e as Error).message };
  }
  return { headers, data };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dockscope-tar-reader-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
const tree = path.join(dir, 'tree');
const long = `${'d'.repeat(120)}/${'f'.repeat(130)}.txt`;
fs.mkdirSync(path.join(tree, 'd'.repeat(120)), { recursive: true });
fs.mkdirSync(path.join(tree, 'etc'));
fs.writeFileSync(path.join(tree, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
fs.writeFileSync(path.join(tree, long), Buffer.alloc(1500, 7));
fs.writeFileSync(path.join(tree, 'empty'), '');
fs.writeFileSync(path.join(tree, 'ünïcode name'), 'x');
fs.writeFileSync(path.join(tree, 'big'), Buffer.alloc(3 * 512 + 1, 1));
fs.symlinkSync('../etc/passwd', path.join(tree, 'link'));
fs.linkSync(path.join(tree, 'etc/passwd'), path.join(tree, 'hard'));
fs.utimesSync(path.join(tree, 'etc/passwd'), 1_600_000_000, 1_600_000_000);
const names = ['etc', 'etc/passwd', 'd'.repeat(120), long, 'empty', 'ünïcode name', 'big', 'link', 'hard'];

function gnuTar(format: string, files = names): Buffer {
  const out = path.join(dir, `${format}.tar`);
  execFileSync('tar', ['--format', format, '--no-recursion', '-C', tree, '-cf', out, ...files], { stdio: ['ignore', 'ignore', 'pipe'] });
  return fs.readFileSync(out);
}

for (const format of ['gnu', 'oldgnu', 'posix', 'ustar', 'v7']) {
  test(`GNU tar --format ${format}: every entry, its type, size, link, times and data, in any chunking`, () => {
    // ustar and v7 cannot hold the long names
    const files = format === 'ustar' || format === 'v7' ? names.filter((n) => !n.startsWith('ddd')) : names;
    const archive = gnuTar(format, files);
    const whole = read(archive);
    assert.equal(whole.error, undefined);
    const byName = new Map(whole.headers.map((h) => [h.name.replace(/\/$/, ''), h]));
    assert.deepEqual([...byName.keys()], files);
    for (const f of files) {
      const h = byName.get(f)!;
      const st = fs.lstatSync(path.join(tree, f));
      const type = st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : f === 'hard' ? 'link' : 'file';
      assert.equal(h.type, type, `${format} ${f}`);
      if (type === 'file') {
        assert.equal(h.size, st.size, f);
        assert.deepEqual(whole.data.get(h.name), fs.readFileSync(path.join(tree, f)), f);
      }
      assert.equal(h.mode! & 0o7777, st.mode & 0o7777, f);
      assert.equal(h.uid, st.uid);
      assert.equal(Math.floor(h.mtime!), Math.floor(st.mtimeMs / 1000), f);
      // the data starts where the reader says
      if (type === 'file' && h.size > 0) assert.deepEqual(archive.subarray(h.byteOffset, h.byteOffset + h.size), whole.data.get(h.name));
    }
    assert.equal(byName.get('link')!.linkname, '../etc/passwd');
    assert.equal(byName.get('hard')!.linkname, 'etc/passwd');
    for (const chunk of [1, 7, 511, 512, 513, 4096, (k: number) => ((k * 7919) % 1031) + 1]) {
      const again = read(archive, chunk);
      assert.deepEqual(again, whole, `chunk ${String(chunk)}`);
    }
  });
}

test('pax records win over header fields; global records apply to every later entry; binary xattrs kept byte for byte', () => {
  const archive = gnuTar('ustar', ['etc/passwd', 'empty']);
  // g and x headers in front of a plain ustar archive
  const rec = (k: string, v: Buffer | string) => {
    const body = Buffer.concat([Buffer.from(` ${k}=`), Buffer.from(v), Buffer.from('\n')]);
    let n = body.length + 1;
    if (String(n).length + body.length > n) n++;
    return Buffer.concat([Buffer.from(String(n)), body]);
  };
  const meta = (flag: string, body: Buffer) => {
    const h = Buffer.alloc(512);
    h.write('PaxHeader', 0);
    h.write('0000644\0', 100);
    h.write(body.length.toString(8).padStart(11, '0') + '\0', 124);
    h.write(flag, 156);
    h.write('ustar\x0000', 257, 'latin1');
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const c of h) sum += c;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    return Buffer.concat([h, body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
  };
  const cap = Buffer.from([1, 0, 0, 2, 0xff, 0x80, 0x00]);
  const prefix = Buffer.concat([
    meta('g', rec('comment', 'seized')),
    meta('x', Buffer.concat([rec('path', 'renamed/by/pax'), rec('uid', '4000000000'), rec('mtime', '1700000000.5'), rec('SCHILY.xattr.security.capability', cap)])),
  ]);
  const r = read(Buffer.concat([prefix, archive]));
  assert.equal(r.error, undefined);
  const [first, second] = r.headers;
  assert.equal(first!.name, 'renamed/by/pax');
  assert.equal(first!.uid, 4_000_000_000);
  assert.equal(first!.mtime, 1_700_000_000.5);
  assert.deepEqual(Buffer.from(first!.pax!['SCHILY.xattr.security.capability']!, 'latin1'), cap);
  assert.equal(first!.pax!.comment, 'seized');
  assert.equal(second!.name, 'empty', 'an x header applies to one entry only');
  assert.equal(second!.pax?.comment, 'seized', 'a g header applies to every later entry');
});

test('zero blocks between archives are skipped: `cat a.tar b.tar` reads as both', () => {
  const a = gnuTar('gnu', ['etc', 'etc/passwd']);
  const b = gnuTar('posix', ['big']);
  const r = read(Buffer.concat([a, b]));
  assert.equal(r.error, undefined);
  assert.deepEqual(r.headers.map((h) => h.name), ['etc/', 'etc/passwd', 'big']);
});

test('V7 directory (typeflag 0, name ends in /) and a directory with a size: no data is read after them', () => {
  const archive = gnuTar('ustar', ['etc', 'etc/passwd']);
  const h = Buffer.from(archive.subarray(0, 512));
  h[156] = 0x30; // '0'
  h.write('00000001000\0', 124, 'latin1'); // 512 bytes claimed
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const c of h) sum += c;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  const r = read(Buffer.concat([h, archive.subarray(512)]));
  assert.equal(r.error, undefined);
  assert.deepEqual(r.headers.map((x) => [x.name, x.type, x.size]), [['etc/', 'directory', 0], ['etc/passwd', 'file', 26]]);
});

test('base-256 numbers: a uid past what octal holds, and a negative mtime', () => {
  const archive = Buffer.from(gnuTar('gnu', ['empty']));
  archive.fill(0, 108, 116);
  archive[108] = 0x80;
  archive.writeUInt32BE(3_000_000_000, 112);
  archive.fill(0xff, 136, 148);
  archive[147] = 0xfe; // -2
  archive.fill(0x20, 148, 156);
  let sum = 0;
  for (const c of archive.subarray(0, 512)) sum += c;
  archive.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  const r = read(archive);
  assert.equal(r.error, undefined);
  assert.equal(r.headers[0]!.uid, 3_000_000_000);
  assert.equal(r.headers[0]!.mtime, -2);
});

test('damage: each stops the reader with a message, after the entries before it', () => {
  const good = gnuTar('gnu', ['etc', 'etc/passwd', 'big']);
  const third = 1536; // etc/ header, etc/passwd header and its one data block, then big's header
  const bad = (f: (b: Buffer) => void) => {
    const b = Buffer.from(good);
    f(b);
    return read(b);
  };
  const checksum = bad((b) => (b[third + 5] ^= 1));
  assert.deepEqual(checksum.headers.map((h) => h.name), ['etc/', 'etc/passwd']);
  assert.match(checksum.error!, /not a tar header at byte 1536 \(checksum mismatch\)/);

  const size = bad((b) => {
    b.write('0000000x000\0', 512 + 124, 'latin1');
    b.fill(0x20, 512 + 148, 512 + 156);
    let sum = 0;
    for (const c of b.subarray(512, 1024)) sum += c;
    b.write(sum.toString(8).padStart(6, '0') + '\0 ', 512 + 148, 'latin1');
  });
  assert.deepEqual(size.headers.map((h) => h.name), ['etc/']);
  assert.match(size.error!, /unreadable size field/);

  const cut = read(good.subarray(0, third + 512 + 100));
  assert.deepEqual(cut.headers.map((h) => h.name), ['etc/', 'etc/passwd', 'big']);
  assert.match(cut.error!, /unexpected end of archive/);
  assert.match(read(good.subarray(0, 700)).error!, /unexpected end of archive/);
  assert.equal(read(good.subarray(0, 1024 + 512)).error, undefined, 'an archive may end between entries without its zero blocks');

  assert.match(read(Buffer.from('not a tar at all'.repeat(64))).error!, /not a tar header at byte 0/);
});

test('a pax or GNU long-name header may not claim more than 4 MiB; an error thrown by the callback stops reading', () => {
  const archive = Buffer.from(gnuTar('gnu', ['empty']));
  archive[156] = 'L'.charCodeAt(0);
  archive.write('00040000001\0', 124, 'latin1');
  archive.fill(0x20, 148, 156);
  let sum = 0;
  for (const c of archive.subarray(0, 512)) sum += c;
  archive.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  assert.match(read(archive).error!, /GNU long-name header at byte 0 claims 8388609 bytes/);

  const seen: string[] = [];
  const r = new TarReader((h) => {
    seen.push(h.name);
    if (h.name === 'etc/passwd') throw new Error('enough');
    return undefined;
  });
  assert.throws(() => r.write(gnuTar('gnu', ['etc', 'etc/passwd', 'big'])), /enough/);
  assert.deepEqual(seen, ['etc/', 'etc/passwd']);
  r.write(Buffer.alloc(512, 1)); // after an error the reader is done: no second error, no callback
  r.end();
  assert.deepEqual(seen, ['etc/', 'etc/passwd']);
});
