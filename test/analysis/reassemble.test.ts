import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import tarStream from 'tar-stream';
import {
  hashLayer,
  layerFilesFromSource,
  reassemble,
  walkLayerTree,
  type FileReport,
  type LayerFiles,
  type ReassembleSummary,
} from '../../src/analysis/reassemble.js';
import { DirSource } from '../../src/source/dir.js';
import { TarSource } from '../../src/source/tar.js';
import { crc64Digest } from '../../src/store/crc64.js';
import { Findings } from '../../src/store/findings.js';
import { cleanTarName, readTarSplit, type TarSplitEntry, type TarSplitFile } from '../../src/store/tarsplit.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const DATA = path.join(ROOT, 'test/data/tarsplit');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'dockscope-reassemble-'));
after(() => fs.rmSync(TMP, { recursive: true, force: true }));

const layerSha = (v: string) => 'sha256:' + fs.readFileSync(path.join(DATA, v, 'layer.sha256'), 'utf8').trim();
const layerSize = (v: string) => Number(fs.readFileSync(path.join(DATA, v, 'layer.size'), 'utf8'));

/** The committed tar-split, parsed (findings of the parse are checked elsewhere). */
function entriesOf(v: string, findings = new Findings()): AsyncIterable<TarSplitEntry> {
  return readTarSplit(fs.createReadStream(path.join(DATA, v, 'tar-split.json.gz')), findings);
}

async function entriesFromLines(lines: object[]): Promise<AsyncIterable<TarSplitEntry>> {
  const gz = zlib.gzipSync(Buffer.from(lines.map((l) => JSON.stringify(l) + '\n').join('')));
  return readTarSplit(Readable.from([gz]), new Findings());
}

/** Unpacks a committed tree.tar.gz into a fresh dir, keeping raw (non-UTF-8) names byte for byte. */
async function extractTree(v: string, file = 'tree.tar.gz'): Promise<string> {
  const dest = fs.mkdtempSync(path.join(TMP, `${v}-`));
  const at = (name: string) => Buffer.concat([Buffer.from(dest + '/'), Buffer.from(name, 'latin1')]);
  // tar-stream honours filenameEncoding; its bundled typings only declare stream options.
  const opts: Parameters<typeof tarStream.extract>[0] & { filenameEncoding: BufferEncoding } = { filenameEncoding: 'latin1' };
  const ex = tarStream.extract(opts);
  fs.createReadStream(path.join(DATA, v, file)).pipe(zlib.createGunzip()).pipe(ex);
  for await (const entry of ex) {
    const h = entry.header;
    if (h.type === 'directory') {
      fs.mkdirSync(at(h.name), { recursive: true });
      entry.resume();
    } else if (h.type === 'file') {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      fs.writeFileSync(at(h.name), Buffer.concat(chunks));
    } else if (h.type === 'symlink') {
      fs.symlinkSync(Buffer.from(h.linkname!, 'latin1'), at(h.name));
      entry.resume();
    } else if (h.type === 'link') {
      fs.linkSync(at(h.linkname!), at(h.name));
      entry.resume();
    } else throw new Error(`unexpected ${h.type} in ${file}`);
  }
  return dest;
}

/** Test-only getter that addresses names by their raw bytes (node:fs Buffer paths). */
function rawDirFiles(dir: string): LayerFiles {
  const abs = (e: TarSplitFile) =>
    Buffer.concat([Buffer.from(dir + '/'), Buffer.from(cleanTarName(e.nameRaw.toString('latin1')).path, 'latin1')]);
  return {
    lstat(_p, e) {
      try {
        const st = fs.lstatSync(abs(e));
        const type = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
        return { type, size: st.size };
      } catch {
        return undefined;
      }
    },
    open: (_p, e) => fs.createReadStream(abs(e)),
  };
}

async function drain(gen: AsyncGenerator<Buffer, ReassembleSummary>): Promise<{ data: Buffer; summary: ReassembleSummary }> {
  const chunks: Buffer[] = [];
  let r = await gen.next();
  while (!r.done) {
    chunks.push(r.value);
    r = await gen.next();
  }
  return { data: Buffer.concat(chunks), summary: r.value };
}

const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

/** Names and sizes of a tar's entries, through an independent reader (tar-stream). */
async function listTar(data: Buffer): Promise<[string, number][]> {
  const ex = tarStream.extract();
  // tar-stream stops on a partial block: drop the vector's unaligned trailing garbage.
  Readable.from([data.subarray(0, data.length - (data.length % 512))]).pipe(ex);
  const out: [string, number][] = [];
  for await (const e of ex) {
    out.push([e.header.name, e.header.size ?? 0]);
    e.resume();
  }
  return out;
}

test('pax vector: reassembled from a directory, sha256 equals the original tar', async () => {
  const dir = await extractTree('pax');
  const src = new DirSource(dir);
  const findings = new Findings();
  const r = await hashLayer(entriesOf('pax'), layerFilesFromSource(src), {
    findings,
    whiteouts: 'literal', // GNU tar extracted the .wh. files as plain files
    tree: walkLayerTree(src, { findings }),
    expectedDiffID: layerSha('pax'),
    keepOk: true,
  });
  assert.equal(r.diffID, layerSha('pax'));
  assert.equal(r.matches, true);
  assert.equal(r.bytes, layerSize('pax'));
  assert.equal(r.complete, true);
  assert.deepEqual(findings.list, []);
  assert.equal(r.checked, 18); // 20 file entries less the PAX global header and './'
  assert.equal(r.counts.ok, 18);
  assert.equal(r.extrasTotal, 0);
  const content = r.files.filter((f) => f.check === 'content');
  assert.deepEqual(
    content.map((f) => [f.name, f.size, f.actualCrc === f.expectedCrc]),
    [
      ['./data/big.bin', 40000, true],
      ['./data/block512', 512, true],
      ['./data/one', 1, true],
      ['./etc/hard', 10, true],
      ['./opq/kept', 5, true],
      ['./usr/share/' + 'a'.repeat(60) + '/' + 'b'.repeat(60) + '/file.txt', 15, true],
    ],
  );
});

test('pax vector: the stream itself is the original tar, byte for byte', async () => {
  const dir = await extractTree('pax');
  const { data } = await drain(reassemble(entriesOf('pax'), layerFilesFromSource(new DirSource(dir)), { whiteouts: 'literal' }));
  assert.equal(data.length, layerSize('pax'));
  assert.equal(sha(data), layerSha('pax'));
  assert.ok(data.subarray(-40).toString('latin1').endsWith('TRAILING GARBAGE AFTER END OF ARCHIVE\n'));
});

test('pax vector on an overlay2-style diff dir (TarSource): whiteouts are char 0:0, opaque is an xattr', async () => {
  const tar = await TarSource.open(path.join(DATA, 'pax/tree-overlay.tar.gz'));
  const diff = tar.sub('diff');
  const findings = new Findings();
  const r = await hashLayer(entriesOf('pax'), layerFilesFromSource(diff), {
    findings,
    whiteouts: 'overlay',
    tree: walkLayerTree(diff, { findings }),
    expectedDiffID: layerSha('pax'),
  });
  assert.equal(r.diffID, layerSha('pax'));
  assert.deepEqual(findings.list, []);
  assert.equal(r.counts.ok, 18);
  assert.deepEqual(r.extras, []);

  // Read with the wrong whiteout convention, the same dir shows exactly the whiteout differences.
  const f2 = new Findings();
  const r2 = await hashLayer(entriesOf('pax'), layerFilesFromSource(diff), { findings: f2, whiteouts: 'literal', tree: walkLayerTree(diff) });
  assert.equal(r2.diffID, layerSha('pax'), 'whiteouts carry no bytes: the diffID does not see them');
  assert.deepEqual(
    r2.files.map((f) => [f.name, f.status]),
    [
      ['./.wh.deleted', 'missing'],
      ['./opq/.wh..wh..opq', 'missing'],
    ],
  );
  assert.deepEqual(r2.extras, [{ path: 'deleted', type: 'char', tarName: 'deleted' }]);
});

test('gnu vector: non-UTF-8 names reassemble with a raw-byte getter', async () => {
  const dir = await extractTree('gnu');
  assert.ok(fs.existsSync(Buffer.from(dir + '/caf\xe9.txt', 'latin1')), 'raw name extracted');
  const r = await hashLayer(entriesOf('gnu'), rawDirFiles(dir), { expectedDiffID: layerSha('gnu') });
  assert.equal(r.diffID, layerSha('gnu'));
  assert.equal(r.matches, true);
  assert.equal(r.bytes, layerSize('gnu'));
  assert.deepEqual(r.findings.list, []);
});

test('gnu vector through a Source: names that are not UTF-8 are unreadable, not silently missing', async () => {
  const dir = await extractTree('gnu');
  const r = await hashLayer(entriesOf('gnu'), layerFilesFromSource(new DirSource(dir)), { expectedDiffID: layerSha('gnu') });
  assert.equal(r.matches, false);
  assert.equal(r.bytes, layerSize('gnu'), 'zero padding keeps the stream the right length');
  assert.deepEqual(
    r.files.map((f) => [f.nameHex, f.check, f.status]),
    [
      ['636166e92e747874', 'content', 'unreadable'],
      ['fffe2f', 'presence', 'unreadable'],
      ['fffe2f696e6e6572', 'content', 'unreadable'],
    ],
  );
  assert.match(r.files[0]!.detail!, /not UTF-8/);
  assert.deepEqual(
    r.findings.list.map((f) => f.code),
    ['reassemble.unreadable', 'reassemble.unreadable', 'reassemble.unreadable', 'reassemble.diffid-mismatch'],
  );
});

test('tampering: modified, truncated, grown, missing, replaced and extra files are reported exactly', async () => {
  const dir = await extractTree('pax');
  const big = fs.readFileSync(path.join(dir, 'data/big.bin'));
  big[1000] ^= 0xff;
  fs.writeFileSync(path.join(dir, 'data/big.bin'), big);
  fs.truncateSync(path.join(dir, 'data/block512'), 100);
  fs.rmSync(path.join(dir, 'data/one'));
  fs.symlinkSync('../etc/hard', path.join(dir, 'data/one')); // would read the right bytes if followed
  fs.rmSync(path.join(dir, 'etc/empty'));
  fs.appendFileSync(path.join(dir, 'etc/hard'), 'MORE'); // etc/hostname is the same inode
  fs.rmSync(path.join(dir, 'etc/link'));
  fs.writeFileSync(path.join(dir, 'etc/link'), 'now a file');
  fs.rmSync(path.join(dir, 'opq/kept'));
  fs.writeFileSync(path.join(dir, 'etc/extra'), 'planted');
  fs.mkdirSync(path.join(dir, 'newdir'));
  fs.symlinkSync('/bin/sh', path.join(dir, 'newdir/sh'));

  const src = new DirSource(dir);
  const findings = new Findings();
  const { data, summary } = await drain(
    reassemble(entriesOf('pax'), layerFilesFromSource(src), { findings, whiteouts: 'literal', tree: walkLayerTree(src) }),
  );
  const crcHex = (b: Buffer) => crc64Digest(b).toString('hex');
  const expected: FileReport[] = [
    {
      name: './data/big.bin', path: 'data/big.bin', position: 9, check: 'content', status: 'modified', size: 40000,
      actualSize: 40000, expectedCrc: 'b9163b60be065690', actualCrc: crcHex(big), crcMatches: false,
    },
    {
      name: './data/block512', path: 'data/block512', position: 11, check: 'content', status: 'truncated', size: 512,
      actualSize: 100, expectedCrc: 'c58b0b301ac3b73b', detail: '100 of 512 bytes; zeros written for the rest',
    },
    {
      name: './data/one', path: 'data/one', position: 13, check: 'content', status: 'replaced', size: 1,
      actualSize: '../etc/hard'.length, expectedCrc: crcHex(Buffer.from('x')),
      detail: 'expected a regular file, found symlink; not read, zeros written',
    },
    { name: './etc/empty', path: 'etc/empty', position: 17, check: 'presence', status: 'missing', size: 0 },
    {
      name: './etc/hard', path: 'etc/hard', position: 19, check: 'content', status: 'grown', size: 10, actualSize: 14,
      expectedCrc: crcHex(Buffer.from('dockscope\n')), actualCrc: crcHex(Buffer.from('dockscope\n')), crcMatches: true,
      detail: 'longer than the recorded 10 bytes; only those were used, and they match the recorded CRC',
    },
    {
      name: './etc/link', path: 'etc/link', position: 23, check: 'presence', status: 'replaced', size: 0,
      actualSize: 10, detail: 'expected symlink, found file',
    },
    { name: './opq/kept', path: 'opq/kept', position: 29, check: 'content', status: 'missing', size: 5, expectedCrc: crcHex(Buffer.from('kept\n')) },
  ];
  assert.deepEqual(summary.files, expected);
  assert.deepEqual(summary.extras, [
    { path: 'etc/extra', type: 'file', tarName: 'etc/extra' },
    { path: 'newdir/sh', type: 'symlink', tarName: 'newdir/sh' },
  ]);
  assert.deepEqual(summary.counts, { ok: 11, modified: 1, truncated: 1, grown: 1, missing: 2, replaced: 2, unreadable: 0, unsafe: 0 });
  assert.deepEqual(
    findings.list.map((f) => f.code),
    [
      'reassemble.modified',
      'reassemble.truncated',
      'reassemble.replaced',
      'reassemble.missing',
      'reassemble.grown',
      'reassemble.replaced',
      'reassemble.missing',
      'reassemble.extra',
    ],
  );
  // Still a well-formed tar of the original length and entries, but not the original bytes.
  assert.equal(data.length, layerSize('pax'));
  assert.notEqual(sha(data), layerSha('pax'));
  const original = await drain(
    reassemble(entriesOf('pax'), layerFilesFromSource(new DirSource(await extractTree('pax'))), { whiteouts: 'literal' }),
  );
  assert.deepEqual(await listTar(data), await listTar(original.data));
  // The zero padding sits where the missing bytes were.
  const at = original.data.indexOf(Buffer.from('kept\n'));
  assert.deepEqual(data.subarray(at, at + 5), Buffer.alloc(5));
});

test('what the diffID cannot see: deleted empty files and planted extras leave it unchanged', async () => {
  const dir = await extractTree('pax');
  fs.rmSync(path.join(dir, 'etc/empty'));
  fs.rmSync(path.join(dir, '.wh.deleted'));
  fs.writeFileSync(path.join(dir, 'etc/cron'), '* * * * * evil');
  const src = new DirSource(dir);
  const r = await hashLayer(entriesOf('pax'), layerFilesFromSource(src), {
    whiteouts: 'literal',
    tree: walkLayerTree(src),
    expectedDiffID: layerSha('pax'),
  });
  assert.equal(r.matches, true);
  assert.deepEqual(
    r.files.map((f) => [f.name, f.status]),
    [
      ['./.wh.deleted', 'missing'],
      ['./etc/empty', 'missing'],
    ],
  );
  assert.deepEqual(
    r.extras.map((x) => x.path),
    ['etc/cron'],
  );
});

test('hostile names: climbing names are never looked up and are zero-filled; absolute names stay inside', async () => {
  const dir = await extractTree('pax');
  const inner = layerFilesFromSource(new DirSource(dir));
  const asked: string[] = [];
  const spy: LayerFiles = {
    lstat: (p, e) => (asked.push(p), inner.lstat(p, e)),
    open: (p, e) => inner.open(p, e),
  };
  const crc = (s: string) => crc64Digest(Buffer.from(s)).toString('base64');
  const entries = await entriesFromLines([
    { type: 2, payload: Buffer.from('HDR').toString('base64'), position: 0 },
    { type: 1, name: '../../etc/passwd', size: 5, payload: crc('root:'), position: 1 },
    { type: 1, name: '/data/one', size: 1, payload: crc('x'), position: 2 },
    { type: 1, name: 'q/../etc/hard', size: 10, payload: crc('dockscope\n'), position: 3 },
    { type: 1, name: 'x/../../../y', size: 0, payload: null, position: 4 },
    { type: 1, name: 'nul\u0000name', size: 2, payload: crc('ab'), position: 5 },
  ]);
  const { data, summary } = await drain(reassemble(entries, spy, { whiteouts: 'literal' }));
  assert.deepEqual(data, Buffer.concat([Buffer.from('HDR'), Buffer.alloc(5), Buffer.from('x'), Buffer.from('dockscope\n'), Buffer.alloc(2)]));
  assert.deepEqual(asked, ['data/one', 'etc/hard']);
  assert.deepEqual(
    summary.files.map((f) => [f.name, f.status]),
    [
      ['../../etc/passwd', 'unsafe'],
      ['x/../../../y', 'unsafe'],
      ['nul\u0000name', 'unsafe'],
    ],
  );
  assert.equal(summary.counts.ok, 2);
});

test('CRC and hash do not depend on how the file is chunked', async () => {
  const dir = await extractTree('pax');
  const inner = layerFilesFromSource(new DirSource(dir));
  const tiny: LayerFiles = {
    lstat: (p, e) => inner.lstat(p, e),
    open: (p, e) => {
      const s = inner.open(p, e);
      return Readable.from(
        (async function* () {
          for await (const c of s) for (let i = 0; i < (c as Buffer).length; i += 7) yield (c as Buffer).subarray(i, i + 7);
        })(),
      );
    },
  };
  const r = await hashLayer(entriesOf('pax'), tiny, { whiteouts: 'literal' });
  assert.equal(r.diffID, layerSha('pax'));
  assert.equal(r.counts.ok, 18);
});

test('padding is bounded: an absurd missing file stops reassembly with a finding', async () => {
  const entries = await entriesFromLines([
    { type: 1, name: 'gone', size: 10 << 20, payload: Buffer.alloc(8).toString('base64'), position: 0 },
    { type: 2, payload: Buffer.from('tail').toString('base64'), position: 1 },
  ]);
  const empty: LayerFiles = { lstat: () => undefined, open: () => Readable.from([]) };
  const r = await hashLayer(entries, empty, { maxPadBytes: 1 << 20 });
  assert.equal(r.complete, false);
  assert.equal(r.bytes, 0);
  assert.deepEqual(
    r.findings.list.map((f) => f.code),
    ['reassemble.pad-limit', 'reassemble.missing'],
  );
});

test('stopping early closes the open file', async () => {
  const dir = await extractTree('pax');
  const inner = layerFilesFromSource(new DirSource(dir));
  const opened: Readable[] = [];
  const spy: LayerFiles = {
    lstat: (p, e) => inner.lstat(p, e),
    open: (p, e) => {
      const s = inner.open(p, e);
      opened.push(s);
      return s;
    },
  };
  let sawFile = false;
  for await (const chunk of reassemble(entriesOf('pax'), spy, { whiteouts: 'literal' })) {
    if (opened.length > 0 && chunk.length === 40000) {
      sawFile = true;
      break;
    }
  }
  assert.ok(sawFile);
  await new Promise((r) => setImmediate(r));
  assert.equal(opened.length, 1);
  assert.equal(opened[0]!.destroyed, true);
});

test('a size-0 regular file that gained content, a whiteout that became something else', async () => {
  const dir = await extractTree('pax');
  fs.writeFileSync(path.join(dir, 'etc/empty'), 'not empty any more');
  fs.rmSync(path.join(dir, '.wh.deleted'));
  fs.mkdirSync(path.join(dir, '.wh.deleted'));
  const r = await hashLayer(entriesOf('pax'), layerFilesFromSource(new DirSource(dir)), { whiteouts: 'literal' });
  assert.deepEqual(
    r.files.map((f) => [f.name, f.status, f.detail]),
    [
      ['./.wh.deleted', 'replaced', 'expected file, found dir'],
      ['./etc/empty', 'grown', 'recorded empty, now 18 bytes (not part of the tar stream)'],
    ],
  );
  assert.equal(r.diffID, layerSha('pax'));
});

test('overlay: an opaque dir the tar-split does not mark is extra; a marked dir without the xattr is modified', async () => {
  const text = zlib.gunzipSync(fs.readFileSync(path.join(DATA, 'pax/tar-split.json.gz'))).toString();
  assert.ok(text.includes('"./opq/.wh..wh..opq"'));
  const moved = text.replace('"./opq/.wh..wh..opq"', '"./data/.wh..wh..opq"');
  const entries = readTarSplit(Readable.from([zlib.gzipSync(Buffer.from(moved))]), new Findings());
  const diff = (await TarSource.open(path.join(DATA, 'pax/tree-overlay.tar.gz'))).sub('diff');
  const r = await hashLayer(entries, layerFilesFromSource(diff), { whiteouts: 'overlay', tree: walkLayerTree(diff) });
  assert.equal(r.diffID, layerSha('pax'), 'names live in the raw header bytes, not in the JSON name');
  assert.deepEqual(
    r.files.map((f) => [f.name, f.path, f.status, f.detail]),
    [['./data/.wh..wh..opq', 'data', 'modified', 'directory is no longer marked opaque']],
  );
  assert.deepEqual(r.extras, [{ path: 'opq', type: 'dir', tarName: 'opq/.wh..wh..opq' }]);
});

test('the one-open fast path reports exactly what lstat + read report, and never follows or blocks', async () => {
  const dir = await extractTree('pax');
  const big = fs.readFileSync(path.join(dir, 'data/big.bin'));
  big[39_999] ^= 0x01;
  fs.writeFileSync(path.join(dir, 'data/big.bin'), big);
  fs.truncateSync(path.join(dir, 'data/block512'), 511);
  fs.rmSync(path.join(dir, 'data/one'));
  fs.symlinkSync('../etc/hard', path.join(dir, 'data/one')); // a swapped-in link is not followed
  fs.appendFileSync(path.join(dir, 'etc/hard'), 'MORE');
  fs.rmSync(path.join(dir, 'opq/kept'));
  execFileSync('mkfifo', [path.join(dir, 'opq/kept')]); // opening it must not hang
  const src = new DirSource(dir);
  const fast = layerFilesFromSource(src);
  assert.equal(typeof fast.openRegular, 'function', 'a DirSource offers the fast path');
  const slow: LayerFiles = { ...fast, openRegular: undefined };
  const run = async (files: LayerFiles) => {
    const findings = new Findings();
    const r = await drain(reassemble(entriesOf('pax'), files, { findings, whiteouts: 'literal', tree: walkLayerTree(src), keepOk: true }));
    return { data: r.data, summary: r.summary, findings: findings.list };
  };
  const a = await run(fast);
  const b = await run(slow);
  assert.ok(a.data.equals(b.data), 'same bytes');
  assert.deepEqual(a.summary, b.summary);
  assert.deepEqual(a.findings, b.findings);
  const status = Object.fromEntries(a.summary.files.map((f) => [f.path, f.status]));
  assert.equal(status['data/big.bin'], 'modified');
  assert.equal(status['data/block512'], 'truncated');
  assert.equal(status['data/one'], 'replaced');
  assert.equal(status['etc/hard'], 'grown');
  assert.equal(status['opq/kept'], 'replaced');
});
