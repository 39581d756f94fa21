import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openEvidence } from '../../src/source/open.js';
import { TarSource } from '../../src/source/tar.js';
import { EvidenceError } from '../../src/source/types.js';
import { buildTar, tmpFile } from '../helpers/tarbuild.js';
import { pad, ustar } from '../helpers/rawtar.js';

const isCode = (code: string) => (e: unknown) => e instanceof EvidenceError && e.code === code;

async function sample(gzip: boolean) {
  return tmpFile(
    gzip ? 'e.tar.gz' : 'e.tar',
    await buildTar(
      [
        { name: 'var/lib/docker/', type: 'directory' },
        { name: 'var/lib/docker/containers/', type: 'directory' },
        { name: 'var/lib/docker/image/overlay2/repositories.json', body: '{"Repositories":{}}' },
        { name: 'var/lib/docker/overlay2/abc/diff/wh', type: 'character-device', devmajor: 0, devminor: 0, mode: 0 },
        { name: 'var/lib/docker/overlay2/abc/diff/opq/', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y' } },
        { name: 'var/lib/docker/overlay2/abc/diff/f', body: 'hello', pax: { mtime: '1700000000.123456789' } },
        { name: 'var/lib/docker/overlay2/abc/diff/hl', type: 'link', linkname: 'var/lib/docker/overlay2/abc/diff/f' },
        { name: 'var/lib/docker/overlay2/l/LINK', type: 'symlink', linkname: '../abc/diff' },
        { name: 'var/lib/docker/overlay2/l/OUT', type: 'symlink', linkname: '../../../../../etc' },
        { name: 'var/lib/docker/overlay2/l/ABS', type: 'symlink', linkname: '/etc/passwd' },
        { name: 'var/lib/docker/overlay2/l/LOOP', type: 'symlink', linkname: 'LOOP' },
        { name: '../escape', body: 'x' },
        { name: 'var/lib/docker/overlay2/evil-hl', type: 'link', linkname: '../../../../etc/shadow' },
      ],
      gzip,
    ),
  );
}

for (const gzip of [false, true]) {
  test(`tar${gzip ? '.gz' : ''}: finds the data root and keeps devices, hard links, symlinks and PAX xattrs`, async () => {
    const ev = await openEvidence(await sample(gzip));
    assert.equal(ev.rootPath, 'var/lib/docker');
    const r = ev.root;
    const wh = r.lstat('overlay2/abc/diff/wh')!;
    assert.equal(wh.type, 'char');
    assert.equal(wh.rdevMajor, 0);
    assert.deepEqual(r.xattrs('overlay2/abc/diff/opq').get('trusted.overlay.opaque'), Buffer.from('y'));
    assert.equal(r.readFile('overlay2/abc/diff/hl', 100).toString(), 'hello');
    assert.equal(r.lstat('overlay2/abc/diff/hl')!.inode, r.lstat('overlay2/abc/diff/f')!.inode);
    assert.equal(r.lstat('overlay2/abc/diff/f')!.nlink, 2);
    assert.equal(r.lstat('overlay2/abc/diff/f')!.mtimeNs, 1_700_000_000_123_456_789n);
    assert.equal(r.readlink('overlay2/l/LINK'), '../abc/diff');
    assert.deepEqual(r.readdir('overlay2/l/LINK'), ['f', 'hl', 'opq', 'wh']);
    assert.equal(r.readFile('overlay2/l/LINK/f', 100).toString(), 'hello');
  });
}

test('tar: symlinks and names that leave the root are refused, loops end', async () => {
  const ev = await openEvidence(await sample(true));
  const r = ev.root;
  assert.throws(() => r.readdir('overlay2/l/OUT'), isCode('ESCAPE'));
  assert.throws(() => r.readFile('overlay2/l/ABS', 100), isCode('ESCAPE'));
  assert.throws(() => r.stat('overlay2/l/LOOP'), isCode('ELOOP'));
  assert.throws(() => r.readFile('../escape', 100), isCode('EBADPATH'));
  // The view is contained even though the whole archive holds more.
  assert.throws(() => r.sub('overlay2').readFile('../image/overlay2/repositories.json', 100), isCode('EBADPATH'));
  assert.ok(ev.problems.some((p) => p.includes('unsafe name')), 'the ../escape entry is reported');
  assert.ok(ev.problems.some((p) => p.includes('outside the archive')), 'the escaping hard link is reported');
  assert.equal(ev.top.lstat('escape'), undefined);
});

test('tar: readFile is bounded', async () => {
  const ev = await openEvidence(await sample(false));
  assert.throws(() => ev.root.readFile('overlay2/abc/diff/f', 3), isCode('ETOOBIG'));
});

test('tar: a truncated archive yields what came before the damage, and says so', async () => {
  const full = await buildTar([
    { name: 'docker/containers/', type: 'directory' },
    { name: 'docker/image/overlay2/a', body: 'A'.repeat(3000) },
    { name: 'docker/image/overlay2/b', body: 'B'.repeat(3000) },
  ]);
  const src = await TarSource.open(tmpFile('t.tar', full.subarray(0, 512 + 3072 + 512 + 1000)));
  assert.equal(src.readFile('docker/image/overlay2/a', 1 << 20).length, 3000);
  assert.ok(src.problems.length > 0);
});

test('tar: large bodies are streamed again from the archive', async () => {
  const big = Buffer.alloc(300_000, 7);
  const file = tmpFile('b.tar.gz', await buildTar([{ name: 'docker/containers/', type: 'directory' }, { name: 'docker/image/big', body: big }], true));
  const src = await TarSource.open(file, { keepFileBytes: 1000, keepTotalBytes: 1 << 20, keepContentBytes: 1 << 20, maxEntries: 100 });
  assert.throws(() => src.readFile('docker/image/big', 1 << 20), isCode('ETOOBIG'));
  const chunks: Buffer[] = [];
  for await (const c of src.createReadStream('docker/image/big')) chunks.push(c as Buffer);
  assert.deepEqual(Buffer.concat(chunks), big);
});

test('tar: layer content bodies have a memory budget of their own; metadata keeps the rest', async () => {
  const body = Buffer.alloc(600, 1);
  const file = tmpFile('c.tar.gz', await buildTar([
    { name: 'docker/image/overlay2/repositories.json', body },
    { name: 'docker/overlay2/abc/diff/etc/one', body },
    { name: 'docker/overlay2/abc/diff/etc/two', body },
    { name: 'docker/overlay2/abc/link', body },
  ], true));
  const src = await TarSource.open(file, { keepFileBytes: 1000, keepTotalBytes: 1 << 20, keepContentBytes: 1000, maxEntries: 100 });
  assert.deepEqual(src.readFile('docker/overlay2/abc/diff/etc/one', 1 << 20), body);
  // over the content budget: not in memory, streamed from the archive instead
  assert.throws(() => src.readFile('docker/overlay2/abc/diff/etc/two', 1 << 20), isCode('ETOOBIG'));
  const chunks: Buffer[] = [];
  for await (const c of src.createReadStream('docker/overlay2/abc/diff/etc/two')) chunks.push(c as Buffer);
  assert.deepEqual(Buffer.concat(chunks), body);
  // metadata beside and after it is still kept
  assert.deepEqual(src.readFile('docker/overlay2/abc/link', 1 << 20), body);
  assert.deepEqual(src.readFile('docker/image/overlay2/repositories.json', 1 << 20), body);
});

test('open: archive:inner/path names the data root explicitly', async () => {
  const ev = await openEvidence(`${await sample(false)}:var/lib/docker/overlay2`);
  assert.equal(ev.rootPath, 'var/lib/docker/overlay2');
  assert.deepEqual(ev.root.readdir('l'), ['ABS', 'LINK', 'LOOP', 'OUT']);
});

/** A raw ustar header: what tar-stream will not write for us (a PAX record with binary bytes). */

test('tar: binary xattr values (security.capability) are kept byte for byte', async () => {
  const value = Buffer.from([0x01, 0x00, 0x00, 0x02, 0xa3, 0xca, 0xff, 0x00, 0x80, 0x7f]);
  const body = Buffer.concat([Buffer.from('SCHILY.xattr.security.capability='), value, Buffer.from('\n')]);
  let rec = Buffer.concat([Buffer.from(`${body.length + 3} `), body]);
  if (rec.length !== body.length + 3) rec = Buffer.concat([Buffer.from(`${body.length + 4} `), body]);
  const tar = Buffer.concat([ustar('x/containers/', '5', 0), ustar('x/PaxHeaders/f', 'x', rec.length), pad(rec), ustar('x/f', '0', 2), pad(Buffer.from('hi')), Buffer.alloc(1024)]);
  const src = await TarSource.open(tmpFile('cap.tar', tar));
  assert.deepEqual(src.xattrs('x/f').get('security.capability'), value);
  assert.equal(src.readFile('x/f', 10).toString(), 'hi');
});

test('tar: a hard link to a whiteout is a whiteout, not an empty file', async () => {
  const file = tmpFile(
    'wh.tar',
    await buildTar([
      { name: 'd/containers/', type: 'directory' },
      { name: 'd/a', type: 'character-device', devmajor: 0, devminor: 0, mode: 0 },
      { name: 'd/b', type: 'link', linkname: 'd/a' },
    ]),
  );
  const src = await TarSource.open(file);
  const b = src.lstat('d/b')!;
  assert.equal(b.type, 'char');
  assert.equal(b.rdevMajor, 0);
  assert.equal(b.inode, src.lstat('d/a')!.inode);
});
