/**
 * `dockscope logs` against `docker logs` as the real engine printed it, for every container of
 * every fixture that has `oracles/logs/`: stdout and stderr byte for byte, `--timestamps` output
 * (the oracle merges both streams in the order docker sent them), --tail/--since/--until derived
 * from that oracle, the files read against `oracles/log-files.txt`, and the CLI itself, piped.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { before, describe, test } from 'node:test';
import {
  dockerBytes,
  joinPartials,
  planLogs,
  readLogEntries,
  selectEntries,
  writeDockerLogs,
  type LogPlan,
  type LogQuery,
  type OutputOptions,
  type PlanOptions,
} from '../../src/analysis/logs.js';
import { forTerminal } from '../../src/cli/logs.js';
import { buildModel, type Model } from '../../src/model/graph.js';
import { resolveContainer } from '../../src/model/resolve.js';
import { openEvidence } from '../../src/source/open.js';
import { Findings } from '../../src/store/findings.js';
import { parseGoTime, type LogEntry } from '../../src/store/jsonlog.js';
import { BIN } from '../helpers/cli.js';
import { HOLDOUT, listFixtures, oracle, REPO, type Fixture } from '../helpers/fixtures.js';

const fixtures = listFixtures().filter((f) => fs.existsSync(path.join(f.dir, 'oracles', 'logs')));

test('there is at least one fixture with docker logs oracles', { skip: HOLDOUT && 'DOCKSCOPE_FIXTURES' }, () => {
  assert.ok(fixtures.length > 0);
});

function logOracle(f: Fixture, file: string): Buffer {
  return fs.readFileSync(path.join(f.dir, 'oracles', 'logs', file));
}

/** Container names with a `docker logs` oracle, read synchronously so tests can be declared per name. */
function oracleNames(f: Fixture): string[] {
  return fs
    .readdirSync(path.join(f.dir, 'oracles', 'logs'))
    .filter((n) => n.endsWith('.stdout'))
    .map((n) => n.slice(0, -'.stdout'.length))
    .sort();
}

interface Run {
  stdout: Buffer;
  stderr: Buffer;
  /** Both streams in the order written, as `2>&1` gives them. */
  merged: Buffer;
  entries: LogEntry[];
  findings: Findings;
  plan: LogPlan;
}

async function runLogs(model: Model, name: string, o: OutputOptions = {}, q: LogQuery = {}, p: PlanOptions = {}): Promise<Run> {
  const c = resolveContainer(model, name);
  const findings = new Findings();
  const plan = planLogs(model.src, c.record, findings, p);
  const out = { stdout: [] as Buffer[], stderr: [] as Buffer[], merged: [] as Buffer[] };
  const entries: LogEntry[] = [];
  const opts = { ...o, tty: plan.tty };
  await writeDockerLogs(
    selectEntries(readLogEntries(model.src, plan, findings), q),
    opts,
    {
      write(to, e) {
        const b = dockerBytes(e, opts);
        out[to].push(b);
        out.merged.push(b);
        entries.push(e);
      },
    },
    findings,
  );
  return { stdout: Buffer.concat(out.stdout), stderr: Buffer.concat(out.stderr), merged: Buffer.concat(out.merged), entries, findings, plan };
}

/** Splits `docker logs --timestamps` output into one segment per entry (each starts with its time). */
function segments(ts: Buffer): { time: bigint; bytes: Buffer }[] {
  const text = ts.toString('latin1');
  const re = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z /g;
  const starts: number[] = [];
  for (let m = re.exec(text); m; m = re.exec(text)) starts.push(m.index);
  return starts.map((s, i) => ({ time: parseGoTime(text.slice(s, s + 30))!.ns, bytes: ts.subarray(s, starts[i + 1] ?? ts.length) }));
}

const cat = (segs: { bytes: Buffer }[]) => Buffer.concat(segs.map((s) => s.bytes));

function show(b: Buffer): string {
  return JSON.stringify(b.length > 300 ? b.subarray(0, 150).toString('latin1') + ' … ' + b.subarray(-150).toString('latin1') : b.toString('latin1'));
}

function assertBytes(got: Buffer, want: Buffer, what: string): void {
  if (got.equals(want)) return;
  let i = 0;
  while (i < got.length && i < want.length && got[i] === want[i]) i++;
  assert.fail(`${what}: ${got.length} bytes vs docker's ${want.length}, first difference at byte ${i}: got ${show(got.subarray(Math.max(0, i - 40), i + 40))}, docker ${show(want.subarray(Math.max(0, i - 40), i + 40))}`);
}

for (const f of fixtures) {
  describe(`docker logs oracle: ${f.name}`, () => {
    let model: Model;
    const names = oracleNames(f);
    const ids = oracle<{ containers: Record<string, string> }>(f, 'names.json').containers;
    const version = oracle<{ Version: string }>(f, 'version.json').Version;
    const major = Number(/^(\d+)/.exec(version)![1]);

    before(async () => {
      const ev = await openEvidence(f.archive);
      model = buildModel(ev.root);
    });

    for (const name of names) {
      test(`${name}: stdout, stderr and --timestamps equal docker logs byte for byte`, async () => {
        assert.equal(resolveContainer(model, name).id, ids[name]);
        const plain = await runLogs(model, name);
        assertBytes(plain.stdout, logOracle(f, `${name}.stdout`), `${name} stdout`);
        assertBytes(plain.stderr, logOracle(f, `${name}.stderr`), `${name} stderr`);
        const ts = await runLogs(model, name, { timestamps: true });
        assertBytes(ts.merged, logOracle(f, `${name}.ts.txt`), `${name} --timestamps 2>&1`);
        assert.deepEqual(
          plain.findings.list.filter((x) => x.severity !== 'info'),
          [],
        );
      });
    }

    test('the files read are the log files on disk (oracles/log-files.txt)', async () => {
      const listing = fs.readFileSync(path.join(f.dir, 'oracles', 'log-files.txt'), 'utf8').trim().split('\n');
      assert.ok(listing.length > 0);
      const plans = new Map<string, LogPlan>();
      for (const row of listing) {
        const [name, size, rel] = row.split(' ');
        if (!plans.has(name!)) plans.set(name!, (await runLogs(model, name!)).plan);
        const plan = plans.get(name!)!;
        const file = plan.files.find((x) => x.path === `containers/${ids[name!]}/${rel}`);
        assert.ok(file, `${name}: ${rel} is not read (read: ${plan.files.map((x) => x.path).join(', ')})`);
        assert.equal(file.size, Number(size), `${name} ${rel} size`);
      }
      for (const [name, plan] of plans) {
        assert.equal(plan.files.length, listing.filter((r) => r.startsWith(`${name} `)).length, `${name}: files read`);
        assert.deepEqual(plan.ignored, []);
      }
    });

    test(`the engine guess from the container files matches the engine that wrote the fixture (${version})`, async () => {
      const bucket = (m: number) => (m < 22 ? 20 : m < 24 ? 23 : 24);
      for (const name of names) {
        const { plan } = await runLogs(model, name);
        assert.equal(bucket(plan.engine), bucket(major), `${name}: ${plan.engineReason}`);
        assert.equal(plan.legacyNewline, major < 22, name);
      }
    });

    test('the engine setting is not a no-op: the other setting would not match docker for a split local line', async (t) => {
      const locals: string[] = [];
      for (const name of names) if ((await runLogs(model, name)).plan.format === 'local') locals.push(name);
      if (locals.length === 0) return t.skip('no local-driver container');
      let differs = 0;
      for (const name of locals) {
        const other = await runLogs(model, name, {}, {}, { engineVersion: major < 22 ? '26.1' : '20.10' });
        const ts = (await runLogs(model, name)).entries.some((e) => e.partialId !== undefined && e.eol);
        if (ts) {
          assert.ok(!other.stdout.equals(logOracle(f, `${name}.stdout`)), name);
          differs++;
        }
      }
      assert.ok(differs > 0, 'a local container with a split line');
    });

    test('--tail, --since and --until select the entries docker would (derived from the --timestamps oracle)', async (t) => {
      let checked = 0;
      let tellingCases = 0;
      for (const name of names) {
        const segs = segments(logOracle(f, `${name}.ts.txt`));
        if (segs.length < 20) continue;
        checked++;
        const ts = (q: LogQuery) => runLogs(model, name, { timestamps: true }, q).then((r) => r.merged);
        const { entries, plan } = await runLogs(model, name, { timestamps: true });
        assert.equal(entries.length, segs.length, `${name}: one entry per timestamp`);
        for (const n of [1, 7, segs.length - 1, segs.length + 5]) assertBytes(await ts({ tail: n }), cat(segs.slice(-n)), `${name} --tail ${n}`);
        assert.equal((await ts({ tail: 0 })).length, 0);
        // engines before 24 test every entry against --since; 24+ stop testing after the first pass
        const each = (at: bigint) => segs.filter((s) => s.time >= at);
        const suffix = (at: bigint) => segs.slice(segs.findIndex((s) => s.time >= at));
        // where out-of-order times make the two rules differ, that case is checked too
        const telling = segs.findIndex((s) => each(s.time).length !== suffix(s.time).length);
        if (telling >= 0) tellingCases++;
        for (const k of [1, Math.floor(segs.length / 2), segs.length - 3, ...(telling >= 0 ? [telling] : [])]) {
          const at = segs[k]!.time;
          const want = major < 24 ? each(at) : suffix(at);
          assertBytes(await ts({ since: at, sinceEachEntry: plan.engine < 24 }), cat(want), `${name} --since segment ${k}`);
          const stop = segs.findIndex((s) => s.time > at);
          assertBytes(await ts({ until: at }), cat(segs.slice(0, stop < 0 ? undefined : stop)), `${name} --until segment ${k}`);
        }
        // --stream: docker's ShowStdout/ShowStderr
        const onlyErr = await runLogs(model, name, { stdout: false });
        assert.equal(onlyErr.stdout.length, 0);
        assertBytes(onlyErr.stderr, logOracle(f, `${name}.stderr`), `${name} --stream stderr`);
      }
      assert.ok(checked >= 2, 'containers with enough log to slice');
      t.diagnostic(`${tellingCases} containers with out-of-order times that tell the --since rules apart`);
    });

    test('--json: joined lines rebuild what docker printed per stream', async () => {
      for (const name of names) {
        const r = await runLogs(model, name);
        if (r.plan.format === 'local' && r.plan.legacyNewline) continue; // docker itself drops a newline there
        const lines = [];
        for await (const l of joinPartials(Readable.from(r.entries))) lines.push(l);
        for (const stream of ['stdout', 'stderr'] as const) {
          const rebuilt = lines
            .filter((l) => l.stream === stream)
            .map((l) => l.line + (l.complete ? '\n' : ''))
            .join('');
          assert.equal(rebuilt, logOracle(f, `${name}.${stream}`).toString('utf8'), `${name} ${stream}`);
        }
        if (name === 'logs-default' || name === 'logs-local') assert.ok(lines.some((l) => l.partials > 1 && l.line.length === 20000 && l.complete), `${name}: the 20000-byte line joined`);
      }
    });

    test('on a terminal every entry is escaped: no control character but the line feed', async () => {
      for (const name of names) {
        const r = await runLogs(model, name, { timestamps: true });
        for (const e of r.entries) {
          const s = forTerminal(e, { timestamps: true });
          assert.doesNotMatch(s.replace(/\n$/, ''), /[\u0000-\u001f\u007f-\u009f]/, `${name} @${e.offset}`);
        }
      }
    });

    test('the CLI, piped, writes exactly what docker logs wrote', async () => {
      // the real binary: main's global options and output handling included
      const cli = (args: string[]) => spawnSync(process.execPath, [...BIN, ...args], { cwd: REPO, maxBuffer: 64 << 20 });
      for (const name of names.filter((n) => n === 'logs' || n === 'logs-local')) {
        const r = cli(['logs', name, '--root', f.archive]);
        assert.ok(r.status === 0 || r.status === 3, `${name}: exit ${r.status}: ${r.stderr}`);
        assertBytes(r.stdout, logOracle(f, `${name}.stdout`), `CLI ${name} stdout`);
        assertBytes(r.stderr, logOracle(f, `${name}.stderr`), `CLI ${name} stderr`);
        const ts = cli(['logs', '-t', '--stream', 'stdout', name, '--root', f.archive]);
        assert.equal(ts.stderr.length, 0, String(ts.stderr));
        const viaApi = await runLogs(model, name, { timestamps: true, stderr: false });
        assert.ok(viaApi.stdout.length > 0);
        assertBytes(ts.stdout, viaApi.stdout, `CLI ${name} -t --stream stdout`);
        const j = cli(['logs', '--json', '--tail', '3', name, '--root', f.archive]);
        assert.ok(j.status === 0 || j.status === 3, `${name} --json: exit ${j.status} ${j.signal ?? ''}: ${j.stderr}`);
        const objs = String(j.stdout)
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { stream: string; time: string });
        assert.ok(objs.length >= 1 && objs.length <= 3, String(j.stdout));
        assert.ok(objs.every((o) => /^\d{4}-\d\d-\d\dT.*\.\d{9}Z$/.test(o.time)));
      }
      const bad = cli(['logs', names[0]!, '--root', f.archive, '--since', 'not a time']);
      assert.equal(bad.status, 2);
      const missing = cli(['logs', 'no-such-container', '--root', f.archive]);
      assert.equal(missing.status, 1);
    });
  });
}
