/**
 * audit and timeline on every real-engine fixture, against what the scenario did and what the
 * engine reported:
 *  - audit flags `risky` and `risky-run` with every risky setting they were created with, flags
 *    `orphanimg` for its force-removed image (graph driver) or its now untagged image
 *    (containerd store), and finds nothing at all about any other container or any image;
 *  - the timeline holds each container's created / started / finished at the exact times of
 *    `docker inspect`, each image's created time of `docker image inspect`, and the first and
 *    last entries `docker logs --timestamps` printed, sorted; JSONL and CSV parse back; every
 *    bodyfile line has 11 fields and the upper dirs' files appear as /<name>/path.
 * Read from the archive in place and, where the test can extract as root, from a directory.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { audit, type AuditFinding, type AuditReport } from '../../src/analysis/audit.js';
import { choosePathMap, type PathMap } from '../../src/analysis/paths.js';
import { bodyfileEntries, buildTimeline, compareEvents, timeNs, type TimelineEvent } from '../../src/analysis/timeline.js';
import { auditStatus, auditTable, EXIT_AUDIT_HIGH } from '../../src/cli/audit.js';
import { loadModel, type Model } from '../../src/model/graph.js';
import { makeStyle } from '../../src/render/style.js';
import { bodyfileLine, CSV_COLUMNS, timelineCsv, timelineJsonl, timelineTable } from '../../src/render/timeline.js';
import { openEvidence } from '../../src/source/open.js';
import { Findings } from '../../src/store/findings.js';
import { canExtract, extractFixture, listFixtures, oracle, oracleFiles, type Fixture } from '../helpers/fixtures.js';

type Json = Record<string, any>;

const fixtures = listFixtures((n) => n.startsWith('overlay2-') || n.startsWith('containerd-'));
const RISKY = ['risky', 'risky-run'];

interface Loaded {
  model: Model;
  paths: PathMap;
}

async function loadArchive(f: Fixture): Promise<Loaded> {
  const ev = await openEvidence(f.archive);
  const model = await loadModel(ev);
  return { model, paths: choosePathMap(ev, model) };
}

async function loadExtracted(f: Fixture): Promise<Loaded> {
  const ev = await openEvidence(extractFixture(f));
  const model = await loadModel(ev);
  return { model, paths: choosePathMap(ev, model) };
}

function names(f: Fixture): Record<string, string> {
  return oracle<{ containers: Record<string, string> }>(f, 'names.json').containers;
}

/** RFC 4180 parser (quoted fields may hold commas, quotes and line breaks). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      rows.push([...row, field]);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  assert.equal(quoted, false, 'unterminated quote');
  if (field !== '' || row.length) rows.push([...row, field]);
  return rows;
}

const LOG_TS = /(?:^|\n)(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) /g;

function checkAudit(f: Fixture, load: () => Promise<Loaded>) {
  let L: Loaded;
  let report: AuditReport;
  const ids = names(f);
  const byName = (name: string): AuditFinding[] => report.findings.filter((x) => x.subject.kind === 'container' && x.subject.id === ids[name]);

  test('loads', async () => {
    L = await load();
    report = audit(L.model);
    assert.equal(report.containers, Object.keys(ids).length);
  });

  for (const name of RISKY)
    test(`${name}: every risky setting it was created with`, () => {
      const fs = byName(name);
      const rules = new Set(fs.map((x) => `${x.rule}:${x.severity}`));
      for (const r of ['privileged:high', 'docker-socket:high', 'host-namespace:high', 'capability:high', 'seccomp-unconfined:medium', 'apparmor-unconfined:medium', 'restart-policy:low', 'secret-env:medium'])
        assert.ok(rules.has(r), `${name}: no ${r} in ${[...rules].join(', ')}`);
      assert.equal(fs.find((x) => x.rule === 'host-namespace')!.field, 'PidMode');
      assert.equal(fs.find((x) => x.rule === 'capability')!.title, 'capability added: SYS_ADMIN');
      assert.ok(fs.filter((x) => x.rule === 'privileged' || x.rule === 'docker-socket').every((x) => x.technique === 'T1611'));
      assert.equal(fs.find((x) => x.rule === 'restart-policy')!.technique, 'T1543.005');
      const secret = fs.find((x) => x.rule === 'secret-env')!;
      assert.equal(secret.technique, 'T1552.001');
      assert.match(secret.value, /^AWS_SECRET_ACCESS_KEY=\*+ \(13 chars\)$/);
      const hostPaths = fs.filter((x) => x.rule === 'host-path');
      const ports = fs.filter((x) => x.rule === 'published-port');
      if (name === 'risky') {
        // -v /:/host:ro: the whole host, holding the Docker socket: high although read-only
        assert.deepEqual(hostPaths.map((x) => [x.value, x.severity]), [['/:/host:ro', 'high']]);
        assert.deepEqual(ports.map((x) => [x.value, x.technique]), [['0.0.0.0:8080->80/tcp', 'T1133']]);
      } else {
        // -v <lab>/srv/.../hostroot:/host:ro is not a sensitive host path; no port published
        assert.deepEqual(hostPaths, []);
        assert.deepEqual(ports, []);
      }
    });

  test('orphanimg: only the deploy-container finding about its image', () => {
    const fs = byName('orphanimg');
    assert.ok(fs.length >= 1);
    assert.ok(fs.every((x) => x.technique === 'T1610'), JSON.stringify(fs));
    const gone = L.model.containers.get(ids.orphanimg!)!.image === undefined;
    assert.deepEqual(fs.map((x) => [x.rule, x.severity]), [gone ? ['image-gone', 'medium'] : ['untagged-image', 'low']]);
    assert.match(fs[0]!.title, /fx\/gone:1/);
  });

  test('nothing about any other container, nor any image', () => {
    const flagged = new Set([...RISKY, 'orphanimg'].map((n) => ids[n]));
    const other = report.findings.filter((x) => !(x.subject.kind === 'container' && flagged.has(x.subject.id)));
    assert.deepEqual(other.map((x) => `${x.subject.name}: ${x.title}`), []);
  });

  test('secret values are masked unless asked for; the exit status says high', () => {
    assert.ok(!JSON.stringify(report).includes('fakeSecret123'));
    assert.ok(!auditTable(report, makeStyle(false)).includes('fakeSecret123'));
    assert.ok(JSON.stringify(audit(L.model, { showSecrets: true })).includes('AWS_SECRET_ACCESS_KEY=fakeSecret123'));
    assert.equal(auditStatus(report, 0), EXIT_AUDIT_HIGH);
    assert.equal(EXIT_AUDIT_HIGH, 6);
    const benign = { ...report, findings: report.findings.filter((x) => x.severity !== 'high'), counts: { ...report.counts, high: 0 } };
    assert.equal(auditStatus(benign, 3), 3);
  });

  test('the table escapes what it prints', () => {
    const out = auditTable(report, makeStyle(false));
    assert.ok(!/[\x00-\x09\x0b-\x1f\x7f]/.test(out));
    assert.equal(out.split('\n').length, report.findings.length + 3);
  });
}

function checkTimeline(f: Fixture, load: () => Promise<Loaded>) {
  let L: Loaded;
  let events: TimelineEvent[];
  const ids = names(f);

  test('builds', async () => {
    L = await load();
    const findings = new Findings();
    events = await buildTimeline(L.model, L.paths, {}, findings);
    assert.deepEqual(findings.list.filter((x) => x.severity === 'error'), []);
    assert.ok(events.length > 100);
  });

  test('sorted', () => {
    for (let i = 1; i < events.length; i++) assert.ok(compareEvents(events[i - 1]!, events[i]!) <= 0, `${i}`);
  });

  test('containers created / started / finished at the times docker inspect gave, with exit code, OOM and restart count', () => {
    const files = oracleFiles(f, 'container-inspect');
    assert.equal(files.length, Object.keys(ids).length);
    for (const file of files) {
      const want = oracle<Json>(f, `container-inspect/${file}`);
      const name = file.replace(/\.json$/, '');
      const of = (kind: string) => events.filter((e) => e.kind === kind && e.containerId === want.Id);
      assert.deepEqual(of('container.created').map((e) => e.ns), [timeNs(want.Created)], `${name} created`);
      const started = timeNs(want.State.StartedAt);
      assert.deepEqual(of('container.started').map((e) => e.ns), started === undefined ? [] : [started], `${name} started`);
      const finished = timeNs(want.State.FinishedAt);
      const fin = of('container.finished');
      assert.deepEqual(fin.map((e) => e.ns), finished === undefined ? [] : [finished], `${name} finished`);
      for (const e of fin) {
        assert.equal(e.attrs!.exit_code, want.State.ExitCode, name);
        assert.equal(e.attrs!.oom_killed, want.State.OOMKilled, name);
        assert.match(e.message, new RegExp(`exit code ${want.State.ExitCode}\\b`));
      }
      for (const e of [...of('container.created'), ...of('container.started'), ...fin]) {
        assert.equal(e.attrs!.restart_count, want.RestartCount, name);
        assert.equal(e.containerName, want.Name.replace(/^\//, ''));
      }
    }
  });

  test('every image created at the time docker image inspect gave', () => {
    const files = oracleFiles(f, 'image-inspect');
    assert.ok(files.length > 0);
    for (const file of files) {
      const want = oracle<Json>(f, `image-inspect/${file}`);
      const got = events.filter((e) => e.kind === 'image.created' && e.imageId === want.Id).map((e) => e.ns);
      assert.deepEqual(got, [timeNs(want.Created)], want.Id);
    }
  });

  test('first and last log entries are those docker logs --timestamps printed', () => {
    for (const [name, id] of Object.entries(ids)) {
      const file = path.join(f.dir, 'oracles', 'logs', `${name}.ts.txt`);
      if (!fs.existsSync(file)) continue;
      const stamps = [...fs.readFileSync(file, 'utf8').matchAll(LOG_TS)].map((m) => timeNs(m[1]!)!);
      const first = events.filter((e) => e.kind === 'container.log-first' && e.containerId === id).map((e) => e.ns);
      const last = events.filter((e) => e.kind === 'container.log-last' && e.containerId === id).map((e) => e.ns);
      if (stamps.length === 0) {
        assert.deepEqual([first, last], [[], []], name);
        continue;
      }
      assert.deepEqual(first, [stamps[0]], `${name} first`);
      if (stamps.length > 1) assert.deepEqual(last, [stamps[stamps.length - 1]], `${name} last`);
    }
  });

  test('JSONL and CSV parse back, one record per event, exact times', () => {
    const lines = timelineJsonl(events).split('\n');
    assert.equal(lines.pop(), '');
    assert.equal(lines.length, events.length);
    const rows = parseCsv(timelineCsv(events));
    assert.deepEqual(rows[0], [...CSV_COLUMNS]);
    assert.equal(rows.length, events.length + 1);
    events.forEach((e, i) => {
      const o = JSON.parse(lines[i]!);
      assert.equal(o.message, e.message);
      assert.equal(o.timestamp_desc, e.desc);
      assert.equal(o.timestamp_ns, e.ns.toString());
      assert.equal(BigInt(o.timestamp), e.ns / 1000n);
      assert.match(o.datetime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}\+00:00$/);
      const r = rows[i + 1]!;
      assert.equal(r.length, CSV_COLUMNS.length);
      assert.deepEqual([r[0], r[1], r[2], r[4]], [o.message, o.datetime, o.timestamp_desc, o.timestamp_ns]);
    });
    assert.ok(!/[\x00-\x09\x0b-\x1f\x7f]/.test(timelineTable(events)));
  });

  test('bodyfile: 11 fields a line, upper dirs as /<name>/path with whiteouts, Docker metadata files', () => {
    const findings = new Findings();
    const lines = [...bodyfileEntries(L.model, L.paths, findings)].map(bodyfileLine);
    assert.deepEqual(findings.list.filter((x) => x.severity !== 'info'), []);
    for (const l of lines) assert.equal(l.split('|').length, 11, l);
    // a symlink's name is followed by " -> target", as fls -m writes it
    const byName = new Map(lines.map((l) => l.split('|')).map((r) => [r[3]!.startsWith('l/') ? r[1]!.replace(/ -> .*$/, '') : r[1]!, r]));
    const changes = oracle<{ Path: string; Kind: number }[]>(f, 'container-changes/changes.json');
    for (const c of changes) {
      if (c.Kind !== 2) assert.ok(byName.has(`/changes${c.Path}`), `/changes${c.Path}`);
      else assert.ok(byName.has(`/changes${c.Path} (whiteout)`) || byName.get(`/changes${path.posix.dirname(c.Path)}`)?.[3]?.startsWith('d/'), `deleted ${c.Path}`);
    }
    assert.equal(byName.get('/changes/opt/old (whiteout)')?.[3], 'w/c---------');
    assert.equal(byName.get('/changes/usr/local/sbin/suidtool')?.[3], 'r/rrwsr-xr-x');
    assert.deepEqual([byName.get('/changes/passwd-link')?.[1], byName.get('/changes/passwd-link')?.[3]], ['/changes/passwd-link -> /etc/passwd', 'l/lrwxrwxrwx']);
    for (const id of Object.values(ids)) assert.ok(byName.has(L.paths.abs(`containers/${id}/config.v2.json`)), id);
    assert.ok(!lines.some((l) => /\/diff\/(etc|bin|usr)\//.test(l.split('|')[1]!)), 'no layer content under the data root');
  });
}

for (const f of fixtures) {
  describe(`${f.name}: audit (archive)`, () => checkAudit(f, () => loadArchive(f)));
  describe(`${f.name}: timeline (archive)`, () => checkTimeline(f, () => loadArchive(f)));
  describe(`${f.name}: timeline (extracted directory)`, { skip: canExtract() ? false : 'extraction needs root (devices, trusted.* xattrs)' }, () => {
    checkTimeline(f, () => loadExtracted(f));
    test('directory evidence gives inode numbers and the same entries as the archive', async () => {
      const [a, d] = [await loadArchive(f), await loadExtracted(f)];
      const rows = (l: Loaded) => [...bodyfileEntries(l.model, l.paths, new Findings(), { metadata: false })].map((e) => bodyfileLine(e).split('|'));
      const [ra, rd] = [rows(a), rows(d)];
      assert.deepEqual(rd.map((r) => r[1]).sort(), ra.map((r) => r[1]).sort());
      assert.ok(rd.every((r) => /^[1-9]\d*$/.test(r[2]!)));
      const mtime = new Map(ra.map((r) => [r[1], r[8]]));
      for (const r of rd) if (!r[3]!.startsWith('d/')) assert.equal(r[8], mtime.get(r[1]), `mtime of ${r[1]}`);
    });
  });
}
