/**
 * timeline on a small synthetic data root written to a temp dir (so file times, inodes and
 * log files are real): which events there are, their exact times, their order, the writers
 * (JSONL, CSV, bodyfile, table) and what they do with hostile strings.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { makePathMap } from '../../src/analysis/paths.js';
import { bodyfileEntries, buildTimeline, compareEvents, timeNs, type TimelineEvent } from '../../src/analysis/timeline.js';
import { buildModel, type Model } from '../../src/model/graph.js';
import {
  bodyfileLine,
  bodyName,
  CSV_COLUMNS,
  csvField,
  isoDatetime,
  micros,
  seconds,
  timelineCsv,
  timelineJsonl,
  timelineTable,
  tskModeString,
} from '../../src/render/timeline.js';
import { DirSource } from '../../src/source/dir.js';
import type { Stat } from '../../src/source/types.js';
import { Findings } from '../../src/store/findings.js';
import { tmpDir } from '../helpers/tarbuild.js';

const WEB = 'a1'.repeat(32);
const FRESH = 'b2'.repeat(32);
const EVIL = 'c3'.repeat(32);
const MOUNT = 'd4'.repeat(32);
const EVIL_NAME = 'ev\x1b[31mil\nx';
const CONFIG_MTIME = Date.UTC(2026, 1, 2, 3, 4, 5) / 1000;
const PASSWD_MTIME = Date.UTC(2026, 0, 1, 0, 0, 8) / 1000;

const BASE_HISTORY = [
  { created: '2025-12-31T22:00:00Z', created_by: '/bin/sh -c #(nop) ADD file:abc in /' },
  { created: '2025-12-31T23:00:00.5Z', created_by: '/bin/sh -c #(nop)  CMD ["sh"]', empty_layer: true },
];

function write(root: string, rel: string, data: string | Buffer): void {
  const p = path.join(root, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, data);
}

function imageConfig(created: string, history: object[]): Buffer {
  return Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', created, config: { Env: ['PATH=/bin'] }, rootfs: { type: 'layers', diff_ids: [] }, history }));
}

function containerConfig(id: string, name: string, state: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  return (
    JSON.stringify({
      ID: id,
      Name: name,
      Created: '2026-01-01T00:00:00.000000001Z',
      Path: 'sh',
      Args: ['-c', 'run'],
      Image: '',
      Driver: 'overlay2',
      LogPath: '',
      RestartCount: 0,
      State: { Running: false, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: 0, ExitCode: 0, Error: '', StartedAt: '0001-01-01T00:00:00Z', FinishedAt: '0001-01-01T00:00:00Z', ...state },
      Config: { Image: 'app:1', Env: [] },
      MountPoints: {},
      ...extra,
    }) + '\n'
  );
}

interface Fixture {
  root: string;
  model: Model;
  baseId: string;
  childId: string;
}

let cached: Fixture | undefined;

/** A data root: two images (child shares the base's history), three containers, one upper dir. */
function fixture(): Fixture {
  if (cached) return cached;
  const root = path.join(tmpDir(), 'docker');
  const base = imageConfig('2025-12-31T23:00:00.5Z', BASE_HISTORY);
  const child = imageConfig('2025-12-31T23:30:00Z', [...BASE_HISTORY, { created: '2025-12-31T23:30:00Z', created_by: '/bin/sh -c echo "child, step"' }]);
  const baseId = 'sha256:' + createHash('sha256').update(base).digest('hex');
  const childId = 'sha256:' + createHash('sha256').update(child).digest('hex');
  write(root, `image/overlay2/imagedb/content/sha256/${baseId.slice(7)}`, base);
  write(root, `image/overlay2/imagedb/content/sha256/${childId.slice(7)}`, child);
  write(root, `image/overlay2/imagedb/metadata/sha256/${childId.slice(7)}/lastUpdated`, '2026-01-01T00:00:00.25Z');
  write(root, 'image/overlay2/repositories.json', JSON.stringify({ Repositories: { app: { 'app:1': childId }, base: { 'base:1': baseId } } }));

  write(
    root,
    `containers/${WEB}/config.v2.json`,
    containerConfig(WEB, '/web', { StartedAt: '2026-01-01T00:00:01.5Z', FinishedAt: '2026-01-01T00:00:09.999999999Z', ExitCode: 137, OOMKilled: true }, { Image: childId, RestartCount: 2 }),
  );
  write(root, `containers/${WEB}/hostconfig.json`, JSON.stringify({ LogConfig: { Type: 'json-file', Config: {} } }) + '\n');
  write(
    root,
    `containers/${WEB}/${WEB}-json.log`,
    [
      { log: 'first \x1b[31mred\x1b[0m, "quoted"\n', stream: 'stdout', time: '2026-01-01T00:00:05.123456789Z' },
      { log: 'middle\n', stream: 'stderr', time: '2026-01-01T00:00:06Z' },
      { log: 'last line | pipe\n', stream: 'stdout', time: '2026-01-01T00:00:07.000000001Z' },
    ]
      .map((x) => JSON.stringify(x))
      .join('\n') + '\n',
  );
  write(root, `containers/${FRESH}/config.v2.json`, containerConfig(FRESH, '/fresh', {}, { Image: baseId }));
  write(root, `containers/${FRESH}/hostconfig.json`, '{}\n');
  write(root, `containers/${EVIL}/config.v2.json`, containerConfig(EVIL, `/${EVIL_NAME}`, { StartedAt: '2026-01-01T00:00:02Z' }, { Image: baseId }));
  write(root, `containers/${EVIL}/hostconfig.json`, '{}\n');
  write(root, `containers/${EVIL}/${EVIL}-json.log`, JSON.stringify({ log: 'only one\n', stream: 'stdout', time: '2026-01-01T00:00:03Z' }) + '\n');
  fs.utimesSync(path.join(root, `containers/${WEB}/config.v2.json`), CONFIG_MTIME, CONFIG_MTIME);

  write(root, `image/overlay2/layerdb/mounts/${WEB}/mount-id`, MOUNT);
  write(root, `image/overlay2/layerdb/mounts/${WEB}/init-id`, `${MOUNT}-init`);
  write(root, `overlay2/${MOUNT}/diff/etc/passwd`, 'root:x:0:0::/root:/bin/sh\n');
  write(root, `overlay2/${MOUNT}/diff/we|ird\nname`, 'x');
  write(root, `overlay2/${MOUNT}/diff/big/layer/content`, 'y');
  fs.mkdirSync(path.join(root, `overlay2/${MOUNT}-init/diff`), { recursive: true });
  fs.chmodSync(path.join(root, `overlay2/${MOUNT}/diff/etc/passwd`), 0o644);
  fs.utimesSync(path.join(root, `overlay2/${MOUNT}/diff/etc/passwd`), PASSWD_MTIME, PASSWD_MTIME);
  fs.symlinkSync('/etc/passwd', path.join(root, `overlay2/${MOUNT}/diff/link`));

  const model = buildModel(new DirSource(root));
  cached = { root, model, baseId, childId };
  return cached;
}

const paths = makePathMap('/var/lib/docker', 'as-root');

async function events(opts: Parameters<typeof buildTimeline>[2] = {}): Promise<TimelineEvent[]> {
  return buildTimeline(fixture().model, paths, opts, new Findings());
}

const ns = (s: string) => timeNs(s)!;

function find(list: TimelineEvent[], kind: string, containerId?: string): TimelineEvent[] {
  return list.filter((e) => e.kind === kind && (containerId === undefined || e.containerId === containerId));
}

/** RFC 4180 parser (quoted fields may hold commas, quotes and line breaks). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else field += c;
      i++;
      continue;
    }
    if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
    i++;
  }
  assert.equal(quoted, false, 'unterminated quote');
  if (field !== '' || row.length) rows.push([...row, field]);
  return rows;
}

describe('timeline events', () => {
  test('sorted, and the order is total', async () => {
    const list = await events();
    assert.ok(list.length > 20);
    for (let i = 1; i < list.length; i++) assert.ok(compareEvents(list[i - 1]!, list[i]!) <= 0, `${i}`);
    assert.ok(list.every((e, i) => i === 0 || list[i - 1]!.ns <= e.ns));
  });

  test('container created / started / finished at the stored times, with exit code, OOM and restart count', async () => {
    const list = await events();
    const [created] = find(list, 'container.created', WEB);
    const [started] = find(list, 'container.started', WEB);
    const [finished] = find(list, 'container.finished', WEB);
    assert.equal(created!.ns, 1767225600000000001n);
    assert.equal(started!.ns, ns('2026-01-01T00:00:01.5Z'));
    assert.equal(finished!.ns, 1767225609999999999n);
    assert.equal(created!.desc, 'Container Created');
    assert.equal(created!.containerName, 'web');
    assert.match(created!.message, /^container web created from app:1: sh -c run$/);
    assert.match(started!.message, /restart count 2/);
    assert.match(finished!.message, /exit code 137, OOM killed/);
    assert.deepEqual([finished!.attrs!.exit_code, finished!.attrs!.oom_killed, finished!.attrs!.restart_count], [137, true, 2]);
    assert.equal(finished!.source, `/var/lib/docker/containers/${WEB}/config.v2.json`);
    assert.equal(finished!.field, 'State.FinishedAt');
  });

  test('a created-only container has no started or finished event; a running one no finished event', async () => {
    const list = await events();
    assert.equal(find(list, 'container.created', FRESH).length, 1);
    assert.equal(find(list, 'container.started', FRESH).length, 0);
    assert.equal(find(list, 'container.finished', FRESH).length, 0);
    assert.equal(find(list, 'container.started', EVIL).length, 1);
    assert.equal(find(list, 'container.finished', EVIL).length, 0);
  });

  test('images: created, each history step once (filed under the image it produced), last tag time', async () => {
    const { baseId, childId } = fixture();
    const list = await events();
    const created = find(list, 'image.created');
    assert.deepEqual(created.map((e) => [e.imageId, e.ns]).sort(), [
      [baseId, ns('2025-12-31T23:00:00.5Z')],
      [childId, ns('2025-12-31T23:30:00Z')],
    ].sort());
    const steps = find(list, 'image.history');
    assert.deepEqual(
      steps.map((e) => [e.field, e.imageId, e.ns]),
      [
        ['history[0].created', baseId, ns('2025-12-31T22:00:00Z')],
        ['history[1].created', baseId, ns('2025-12-31T23:00:00.5Z')],
        ['history[2].created', childId, ns('2025-12-31T23:30:00Z')],
      ],
    );
    assert.equal(steps[0]!.attrs!.images, [baseId, childId].sort().join(' '));
    assert.match(steps[1]!.message, /\[no layer\]/);
    const tagged = find(list, 'image.tagged');
    assert.deepEqual(tagged.map((e) => [e.imageId, e.ns, e.desc]), [[childId, ns('2026-01-01T00:00:00.25Z'), 'Image Last Tagged']]);
  });

  test('first and last log entry, at their own times; a single entry gives one event', async () => {
    const list = await events();
    const first = find(list, 'container.log-first', WEB);
    const last = find(list, 'container.log-last', WEB);
    assert.equal(first.length, 1);
    assert.equal(last.length, 1);
    assert.equal(first[0]!.ns, 1767225605123456789n);
    assert.equal(last[0]!.ns, 1767225607000000001n);
    assert.equal(first[0]!.message, 'first log entry of web (stdout): first \x1b[31mred\x1b[0m, "quoted"');
    assert.equal(last[0]!.message, 'last log entry of web (stdout): last line | pipe');
    assert.equal(first[0]!.source, `/var/lib/docker/containers/${WEB}/${WEB}-json.log`);
    assert.ok(!list.some((e) => e.message.includes('middle')));
    assert.equal(find(list, 'container.log-first', EVIL).length, 1);
    assert.equal(find(list, 'container.log-last', EVIL).length, 0);
    assert.equal(find(await events({ logs: false }), 'container.log-first').length, 0);
  });

  test('file times: mtime of config.v2.json as stored, ctime too; --no-file-times drops them', async () => {
    const list = await events();
    const cfg = find(list, 'container.config-file', WEB);
    assert.deepEqual(cfg.map((e) => e.field).sort(), ['ctime', 'mtime']);
    assert.equal(cfg.find((e) => e.field === 'mtime')!.ns, BigInt(CONFIG_MTIME) * 1_000_000_000n);
    assert.equal(cfg.find((e) => e.field === 'mtime')!.desc, 'Content Modification Time');
    assert.equal(cfg.find((e) => e.field === 'ctime')!.desc, 'Metadata Modification Time');
    for (const k of ['container.dir', 'container.hostconfig-file', 'container.mount-dir', 'container.rw-dir', 'container.init-dir', 'container.upper-dir', 'image.config-file'])
      assert.ok(list.some((e) => e.kind === k), k);
    const none = await events({ fileTimes: false });
    assert.ok(!none.some((e) => e.field === 'mtime' || e.field === 'ctime'));
  });

  test('--since / --until keep only the window (inclusive)', async () => {
    const since = ns('2026-01-01T00:00:01.5Z');
    const until = ns('2026-01-01T00:00:07.000000001Z');
    const list = await events({ since, until, fileTimes: false });
    assert.ok(list.length >= 4);
    assert.ok(list.every((e) => e.ns >= since && e.ns <= until));
    assert.ok(list.some((e) => e.kind === 'container.started' && e.containerId === WEB));
    assert.ok(list.some((e) => e.kind === 'container.log-last' && e.containerId === WEB));
  });

  test('timeNs: Go zero time and garbage are no time; offsets are honoured', () => {
    assert.equal(timeNs('0001-01-01T00:00:00Z'), undefined);
    assert.equal(timeNs('yesterday'), undefined);
    assert.equal(timeNs(undefined), undefined);
    assert.equal(timeNs('2026-01-01T02:00:00.000000001+02:00'), 1767225600000000001n);
  });
});

describe('timeline writers', () => {
  test('JSONL: one valid object per event with the Timesketch fields, ns kept exactly, control characters escaped', async () => {
    const list = await events();
    const text = timelineJsonl(list);
    assert.ok(!/[\x00-\x09\x0b-\x1f\x7f-\x9f]/.test(text), 'raw control characters in JSONL');
    const lines = text.split('\n');
    assert.equal(lines.pop(), '');
    assert.equal(lines.length, list.length);
    lines.forEach((l, i) => {
      const o = JSON.parse(l);
      const e = list[i]!;
      assert.equal(o.message, e.message);
      assert.equal(o.timestamp_desc, e.desc);
      assert.match(o.datetime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}\+00:00$/);
      assert.equal(o.timestamp_ns, e.ns.toString());
      assert.equal(BigInt(o.timestamp), e.ns / 1000n);
      assert.equal(Date.parse(o.datetime), Number(e.ns / 1_000_000n));
    });
    const first = lines.map((l) => JSON.parse(l)).find((o) => o.event === 'container.log-first' && o.container_id === WEB);
    assert.equal(first.datetime, '2026-01-01T00:00:05.123456789+00:00');
    assert.equal(first.timestamp, 1767225605123456);
    assert.match(first.message, /\x1b\[31mred/);
    assert.equal(first.stream, 'stdout');
  });

  test('CSV: parses back to the same fields (quotes, commas, line breaks, ESC); terminal mode escapes control characters', async () => {
    const list = await events();
    const rows = parseCsv(timelineCsv(list));
    assert.deepEqual(rows[0], [...CSV_COLUMNS]);
    assert.equal(rows.length, list.length + 1);
    rows.slice(1).forEach((r, i) => {
      assert.equal(r.length, CSV_COLUMNS.length, `row ${i}`);
      assert.equal(r[0], list[i]!.message);
      assert.equal(r[1], isoDatetime(list[i]!.ns));
      assert.equal(r[2], list[i]!.desc);
      assert.equal(r[4], list[i]!.ns.toString());
    });
    const evil = rows.find((r) => r[8] === EVIL_NAME);
    assert.ok(evil, 'the container name with ESC and a newline round-trips');
    const term = timelineCsv(list, true);
    assert.ok(!/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]/.test(term));
    assert.equal(parseCsv(term).length, list.length + 1);
    assert.equal(csvField('a"b'), '"a""b"');
    assert.equal(csvField(' lead'), '" lead"');
    assert.equal(csvField('plain'), 'plain');
    assert.equal(csvField('x\x1by', true), 'x\\x1by');
  });

  test('table: evidence escaped, one row per event', async () => {
    const list = await events();
    const out = timelineTable(list);
    assert.ok(!/[\x00-\x09\x0b-\x1f\x7f]/.test(out));
    assert.equal(out.split('\n').length, list.length + 1);
    assert.match(out, /ev\\x1b\[31mil\\nx/);
  });

  test('time helpers floor toward minus infinity', () => {
    assert.equal(isoDatetime(0n), '1970-01-01T00:00:00.000000000+00:00');
    assert.equal(isoDatetime(-1n), '1969-12-31T23:59:59.999999999+00:00');
    assert.equal(micros(-1n), -1);
    assert.equal(micros(1999n), 1);
    assert.equal(seconds(-1n), '-1');
    assert.equal(seconds(1_999_999_999n), '1');
    assert.equal(seconds(undefined), '0');
  });
});

describe('bodyfile', () => {
  test('TSK 3.x lines: 11 fields, container files as /<name>/path, metadata under the data root', () => {
    const { model } = fixture();
    const lines = [...bodyfileEntries(model, paths, new Findings())].map(bodyfileLine);
    for (const l of lines) assert.equal(l.split('|').length, 11, l);
    assert.ok(lines.every((l) => !/[\n\r\x1b]/.test(l)));
    const passwd = lines.find((l) => l.split('|')[1] === '/web/etc/passwd')!.split('|');
    assert.equal(passwd[0], '0');
    assert.match(passwd[2]!, /^[1-9]\d*$/, 'directory evidence has inode numbers');
    assert.equal(passwd[3], 'r/rrw-r--r--');
    assert.equal(passwd[6], String('root:x:0:0::/root:/bin/sh\n'.length));
    assert.equal(passwd[8], String(PASSWD_MTIME));
    assert.equal(passwd[10], '0');
    assert.ok(lines.some((l) => l.startsWith('0|/web|') && l.split('|')[3] === 'd/drwxr-xr-x'));
    assert.ok(lines.some((l) => l.split('|')[1] === '/web/we\\x7cird\\nname'), 'pipe and newline escaped');
    assert.ok(lines.some((l) => l.split('|')[1] === '/web/link -> /etc/passwd' && l.split('|')[3] === 'l/lrwxrwxrwx'));
    const names = lines.map((l) => l.split('|')[1]!);
    assert.ok(names.includes(`/var/lib/docker/containers/${WEB}/config.v2.json`));
    assert.ok(names.includes(`/var/lib/docker/containers/${WEB}/${WEB}-json.log`));
    assert.ok(names.includes(`/var/lib/docker/image/overlay2/layerdb/mounts/${WEB}/mount-id`));
    assert.ok(names.includes(`/var/lib/docker/overlay2/${MOUNT}/diff`), 'driver dirs are listed');
    assert.ok(!names.includes(`/var/lib/docker/overlay2/${MOUNT}/diff/etc/passwd`), 'but not the layer content under the data root');
    assert.ok(!names.some((n) => n.startsWith('/fresh')), 'no upper dir, no entries');
  });

  test('bounded: stops at maxEntries with a finding', () => {
    const f = new Findings();
    const list = [...bodyfileEntries(fixture().model, paths, f, { maxEntries: 3, metadata: false })];
    assert.equal(list.length, 4); // the upper dir itself + 3
    assert.ok(f.list.some((x) => x.code === 'timeline.truncated'));
  });

  test('mode strings as tsk_fs_meta_make_ls writes them; whiteouts; names escaped', () => {
    assert.equal(tskModeString('file', 0o4755), 'r/rrwsr-xr-x');
    assert.equal(tskModeString('file', 0o4644), 'r/rrwSr--r--');
    assert.equal(tskModeString('file', 0o2755), 'r/rrwxr-sr-x');
    assert.equal(tskModeString('dir', 0o1777), 'd/drwxrwxrwt');
    assert.equal(tskModeString('dir', 0o1776), 'd/drwxrwxrwT');
    assert.equal(tskModeString('socket', 0o755), 's/hrwxr-xr-x');
    assert.equal(tskModeString('fifo', 0o600), 'p/prw-------');
    assert.equal(tskModeString('char', 0, true), 'w/c---------');
    assert.equal(bodyName('a|b\\c\x1b'), 'a\\x7cb\\\\c\\x1b');
    const st: Stat = { type: 'char', size: 0, mode: 0, uid: 0, gid: 0, mtimeNs: 1_500_000_000n, nlink: 1, inode: 'x', rdevMajor: 0, rdevMinor: 0 };
    assert.equal(bodyfileLine({ name: '/c/etc/motd', stat: st, whiteout: true }), '0|/c/etc/motd (whiteout)|0|w/c---------|0|0|0|0|1|0|0');
  });
});
