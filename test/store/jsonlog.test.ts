/**
 * json-file logs: the line parser, Go-compatible times, and the whole read path on hand-made
 * container directories (rotations, .gz, duplicates, gzip bombs, damaged gzip) through
 * planLogs/readLogEntries/selectEntries/writeDockerLogs/joinPartials.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import zlib from 'node:zlib';
import {
  dockerBytes,
  fromHumanSize,
  joinPartials,
  parseGoDuration,
  parseTail,
  parseTimeArg,
  planLogs,
  readLogEntries,
  selectEntries,
  writeDockerLogs,
  type LogLine,
  type LogQuery,
  type OutputOptions,
  type PlanOptions,
} from '../../src/analysis/logs.js';
import { DirSource } from '../../src/source/dir.js';
import { loadContainer } from '../../src/store/containers.js';
import { Findings } from '../../src/store/findings.js';
import { formatLogTime, parseGoTime, parseJsonLogLine, readJsonLog, ZERO_TIME, type LogEntry } from '../../src/store/jsonlog.js';

// ------------------------------------------------------------------------------------------------
// helpers

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

function chunks(buf: Buffer, size: number): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts);
}

/** A json-file line as dockerd writes it (Go's RFC3339Nano drops trailing zeros). */
function jline(log: string, stream = 'stdout', time = '2024-05-06T07:08:09.123456789Z', extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ log, stream, ...extra, time }) + '\n';
}

async function readText(text: string | Buffer, chunkSize = 1 << 16, maxLine?: number) {
  const f = new Findings();
  const buf = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const entries = await collect(readJsonLog(chunks(buf, chunkSize), { path: 'x-json.log', findings: f, maxLine }));
  return { entries, f };
}

/** Output of docker logs for entries, by stream. */
async function render(entries: AsyncIterable<LogEntry> | LogEntry[], o: OutputOptions = {}) {
  const out = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  const f = new Findings();
  const iter = Array.isArray(entries) ? Readable.from(entries) : entries;
  await writeDockerLogs(iter as AsyncIterable<LogEntry>, o, { write: (to, e) => void out[to].push(dockerBytes(e, o)) }, f);
  return { stdout: Buffer.concat(out.stdout).toString('utf8'), stderr: Buffer.concat(out.stderr).toString('utf8'), f };
}

const ID = 'a'.repeat(64);

/** A data root with one container whose log config and files the test chooses. */
function makeRoot(files: Record<string, Buffer | string>, logConfig: Record<string, unknown> = { Type: 'json-file', Config: {} }, extra: { tty?: boolean; hostconfig?: Record<string, unknown> } = {}) {
  const top = fs.mkdtempSync(path.join(os.tmpdir(), 'dockscope-logs-'));
  const dir = path.join(top, 'containers', ID);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.v2.json'), JSON.stringify({ ID, Name: '/c', Config: { Tty: extra.tty === true }, LogPath: `/var/lib/docker/containers/${ID}/${ID}-json.log` }) + '\n');
  fs.writeFileSync(path.join(dir, 'hostconfig.json'), JSON.stringify({ LogConfig: logConfig, ...extra.hostconfig }) + '\n');
  for (const [name, data] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), data);
  }
  return { top, src: new DirSource(top), cleanup: () => fs.rmSync(top, { recursive: true, force: true }) };
}

async function readRoot(root: ReturnType<typeof makeRoot>, opts: PlanOptions = {}, q: LogQuery = {}) {
  const f = new Findings();
  const rec = loadContainer(root.src, ID, f);
  assert.ok(rec);
  const plan = planLogs(root.src, rec, f, opts);
  const entries = await collect(selectEntries(readLogEntries(root.src, plan, f), q));
  return { plan, entries, f };
}

const codes = (f: Findings) => f.list.map((x) => x.code);
const gz = (s: string | Buffer) => zlib.gzipSync(s);

// ------------------------------------------------------------------------------------------------
// time

describe('Go time parsing and docker timestamp format', () => {
  test('trailing zeros Go dropped are padded back to nine digits', () => {
    const t = parseGoTime('2026-11-23T02:32:13.14681319Z')!;
    assert.equal(formatLogTime(t), '2026-11-23T02:32:13.146813190Z');
    assert.equal(formatLogTime(parseGoTime('2026-11-23T02:32:13Z')!), '2026-11-23T02:32:13.000000000Z');
  });

  test('the instant is right, and the zone the time was written with is kept', () => {
    const t = parseGoTime('2024-02-29T23:30:00.5+02:00')!;
    assert.equal(t.ns, BigInt(Date.UTC(2024, 1, 29, 21, 30, 0)) * 1_000_000n + 500_000_000n);
    assert.equal(t.offset, 7200);
    assert.equal(formatLogTime(t), '2024-02-29T23:30:00.500000000+02:00');
    assert.equal(formatLogTime(parseGoTime('1969-12-31T23:59:59.999999999-05:30')!), '1969-12-31T23:59:59.999999999-05:30');
  });

  test('more than nine fraction digits are truncated like Go', () => {
    assert.equal(formatLogTime(parseGoTime('2024-01-01T00:00:00.1234567899Z')!), '2024-01-01T00:00:00.123456789Z');
  });

  test('what Go refuses is refused', () => {
    for (const bad of ['2024-01-01t00:00:00Z', '2024-13-01T00:00:00Z', '2023-02-29T00:00:00Z', '2024-01-01T24:00:00Z', '2024-01-01T00:00:60Z', '2024-01-01T00:00:00', '2024-01-01T00:00:00.Z', '2024-01-01 00:00:00Z', '2024-01-01T00:00:00+2400', ' 2024-01-01T00:00:00Z'])
      assert.equal(parseGoTime(bad), undefined, bad);
  });

  test("Go's zero time prints as docker prints it", () => {
    assert.equal(formatLogTime(ZERO_TIME), '0001-01-01T00:00:00.000000000Z');
  });

  test('agrees with Date over a spread of instants', () => {
    for (let ms = -5e11; ms < 4e12; ms += 7.77e10) {
      const iso = new Date(ms).toISOString(); // 2024-01-01T00:00:00.000Z
      const t = parseGoTime(iso)!;
      assert.equal(t.ns, BigInt(ms) * 1_000_000n, iso);
      assert.equal(formatLogTime(t), iso.replace(/\.(\d{3})Z$/, '.$1000000Z'));
    }
  });
});

describe('--since/--until/--tail values', () => {
  const now = Date.UTC(2024, 0, 2, 12, 0, 0, 750);
  test('durations count back from now in whole seconds, like the docker CLI', () => {
    assert.equal(parseTimeArg('10m', now), BigInt(Math.floor(now / 1000) - 600) * 1_000_000_000n);
    assert.equal(parseTimeArg('1h30m', now), BigInt(Math.floor(now / 1000) - 5400) * 1_000_000_000n);
    assert.equal(parseGoDuration('1.5h'), 5400e9);
    assert.equal(parseGoDuration('300ms'), 300e6);
    assert.equal(parseGoDuration('10'), undefined);
    assert.equal(parseGoDuration('m'), undefined);
  });
  test('RFC 3339 and partial forms; no zone means UTC', () => {
    const base = BigInt(Date.UTC(2024, 0, 2)) * 1_000_000n;
    assert.equal(parseTimeArg('2024-01-02', now), base);
    assert.equal(parseTimeArg('2024-01-02T03', now), base + 3n * 3600n * 1_000_000_000n);
    assert.equal(parseTimeArg('2024-01-02T03:04', now), base + (3n * 3600n + 240n) * 1_000_000_000n);
    assert.equal(parseTimeArg('2024-01-02T03:04:05.5Z', now), base + (3n * 3600n + 245n) * 1_000_000_000n + 500_000_000n);
    assert.equal(parseTimeArg('2024-01-02T03:04:05+01:00', now), base + (2n * 3600n + 245n) * 1_000_000_000n);
    assert.throws(() => parseTimeArg('2024-02-30', now));
    assert.throws(() => parseTimeArg('yesterday', now));
  });
  test('Unix seconds with an optional fraction (daemon ParseTimestamps)', () => {
    assert.equal(parseTimeArg('1700000000', now), 1_700_000_000_000_000_000n);
    assert.equal(parseTimeArg('1700000000.5', now), 1_700_000_000_500_000_000n);
    assert.equal(parseTimeArg('1700000000.000000001', now), 1_700_000_000_000_000_001n);
  });
  test('tail: a number, anything else is all', () => {
    assert.equal(parseTail('5'), 5);
    assert.equal(parseTail('all'), -1);
    assert.equal(parseTail('0'), 0);
    assert.equal(parseTail(undefined), -1);
  });
  test('max-size like go-units FromHumanSize (decimal)', () => {
    assert.equal(fromHumanSize('2k'), 2000);
    assert.equal(fromHumanSize('10m'), 10e6);
    assert.equal(fromHumanSize('1.5g'), 1.5e9);
    assert.equal(fromHumanSize('lots'), undefined);
  });
});

// ------------------------------------------------------------------------------------------------
// lines

describe('json-file lines', () => {
  test('fields, with Go decoding rules', () => {
    assert.deepEqual(parseJsonLogLine('{"log":"a\\n","stream":"stderr","time":"2024-01-01T00:00:00Z","attrs":{"k":"v"}}'), {
      log: 'a\n',
      stream: 'stderr',
      time: '2024-01-01T00:00:00Z',
      attrs: { k: 'v' },
    });
    // keys match case-insensitively; null leaves the field empty
    assert.deepEqual(parseJsonLogLine('{"LOG":"x","Stream":"stdout","time":null}'), { log: 'x', stream: 'stdout', time: undefined, attrs: undefined });
    assert.match(parseJsonLogLine('{"log":5}') as string, /not a string/);
    assert.match(parseJsonLogLine('{"log":"x","attrs":{"a":1}}') as string, /attrs/);
    assert.match(parseJsonLogLine('[1]') as string, /not a JSON object/);
    assert.match(parseJsonLogLine('{"log":"x"') as string, /invalid JSON/);
  });

  test('entries keep the bytes docker prints; a line split at 16 KiB prints back whole', async () => {
    const long = 'L'.repeat(20000);
    const text =
      jline('first\n') +
      jline(long.slice(0, 16384), 'stdout', '2024-05-06T07:08:09.5Z') +
      jline('err\n', 'stderr') +
      jline(long.slice(16384) + '\n', 'stdout', '2024-05-06T07:08:09.5Z') +
      jline('\u001b[31mred\u001b[0m\rcr\n') +
      jline('no newline at the end');
    const { entries, f } = await readText(text, 7);
    assert.deepEqual(codes(f), []);
    assert.equal(entries.length, 6);
    assert.deepEqual(
      entries.map((e) => [e.stream, e.newline, e.eol]),
      [
        ['stdout', true, true],
        ['stdout', false, false],
        ['stderr', true, true],
        ['stdout', true, true],
        ['stdout', true, true],
        ['stdout', false, false],
      ],
    );
    const out = await render(entries);
    assert.equal(out.stdout, `first\n${long}\n\u001b[31mred\u001b[0m\rcr\nno newline at the end`);
    assert.equal(out.stderr, 'err\n');
    // --timestamps: each piece has its own prefix, exactly as docker prints a split line
    const ts = await render(entries, { timestamps: true });
    assert.ok(ts.stdout.startsWith('2024-05-06T07:08:09.123456789Z first\n2024-05-06T07:08:09.500000000Z LLL'));
    assert.ok(ts.stdout.includes('L2024-05-06T07:08:09.500000000Z LLL'));
    assert.equal(entries[1]!.offset, Buffer.byteLength(jline('first\n')));
  });

  test('a malformed line is a finding, not the end of the log', async () => {
    const text = jline('one\n') + '{"log":"broken\n' + 'not json at all\n' + '\n   \n' + jline('two\n', 'stdout', 'yesterday') + jline('three\n');
    const { entries, f } = await readText(text, 3);
    assert.deepEqual(
      entries.map((e) => e.line.toString()),
      ['one', 'two', 'three'],
    );
    assert.deepEqual(codes(f), ['logs.bad-json', 'logs.bad-json', 'logs.bad-time']);
    assert.ok(f.list[0]!.message.includes(`byte ${Buffer.byteLength(jline('one\n'))}`));
    assert.equal(formatLogTime(entries[1]!.time), '0001-01-01T00:00:00.000000000Z');
    assert.ok(f.hasErrors);
  });

  test('a line that cannot be an object is refused before parsing, naming the byte that gives it away', async () => {
    const text = '\0\n' + '[1]\n' + '  {"log":"cut\r\n' + '"str"\n' + jline('kept\n');
    const { entries, f } = await readText(text);
    assert.deepEqual(
      entries.map((e) => e.line.toString()),
      ['kept'],
    );
    assert.deepEqual(
      f.list.map((x) => x.message),
      [
        'line at byte 0: not a JSON object (starts with byte 0x00)',
        'line at byte 2: not a JSON object (starts with byte 0x5b)',
        'line at byte 6: not a JSON object (ends with byte 0x74)',
        'line at byte 21: not a JSON object (starts with byte 0x22)',
      ],
    );
  });

  test('an overlong line is skipped with a finding, bounded memory, and reading resumes', async () => {
    const text = jline('before\n') + jline('X'.repeat(5000) + '\n') + jline('after\n');
    const { entries, f } = await readText(text, 100, 1000);
    assert.deepEqual(
      entries.map((e) => e.line.toString()),
      ['before', 'after'],
    );
    assert.deepEqual(codes(f), ['logs.line-too-long']);
  });

  test('a last line cut off mid-JSON is reported', async () => {
    const text = jline('ok\n') + '{"log":"cut';
    const { entries, f } = await readText(text);
    assert.equal(entries.length, 1);
    assert.deepEqual(codes(f), ['logs.bad-json']);
  });

  test('findings per file are capped with a summary', async () => {
    const text = 'garbage\n'.repeat(100) + jline('fine\n');
    const { entries, f } = await readText(text);
    assert.equal(entries.length, 1);
    assert.equal(f.list.length, 21);
    assert.match(f.list[20]!.message, /^80 more like this/);
  });

  test('invalid UTF-8 in the file decodes like Go (U+FFFD)', async () => {
    const buf = Buffer.concat([Buffer.from('{"log":"a'), Buffer.from([0xff]), Buffer.from('b\\n","stream":"stdout","time":"2024-01-01T00:00:00Z"}\n')]);
    const { entries } = await readText(buf);
    assert.equal(entries[0]!.line.toString('utf8'), 'a\ufffdb');
  });
});

// ------------------------------------------------------------------------------------------------
// output rules

describe('docker logs output rules', () => {
  const e = (stream: string, line: string, extra: Partial<LogEntry> = {}): LogEntry => ({
    stream,
    line: Buffer.from(line),
    newline: true,
    eol: true,
    time: parseGoTime('2024-01-01T00:00:00Z')!,
    file: 'f',
    offset: 0,
    ...extra,
  });
  test('streams go to their fd, --stream filters, a TTY container writes all to stdout, unknown streams are dropped with a finding', async () => {
    const list = [e('stdout', 'o'), e('stderr', 'e'), e('', 'x'), e('STDOUT', 'y')];
    let r = await render(list);
    assert.deepEqual([r.stdout, r.stderr], ['o\n', 'e\n']);
    assert.deepEqual(codes(r.f), ['logs.no-stream']);
    assert.match(r.f.list[0]!.message, /^2 entries/);
    r = await render(list, { stdout: false });
    assert.deepEqual([r.stdout, r.stderr], ['', 'e\n']);
    r = await render(list, { tty: true });
    assert.deepEqual([r.stdout, r.stderr], ['o\ne\n', '']);
  });
  test('--details: attrs sorted and query-escaped before a space', async () => {
    const r = await render([e('stdout', 'x', { attrs: { b: 'two words', a: 'x/y=z' } }), e('stdout', 'y')], { details: true, timestamps: true });
    assert.equal(r.stdout, '2024-01-01T00:00:00.000000000Z a=x%2Fy%3Dz,b=two+words x\n2024-01-01T00:00:00.000000000Z  y\n');
  });
  test('--json joins pieces per stream and says whether the line ended', async () => {
    const { entries } = await readText(jline('AB') + jline('x\n', 'stderr') + jline('CD') + jline('EF\n') + jline('tail'));
    const lines: LogLine[] = await collect(joinPartials(Readable.from(entries)));
    assert.deepEqual(
      lines.map((l) => [l.stream, l.line, l.partials, l.complete]),
      [
        ['stderr', 'x', 1, true],
        ['stdout', 'ABCDEF', 3, true],
        ['stdout', 'tail', 1, false],
      ],
    );
    // a bound on a joined line emits it in parts
    const parts = await collect(joinPartials(Readable.from(entries), 3));
    assert.deepEqual(
      parts.filter((l) => l.stream === 'stdout').map((l) => [l.line, l.complete]),
      [
        ['AB', false],
        ['CD', false],
        ['EF', true],
        ['tail', false],
      ],
    );
  });
  test('--json keeps bytes that are not UTF-8', async () => {
    const [l] = await collect(joinPartials(Readable.from([e('stdout', '', { line: Buffer.from([0x61, 0xff]) })])));
    assert.equal(l!.lineBase64, 'Yf8=');
  });
});

// ------------------------------------------------------------------------------------------------
// container directories

describe('json-file rotation, compression and bounds', () => {
  const base = `${ID}-json.log`;
  const cfg = { Type: 'json-file', Config: { 'max-file': '4', 'max-size': '1k', compress: 'true' } };

  test('reads the oldest rotation first, .N before .N.gz, the live file last; ignores what docker ignores', async () => {
    const root = makeRoot(
      {
        [`${base}.5.gz`]: gz(jline('beyond max-file\n')),
        [`${base}.3.gz`]: gz(jline('three\n') + jline('split-')),
        [`${base}.2`]: jline('two\n'),
        [`${base}.2.gz`]: gz(jline('stale copy of two\n')),
        [`${base}.1.gz`]: gz(jline('half\n') + jline('one\n')),
        [base]: jline('live\n'),
        [`${base}.01`]: jline('odd name\n'),
        [`${base}.1.gz.tmp`]: jline('leftover\n'),
      },
      cfg,
    );
    try {
      const { plan, entries, f } = await readRoot(root);
      assert.equal(plan.maxFiles, 4);
      assert.deepEqual(
        plan.files.map((x) => path.basename(x.path)),
        [`${base}.3.gz`, `${base}.2`, `${base}.1.gz`, base],
      );
      assert.deepEqual(plan.ignored.map((x) => path.basename(x.path)).sort(), [`${base}.01`, `${base}.2.gz`, `${base}.5.gz`].sort());
      assert.deepEqual(
        entries.map((e) => e.line.toString()),
        ['three', 'split-', 'two', 'half', 'one', 'live'],
      );
      assert.equal(entries[0]!.file, `containers/${ID}/${base}.3.gz`);
      assert.ok(codes(f).includes('logs.stray-file'));
      assert.equal(codes(f).filter((c) => c === 'logs.unread-rotation').length, 3);
      assert.ok(!f.hasErrors);
      // --all-files also reads the rotation beyond max-file, oldest first
      const all = await readRoot(root, { allFiles: true });
      assert.equal(all.entries[0]!.line.toString(), 'beyond max-file');
      // tail counts stored entries from the end, across files
      const t = await readRoot(root, {}, { tail: 3 });
      assert.deepEqual(
        t.entries.map((e) => e.line.toString()),
        ['half', 'one', 'live'],
      );
      assert.equal((await readRoot(root, {}, { tail: 0 })).entries.length, 0);
    } finally {
      root.cleanup();
    }
  });

  test('max-file defaults to 1: rotations of a container without it are not read', async () => {
    const root = makeRoot({ [`${base}.1`]: jline('old\n'), [base]: jline('new\n') });
    try {
      const { entries, f } = await readRoot(root);
      assert.deepEqual(
        entries.map((e) => e.line.toString()),
        ['new'],
      );
      assert.deepEqual(codes(f), ['logs.unread-rotation']);
    } finally {
      root.cleanup();
    }
  });

  test('since skips until the first entry at or after it; until stops at the first entry after it', async () => {
    const t = (s: number) => `2024-01-01T00:00:0${s}Z`;
    const root = makeRoot({ [base]: [1, 3, 2, 5, 4, 6].map((s) => jline(`${s}\n`, 'stdout', t(s))).join('') });
    try {
      const sec = (s: number) => parseTimeArg(t(s));
      const lines = async (q: LogQuery) => (await readRoot(root, {}, q)).entries.map((e) => e.line.toString()).join(',');
      assert.equal(await lines({ since: sec(3) }), '3,2,5,4,6');
      assert.equal(await lines({ since: sec(3), sinceEachEntry: true }), '3,5,4,6');
      assert.equal(await lines({ until: sec(4) }), '1,3,2');
      assert.equal(await lines({ since: sec(2), until: sec(5) }), '3,2,5,4');
      assert.equal(await lines({ tail: 2, since: sec(5) }), '6');
    } finally {
      root.cleanup();
    }
  });

  test('a gzip bomb stops at the inflate bound; a damaged .gz is reported; other files are still read', async () => {
    const bomb = gz(Buffer.concat([Buffer.from(jline('bomb start\n')), Buffer.alloc(50 * 1024 * 1024, 0x20), Buffer.from(jline('never\n'))]));
    assert.ok(bomb.length < 100 * 1024);
    const good = gz(jline('good\n'));
    const damaged = Buffer.from(good);
    damaged.fill(0x41, 12, damaged.length - 8);
    const root = makeRoot({ [`${base}.3.gz`]: bomb, [`${base}.2.gz`]: damaged, [`${base}.1.gz`]: good.subarray(0, good.length - 5), [base]: jline('live\n') }, cfg);
    try {
      const { entries, f, plan } = await readRoot(root, { inflateLimit: 1024 * 1024 });
      assert.equal(plan.inflateLimit, 1024 * 1024);
      assert.deepEqual(
        entries.map((e) => e.line.toString()),
        ['bomb start', 'good', 'live'],
      );
      const c = codes(f);
      assert.ok(c.includes('logs.gzip-bomb'), c.join());
      assert.equal(c.filter((x) => x === 'logs.bad-gzip').length, 2, c.join());
      assert.ok(f.hasErrors);
      // the default bound follows max-size (4x, at least 64 MiB)
      assert.equal((await readRoot(root)).plan.inflateLimit, 64 * 1024 * 1024);
    } finally {
      root.cleanup();
    }
  });

  test('a symlinked log is followed inside the evidence only; a directory in its place is not read', async () => {
    const root = makeRoot({ 'elsewhere.log': jline('via link\n'), [`${base}.1`]: jline('old\n') }, { Type: 'json-file', Config: { 'max-file': '3' } });
    try {
      const dir = path.join(root.top, 'containers', ID);
      fs.symlinkSync('elsewhere.log', path.join(dir, base));
      fs.mkdirSync(path.join(dir, `${base}.2`));
      let r = await readRoot(root);
      assert.deepEqual(
        r.entries.map((e) => e.line.toString()),
        ['old', 'via link'],
      );
      assert.deepEqual(codes(r.f).sort(), ['logs.not-a-file', 'logs.symlink']);
      fs.rmSync(path.join(dir, base));
      fs.symlinkSync('/etc/passwd', path.join(dir, base));
      r = await readRoot({ ...root, src: new DirSource(root.top) });
      assert.deepEqual(
        r.entries.map((e) => e.line.toString()),
        ['old'],
      );
      assert.ok(codes(r.f).includes('logs.unreadable'), codes(r.f).join());
    } finally {
      root.cleanup();
    }
  });

  test('drivers without a file here are said plainly; the dual-logging cache is read when present', async () => {
    for (const [type, re] of [
      ['none', /disabled/],
      ['journald', /journal/],
      ['syslog', /keeps no file here/],
    ] as const) {
      const root = makeRoot({}, { Type: type, Config: {} });
      try {
        const { plan, entries } = await readRoot(root);
        assert.equal(plan.format, undefined);
        assert.match(plan.note!, re);
        assert.equal(entries.length, 0);
      } finally {
        root.cleanup();
      }
    }
    const root = makeRoot({ [base]: jline('stale\n') }, { Type: 'syslog', Config: { 'cache-disabled': 'true' } });
    try {
      const { plan, f } = await readRoot(root);
      assert.match(plan.note!, /cache-disabled/);
      assert.ok(codes(f).includes('logs.other-files'));
    } finally {
      root.cleanup();
    }
  });

  test('a missing live file is an empty log; a LogPath pointing elsewhere is reported', async () => {
    const root = makeRoot({});
    try {
      fs.writeFileSync(path.join(root.top, 'containers', ID, 'config.v2.json'), JSON.stringify({ ID, Name: '/c', Config: {}, LogPath: '/tmp/elsewhere.log' }));
      const { plan, entries, f } = await readRoot(root);
      assert.equal(plan.files.length, 0);
      assert.equal(entries.length, 0);
      assert.deepEqual(codes(f).sort(), ['logs.logpath-mismatch', 'logs.no-file']);
    } finally {
      root.cleanup();
    }
  });
});

