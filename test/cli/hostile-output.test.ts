/**
 * Issue 7, end to end: every command, as an analyst runs it, over a real-engine store with
 * attacker-written values planted in the places evidence strings reach the output (store and
 * driver names, container and network names, labels, env, host config, tags, volume directories,
 * the data root's own layout) and values nested far deeper than JSON.stringify can recurse.
 * Human output (stdout and stderr) must hold no raw control or bidi character but the line feed;
 * --json must parse and keep the planted strings exact; nothing may crash (exit 70).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { limits } from '../../src/source/limits.js';
import { openEvidence } from '../../src/source/open.js';
import { before, describe, test } from 'node:test';
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { CliResult } from '../helpers/cli.js';
import { everything } from '../helpers/everything.js';
import { listFixtures, oracle, REPO } from '../helpers/fixtures.js';
import { variant, type Header } from '../helpers/variant.js';

const f = listFixtures((n) => n === 'overlay2-20.10')[0]!;
const D = 'var/lib/docker';
const names = oracle<{ containers: Record<string, string>; images: Record<string, string> }>(f, 'names.json');
const CHANGES = names.containers.changes!;
const VOLS = names.containers.vols!;
const APP = names.images['fx/app:1']!.slice(7);
/** A new image (config written by the attacker, on fx/app:1's layers), tagged fx/evil:1 and fx/evil:<ESC>. */
let EVIL = '';

/** Raw characters a terminal acts on (C0 but LF, DEL, C1, bidi embeddings/overrides/isolates). */
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

const ESC = '\u001b[31m';
const OSC = '\u001b]0;pwned\u0007';
const STORE = `overlay2${ESC}`;
const NET = `net${OSC}`;
const VOL = `vol${ESC}x`;
const DEPTH = 20_000;

/** A marker that deep() turns into an array nested DEPTH deep around `leaf` (JSON.stringify here would overflow too). */
const nest = (_depth: number, leaf: string) => `@@DEEP@@${leaf}`;
const deep = (json: string) => Buffer.from(json.replace(/"@@DEEP@@(\w+)"/g, (_m, leaf: string) => `${'['.repeat(DEPTH)}"${leaf}"${']'.repeat(DEPTH)}`));

function depthOf(v: unknown): number {
  let d = 0;
  for (let x = v; Array.isArray(x); d++) x = x[0];
  return d;
}

const dir = (name: string) => ({ header: { name, type: 'directory', mode: 0o755 } as Header });
const file = (name: string, body: string | Buffer) => ({ header: { name, type: 'file', mode: 0o644, size: Buffer.byteLength(body) } as Header, body: Buffer.from(body) });

let root: string;

before(async () => {
  const doc = JSON.parse((await openEvidence(f.archive)).root.readFile(`image/overlay2/imagedb/content/sha256/${APP}`, limits.metadataBytes).toString());
  doc.config.Cmd = nest(DEPTH, 'icmd');
  doc.config.Labels = { [`l${ESC}`]: OSC };
  doc.author = `a${ESC}`;
  const evilConfig = deep(JSON.stringify(doc));
  EVIL = createHash('sha256').update(evilConfig).digest('hex');
  root = await variant(
    f.archive,
    (n, b) => {
      if (n === `${D}/containers/${CHANGES}/config.v2.json`) {
        const doc = JSON.parse(b.toString());
        doc.Config.Labels = { ...(doc.Config.Labels ?? {}), [`k${OSC}`]: `v\u202eal`, deep: nest(DEPTH, 'leaf') };
        doc.Config.Env = [...(doc.Config.Env ?? []), `A=${ESC}`, nest(DEPTH, 'env')];
        doc.Config.Cmd = nest(DEPTH, 'cmd');
        doc.NetworkSettings = { ...(doc.NetworkSettings ?? {}), Networks: { ...(doc.NetworkSettings?.Networks ?? {}), [NET]: { NetworkID: '' } } };
        return { body: deep(JSON.stringify(doc)) };
      }
      if (n === `${D}/containers/${CHANGES}/hostconfig.json`) {
        const doc = JSON.parse(b.toString());
        doc.Binds = [`/h${ESC}ost:/mnt`];
        doc.SecurityOpt = [`label${ESC}`, nest(DEPTH, 'opt')];
        return { body: deep(JSON.stringify(doc)) };
      }
      if (n === `${D}/image/overlay2/repositories.json`) {
        const doc = JSON.parse(b.toString());
        doc.Repositories['fx/evil'] = { 'fx/evil:1': `sha256:${EVIL}`, [`fx/evil:${ESC}`]: `sha256:${EVIL}` };
        return { body: Buffer.from(JSON.stringify(doc)) };
      }
      return undefined;
    },
    [
      file(`${D}/image/overlay2/imagedb/content/sha256/${EVIL}`, evilConfig),
      // a second store named by an attacker (a directory under image/), and a volume directory
      dir(`${D}/image/${STORE}/`),
      dir(`${D}/volumes/${VOL}/`),
      dir(`${D}/volumes/${VOL}/_data/`),
      file(`${D}/volumes/${VOL}/_data/f${OSC}`, 'x'),
    ],
  );
  // every run starts now; the tests below await their own
  for (const [args, json] of COMMANDS) {
    start(args);
    if (json) start([...args, '--json']);
  }
});

/** The real binary, as helpers/cli.ts runs it (colour off), but asynchronous: the runs below overlap. */
function cliAsync(args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO, 'bin/dockscope.js'), ...args], { env: { ...process.env, NO_COLOR: '1' } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });
}

/** Every command line run below, human and --json; started together in before() (three at a time). */
const runs = new Map<string, Promise<CliResult>>();
const key = (args: string[]) => args.join('\u0000');
let queue: Promise<unknown>[] = [];

function start(args: string[]): void {
  if (runs.has(key(args))) return;
  const slot = queue.length >= 3 ? queue.shift()! : Promise.resolve();
  const p = slot.then(() => cliAsync(['--root', root, ...args]));
  queue.push(p.catch(() => undefined));
  runs.set(key(args), p);
}

const OK = [0, 3, 4, 5, 6];

/** One command, checked both ways: human output escaped (stdout and stderr), --json parses. Returns the JSON. */
async function both(args: string[], json = true): Promise<unknown> {
  const h = await runs.get(key(args))!;
  assert.ok(OK.includes(h.code), `${args.join(' ')} exited ${h.code}: ${h.stderr.slice(0, 2000)}`);
  for (const [stream, text] of [['stdout', h.stdout], ['stderr', h.stderr]] as const) {
    const m = RAW.exec(text);
    assert.ok(!m, `${args.join(' ')}: raw U+${m?.[0].codePointAt(0)!.toString(16).padStart(4, '0')} on ${stream} near ${JSON.stringify(text.slice(Math.max(0, (m?.index ?? 0) - 60), (m?.index ?? 0) + 10))}`);
  }
  if (!json) return undefined;
  const j = await runs.get(key([...args, '--json']))!;
  assert.ok(OK.includes(j.code), `${args.join(' ')} --json exited ${j.code}: ${j.stderr.slice(0, 2000)}`);
  assert.ok(!RAW.test(j.stderr), `${args.join(' ')} --json: raw control character on stderr`);
  return JSON.parse(j.stdout);
}

const human = async (args: string[]) => (await runs.get(key(args))!).stdout;

const COMMANDS: [string[], boolean][] = [
  [['info', '-v'], true],
  [['images', '-a', '--digests'], true],
  [['history', 'fx/evil:1', '--no-trunc'], true],
  [['image', 'fx/evil:1'], true],
  [['containers', '-a', '--no-trunc'], true],
  [['container', CHANGES], true],
  [['container', CHANGES, '--mounts'], true],
  [['container', VOLS, '--mounts'], true],
  [['verify', 'fx/evil:1', '--no-content'], true],
  [['orphans'], false],
  [['diff', CHANGES], false],
  [['diff', CHANGES, '--long', '--no-hash'], true],
  [['fs', CHANGES, 'ls', '/'], false],
  [['fs', CHANGES, 'stat', '/etc'], false],
  [['volumes'], true],
  [['volume', VOL], true],
  [['networks'], true],
  [['network', NET], true],
  [['audit'], true],
  [['timeline', '--no-logs'], false],
];


describe('every command over hostile evidence', () => {
  test('the in-process answers (test/helpers/everything.ts, the commands fuzz target) hold no raw control character', async () => {
    const { human: text, json } = await everything(root);
    const m = RAW.exec(text);
    assert.ok(!m, `raw character near ${JSON.stringify(text.slice(Math.max(0, (m?.index ?? 0) - 60), (m?.index ?? 0) + 10))}`);
    for (const j of json) JSON.parse(j);
  });

  test('info: store names (layout and contents) and findings are escaped; --json keeps them exact', async () => {
    const info = (await both(['info', '-v'])) as { Stores: { Name: string }[] };
    assert.ok(info.Stores.some((s) => s.Name === STORE), 'the hostile store name, exact, in --json');
    const h = await human(['info', '-v']);
    assert.ok(h.includes('image/overlay2\\x1b[31m'), 'the store name shown escaped');
    assert.ok(h.includes('fx/evil:\\\\u001b[31m'), 'the unparsable tag, quoted (JSON) in a finding, shown escaped');
  });

  test('images, image, history: author and labels escaped; a Cmd nested 20,000 deep is shown, and exact in --json', async () => {
    await both(['images', '-a', '--digests']);
    await both(['history', 'fx/evil:1', '--no-trunc']);
    const img = (await both(['image', 'fx/evil:1'])) as { Config: { Cmd: unknown; Labels: Record<string, string> }; Author: string };
    assert.equal(depthOf(img.Config.Cmd), DEPTH);
    assert.equal(img.Config.Labels[`l${ESC}`], OSC);
    assert.equal(img.Author, `a${ESC}`);
    const h = await human(['image', 'fx/evil:1']);
    assert.ok(/Cmd: +\[\[\[\[/.test(h), 'the nested Cmd is shown');
    assert.ok(h.includes('a\\x1b[31m'), 'the author shown escaped');
  });

  test('containers, container, container --mounts: labels, env, host config, nested values', async () => {
    await both(['containers', '-a', '--no-trunc']);
    const c = (await both(['container', CHANGES])) as { Config: { Env: unknown[]; Labels: Record<string, unknown>; Cmd: unknown }; HostConfig: { SecurityOpt: unknown[] } };
    assert.equal(depthOf(c.Config.Cmd), DEPTH);
    assert.equal(depthOf(c.Config.Env.at(-1)), DEPTH);
    assert.equal(depthOf(c.Config.Labels.deep), DEPTH);
    assert.equal(depthOf(c.HostConfig.SecurityOpt[1]), DEPTH);
    assert.equal(c.Config.Labels[`k${OSC}`], 'v\u202eal');
    const h = await human(['container', CHANGES]);
    assert.ok(h.includes('k\\x1b]0;pwned\\x07=v\\u{202e}al'), 'the label shown escaped');
    // JSON of the value (\u001b), then escaped for the terminal (\\u001b)
    assert.ok(/SecurityOpt: +\["label\\\\u001b\[31m",\[\[\[/.test(h), 'the nested security option is shown');
    await both(['container', CHANGES, '--mounts']);
    await both(['container', VOLS, '--mounts']);
  });

  test('chain, verify, orphans, diff, fs', async () => {
    const c = (await both(['container', CHANGES])) as { Dockscope: { MountID: string } };
    const chain = ['chain', c.Dockscope.MountID];
    start(chain);
    start([...chain, '--json']);
    await both(chain);
    await both(['verify', 'fx/evil:1', '--no-content']);
    await both(['orphans'], false);
    await both(['diff', CHANGES], false);
    await both(['diff', CHANGES, '--long', '--no-hash']);
    await both(['fs', CHANGES, 'ls', '/'], false);
    await both(['fs', CHANGES, 'stat', '/etc'], false);
  });

  test('volumes, networks, audit, timeline', async () => {
    const vols = (await both(['volumes'])) as { Volumes: { Name: string }[] };
    assert.ok(vols.Volumes.some((v) => v.Name === VOL), 'the hostile volume name, exact, in --json');
    await both(['volume', VOL]);
    const nets = (await both(['networks'])) as { Networks: { Name: string }[] };
    assert.ok(nets.Networks.some((n) => n.Name === NET), 'the hostile network name, exact, in --json');
    await both(['network', NET]);
    await both(['audit']);
    await both(['timeline', '--no-logs'], false);
  });
});
