import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TarSource } from '../../src/source/tar.js';
import { TarReader, type TarHeader } from '../../src/source/tar-reader.js';
import { EvidenceError } from '../../src/source/types.js';
import { buildTar, tmpFile } from '../helpers/tarbuild.js';
import { END, file, pad, ustar } from '../helpers/rawtar.js';

/**
 * The tar index keeps each entry's name under its parent (typed-array slots, a Map only for big
 * directories) and reads headers with its own reader (tar-reader.ts). These cases pin what it must
 * keep answering as the old full-path index over tar-stream did, and where the reader reads the
 * format as GNU tar does instead.
 */

const isCode = (code: string) => (e: unknown) => e instanceof EvidenceError && e.code === code;

function paxRecord(key: string, value: string): Buffer {
  const body = `${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 2;
  while (`${len} ${body}`.length !== len) len = Buffer.byteLength(`${len} ${body}`);
  return Buffer.from(`${len} ${body}`);
}

async function readAll(src: TarSource, p: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of src.createReadStream(p)) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

test('tar index: odd paths land under the same parent (./, //, trailing /, leading /, . components)', async () => {
  const tar = await buildTar([
    { name: './a/', type: 'directory' },
    { name: './a/b/one', body: '1' },
    { name: 'a//b/two', body: '2' },
    { name: '/a/./b/three', body: '3' },
    { name: 'a/b/four/.', type: 'directory' },
    { name: 'a/b/five', body: '5' },
  ]);
  const src = await TarSource.open(tmpFile('odd.tar', tar));
  assert.deepEqual(src.readdir('a/b'), ['five', 'four', 'one', 'three', 'two']);
  assert.equal(src.readFile('a/b/three', 10).toString(), '3');
  assert.equal(src.readFile('/a/b/two', 10).toString(), '2');
  assert.equal(src.lstat('a/b/four')!.type, 'dir');
  assert.equal(src.lstat('a/b')!.inode, 'a/b', 'a synthetic directory is identified by its path');
  assert.equal(src.lstat('a/b/one')!.inode, 'a/b/one');
});

test('tar index: long names (GNU and PAX) and a PAX path override sit under their real parents', async () => {
  const deep = 'var/lib/docker/' + 'x'.repeat(120) + '/' + 'y'.repeat(130);
  const tar = await buildTar([
    { name: deep + '/long-by-pax', body: 'pax' },
    { name: 'short', body: 'overridden', pax: { path: 'var/lib/docker/renamed' } },
  ]);
  const gnuName = 'g/' + 'z'.repeat(200) + '/leaf';
  const gnu = Buffer.concat([ustar('././@LongLink', 'L', gnuName.length + 1), pad(Buffer.from(gnuName + '\0')), file('ignored', 'gnu')]);
  const src = await TarSource.open(tmpFile('long.tar', Buffer.concat([tar.subarray(0, tar.length - 1024), gnu, END])));
  assert.equal(src.readFile(deep + '/long-by-pax', 10).toString(), 'pax');
  assert.deepEqual(src.readdir(deep), ['long-by-pax']);
  assert.equal(src.readFile('var/lib/docker/renamed', 20).toString(), 'overridden');
  assert.equal(src.lstat('short'), undefined);
  assert.equal(src.readFile(gnuName, 10).toString(), 'gnu');
  assert.equal(src.lstat('ignored'), undefined);
  assert.deepEqual(src.readdir('var/lib/docker')!.sort(), ['renamed', 'x'.repeat(120)]);
});

test('tar index: a ustar prefix splits the name; typeflag 0 with a trailing slash is a directory (V7, as GNU tar reads it)', async () => {
  const tar = Buffer.concat([ustar('c/d', '0', 0, { prefix: 'a/b' }), ustar('e/', '\0', 0), END]);
  const src = await TarSource.open(tmpFile('prefix.tar', tar));
  assert.equal(src.lstat('a/b/c/d')!.type, 'file');
  assert.equal(src.lstat('e')!.type, 'dir');
});

test('tar index: duplicates — the last entry wins, a directory keeps its children, a file replacing one drops them from the listing', async () => {
  const tar = await buildTar([
    { name: 'd/', type: 'directory', mode: 0o700 },
    { name: 'd/old', body: 'old' },
    { name: 'd/', type: 'directory', mode: 0o750 },
    { name: 'f', body: 'first' },
    { name: 'f', body: 'second' },
    { name: 'r/', type: 'directory' },
    { name: 'r/gone', body: 'x' },
    { name: 'r', body: 'now a file' },
    { name: 'r/', type: 'directory' },
    { name: 'r/new', body: 'y' },
  ]);
  const src = await TarSource.open(tmpFile('dup.tar', tar));
  assert.equal(src.lstat('d')!.mode, 0o750);
  assert.deepEqual(src.readdir('d'), ['old']);
  assert.equal(src.readFile('f', 10).toString(), 'second');
  assert.deepEqual(src.readdir(''), ['d', 'f', 'r']);
  // as the full-path index had it: the old child is still found by path, but no longer listed
  assert.deepEqual(src.readdir('r'), ['new']);
  assert.equal(src.readFile('r/gone', 10).toString(), 'x');
});

test('tar index: a big directory (past the sibling list) finds, replaces and lists every child once', async () => {
  const entries = [];
  for (let i = 0; i < 300; i++) entries.push({ name: `big/n${i}`, body: String(i) });
  for (let i = 0; i < 300; i += 7) entries.push({ name: `big/n${i}`, body: `again ${i}` });
  const src = await TarSource.open(tmpFile('big.tar', await buildTar(entries)));
  const names = src.readdir('big')!;
  assert.equal(names.length, 300);
  assert.equal(new Set(names).size, 300);
  assert.equal(src.readFile('big/n7', 20).toString(), 'again 7');
  assert.equal(src.readFile('big/n8', 20).toString(), '8');
});

test('tar index: hard links share the target identity and data, also when the body was not kept', async () => {
  const tar = await buildTar([
    { name: 'a/f', body: 'x'.repeat(5000) },
    { name: 'b/h1', type: 'link', linkname: 'a/f' },
    { name: 'b/h2', type: 'link', linkname: 'b/h1' },
    { name: 'b/miss', type: 'link', linkname: 'no/such' },
    { name: 'b/dirlink', type: 'link', linkname: 'a' },
  ]);
  const src = await TarSource.open(tmpFile('hl.tar', tar), { keepFileBytes: 1000, keepTotalBytes: 1 << 20, keepContentBytes: 1 << 20, maxEntries: 100 });
  const h2 = src.lstat('b/h2')!;
  assert.equal(h2.inode, 'a/f');
  // nlink counts the links made to each entry directly, as the index always did
  assert.equal(h2.nlink, 3);
  assert.equal(src.lstat('b/h1')!.nlink, 3);
  assert.equal(src.lstat('a/f')!.nlink, 2);
  assert.equal(await readAll(src, 'b/h2'), 'x'.repeat(5000));
  assert.throws(() => src.readFile('b/h2', 1 << 20), isCode('ETOOBIG'));
  assert.ok(src.problems.some((p) => p.includes('to missing entry "no/such"')));
  assert.ok(src.problems.some((p) => p.includes('to missing entry "a"')), 'a hard link to a directory is refused');
  assert.equal(src.lstat('b/dirlink')!.type, 'file');
});

test('tar index: symlinks are resolved over the slots like resolvePath (relative, through directories, loops, escapes)', async () => {
  const tar = await buildTar([
    { name: 'r/a/f', body: 'hello' },
    { name: 'r/l1', type: 'symlink', linkname: 'a' },
    { name: 'r/l2', type: 'symlink', linkname: 'l1/f' },
    { name: 'r/loop', type: 'symlink', linkname: 'loop' },
    { name: 'r/out', type: 'symlink', linkname: '../../x' },
    { name: 'r/file', body: 'z' },
  ]);
  const top = await TarSource.open(tmpFile('sl.tar', tar));
  const src = top.sub('r');
  assert.equal(src.readFile('l2', 10).toString(), 'hello');
  assert.deepEqual(src.readdir('l1'), ['f']);
  assert.equal(src.lstat('l2')!.type, 'symlink');
  assert.equal(src.stat('l2')!.inode, 'r/a/f');
  assert.throws(() => src.stat('loop'), isCode('ELOOP'));
  assert.throws(() => src.stat('out'), isCode('ESCAPE'));
  assert.throws(() => src.lstat('file/x'), isCode('ENOTDIR'));
  assert.equal(src.lstat('a/none'), undefined);
  assert.equal(src.readFileIfPresent!('a/none', 10), undefined);
  assert.throws(() => src.readFile('a/none', 10), isCode('ENOENT'));
});

test('tar reader: a global PAX header reaches every later entry, a local one the next entry only', () => {
  const names: string[] = [];
  const seen: TarHeader[] = [];
  const r = new TarReader((h) => {
    names.push(h.name);
    seen.push(h);
    return undefined;
  });
  const g = paxRecord('comment', 'global');
  const x = paxRecord('path', 'renamed');
  r.write(
    Buffer.concat([
      ustar('pax_global_header', 'g', g.length),
      pad(g),
      file('plain', 'no pax of its own'),
      ustar('PaxHeaders/x', 'x', x.length),
      pad(x),
      file('orig', 'has pax'),
      END,
    ]),
  );
  r.end();
  assert.deepEqual(names, ['plain', 'renamed']);
  assert.equal(seen[0]!.pax!.comment, 'global', 'a global header applies to every later entry');
  assert.equal(seen[0]!.pax!.path, undefined);
  assert.equal(seen[1]!.pax!.comment, 'global');
  assert.equal(seen[1]!.byteOffset, 512 * 7);
});

test('tar reader: damage stops reading with a message that says where', () => {
  const run = (b: Buffer) => {
    const r = new TarReader(() => undefined);
    try {
      r.write(b);
      r.end();
      return 'ok';
    } catch (e) {
      return (e as Error).message;
    }
  };
  const bad = ustar('x', '0', 1);
  bad[0] ^= 1;
  assert.match(run(Buffer.concat([bad, END])), /^not a tar header at byte 0 \(checksum mismatch\)/);
  const unknown = ustar('x', '0', 0);
  unknown.write('nope!\0', 257);
  let sum = 0;
  unknown.write('        ', 148);
  for (const b of unknown) sum += b;
  unknown.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  // no ustar magic but a good checksum: a V7 header, read as GNU tar reads one
  assert.equal(run(unknown), 'ok');
  assert.match(run(ustar('x', '0', 0, { sizeField: Buffer.from('b0303030303030303030303020', 'hex').subarray(0, 12) })), /unreadable size field/);
  assert.match(run(file('x', 'abc').subarray(0, 600)), /^unexpected end of archive at byte 600/);
  assert.equal(run(ustar('x', 'x', 5 << 20)), 'pax header at byte 0 claims 5242880 bytes (more than 4194304)');
  // base-256 size (0x80 marker) is read as a number; zero blocks before it are skipped
  const b256 = Buffer.alloc(12);
  b256[0] = 0x80;
  b256[11] = 3;
  const sizes: number[] = [];
  const r = new TarReader((h) => void sizes.push(h.size));
  r.write(Buffer.concat([Buffer.alloc(1024), ustar('x', '0', 0, { sizeField: b256 }), pad(Buffer.from('abc')), END]));
  r.end();
  assert.deepEqual(sizes, [3]);
});

test('tar reader: chunk boundaries anywhere give the same entries and bodies', async () => {
  const tar = await buildTar([
    { name: 'a/one', body: 'x'.repeat(700) },
    { name: 'a/two', body: 'y', pax: { 'SCHILY.xattr.user.k': 'v' } },
    { name: 'b/' + 'n'.repeat(150), body: 'long' },
  ]);
  const collect = (chunk: number) => {
    const out: string[] = [];
    const r = new TarReader((h) => {
      let body = '';
      return {
        data: (b, s, e) => void (body += b.toString('latin1', s, e)),
        end: () => void out.push(`${h.name}=${body}@${h.byteOffset}`),
      };
    });
    for (let i = 0; i < tar.length; i += chunk) r.write(Buffer.from(tar.subarray(i, i + chunk)));
    r.end();
    return out;
  };
  const whole = collect(tar.length);
  assert.equal(whole.length, 3);
  for (const n of [1, 7, 511, 512, 513, 1000]) assert.deepEqual(collect(n), whole, `chunks of ${n}`);
});

test('tar.gz re-reads: bodies passed on the way are served again exactly, hard links included; readFile still refuses them', async () => {
  const body = (i: number) => `${i}:`.padEnd(2000 + i * 37, String.fromCharCode(97 + (i % 26)));
  const entries = [];
  for (let i = 0; i < 40; i++) entries.push({ name: `l/diff/f${i}`, body: body(i) });
  entries.push({ name: 'l/diff/hl', type: 'link' as const, linkname: 'l/diff/f3' });
  const src = await TarSource.open(tmpFile('rr.tar.gz', await buildTar(entries, true)), { keepFileBytes: 1000, keepTotalBytes: 1 << 20, keepContentBytes: 1 << 20, maxEntries: 100 });
  // one in the middle first (fills the cache around it), then every one, in a scrambled order
  assert.equal(await readAll(src, 'l/diff/f20'), body(20));
  for (const i of [39, 0, 21, 19, 3, 38, 1, 20]) assert.equal(await readAll(src, `l/diff/f${i}`), body(i), `f${i}`);
  assert.equal(await readAll(src, 'l/diff/hl'), body(3));
  assert.throws(() => src.readFile('l/diff/f5', 1 << 20), isCode('ETOOBIG'));
});

test('tar index: sizes, times and offsets past 32 bits keep their values (the index stores 32-bit columns)', async () => {
  const pax = (recs: Buffer) => Buffer.concat([ustar('PaxHeader', 'x', recs.length), pad(recs)]);
  const tar = Buffer.concat([
    pax(Buffer.concat([paxRecord('mtime', '4102444800')])), // 2100-01-01: past a signed 32-bit second count
    file('t/future', 'f'),
    pax(Buffer.concat([paxRecord('mtime', '-3000000000')])),
    file('t/past', 'p'),
    pax(Buffer.concat([paxRecord('mtime', '2147483647'), paxRecord('uid', '4294967296')])),
    file('t/edge', 'e'),
    pax(paxRecord('size', String(5 * 2 ** 30))), // 5 GiB, and the archive ends inside it
    ustar('t/big', '0', 0),
  ]);
  const src = await TarSource.open(tmpFile('wide.tar', tar));
  assert.equal(src.lstat('t/future')!.mtimeNs, 4_102_444_800n * 1_000_000_000n);
  assert.equal(src.lstat('t/past')!.mtimeNs, -3_000_000_000n * 1_000_000_000n);
  assert.equal(src.lstat('t/edge')!.mtimeNs, 2_147_483_647n * 1_000_000_000n);
  assert.equal(src.lstat('t/edge')!.uid, 4294967296);
  assert.equal(src.lstat('t/big')!.size, 5 * 2 ** 30);
  assert.equal(src.readFile('t/edge', 10).toString(), 'e');
  assert.match(src.problems.join('\n'), /unexpected end of archive/);
});
