/**
 * local log driver: the protobuf decoder, the frame reader (partial metadata, the engine-dependent
 * newline, damaged frames, truncation), and the local/dual-logging-cache files through planLogs.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import zlib from 'node:zlib';
import { dockerBytes, joinPartials, planLogs, readLogEntries, selectEntries, type PlanOptions } from '../../src/analysis/logs.js';
import { DirSource } from '../../src/source/dir.js';
import { loadContainer } from '../../src/store/containers.js';
import { Findings } from '../../src/store/findings.js';
import { formatLogTime, type LogEntry } from '../../src/store/jsonlog.js';
import { decodeLogEntry, readLocalLog, type LocalLogEntry } from '../../src/store/locallog.js';

// ------------------------------------------------------------------------------------------------
// a minimal protobuf writer, written for the test from the wire-format spec

function varint(v: bigint | number): Buffer {
  let x = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x > 0n) b |= 0x80;
    out.push(b);
  } while (x > 0n);
  return Buffer.from(out);
}
const tag = (field: number, wire: number) => varint((field << 3) | wire);
const fVarint = (field: number, v: bigint | number | boolean) => Buffer.concat([tag(field, 0), varint(typeof v === 'boolean' ? (v ? 1 : 0) : v)]);
const fBytes = (field: number, b: Buffer | string) => {
  const buf = Buffer.isBuffer(b) ? b : Buffer.from(b);
  return Buffer.concat([tag(field, 2), varint(buf.length), buf]);
};

interface E {
  source?: string;
  time?: bigint;
  line?: string | Buffer;
  partial?: boolean;
  meta?: { last?: boolean; id?: string; ordinal?: number };
}

function entry(e: E): Buffer {
  const parts: Buffer[] = [];
  if (e.source !== undefined) parts.push(fBytes(1, e.source));
  if (e.time !== undefined) parts.push(fVarint(2, e.time));
  if (e.line !== undefined) parts.push(fBytes(3, e.line));
  if (e.partial) parts.push(fVarint(4, true));
  if (e.meta) {
    const m: Buffer[] = [];
    if (e.meta.last) m.push(fVarint(1, true));
    if (e.meta.id !== undefined) m.push(fBytes(2, e.meta.id));
    if (e.meta.ordinal !== undefined) m.push(fVarint(3, e.meta.ordinal));
    parts.push(fBytes(5, Buffer.concat(m)));
  }
  return Buffer.concat(parts);
}

function frame(msg: Buffer, footer = msg.length): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(msg.length);
  const t = Buffer.alloc(4);
  t.writeUInt32BE(footer);
  return Buffer.concat([h, msg, t]);
}

const T0 = 1_700_000_000_123_456_789n;

async function read(buf: Buffer, opts: { legacyNewline?: boolean; chunk?: number; maxFrame?: number } = {}) {
  const f = new Findings();
  const parts: Buffer[] = [];
  const size = opts.chunk ?? 1 << 16;
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  const entries: LogEntry[] = [];
  for await (const e of readLocalLog(Readable.from(parts), { path: 'container.log', findings: f, legacyNewline: opts.legacyNewline, maxFrame: opts.maxFrame })) entries.push(e);
  return { entries, f };
}

const codes = (f: Findings) => f.list.map((x) => x.code);
const text = (entries: LogEntry[]) => entries.map((e) => e.line.toString()).join('|');
const printed = (entries: LogEntry[], ts = false) => Buffer.concat(entries.map((e) => dockerBytes(e, { timestamps: ts }))).toString();

// ------------------------------------------------------------------------------------------------

describe('LogEntry protobuf', () => {
  test('all fields, including partial metadata', () => {
    const d = decodeLogEntry(entry({ source: 'stderr', time: T0, line: 'hello', partial: true, meta: { last: true, id: 'abc', ordinal: 3 } })) as LocalLogEntry;
    assert.deepEqual({ ...d, line: d.line.toString() }, { source: 'stderr', timeNano: T0, line: 'hello', partial: true, partialMeta: { last: true, id: 'abc', ordinal: 3 } });
  });

  test('empty message: proto3 defaults', () => {
    const d = decodeLogEntry(Buffer.alloc(0)) as LocalLogEntry;
    assert.deepEqual({ ...d, line: d.line.length }, { source: '', timeNano: 0n, line: 0, partial: false });
  });

  test('negative int64 time, int32 ordinal truncation, last value wins, metadata merges', () => {
    const buf = Buffer.concat([
      fVarint(2, 5n),
      fVarint(2, -1_000_000_000n),
      fBytes(1, 'stdout'),
      fBytes(1, 'stderr'),
      fBytes(5, fBytes(2, 'id1')),
      fBytes(5, Buffer.concat([fVarint(1, true), fVarint(3, 0x1_0000_0002n)])),
    ]);
    const d = decodeLogEntry(buf) as LocalLogEntry;
    assert.equal(d.timeNano, -1_000_000_000n);
    assert.equal(d.source, 'stderr');
    assert.deepEqual(d.partialMeta, { last: true, id: 'id1', ordinal: 2 });
  });

  test('unknown fields of every wire type are skipped', () => {
    const fixed64 = Buffer.concat([tag(9, 1), Buffer.alloc(8, 0xee)]);
    const fixed32 = Buffer.concat([tag(10, 5), Buffer.alloc(4, 0xee)]);
    const group = Buffer.concat([tag(11, 3), fVarint(1, 7), fBytes(2, 'in group'), tag(11, 4)]);
    const d = decodeLogEntry(Buffer.concat([fVarint(20, 12345), fixed64, fBytes(8, 'zzz'), fixed32, group, fBytes(3, 'kept')])) as LocalLogEntry;
    assert.equal(d.line.toString(), 'kept');
  });

  test('damage is an error string, never a throw', () => {
    const cases: [Buffer, RegExp][] = [
      [Buffer.from([0x0a, 0x05, 0x61]), /past the end/],
      [Buffer.from([0x10, 0xff, 0xff]), /end inside a varint/],
      [Buffer.concat([Buffer.from([0x10]), Buffer.alloc(11, 0xff)]), /longer than 10 bytes/],
      [fVarint(1, 5), /wrong wire type 0 for source/],
      [fBytes(2, 'x'), /wrong wire type 2 for time_nano/],
      [Buffer.from([0x0c]), /end-group/],
      [Buffer.from([0x00]), /illegal field number/],
      [Buffer.from([0x0f]), /wrong wire type 7 for source/],
      [tag(20, 7), /illegal wire type 7/],
      [Buffer.concat([tag(11, 3), fVarint(1, 1)]), /unterminated group/],
      [fBytes(5, Buffer.from([0x18, 0x80])), /end inside a varint/],
      [Buffer.concat([tag(3, 2), varint(0xffff_ffff_ffff_fff0n)]), /negative length/],
    ];
    for (const [buf, re] of cases) assert.match(decodeLogEntry(buf) as string, re, buf.toString('hex'));
  });
});

describe('local frames', () => {
  const long = 'L'.repeat(20000);
  const split = [
    frame(entry({ source: 'stdout', time: T0, line: 'start' })),
    frame(entry({ source: 'stdout', time: T0 + 1n, line: long.slice(0, 16384), partial: true, meta: { id: 'p1', ordinal: 1 } })),
    frame(entry({ source: 'stderr', time: T0 + 2n, line: 'err' })),
    frame(entry({ source: 'stdout', time: T0 + 1n, line: long.slice(16384), partial: true, meta: { id: 'p1', ordinal: 2, last: true } })),
    frame(entry({ source: 'stdout', time: T0 + 3n, line: 'end' })),
    frame(entry({ source: 'stdout', time: T0 + 4n, line: 'no newline', partial: true, meta: { id: 'p2', ordinal: 1 } })),
  ];
  const file = Buffer.concat(split);

  test('entries, metadata and newlines as a 22.06+ engine prints them', async () => {
    const { entries, f } = await read(file, { chunk: 5 });
    assert.deepEqual(codes(f), []);
    assert.equal(entries.length, 6);
    assert.deepEqual(
      entries.map((e) => [e.stream, e.newline, e.eol, e.partialId, e.ordinal]),
      [
        ['stdout', true, true, undefined, undefined],
        ['stdout', false, false, 'p1', 1],
        ['stderr', true, true, undefined, undefined],
        ['stdout', true, true, 'p1', 2],
        ['stdout', true, true, undefined, undefined],
        ['stdout', false, false, 'p2', 1],
      ],
    );
    assert.equal(entries[1]!.offset, split[0]!.length);
    assert.equal(formatLogTime(entries[0]!.time), '2023-11-14T22:13:20.123456789Z');
    assert.equal(printed(entries.filter((e) => e.stream === 'stdout')), `start\n${long}\nend\nno newline`);
  });

  test('engines before 22.06 print the last piece of a split line without a newline', async () => {
    const { entries } = await read(file, { legacyNewline: true });
    assert.equal(printed(entries.filter((e) => e.stream === 'stdout')), `start\n${long}end\nno newline`);
    // --json still knows the line ended
    const lines = [];
    for await (const l of joinPartials(Readable.from(entries))) lines.push(l);
    assert.deepEqual(
      lines.map((l) => [l.stream, l.line.length, l.partials, l.complete]),
      [
        ['stdout', 5, 1, true],
        ['stderr', 3, 1, true],
        ['stdout', 20000, 2, true],
        ['stdout', 3, 1, true],
        ['stdout', 10, 1, false],
      ],
    );
  });

  test('a footer that disagrees is a warning; the frame is read as dockerd reads it', async () => {
    const bad = Buffer.concat([split[0]!, frame(entry({ source: 'stdout', time: T0, line: 'odd footer' }), 999), split[4]!]);
    const { entries, f } = await read(bad);
    assert.equal(text(entries), 'start|odd footer|end');
    assert.deepEqual(codes(f), ['logs.frame-footer']);
  });

  test('an oversized or undecodable frame is an error; reading resumes at the next good frame', async () => {
    const junk = Buffer.from([0xff, 0xff, 0xff, 0xf0, 1, 2, 3, 4, 5, 6, 7]);
    const undecodable = frame(Buffer.concat([tag(20, 7), Buffer.from([0x01, 0x02])]));
    const damaged = Buffer.concat([split[0]!, junk, split[2]!, undecodable, split[4]!]);
    const { entries, f } = await read(damaged, { chunk: 3 });
    assert.equal(text(entries), 'start|err|end');
    assert.deepEqual(codes(f), ['logs.bad-frame', 'logs.bad-frame', 'logs.bad-frame', 'logs.bad-frame']);
    assert.match(f.list[0]!.message, new RegExp(`frame at byte ${split[0]!.length}: frame length 4294967280 exceeds`));
    assert.match(f.list[1]!.message, new RegExp(`skipped ${junk.length} damaged bytes`));
    assert.match(f.list[2]!.message, /does not decode: illegal wire type 7/);
  });

  test('a bound on frame size is honoured', async () => {
    const { entries, f } = await read(file, { maxFrame: 1000 });
    assert.equal(text(entries), 'start|err|end|no newline');
    assert.equal(codes(f).filter((c) => c === 'logs.bad-frame').length, 4);
  });

  test('a last frame cut short is reported as truncation', async () => {
    const cut = Buffer.concat([split[0]!, split[2]!.subarray(0, split[2]!.length - 3)]);
    const { entries, f } = await read(cut);
    assert.equal(text(entries), 'start');
    assert.deepEqual(codes(f), ['logs.truncated']);
    const stray = await read(Buffer.concat([split[0]!, Buffer.from([0, 0])]));
    assert.deepEqual(codes(stray.f), ['logs.truncated']);
  });

  test('garbage to the end is reported once, with how much was skipped', async () => {
    const { entries, f } = await read(Buffer.concat([split[0]!, Buffer.alloc(100, 0xab)]));
    assert.equal(text(entries), 'start');
    assert.deepEqual(codes(f), ['logs.bad-frame', 'logs.bad-frame']);
    assert.match(f.list[1]!.message, /skipped 100 damaged bytes .* to the end/);
  });
});

// ------------------------------------------------------------------------------------------------

const ID = 'b'.repeat(64);

function makeRoot(files: Record<string, Buffer>, logConfig: Record<string, unknown>, hostconfig: Record<string, unknown> = {}, config: Record<string, unknown> = {}) {
  const top = fs.mkdtempSync(path.join(os.tmpdir(), 'dockscope-locallogs-'));
  const dir = path.join(top, 'containers', ID);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.v2.json'), JSON.stringify({ ID, Name: '/c', Config: {}, LogPath: '', ...config }));
  fs.writeFileSync(path.join(dir, 'hostconfig.json'), JSON.stringify({ LogConfig: logConfig, ...hostconfig }));
  for (const [name, data] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), data);
  }
  return { src: new DirSource(top), cleanup: () => fs.rmSync(top, { recursive: true, force: true }) };
}

async function readRoot(root: ReturnType<typeof makeRoot>, opts: PlanOptions = {}) {
  const f = new Findings();
  const rec = loadContainer(root.src, ID, f)!;
  const plan = planLogs(root.src, rec, f, opts);
  const entries: LogEntry[] = [];
  for await (const e of selectEntries(readLogEntries(root.src, plan, f), {})) entries.push(e);
  return { plan, entries, f };
}

const one = (line: string, extra: E = {}) => frame(entry({ source: 'stdout', time: T0, line, ...extra }));

describe('local driver files', () => {
  test('local-logs/container.log with rotations (default max-file 5, .gz)', async () => {
    const root = makeRoot(
      {
        'local-logs/container.log.5.gz': zlib.gzipSync(one('beyond')),
        'local-logs/container.log.4.gz': zlib.gzipSync(one('four')),
        'local-logs/container.log.2.gz': zlib.gzipSync(one('two')),
        'local-logs/container.log.1': one('one'),
        'local-logs/container.log': one('live'),
      },
      { Type: 'local', Config: {} },
    );
    try {
      const { plan, entries, f } = await readRoot(root);
      assert.equal(plan.format, 'local');
      assert.equal(plan.maxFiles, 5);
      assert.equal(text(entries), 'four|two|one|live');
      assert.deepEqual(codes(f), ['logs.unread-rotation']);
    } finally {
      root.cleanup();
    }
  });

  test('the engine guess: KernelMemory in hostconfig.json means 20.10 or older, ImageManifest in config.v2.json 24+', async () => {
    const files = { 'local-logs/container.log': Buffer.concat([one('AB', { partial: true, meta: { id: 'x', ordinal: 1 } }), one('CD', { partial: true, meta: { id: 'x', ordinal: 2, last: true } })]) };
    const old = makeRoot(files, { Type: 'local', Config: {} }, { KernelMemory: 0 });
    const cur = makeRoot(files, { Type: 'local', Config: {} });
    const v24 = makeRoot(files, { Type: 'local', Config: {} }, {}, { ImageManifest: null });
    try {
      const a = await readRoot(old);
      assert.equal(a.plan.legacyNewline, true);
      assert.equal(printed(a.entries), 'ABCD');
      const b = await readRoot(cur);
      assert.equal(b.plan.legacyNewline, false);
      assert.equal(printed(b.entries), 'ABCD\n');
      assert.equal(a.plan.engine, 20);
      assert.equal(b.plan.engine, 23);
      // an explicit engine version wins over the guess
      assert.equal((await readRoot(old, { engineVersion: '26.1' })).plan.legacyNewline, false);
      assert.equal((await readRoot(cur, { engineVersion: '20.10.24' })).plan.legacyNewline, true);
      const c = await readRoot(v24);
      assert.equal(c.plan.engine, 24);
      assert.equal(c.plan.legacyNewline, false);
    } finally {
      old.cleanup();
      cur.cleanup();
      v24.cleanup();
    }
  });

  test('a write-only driver: the dual-logging cache container-cached.log is read', async () => {
    const root = makeRoot({ 'container-cached.log.1.gz': zlib.gzipSync(one('cached old')), 'container-cached.log': one('cached new') }, { Type: 'fluentd', Config: { 'fluentd-address': 'x:24224' } });
    try {
      const { plan, entries } = await readRoot(root);
      assert.equal(plan.origin, 'cache');
      assert.equal(plan.format, 'local');
      assert.equal(text(entries), 'cached old|cached new');
    } finally {
      root.cleanup();
    }
  });
});
