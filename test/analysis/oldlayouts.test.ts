/**
 * diff / fs / export on the old drivers' layouts, over hand-made data roots built as tar archives
 * (TarSource keeps char devices and PAX xattrs, which a plain directory written without root
 * cannot hold). No engine here can write these layouts any more; each tree imitates what the
 * driver code named in its comment wrote. The real archives are checked in test/external/run.ts.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import tarStream from 'tar-stream';
import { containerDiff } from '../../src/analysis/diff.js';
import { exportPlan, writeExport } from '../../src/analysis/export.js';
import { openView, resolveTarget, type MergedFs } from '../../src/analysis/mergedfs.js';
import { chainIDs } from '../../src/model/chainid.js';
import { loadModel, type Model } from '../../src/model/graph.js';
import { openEvidence } from '../../src/source/open.js';
import { sha256Hex } from '../../src/store/digest.js';
import { buildTar, tmpFile, type TarEntry } from '../helpers/tarbuild.js';

const T0 = new Date(1_700_000_000_000);
const T1 = new Date(1_700_000_100_000);
const h = (c: string) => c.repeat(64);
const dir = (name: string, extra: Partial<TarEntry> = {}): TarEntry => ({ name: name.endsWith('/') ? name : `${name}/`, type: 'directory', mtime: T0, ...extra });
const file = (name: string, body: string, extra: Partial<TarEntry> = {}): TarEntry => ({ name, type: 'file', body, mtime: T0, ...extra });
const wh = (name: string): TarEntry => ({ name, type: 'character-device', devmajor: 0, devminor: 0, mode: 0, mtime: T1 });
const hard = (name: string, target: string): TarEntry => ({ name, type: 'link', linkname: target, mtime: T0 });
const OPAQUE = { 'SCHILY.xattr.trusted.overlay.opaque': 'y' };

/** A 1.10+ image store for `driver` (imagedb config, layerdb chain, repositories.json) as tar entries. */
function store110(driver: string, cache: string[]): { entries: TarEntry[]; imageID: string; chain: string[] } {
  const diffIDs = cache.map((_, i) => `sha256:${String(i + 1).repeat(64)}`);
  const chain = chainIDs(diffIDs);
  const cfg = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    created: '2018-01-24T04:29:35.590938514Z',
    config: { Cmd: ['sh'] },
    rootfs: { type: 'layers', diff_ids: diffIDs },
    history: cache.map((_, i) => ({ created: '2018-01-24T04:29:35Z', created_by: `step ${i}` })),
  });
  const imageID = `sha256:${sha256Hex(cfg)}`;
  const base = `image/${driver}`;
  const entries: TarEntry[] = [
    file(`${base}/imagedb/content/sha256/${imageID.slice(7)}`, cfg),
    dir(`${base}/imagedb/metadata/sha256`),
    file(`${base}/repositories.json`, JSON.stringify({ Repositories: { busybox: { 'busybox:latest': imageID } } })),
  ];
  chain.forEach((c, i) => {
    const d = `${base}/layerdb/sha256/${c.slice(7)}`;
    entries.push(file(`${d}/diff`, diffIDs[i]!), file(`${d}/size`, String(100 * (i + 1))), file(`${d}/cache-id`, cache[i]!));
    if (i > 0) entries.push(file(`${d}/parent`, chain[i - 1]!));
  });
  return { entries, imageID, chain };
}

function containerEntries(id: string, image: string, driver: string, mount: { mountID: string; initID?: string; parent: string }): TarEntry[] {
  const cfg = { ID: id, Name: '/c1', Image: image, Driver: driver, Path: 'sh', Args: [], Created: '2018-01-26T14:55:56Z', State: { Running: false }, Config: { Image: 'busybox', Cmd: ['sh'] } };
  const m = `image/${driver}/layerdb/mounts/${id}`;
  return [
    file(`containers/${id}/config.v2.json`, JSON.stringify(cfg)),
    file(`${m}/mount-id`, mount.mountID),
    ...(mount.initID ? [file(`${m}/init-id`, mount.initID)] : []),
    file(`${m}/parent`, mount.parent),
  ];
}

async function modelOf(entries: TarEntry[]): Promise<Model> {
  const ev = await openEvidence(tmpFile('root.tar', await buildTar(entries)));
  assert.equal(ev.rootPath, '');
  return loadModel(ev);
}

const names = (view: MergedFs, p: string) => view.list(view.lookup(p)!).map((e) => e.name);
const kinds = (cs: { Path: string; Kind: number }[]) => cs.map((c) => `${'CAD'[c.Kind]} ${c.Path}`);

async function exportNames(view: MergedFs): Promise<{ name: string; uid: number }[]> {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  await writeExport(view, sink);
  const out: { name: string; uid: number }[] = [];
  const ex = tarStream.extract();
  const done = (async () => {
    for await (const e of ex) {
      for await (const _ of e) void _;
      out.push({ name: e.header.name, uid: e.header.uid ?? 0 });
    }
  })();
  ex.end(Buffer.concat(chunks));
  await done;
  return out;
}

// -------------------------------------------------------------------------------------------------
// overlay (v1): moby@v20.10.0 daemon/graphdriver/overlay/overlay.go

const BASE = h('b');
const TOP = h('c');
const MOUNT = h('d');
const CID = h('e');

/**
 * Image layers: `overlay/<id>/root` full trees; TOP's root is BASE's hard-linked (`copy.DirCopy(…,
 * copy.Hardlink)`) with its diff applied naively (bin/old physically gone, etc/motd added).
 * The init layer: `upper/` with the placeholders, `lower-id` = TOP. The container layer: Create on
 * the init layer copied init's `upper/` and `lower-id`; then the container ran: deleted bin/rm
 * (kernel whiteout, char 0:0), recreated var/ opaque (trusted.overlay.opaque=y) with var/new,
 * wrote /new, and deleted /.dockerenv, which was only in upper: the kernel removed it outright,
 * no whiteout — so stacking the init layer under the container would wrongly bring it back.
 */
function overlay1Root(opts: { lowerId?: boolean } = {}): { entries: TarEntry[]; imageID: string } {
  const s = store110('overlay', [BASE, TOP]);
  const entries: TarEntry[] = [
    ...s.entries,
    dir('containers'),
    dir(`overlay/${BASE}/root`),
    dir(`overlay/${BASE}/root/bin`),
    file(`overlay/${BASE}/root/bin/sh`, 'sh'),
    file(`overlay/${BASE}/root/bin/rm`, 'rm'),
    file(`overlay/${BASE}/root/bin/old`, 'old'),
    dir(`overlay/${BASE}/root/var`),
    dir(`overlay/${BASE}/root/var/log`),
    file(`overlay/${BASE}/root/var/log/x`, 'x'),
    dir(`overlay/${BASE}/root/etc`),
    dir(`overlay/${TOP}/root`),
    dir(`overlay/${TOP}/root/bin`),
    hard(`overlay/${TOP}/root/bin/sh`, `overlay/${BASE}/root/bin/sh`),
    hard(`overlay/${TOP}/root/bin/rm`, `overlay/${BASE}/root/bin/rm`),
    dir(`overlay/${TOP}/root/var`),
    dir(`overlay/${TOP}/root/var/log`),
    hard(`overlay/${TOP}/root/var/log/x`, `overlay/${BASE}/root/var/log/x`),
    dir(`overlay/${TOP}/root/etc`),
    file(`overlay/${TOP}/root/etc/motd`, 'hi'),
    dir(`overlay/${MOUNT}-init/upper`),
    file(`overlay/${MOUNT}-init/upper/.dockerenv`, ''),
    dir(`overlay/${MOUNT}-init/upper/etc`),
    file(`overlay/${MOUNT}-init/upper/etc/hosts`, 'hosts'),
    dir(`overlay/${MOUNT}-init/work`),
    file(`overlay/${MOUNT}-init/lower-id`, TOP),
    dir(`overlay/${MOUNT}/upper`),
    dir(`overlay/${MOUNT}/upper/etc`),
    file(`overlay/${MOUNT}/upper/etc/hosts`, 'hosts'),
    dir(`overlay/${MOUNT}/upper/bin`, { mtime: T1 }),
    wh(`overlay/${MOUNT}/upper/bin/rm`),
    dir(`overlay/${MOUNT}/upper/var`, { mtime: T1, pax: OPAQUE }),
    file(`overlay/${MOUNT}/upper/var/new`, 'n', { mtime: T1 }),
    file(`overlay/${MOUNT}/upper/new`, 'N', { mtime: T1 }),
    dir(`overlay/${MOUNT}/work`),
    dir(`overlay/${MOUNT}/merged`),
    ...(opts.lowerId === false ? [] : [file(`overlay/${MOUNT}/lower-id`, TOP)]),
    ...containerEntries(CID, s.imageID, 'overlay', { mountID: MOUNT, initID: `${MOUNT}-init`, parent: s.chain[1]! }),
  ];
  return { entries, imageID: s.imageID };
}

test('overlay v1: container view = its upper over overlay/<lower-id>/root; diff against init upper over the same root', async () => {
  const { entries } = overlay1Root();
  const model = await modelOf(entries);
  const c = model.containers.get(CID)!;
  const d = containerDiff(model, c);
  assert.deepEqual(d.problems, []);
  assert.equal(d.method, 'naive');
  assert.deepEqual(d.stack.layers.map((l) => [l.role, l.path, l.whiteouts]), [
    ['upper', `overlay/${MOUNT}/upper`, 'overlay'],
    ['image', `overlay/${TOP}/root`, 'none'],
  ]);
  assert.deepEqual(d.stack.base!.map((l) => l.path), [`overlay/${MOUNT}-init/upper`, `overlay/${TOP}/root`]);
  assert.deepEqual(kinds(d.changes), ['D /.dockerenv', 'C /bin', 'D /bin/rm', 'A /new', 'C /var', 'D /var/log', 'A /var/new']);

  const { view } = openView(model, resolveTarget(model, CID));
  assert.deepEqual(names(view, '/'), ['bin', 'etc', 'new', 'var']);
  assert.deepEqual(names(view, '/bin'), ['sh']);
  assert.deepEqual(names(view, '/etc'), ['hosts', 'motd']);
  assert.deepEqual(names(view, '/var'), ['new']);
  assert.equal(view.readFile(view.lookup('/bin/sh')!, 100).toString(), 'sh');

  const exported = (await exportNames(view)).map((e) => e.name);
  assert.deepEqual(exported, ['bin/', 'bin/sh', 'etc/', 'etc/hosts', 'etc/motd', 'new', 'var/', 'var/new']);
});

test('overlay v1: an image view is its top root/ alone (a full tree, deletions applied)', async () => {
  const { entries, imageID } = overlay1Root();
  const model = await modelOf(entries);
  const { stack, view } = openView(model, resolveTarget(model, imageID));
  assert.deepEqual(stack.layers.map((l) => l.path), [`overlay/${TOP}/root`]);
  assert.deepEqual(names(view, '/'), ['bin', 'etc', 'var']);
  assert.deepEqual(names(view, '/bin'), ['rm', 'sh']);
  assert.deepEqual([...exportPlan(view)].map((x) => x.name), ['bin/', 'bin/rm', 'bin/sh', 'etc/', 'etc/motd', 'var/', 'var/log/', 'var/log/x']);
});

test("overlay v1: without its lower-id the init layer's (a copy, overlay.go Create) is used, and said so", async () => {
  const { entries } = overlay1Root({ lowerId: false });
  const model = await modelOf(entries);
  const d = containerDiff(model, model.containers.get(CID)!);
  assert.deepEqual(d.problems, [`overlay/${MOUNT}/lower-id is missing or unreadable; using the init layer's lower-id`]);
  assert.deepEqual(d.stack.layers.map((l) => l.path), [`overlay/${MOUNT}/upper`, `overlay/${TOP}/root`]);
  assert.deepEqual(kinds(d.changes), ['D /.dockerenv', 'C /bin', 'D /bin/rm', 'A /new', 'C /var', 'D /var/log', 'A /var/new']);
});
