import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import zlib from 'node:zlib';
import { openEvidence } from '../../src/source/open.js';
import { TarSource, type TarLimits } from '../../src/source/tar.js';
import { EvidenceError } from '../../src/source/types.js';
import { cli } from '../helpers/cli.js';
import { BAD_BASE256, END, file, pad, paxHeader, paxRecord, ustar } from '../helpers/rawtar.js';
import { buildTar, tmpDir } from '../helpers/tarbuild.js';

/**
 * Hostile acquisitions (issue #7): every case here once hung, crashed, or lost intact entries.
 * Each open runs under a deadline so that a regression to a hang fails instead of stalling the run.
 */

const DIR = tmpDir();
function tmpFile(name: string, data: Buffer): string {
  const p = path.join(DIR, name);
  fs.writeFileSync(p, data);
  return p;
}

const SMALL: TarLimits = { keepFileBytes: 1000, keepTotalBytes: 1 << 20, keepContentBytes: 1 << 20, maxEntries: 1000 };

function deadline<T>(p: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

const open = (file: string, limits?: TarLimits) => deadline(TarSource.open(file, limits), 'TarSource.open');

async function readAll(src: TarSource, p: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of src.createReadStream(p)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
const read = (src: TarSource, p: string) => deadline(readAll(src, p), `stream ${p}`);

/** A raw ustar header; `sizeField` overrides the 12 bytes of the size field. */
// 1. base-256 size without a valid marker ------------------------------------------------------


test('tar: a size field with a high-bit byte that is not a base-256 marker ends indexing with a finding, no hang', async () => {
  const tar = Buffer.concat([file('d/containers/a', 'first'), ustar('d/b', '0', 0, { sizeField: BAD_BASE256 }), file('d/c', 'never'), END]);
  const src = await open(tmpFile('b256.tar', tar));
  assert.equal(src.readFile('d/containers/a', 100).toString(), 'first');
  assert.equal(src.lstat('d/b'), undefined);
  assert.ok(src.problems.some((p) => /unreadable size field/.test(p)), src.problems.join('; '));
});

test('tar: the same on a PAX header does not desynchronise the parse', async () => {
  const tar = Buffer.concat([file('d/a', 'first'), ustar('PaxHeaders/x', 'x', 0, { sizeField: BAD_BASE256 }), file('d/c', 'x'), END]);
  const src = await open(tmpFile('b256pax.tar', tar));
  assert.equal(src.readFile('d/a', 100).toString(), 'first');
  assert.ok(src.problems.some((p) => /unreadable size field/.test(p)));
});

test('cli: info over such an archive answers, and exits 3 (partial)', async () => {
  const tar = Buffer.concat([file('docker/containers/x', 'x'), file('docker/image/y', 'y'), ustar('docker/z', '0', 0, { sizeField: BAD_BASE256 }), END]);
  const r = cli(['--root', tmpFile('b256cli.tar', tar), 'info']);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.match(r.stdout, /unreadable size field/);
});

test('tar: a PAX size record that is no byte count stops with a finding', async () => {
  const tar = Buffer.concat([file('d/a', 'first'), paxHeader(paxRecord('size', '99999999999999999999999')), ustar('d/b', '0', 1), pad(Buffer.from('x')), END]);
  const src = await open(tmpFile('paxsize.tar', tar));
  assert.equal(src.readFile('d/a', 100).toString(), 'first');
  assert.equal(src.lstat('d/b'), undefined);
  assert.ok(src.problems.length > 0);
});

// 2. damage while indexing: keep what came before, say so, carry on ------------------------------

test('tar: a corrupt header mid-archive keeps the entries before it and records the damage', async () => {
  const bad = ustar('d/bad', '0', 0);
  bad[148] ^= 0x01; // checksum no longer matches
  const tar = Buffer.concat([file('d/a', 'first'), bad, file('d/c', 'x'), END]);
  const src = await open(tmpFile('corrupt.tar', tar));
  assert.equal(src.readFile('d/a', 100).toString(), 'first');
  assert.ok(src.problems.some((p) => p.startsWith('archive read stopped early')));
});

test('tar: an unparseable mtime does not end indexing (it used to throw from BigInt(NaN))', async () => {
  const tar = Buffer.concat([ustar('d/a', '0', 1, { mtimeField: 'zzzzzzzzzzz\0' }), pad(Buffer.from('a')), file('d/b', 'b'), END]);
  const src = await open(tmpFile('mtime.tar', tar));
  assert.equal(src.lstat('d/a')!.mtimeNs, 0n);
  assert.equal(src.readFile('d/b', 10).toString(), 'b');
  assert.deepEqual(src.problems, []);
});

test('tar: a malformed LIBARCHIVE.xattr name does not end indexing (URIError)', async () => {
  const tar = Buffer.concat([paxHeader(paxRecord('LIBARCHIVE.xattr.user.%E0%A4%A', 'eA==')), file('d/a', 'a'), file('d/b', 'b'), END]);
  const src = await open(tmpFile('uri.tar', tar));
  assert.deepEqual(src.xattrs('d/a').get('user.%E0%A4%A'), Buffer.from('x'));
  assert.equal(src.readFile('d/b', 10).toString(), 'b');
});

test('tar: a name nested 100,000 deep is skipped with a finding, and the rest is indexed', async () => {
  const deep = 'a/'.repeat(100_000) + 'f';
  const ok = 'b/'.repeat(3000) + 'g';
  const tar = Buffer.concat([paxHeader(paxRecord('path', deep)), file('x', 'x'), paxHeader(paxRecord('path', ok)), file('y', 'y'), file('d/c', 'c'), END]);
  const t0 = Date.now();
  const src = await open(tmpFile('deep.tar', tar));
  assert.ok(Date.now() - t0 < 3000, 'indexing a deep name must stay fast');
  assert.equal(src.readFile('d/c', 10).toString(), 'c');
  assert.equal(src.readFile(ok, 10).toString(), 'y');
  assert.equal(src.lstat('a'), undefined);
  assert.ok(src.problems.some((p) => p.includes('unsafe name') && p.includes('characters long')));
});

// 3. streaming a body that was not kept --------------------------------------------------------

const BIG = Buffer.alloc(5000, 0x41);

for (const gzip of [false, true]) {
  const ext = gzip ? 'tar.gz' : 'tar';

  test(`${ext}: streaming an entry cut short by truncation fails with EIO, not a plain Error`, async () => {
    const full = await buildTar([{ name: 'd/containers/', type: 'directory' }, { name: 'd/big', body: BIG }]);
    const cut = full.subarray(0, 512 + 512 + 3000);
    const src = await open(tmpFile(`cut.${ext}`, gzip ? zlib.gzipSync(cut) : cut), SMALL);
    assert.ok(src.problems.length > 0);
    // indexed from its header, but the data is not all there
    assert.equal(src.lstat('d/big')?.size, 5000);
    await assert.rejects(read(src, 'd/big'), (e: unknown) => e instanceof EvidenceError && e.code === 'EIO');
  });

  test(`${ext}: streaming reads the entry the index holds, not an earlier one of the same name`, async () => {
    const other = Buffer.alloc(5000, 0x42);
    const tar = await buildTar([{ name: 'd/f', body: BIG }, { name: 'd/f', body: other }, { name: 'd/h', type: 'link', linkname: 'd/f' }], gzip);
    const src = await open(tmpFile(`dup.${ext}`, tar), SMALL);
    assert.deepEqual(await read(src, 'd/f'), other);
    assert.deepEqual(await read(src, 'd/h'), other);
  });

  test(`${ext}: a directory header with a size and the name of a later file does not hang the stream`, async () => {
    const raw = Buffer.concat([ustar('d/f', '5', 700), file('d/f', BIG), END]);
    const src = await open(tmpFile(`dirsize.${ext}`, gzip ? zlib.gzipSync(raw) : raw), SMALL);
    assert.deepEqual(await read(src, 'd/f'), BIG);
  });
}

test('tar: the archive shrinking after indexing makes the stream fail with EIO', async () => {
  const tar = await buildTar([{ name: 'd/big', body: BIG }]);
  const p = tmpFile('shrink.tar', tar);
  const src = await open(p, SMALL);
  fs.truncateSync(p, 2048);
  await assert.rejects(read(src, 'd/big'), (e: unknown) => e instanceof EvidenceError && e.code === 'EIO');
});

// 4. gzip framing ---------------------------------------------------------------------------------

async function smallTar() {
  return buildTar([
    { name: 'docker/containers/', type: 'directory' },
    { name: 'docker/image/overlay2/repositories.json', body: '{"Repositories":{}}' },
    { name: 'docker/image/big', body: BIG },
  ]);
}

test('tar.gz: non-zero trailing garbage keeps the whole archive and is noted', async () => {
  const gz = Buffer.concat([zlib.gzipSync(await smallTar()), Buffer.from('GARBAGE after the member\n')]);
  const src = await open(tmpFile('garbage.tar.gz', gz), SMALL);
  assert.equal(src.readFile('docker/image/overlay2/repositories.json', 100).toString(), '{"Repositories":{}}');
  assert.deepEqual(await read(src, 'docker/image/big'), BIG);
  assert.equal(src.problems.length, 1, src.problems.join('; '));
  assert.match(src.problems[0]!, /25 bytes of trailing garbage/);
});

test('tar.gz: zero padding after the data is not a problem', async () => {
  const gz = Buffer.concat([zlib.gzipSync(await smallTar()), Buffer.alloc(4096)]);
  const src = await open(tmpFile('zeros.tar.gz', gz), SMALL);
  assert.deepEqual(src.problems, []);
  assert.deepEqual(await read(src, 'docker/image/big'), BIG);
});

test('tar.gz: several gzip members are one archive, as gzip(1) reads them', async () => {
  const tar = await smallTar();
  const cuts = [0, 700, 1100, 3000, tar.length];
  const gz = Buffer.concat(cuts.slice(1).map((c, i) => zlib.gzipSync(tar.subarray(cuts[i], c))));
  const src = await open(tmpFile('multi.tar.gz', gz), SMALL);
  assert.deepEqual(src.problems, []);
  assert.equal(src.readFile('docker/image/overlay2/repositories.json', 100).toString(), '{"Repositories":{}}');
  assert.deepEqual(await read(src, 'docker/image/big'), BIG);
});

test('tar.gz: a member with FNAME, FCOMMENT, FEXTRA and FHCRC fields is read', async () => {
  const tar = await smallTar();
  const deflated = zlib.deflateRawSync(tar);
  const head = Buffer.from([0x1f, 0x8b, 8, 0x04 | 0x08 | 0x10 | 0x02, 0, 0, 0, 0, 0, 3]);
  const extra = Buffer.from([4, 0, 1, 2, 3, 4]);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(zlib.crc32 ? zlib.crc32(tar) : 0, 0);
  trailer.writeUInt32LE(tar.length, 4);
  const gz = Buffer.concat([head, extra, Buffer.from('name.tar\0comment\0'), Buffer.from([0, 0]), deflated, trailer]);
  const src = await open(tmpFile('fields.tar.gz', gz), SMALL);
  assert.deepEqual(await read(src, 'docker/image/big'), BIG);
  assert.deepEqual(src.problems, []);
});

test('tar.gz: a cut gzip keeps what decompressed and says why it stopped', async () => {
  const tar = Buffer.concat([await smallTar(), await buildTar(Array.from({ length: 40 }, (_, i) => ({ name: `docker/n${i}`, body: Buffer.alloc(2000, i) })))]);
  const gz = zlib.gzipSync(tar, { level: 0 });
  const src = await open(tmpFile('cut.tar.gz', gz.subarray(0, gz.length - 30_000)), SMALL);
  assert.equal(src.readFile('docker/image/overlay2/repositories.json', 100).toString(), '{"Repositories":{}}');
  assert.ok(src.problems.some((p) => /gzip member 1 \(offset 0\): unexpected end of file/.test(p)), src.problems.join('; '));
  assert.ok(src.problems.some((p) => p.startsWith('archive read stopped early')));
});

test('tar.gz: a corrupt checksum in the trailer is noted', { skip: !zlib.crc32 }, async () => {
  const gz = zlib.gzipSync(await smallTar());
  gz[gz.length - 8] ^= 0xff;
  const src = await open(tmpFile('crc.tar.gz', gz), SMALL);
  assert.deepEqual(await read(src, 'docker/image/big'), BIG);
  assert.ok(src.problems.some((p) => /CRC mismatch/.test(p)));
});

test('tar.gz: garbage that looks like a second member stops there, keeping the first', async () => {
  const gz = Buffer.concat([zlib.gzipSync(await smallTar()), Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff])]);
  const ev = await deadline(openEvidence(tmpFile('fake2.tar.gz', gz)), 'openEvidence');
  assert.equal(ev.rootPath, 'docker');
  assert.equal(ev.root.readFile('image/overlay2/repositories.json', 100).toString(), '{"Repositories":{}}');
  assert.ok(ev.problems.some((p) => /gzip member 2/.test(p)), ev.problems.join('; '));
});

test('tar.gz: thousands of empty gzip members are all read past', async () => {
  const empty = zlib.gzipSync(Buffer.alloc(0));
  const gz = Buffer.concat([zlib.gzipSync(await smallTar()), ...Array.from({ length: 5000 }, () => empty)]);
  const src = await open(tmpFile('many.tar.gz', gz), SMALL);
  assert.deepEqual(src.problems, []);
  assert.equal(src.readFile('docker/image/overlay2/repositories.json', 100).toString(), '{"Repositories":{}}');
});

