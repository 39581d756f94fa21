import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { DirSource } from '../../src/source/dir.js';
import { Findings } from '../../src/store/findings.js';
import {
  cleanTarName,
  goClean,
  openTarSplit,
  readTarSplit,
  type TarSplitEntry,
  type TarSplitFile,
  type TarSplitOptions,
  type TarSplitSummary,
} from '../../src/store/tarsplit.js';

// dist/test/store → repo root
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const DATA = path.join(ROOT, 'test/data/tarsplit');
const VECTORS = ['pax', 'gnu'];

async function collect(
  gen: AsyncGenerator<TarSplitEntry, TarSplitSummary>,
): Promise<{ entries: TarSplitEntry[]; summary: TarSplitSummary }> {
  const entries: TarSplitEntry[] = [];
  let r = await gen.next();
  while (!r.done) {
    entries.push(r.value);
    r = await gen.next();
  }
  return { entries, summary: r.value };
}

function files(entries: TarSplitEntry[]): TarSplitFile[] {
  return entries.filter((e): e is TarSplitFile => e.type === 'file');
}

async function parseLines(lines: string[], opts: TarSplitOptions = {}) {
  const findings = new Findings();
  const gz = zlib.gzipSync(Buffer.from(lines.map((l) => l + '\n').join('')));
  const out = await collect(readTarSplit(Readable.from([gz]), findings, opts));
  return { ...out, findings, codes: findings.list.map((f) => f.code) };
}

const seg = (bytes: Buffer | string, position: number) =>
  JSON.stringify({ type: 2, payload: Buffer.from(bytes).toString('base64'), position });
const file = (name: string, size: number, position: number, payload: string | null = null) =>
  JSON.stringify({ type: 1, name, size, payload, position });

const TYPES: Record<string, string> = { '0': 'file', '\0': 'file', '1': 'link', '2': 'symlink', '5': 'dir', '3': 'char' };

for (const v of VECTORS) {
  test(`vector ${v}: entries match python tarfile's independent listing of the original tar`, async () => {
    const findings = new Findings();
    const { entries, summary } = await collect(
      readTarSplit(fs.createReadStream(path.join(DATA, v, 'tar-split.json.gz')), findings, { path: `${v}/tar-split.json.gz` }),
    );
    assert.deepEqual(findings.list, []);
    const size = Number(fs.readFileSync(path.join(DATA, v, 'layer.size'), 'utf8'));
    assert.equal(summary.tarBytes, size, 'segments + file sizes = length of the original tar');
    assert.equal(summary.complete, true);
    assert.deepEqual(
      entries.map((e) => e.position),
      entries.map((_, i) => i),
    );
    const expected = JSON.parse(fs.readFileSync(path.join(DATA, v, 'expected.json'), 'utf8')) as {
      name_hex: string;
      size: number;
      type: string;
    }[];
    // python's tarfile hides PAX global headers; Go's reader returns them as entries.
    const got = files(entries)
      .filter((f) => f.typeflag !== 'g')
      .map((f) => ({ name: goClean(f.nameRaw.toString('latin1')), size: f.size, type: TYPES[f.typeflag ?? ''] ?? f.typeflag }));
    const want = expected.map((e) => ({ name: goClean(Buffer.from(e.name_hex, 'hex').toString('latin1')), size: e.size, type: e.type }));
    assert.deepEqual(got, want);
    for (const f of files(entries)) {
      assert.equal(f.crc === undefined, f.size === 0, `${f.name}: CRC iff size > 0`);
      if (f.crc) assert.equal(f.crc.length, 8);
    }
  });
}

test('vector pax: ./ names, PAX global header, trailing garbage kept verbatim', async () => {
  const findings = new Findings();
  const { entries } = await collect(readTarSplit(fs.createReadStream(path.join(DATA, 'pax/tar-split.json.gz')), findings));
  const fs_ = files(entries);
  const g = fs_.find((f) => f.typeflag === 'g')!;
  assert.equal(g.name, '/tmp/GlobalHead.1', 'GNU tar names its global header with an absolute path');
  assert.equal(g.size, 0);
  assert.deepEqual(findings.list, [], 'an absolute name on a global header is not reported');
  const hard = fs_.find((f) => f.name === './etc/hard')!;
  assert.equal(hard.size, 10);
  assert.equal(hard.crc!.toString('base64'), 'Ky1prDdsevc=');
  assert.equal(hard.typeflag, '0');
  assert.equal(fs_.find((f) => f.name === './etc/hostname')!.typeflag, '1', 'second name of the inode is the hard link');
  assert.equal(hard.clean.path, 'etc/hard');
  const tail = Buffer.concat(entries.filter((e) => e.type === 'segment').map((e) => (e as { payload: Buffer }).payload));
  assert.ok(tail.includes(Buffer.from('TRAILING GARBAGE AFTER END OF ARCHIVE\n')));
});

test('vector gnu: non-UTF-8 names come from name_raw with their exact bytes', async () => {
  const findings = new Findings();
  const { entries } = await collect(readTarSplit(fs.createReadStream(path.join(DATA, 'gnu/tar-split.json.gz')), findings));
  const raw = files(entries).filter((f) => f.rawName);
  assert.deepEqual(
    raw.map((f) => f.nameRaw.toString('hex')),
    ['636166e92e747874', 'fffe2f', 'fffe2f696e6e6572'],
  );
  const utf8 = files(entries).find((f) => f.name === 'ünïcödé.txt')!;
  assert.equal(utf8.rawName, false);
  assert.equal(utf8.nameRaw.toString('hex'), Buffer.from('ünïcödé.txt').toString('hex'));
  const long = files(entries).find((f) => f.name.startsWith('nnnn'))!;
  assert.equal(long.name.length, 120, 'GNU L long name resolved by the writer');
  assert.deepEqual(findings.list, []);
});

test('openTarSplit reads through a Source', async () => {
  const src = new DirSource(path.join(DATA, 'gnu'));
  const findings = new Findings();
  const { entries, summary } = await collect(openTarSplit(src, 'tar-split.json.gz', findings));
  assert.equal(files(entries).length, 7);
  assert.equal(summary.complete, true);
  const missing = new Findings();
  const r = await collect(openTarSplit(src, 'nope.json.gz', missing));
  assert.equal(r.entries.length, 0);
  assert.equal(r.summary.complete, false);
  assert.deepEqual(
    missing.list.map((f) => [f.code, f.path]),
    [['tarsplit.read', 'nope.json.gz']],
  );
});

test('malformed lines are findings and parsing carries on', async () => {
  const hdr = Buffer.alloc(0);
  const { entries, findings, codes } = await parseLines([
    seg(hdr, 0),
    '{"type":1,"name":"a",', // cut JSON
    '[1,2,3]',
    '"just a string"',
    '',
    '   ',
    JSON.stringify({ type: 3, payload: null, position: 1 }),
    JSON.stringify({ payload: null, position: 2 }),
    JSON.stringify({ type: '1', name: 'x', payload: null, position: 3 }),
    file('ok', 0, 4),
  ]);
  assert.deepEqual(codes, [
    'tarsplit.bad-json',
    'tarsplit.bad-json',
    'tarsplit.bad-json',
    'tarsplit.unknown-type',
    'tarsplit.unknown-type',
    'tarsplit.unknown-type',
    'tarsplit.no-header',
  ]);
  assert.ok(findings.list[0]!.message.startsWith('line 2:'), findings.list[0]!.message);
  assert.deepEqual(
    files(entries).map((f) => f.name),
    ['ok'],
  );
});

test('bad sizes, CRCs, base64 and positions', async () => {
  const crc = Buffer.alloc(8, 1).toString('base64');
  const { entries, findings } = await parseLines(
    [
      file('neg', -5, 0, crc),
      file('frac', 1.5, 1, crc),
      JSON.stringify({ type: 1, name: 'str', size: '12', payload: crc, position: 2 }),
      file('huge', 2 ** 60, 3, crc),
      file('absurd', 2 ** 41, 4, crc),
      file('nocrc', 10, 5, null),
      file('shortcrc', 10, 6, Buffer.alloc(4).toString('base64')),
      file('emptywithcrc', 0, 7, crc),
      JSON.stringify({ type: 2, payload: 'not base64!', position: 8 }),
      JSON.stringify({ type: 2, payload: 'QUJD', position: 8 }), // repeated position
      JSON.stringify({ type: 2, payload: 'QUJD', position: 'x' }),
      JSON.stringify({ type: 1, name_raw: '%%%', payload: null, position: 10 }),
      JSON.stringify({ type: 2, payload: 12, position: 11 }),
      JSON.stringify({ type: 1, name: 42, payload: null, position: 12 }),
      JSON.stringify({ type: 2, payload: 'QUJD', position: 20 }),
    ],
    { maxFileSize: 2 ** 40 },
  );
  const byCode = (code: string) => findings.list.filter((f) => f.code === code).map((f) => f.message.split(':')[0]);
  assert.deepEqual(byCode('tarsplit.bad-size'), ['line 1', 'line 2', 'line 3', 'line 4', 'line 5']);
  assert.deepEqual(byCode('tarsplit.missing-crc'), ['line 6']);
  assert.deepEqual(byCode('tarsplit.bad-crc'), ['line 7']);
  assert.deepEqual(byCode('tarsplit.unexpected-crc'), ['line 8']);
  assert.deepEqual(byCode('tarsplit.bad-base64'), ['line 9', 'line 12']);
  assert.deepEqual(byCode('tarsplit.bad-payload'), ['line 13']);
  assert.deepEqual(byCode('tarsplit.bad-name'), ['line 14']);
  assert.deepEqual(byCode('tarsplit.bad-position'), ['line 11']);
  assert.deepEqual(byCode('tarsplit.position-sequence'), ['line 10', 'line 15']);
  assert.ok(findings.list.every((f) => f.severity !== 'info'));
  const sizes = Object.fromEntries(files(entries).map((f) => [f.name, f.size]));
  assert.deepEqual(sizes, { neg: 0, frac: 0, str: 0, huge: 0, absurd: 2 ** 41, nocrc: 10, shortcrc: 10, emptywithcrc: 0 });
  assert.equal(files(entries).find((f) => f.name === 'shortcrc')!.crc, undefined);
});

test('hostile names: .., absolute, NUL, duplicates after cleaning', async () => {
  const { entries, findings } = await parseLines([
    file('../../etc/shadow', 0, 0),
    file('a/../../b', 0, 1),
    file('a/../b', 0, 2),
    file('/etc/passwd', 0, 3),
    file('x\u0000y', 0, 4),
    file('dir/f', 0, 5),
    file('./dir//f/', 0, 6),
    JSON.stringify({ type: 1, name_raw: Buffer.from([0xff]).toString('base64'), payload: null, position: 7 }),
    JSON.stringify({ type: 1, name_raw: Buffer.from([0xfe]).toString('base64'), payload: null, position: 8 }),
    file('', 0, 9),
  ]);
  const got = findings.list.filter((f) => f.code !== 'tarsplit.no-header').map((f) => [f.code, f.message.split(':')[0]]);
  assert.deepEqual(got, [
    ['tarsplit.name-escape', 'line 1'],
    ['tarsplit.name-escape', 'line 2'],
    ['tarsplit.dotdot-name', 'line 3'],
    ['tarsplit.absolute-name', 'line 4'],
    ['tarsplit.bad-name', 'line 5'],
    ['tarsplit.duplicate-name', 'line 7'],
    ['tarsplit.empty-name', 'line 10'],
  ]);
  const f = files(entries);
  assert.deepEqual(
    f.map((e) => e.clean.path),
    ['etc/shadow', 'b', 'b', 'etc/passwd', 'x\u0000y', 'dir/f', 'dir/f', '\ufffd', '\ufffd', ''],
  );
  assert.equal(f[0]!.clean.escapes, true);
  assert.equal(f[2]!.clean.escapes, false);
  // 0xff and 0xfe both display as U+FFFD but are different names: not duplicates.
  assert.notDeepEqual(f[7]!.nameRaw, f[8]!.nameRaw);
});

test('gzip bomb stops at the inflate bound with a finding', async () => {
  // 64 MiB of spaces (no newline: also one over-long line) compresses to ~64 KiB.
  const bomb = zlib.gzipSync(Buffer.alloc(64 << 20, 0x20), { level: 9 });
  assert.ok(bomb.length < 200_000);
  const findings = new Findings();
  const { summary } = await collect(
    readTarSplit(Readable.from([bomb]), findings, { maxInflatedBytes: 4 << 20, maxLineBytes: 1 << 20 }),
  );
  assert.equal(summary.complete, false);
  assert.equal(summary.inflatedBytes, 4 << 20);
  assert.deepEqual(findings.list.map((f) => f.code).sort(), ['tarsplit.line-too-long', 'tarsplit.too-large']);
});

test('line bound: an over-long line is skipped, the next one is read', async () => {
  const { entries, codes } = await parseLines([seg(Buffer.alloc(3000), 0), file('after', 0, 1)], { maxLineBytes: 1000 });
  assert.deepEqual(codes, ['tarsplit.line-too-long', 'tarsplit.position-sequence', 'tarsplit.no-header']);
  assert.deepEqual(
    entries.map((e) => e.line),
    [2],
  );
});

test('damaged or absent gzip is a finding; entries before the damage are kept', async () => {
  const good = fs.readFileSync(path.join(DATA, 'pax/tar-split.json.gz'));
  const cut = good.subarray(0, Math.floor(good.length / 2));
  const f1 = new Findings();
  const r1 = await collect(readTarSplit(Readable.from([cut]), f1));
  assert.equal(r1.summary.complete, false);
  assert.ok(r1.entries.length > 0 && r1.entries.length < 43);
  assert.ok(f1.list.some((f) => f.code === 'tarsplit.gzip'), JSON.stringify(f1.list));

  const f2 = new Findings();
  const r2 = await collect(readTarSplit(Readable.from([Buffer.from('{"type":2}\n')]), f2));
  assert.equal(r2.entries.length, 0);
  assert.deepEqual(
    f2.list.map((f) => f.code),
    ['tarsplit.gzip'],
  );

  const f3 = new Findings();
  const r3 = await collect(readTarSplit(Readable.from([zlib.gzipSync(Buffer.alloc(0))]), f3));
  assert.equal(r3.summary.complete, true);
  assert.deepEqual(
    f3.list.map((f) => f.code),
    ['tarsplit.empty'],
  );
});

test('a file entry whose size disagrees with its tar header is caught', async () => {
  const text = zlib.gunzipSync(fs.readFileSync(path.join(DATA, 'pax/tar-split.json.gz'))).toString();
  const lines = text.trimEnd().split('\n');
  const i = lines.findIndex((l) => l.includes('"./data/one"'));
  lines[i] = lines[i]!.replace('"size":1,', '"size":2,');
  const { codes, findings } = await parseLines(lines);
  assert.deepEqual(codes, ['tarsplit.size-mismatch']);
  assert.match(findings.list[0]!.message, /size 2 but its tar header says 1/);
});

test('findings per code are capped, with one summary finding', async () => {
  const lines = Array.from({ length: 500 }, () => 'garbage');
  const { findings } = await parseLines(lines, { maxFindingsPerCode: 10 });
  assert.equal(findings.list.length, 12); // 10 listed + summary + 'no entries'
  assert.match(findings.list[10]!.message, /^490 more 'tarsplit.bad-json' findings not listed \(500 in all\)/);
});

test('entries bound', async () => {
  const { entries, summary, codes } = await parseLines(
    Array.from({ length: 10 }, (_, i) => seg('', i)),
    { maxEntries: 4 },
  );
  assert.equal(entries.length, 4);
  assert.equal(summary.complete, false);
  assert.deepEqual(codes, ['tarsplit.too-many-entries']);
});

test('breaking out early closes the input', async () => {
  const stream = fs.createReadStream(path.join(DATA, 'pax/tar-split.json.gz'));
  const findings = new Findings();
  for await (const e of readTarSplit(stream, findings)) {
    assert.equal(e.position, 0);
    break;
  }
  await new Promise((r) => setImmediate(r));
  assert.equal(stream.destroyed, true);
});

test('cleanTarName and goClean', () => {
  assert.deepEqual(cleanTarName('./a//b/'), { path: 'a/b', absolute: false, dotdot: false, escapes: false, nul: false });
  assert.deepEqual(cleanTarName('/etc/x'), { path: 'etc/x', absolute: true, dotdot: false, escapes: false, nul: false });
  assert.deepEqual(cleanTarName('a/../../b'), { path: 'b', absolute: false, dotdot: true, escapes: true, nul: false });
  assert.deepEqual(cleanTarName('/../b'), { path: 'b', absolute: true, dotdot: true, escapes: true, nul: false });
  assert.equal(cleanTarName('./').path, '');
  for (const [i, o] of [
    ['', '.'],
    ['./', '.'],
    ['a/b/', 'a/b'],
    ['./a//b/./c/..', 'a/b'],
    ['../a', '../a'],
    ['a/../..', '..'],
    ['/../a', '/a'],
    ['/', '/'],
  ]) {
    assert.equal(goClean(i!), o, i);
  }
});

test("base64 is checked as strictly as Go's decoder (Node's would skip junk)", async () => {
  const bad = ['QU!D', 'Q=JD', 'QQ==QUJD', 'QUJ-', 'QUJ_', 'QUJD====', 'QU JD', 'QUI=QUJD', '==QU', 'Q===', 'QUJ'];
  const good: [string, string][] = [['', ''], ['QUJD', '414243'], ['QUI=', '4142'], ['QQ==', '41'], ['QU\nJD\r\n', '414243']];
  const lines = [...bad, ...good.map((g) => g[0])].map((p, i) => JSON.stringify({ type: 2, payload: p, position: i }));
  const { entries, findings } = await parseLines(lines);
  assert.deepEqual(
    findings.list.map((f) => f.code),
    bad.map(() => 'tarsplit.bad-base64'),
  );
  assert.deepEqual(
    entries.map((e) => (e.type === 'segment' ? e.payload.toString('hex') : '?')),
    good.map((g) => g[1]),
  );
});
