/**
 * `dockscope export` against `docker export` of the same containers (`oracles/export/<name>.txt`
 * is `docker export | tar --numeric-owner -tvf -` with TZ=UTC, `.list` is `tar -tf`): our tar,
 * listed by the same GNU tar, must show the same entries in the same order with the same type,
 * mode, owner, size, minute and link target — from the archive in place and from an extracted
 * copy. Then the `fs` views of the same merged tree and the CLI, including the refusals that keep
 * output out of the evidence, and a before/after metadata snapshot of the extracted evidence.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { writeExport } from '../../src/analysis/export.js';
import { imageStack, MergedFs, openView, resolveTarget } from '../../src/analysis/mergedfs.js';
import { buildModel, type Model } from '../../src/model/graph.js';
import { openEvidence } from '../../src/source/open.js';
import { BIN, cliBytes } from '../helpers/cli.js';
import { canExtract, extractFixture, HOLDOUT, listFixtures, oracle, oracleFiles, type Fixture } from '../helpers/fixtures.js';

const fixtures = listFixtures((n) => n.startsWith('overlay2-'));

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dockscope-export-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

/** Runs the CLI with a pseudo-terminal as stdout (util-linux script), stderr merged in. */
function runOnTty(args: string[]): { code: number; out: string } {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const cmd = [process.execPath, ...BIN, ...args].map(q).join(' ');
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status ?? -1, out: r.stdout };
}

const hasScript = fs.existsSync('/usr/bin/script');

let seq = 0;
const tmpTar = () => path.join(tmp, `out-${++seq}.tar`);

/** GNU tar's verbose listing, columns re-spaced (its widths adapt to the archive). */
function tarListing(file: string, verbose = true): string[] {
  const out = execFileSync('tar', [verbose ? '--numeric-owner' : '', verbose ? '-tvf' : '-tf', file].filter(Boolean), { env: { ...process.env, TZ: 'UTC' }, encoding: 'utf8', maxBuffer: 64 << 20 });
  return out.split('\n').filter(Boolean).map((l) => (verbose ? l.trim().split(/\s+/).join(' ') : l));
}

function oracleListing(f: Fixture, file: string, verbose = true): string[] {
  return fs
    .readFileSync(path.join(f.dir, 'oracles', 'export', file), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => (verbose ? l.trim().split(/\s+/).join(' ') : l));
}

async function exportTo(view: MergedFs, file: string) {
  return writeExport(view, fs.createWriteStream(file));
}

function checkExports(f: Fixture, load: () => Promise<Model>) {
  let model: Model;
  before(async () => {
    model = await load();
  });
  const exported = oracleFiles(f, 'export').filter((n) => n.endsWith('.txt')).map((n) => n.slice(0, -4));

  test('the fixture has docker export oracles', () => {
    assert.ok(exported.length >= 3, exported.join(','));
  });

  for (const name of exported) {
    test(`${name}: same entries, order, types, modes, owners, sizes, times and links as docker export`, async () => {
      const { view, stack } = openView(model, resolveTarget(model, name, 'container'));
      assert.deepEqual(stack.problems, []);
      const file = tmpTar();
      const s = await exportTo(view, file);
      assert.deepEqual(s.problems, []);
      assert.deepEqual(tarListing(file), oracleListing(f, `${name}.txt`));
      assert.deepEqual(tarListing(file, false), oracleListing(f, `${name}.list`, false));
    });
  }

  test('content: the changed, hard-linked and init-layer files carry the container\'s bytes', async () => {
    const { view } = openView(model, resolveTarget(model, 'changes', 'container'));
    const file = tmpTar();
    await exportTo(view, file);
    const x = path.join(tmp, `x-${++seq}`);
    fs.mkdirSync(x);
    execFileSync('tar', ['-C', x, '--numeric-owner', '-xf', file]);
    assert.match(fs.readFileSync(path.join(x, 'etc/passwd'), 'utf8'), /^backdoor:x:0:0:/m);
    assert.equal(fs.statSync(path.join(x, 'added.txt')).ino, fs.statSync(path.join(x, 'added-hardlink.txt')).ino);
    assert.equal(fs.readFileSync(path.join(x, 'added.txt'), 'utf8'), fs.readFileSync(path.join(x, 'added-hardlink.txt'), 'utf8'));
    assert.equal(fs.readlinkSync(path.join(x, 'passwd-link')), '/etc/passwd');
    assert.equal(fs.statSync(path.join(x, 'usr/local/sbin/suidtool')).mode & 0o7777, 0o4755);
    assert.equal(fs.existsSync(path.join(x, 'opt/old')), false);
    assert.deepEqual(fs.readdirSync(path.join(x, 'opt/redo')), ['g']);
    assert.equal(fs.statSync(path.join(x, 'bin/busybox')).size, fs.statSync(path.join(x, 'bin/[')).size);
  });

  test('an image exports as the container made from it, minus the init layer', async () => {
    const created = oracleListing(f, 'created.list', false);
    const c = resolveTarget(model, 'created', 'container');
    const img = c.container!.image!;
    const view = new MergedFs(imageStack(model, img).layers);
    const file = tmpTar();
    await exportTo(view, file);
    const mine = tarListing(file, false);
    assert.ok(mine.every((n) => created.includes(n)), 'nothing the container would not have');
    const init = c.container!.mount!.initID!;
    const initView = new MergedFs([{ id: init, src: model.src.sub(`overlay2/${init}/diff`), whiteouts: 'overlay', role: 'init', path: init }]);
    const initNames = [...initView.walk(initView.root()!)].map((e) => e.path.slice(1) + (e.stat.type === 'dir' ? '/' : ''));
    assert.deepEqual(created.filter((n) => !mine.includes(n)).sort(), initNames.filter((n) => !mine.includes(n)).sort());
    assert.ok(initNames.includes('.dockerenv') && initNames.includes('dev/pts/'));
  });
}

for (const f of fixtures) {
  describe(`${f.name}: archive read in place`, () => checkExports(f, async () => buildModel((await openEvidence(f.archive)).root)));
  describe(`${f.name}: extracted copy`, { skip: canExtract() ? false : 'extracting devices and xattrs needs root' }, () =>
    checkExports(f, async () => buildModel((await openEvidence(extractFixture(f))).root)),
  );
}

test('there are overlay2 fixtures with export oracles', { skip: HOLDOUT && 'DOCKSCOPE_FIXTURES' }, () => {
  assert.ok(fixtures.length >= 2);
});

describe('CLI: export, fs', () => {
  const f = fixtures[0]!;
  const R = ['--root', f.archive];

  test('export -o FILE and -o - give docker export\'s entries; existing files need --force', () => {
    const file = tmpTar();
    const r = cliBytes([...R, 'export', 'changes', '-o', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /exported container changes .* 324 entries/);
    assert.deepEqual(tarListing(file), oracleListing(f, 'changes.txt'));
    const again = cliBytes([...R, 'export', 'changes', '-o', file]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /exists/);
    assert.equal(cliBytes([...R, 'export', 'changes', '-o', file, '--force']).code, 0);
    const piped = cliBytes([...R, 'export', 'renamed', '-o', '-']);
    assert.equal(piped.code, 0, piped.stderr);
    const list = execFileSync('tar', ['-tf', '-'], { input: piped.stdout, encoding: 'utf8' }).split('\n').filter(Boolean);
    assert.deepEqual(list, oracleListing(f, 'renamed.list', false));
    const img = cliBytes([...R, 'export', 'fx/base:1', '-o', tmpTar()]);
    assert.equal(img.code, 0, img.stderr);
    assert.match(img.stderr, /exported image fx\/base:1/);
  });

  test('export never writes into the evidence', { skip: canExtract() ? false : 'needs the extracted copy' }, () => {
    assert.equal(cliBytes([...R, 'export', 'changes', '-o', f.archive]).code, 2);
    const top = extractFixture(f);
    const inside = path.join(top, 'var', 'exported.tar');
    const r = cliBytes(['--root', top, 'export', 'changes', '-o', inside]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /inside the evidence/);
    assert.equal(fs.existsSync(inside), false);
  });

  test('fs ls / stat / cat / find', () => {
    const ls = JSON.parse(cliBytes([...R, '--json', 'fs', 'changes', 'ls', '/data']).stdout.toString());
    assert.deepEqual(ls.map((e: { name: string }) => e.name), ['a3', 'abs-sym', 'hl', 'hl-src', 'sub', 'sym']);
    assert.equal(ls.find((e: { name: string }) => e.name === 'a3').layer.label, 'upper');
    // /passwd-link -> /etc/passwd is resolved in the container: the backdoored file, never the analyst's.
    const cat = cliBytes([...R, 'fs', 'changes', 'cat', '/passwd-link']);
    assert.equal(cat.code, 0, cat.stderr);
    assert.match(cat.stdout.toString(), /^backdoor:x:0:0:/m);
    assert.notEqual(cat.stdout.toString(), fs.existsSync('/etc/passwd') ? fs.readFileSync('/etc/passwd', 'utf8') : '');
    const bin = cliBytes([...R, 'fs', 'fx/base:1', 'cat', '/bin/busybox']);
    assert.equal(bin.code, 0);
    assert.equal(bin.stdout.subarray(0, 4).toString('latin1'), '\x7fELF', 'raw bytes to a pipe');
    assert.equal(cliBytes([...R, 'fs', 'changes', 'cat', '/data/sym']).code, 1, '/data/sym -> a2, renamed away: dangling');
    assert.equal(cliBytes([...R, 'fs', 'changes', 'cat', '/etc']).code, 1);
    const st = JSON.parse(cliBytes([...R, '--json', 'fs', 'changes', 'stat', '/etc/motd']).stdout.toString());
    assert.equal(st.Entry, null);
    assert.deepEqual(st.Layers.map((l: { what: string }) => l.what), ['whiteout', 'entry'], 'deleted in an image layer, still in the base');
    const stl = JSON.parse(cliBytes([...R, '--json', 'fs', 'changes', 'stat', '/passwd-link']).stdout.toString());
    assert.equal(stl.Entry.type, 'symlink');
    assert.equal(stl.ResolvesTo, '/etc/passwd');
    const found = cliBytes([...R, 'fs', 'changes', 'find', '/', '--layer', 'upper', '--type', 'f', '--name', '*.txt', '--name', 'x*']);
    assert.equal(found.code, 0, found.stderr);
    assert.deepEqual(found.stdout.toString().split('\n').filter(Boolean), ['/added-hardlink.txt', '/added.txt', '/etc/cron.d/x', '/usr/local/bin/xmrig']);
    const newer = cliBytes([...R, 'fs', 'changes', 'find', '/etc', '--newer-than', '/etc/hosts', '--type', 'f']);
    assert.ok(newer.stdout.toString().split('\n').includes('/etc/passwd'));
    assert.ok(!newer.stdout.toString().split('\n').includes('/etc/group'));
    assert.equal(cliBytes([...R, 'fs', 'changes', 'find', '/', '--newer', 'not-a-time']).code, 2);
  });

  test('on a terminal: text is shown escaped, binary is refused, a tar is never written', { skip: hasScript ? false : 'needs script(1) for a pseudo-terminal' }, () => {
    const text = runOnTty([...R, 'fs', 'changes', 'cat', '/etc/passwd']);
    assert.equal(text.code, 0, text.out);
    assert.match(text.out, /backdoor:x:0:0::\/root:\/bin\/sh/);
    const bin = runOnTty([...R, 'fs', 'fx/base:1', 'cat', '/bin/busybox']);
    assert.equal(bin.code, 1);
    assert.match(bin.out, /is binary .* not written to a terminal/);
    assert.ok(!bin.out.includes('\x7fELF'));
    const tar = runOnTty([...R, 'export', 'changes', '-o', '-']);
    assert.equal(tar.code, 2);
    assert.match(tar.out, /refusing to write a tar to a terminal/);
  });

  test('export and fs leave the extracted evidence exactly as it was', { skip: canExtract() ? false : 'needs the extracted copy' }, () => {
    const top = extractFixture(f);
    const snap = () => {
      const out: string[] = [];
      const walk = (d: string) => {
        for (const n of fs.readdirSync(d).sort()) {
          const p = path.join(d, n);
          const s = fs.lstatSync(p, { bigint: true });
          out.push(`${p} ${s.mode} ${s.size} ${s.mtimeNs} ${s.ctimeNs} ${s.nlink}`);
          if (s.isDirectory()) walk(p);
        }
      };
      walk(top);
      return out;
    };
    const before = snap();
    assert.equal(cliBytes(['--root', top, 'export', 'changes', '-o', tmpTar()]).code, 0);
    assert.equal(cliBytes(['--root', top, 'fs', 'changes', 'cat', '/etc/passwd']).code, 0);
    assert.equal(cliBytes(['--root', top, 'fs', 'changes', 'find', '/']).code, 0);
    assert.equal(cliBytes(['--root', top, 'diff', 'changes', '--long']).code, 0);
    assert.deepEqual(snap(), before);
  });
});

test('oracle sanity: names.json lists the exported containers', () => {
  for (const f of fixtures) {
    const names = oracle<{ containers: Record<string, string> }>(f, 'names.json').containers;
    for (const n of oracleFiles(f, 'export').filter((x) => x.endsWith('.txt'))) assert.ok(names[n.slice(0, -4)], n);
  }
});
