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
import { Chalk } from 'chalk';
import { chainReport, findLayer } from '../../src/analysis/chain.js';
import { containerDiff } from '../../src/analysis/diff.js';
import { layerResolution } from '../../src/analysis/inspect.js';
import { makePathMap } from '../../src/analysis/paths.js';
import { verify } from '../../src/analysis/verify.js';
import { verifyText } from '../../src/render/verify.js';
import { chainText } from '../../src/render/views.js';
import { exportPlan, writeExport } from '../../src/analysis/export.js';
import { openView, resolveTarget, type MergedFs } from '../../src/analysis/mergedfs.js';
import { chainIDs } from '../../src/model/chainid.js';
import { loadModel, type Model } from '../../src/model/graph.js';
import { openEvidence } from '../../src/source/open.js';
import { sha256Hex } from '../../src/store/digest.js';
import { buildTar, tmpFile, type TarEntry } from '../helpers/tarbuild.js';
import { tarSplitOf } from '../helpers/tarsplit.js';

const T0 = new Date(1_700_000_000_000);
const T1 = new Date(1_700_000_100_000);
const h = (c: string) => c.repeat(64);
const dir = (name: string, extra: Partial<TarEntry> = {}): TarEntry => ({ name: name.endsWith('/') ? name : `${name}/`, type: 'directory', mtime: T0, ...extra });
const file = (name: string, body: string, extra: Partial<TarEntry> = {}): TarEntry => ({ name, type: 'file', body, mtime: T0, ...extra });
const wh = (name: string): TarEntry => ({ name, type: 'character-device', devmajor: 0, devminor: 0, mode: 0, mtime: T1 });
const hard = (name: string, target: string): TarEntry => ({ name, type: 'link', linkname: target, mtime: T0 });
const OPAQUE = { 'SCHILY.xattr.trusted.overlay.opaque': 'y' };

/** A 1.10+ image store for `driver` (imagedb config, layerdb chain, repositories.json) as tar entries. */
function store110(driver: string, cache: string[], layerTars?: Buffer[]): { entries: TarEntry[]; imageID: string; chain: string[] } {
  const diffIDs = cache.map((_, i) => (layerTars ? `sha256:${sha256Hex(layerTars[i]!)}` : `sha256:${String(i + 1).repeat(64)}`));
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
    entries.push(file(`${d}/diff`, diffIDs[i]!), file(`${d}/size`, String(layerTars ? OV_SIZES[i]! : 100 * (i + 1))), file(`${d}/cache-id`, cache[i]!));
    if (layerTars) entries.push({ name: `${d}/tar-split.json.gz`, type: 'file', body: tarSplitOf(layerTars[i]!), mtime: T0 });
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
/** The two image layers' tars (what was pulled): BASE's files; TOP deletes bin/old, adds etc/motd. */
const OV_BASE_TAR: TarEntry[] = [dir('bin'), file('bin/sh', 'sh'), file('bin/rm', 'rm'), file('bin/old', 'old'), dir('etc'), dir('var'), dir('var/log'), file('var/log/x', 'x')];
const OV_TOP_TAR: TarEntry[] = [dir('bin'), file('bin/.wh.old', ''), dir('etc'), file('etc/motd', 'hi')];
/** layerdb `size`: the bytes of each layer's own files. */
const OV_SIZES = [2 + 2 + 3 + 1, 2];

async function overlay1Root(opts: { lowerId?: boolean } = {}): Promise<{ entries: TarEntry[]; imageID: string }> {
  const s = store110('overlay', [BASE, TOP], [await buildTar(OV_BASE_TAR), await buildTar(OV_TOP_TAR)]);
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
  const { entries } = await overlay1Root();
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
  const { entries, imageID } = await overlay1Root();
  const model = await modelOf(entries);
  const { stack, view } = openView(model, resolveTarget(model, imageID));
  assert.deepEqual(stack.layers.map((l) => l.path), [`overlay/${TOP}/root`]);
  assert.deepEqual(names(view, '/'), ['bin', 'etc', 'var']);
  assert.deepEqual(names(view, '/bin'), ['rm', 'sh']);
  assert.deepEqual([...exportPlan(view)].map((x) => x.name), ['bin/', 'bin/rm', 'bin/sh', 'etc/', 'etc/motd', 'var/', 'var/log/', 'var/log/x']);
});

test("overlay v1: without its lower-id the init layer's (a copy, overlay.go Create) is used, and said so", async () => {
  const { entries } = await overlay1Root({ lowerId: false });
  const model = await modelOf(entries);
  const d = containerDiff(model, model.containers.get(CID)!);
  assert.deepEqual(d.problems, [`overlay/${MOUNT}/lower-id is missing or unreadable; using the init layer's lower-id`]);
  assert.deepEqual(d.stack.layers.map((l) => l.path), [`overlay/${MOUNT}/upper`, `overlay/${TOP}/root`]);
  assert.deepEqual(kinds(d.changes), ['D /.dockerenv', 'C /bin', 'D /bin/rm', 'A /new', 'C /var', 'D /var/log', 'A /var/new']);
});

// -------------------------------------------------------------------------------------------------
// pre-1.10 aufs: moby@v1.9.1 graph/graph.go + daemon/graphdriver/aufs (FORMATS.md §6, §7)

const V1_BASE = h('1');
const V1_TOP = h('2');
const V1_CID = h('3');

/** A layer's entries, as its tar holds them and as aufs/diff/<id> holds them (whiteouts literal). */
const V1_BASE_FILES: TarEntry[] = [dir('bin'), file('bin/sh', 'shell'), file('bin/ls', 'list'), dir('etc'), file('etc/passwd', 'root:x:0:0'), file('etc/group', 'root:x:0')];
const V1_TOP_FILES: TarEntry[] = [dir('etc'), file('etc/.wh.group', ''), file('etc/motd', 'welcome'), dir('usr'), dir('usr/share'), file('usr/share/.wh..wh..opq', ''), file('usr/share/doc', 'd')];

interface V1Opts {
  /** Replace entries of the aufs/diff dirs: path → body (null = delete). */
  patch?: Record<string, string | null>;
  /** Extra files in the aufs/diff dirs. */
  extra?: TarEntry[];
}

async function legacyAufsRoot(opts: V1Opts = {}): Promise<{ entries: TarEntry[]; baseSum: string; topSum: string }> {
  const baseTar = await buildTar(V1_BASE_FILES);
  const topTar = await buildTar(V1_TOP_FILES);
  const baseSum = `sha256:${sha256Hex(baseTar)}`;
  const topSum = `sha256:${sha256Hex(topTar)}`;
  const json = (id: string, parent?: string, cmd = 'ADD') => JSON.stringify({ id, ...(parent ? { parent } : {}), created: '2015-10-01T00:00:00Z', container_config: { Cmd: ['/bin/sh', '-c', cmd] }, config: { Cmd: ['sh'] }, architecture: 'amd64', os: 'linux' });
  const under = (id: string, list: TarEntry[]) => list.map((e) => ({ ...e, name: `aufs/diff/${id}/${e.name}` }));
  let entries: TarEntry[] = [
    file('repositories-aufs', JSON.stringify({ Repositories: { busybox: { latest: V1_TOP } } })),
    file(`graph/${V1_BASE}/json`, json(V1_BASE)),
    file(`graph/${V1_BASE}/layersize`, String(5 + 4 + 10 + 8)),
    // A layer pulled by 1.9 with its uncompressed digest as checksum: checkable.
    file(`graph/${V1_BASE}/checksum`, baseSum),
    { name: `graph/${V1_BASE}/tar-data.json.gz`, type: 'file', body: tarSplitOf(baseTar), mtime: T0 },
    file(`graph/${V1_TOP}/json`, json(V1_TOP, V1_BASE, 'RUN')),
    file(`graph/${V1_TOP}/layersize`, String(7 + 1)),
    // Older hosts: a TarSum, which dockscope does not recompute.
    file(`graph/${V1_TOP}/checksum`, 'tarsum.v1+sha256:' + 'a'.repeat(64)),
    { name: `graph/${V1_TOP}/tar-data.json.gz`, type: 'file', body: tarSplitOf(topTar), mtime: T0 },
    dir(`aufs/diff/${V1_BASE}`),
    ...under(V1_BASE, V1_BASE_FILES),
    dir(`aufs/diff/${V1_TOP}`),
    ...under(V1_TOP, V1_TOP_FILES),
    file(`aufs/layers/${V1_BASE}`, ''),
    file(`aufs/layers/${V1_TOP}`, `${V1_BASE}\n`),
    // The container: its init branch and its RW branch, with aufs' own metadata at the branch root.
    dir(`aufs/diff/${V1_CID}-init`),
    file(`aufs/diff/${V1_CID}-init/.dockerinit`, ''),
    dir(`aufs/diff/${V1_CID}-init/etc`),
    file(`aufs/diff/${V1_CID}-init/etc/hosts`, 'h'),
    dir(`aufs/diff/${V1_CID}`),
    file(`aufs/diff/${V1_CID}/.wh..wh.aufs`, ''),
    dir(`aufs/diff/${V1_CID}/.wh..wh.plnk`),
    dir(`aufs/diff/${V1_CID}/.wh..wh.orph`),
    dir(`aufs/diff/${V1_CID}/bin`, { mtime: T1 }),
    file(`aufs/diff/${V1_CID}/bin/.wh.ls`, '', { mtime: T1 }),
    dir(`aufs/diff/${V1_CID}/etc`, { mtime: T1 }),
    file(`aufs/diff/${V1_CID}/etc/.wh..wh..opq`, '', { mtime: T1 }),
    file(`aufs/diff/${V1_CID}/etc/passwd`, 'evil', { mtime: T1 }),
    file(`aufs/diff/${V1_CID}/new`, 'N', { mtime: T1 }),
    file(`aufs/layers/${V1_CID}-init`, `${V1_TOP}\n${V1_BASE}\n`),
    file(`aufs/layers/${V1_CID}`, `${V1_CID}-init\n${V1_TOP}\n${V1_BASE}\n`),
    dir(`aufs/mnt/${V1_CID}`),
    file(
      `containers/${V1_CID}/config.json`,
      JSON.stringify({ ID: V1_CID, Name: '/old', Image: V1_TOP, Driver: 'aufs', Path: 'sh', Args: [], Created: '2015-10-02T00:00:00Z', State: { Running: false }, Config: { Image: 'busybox', Cmd: ['sh'] } }),
    ),
    ...(opts.extra ?? []),
  ];
  for (const [p, body] of Object.entries(opts.patch ?? {})) {
    entries = body === null ? entries.filter((e) => e.name !== p) : entries.map((e) => (e.name === p ? { ...e, body } : e));
  }
  return { entries, baseSum, topSum };
}

test('pre-1.10 aufs: verify re-hashes each layer from graph/<id>/tar-data.json.gz against aufs/diff/<id>', async () => {
  const { entries, baseSum } = await legacyAufsRoot();
  const model = await modelOf(entries);
  const r = await verify(model, [...model.images.values()]);
  assert.equal(r.status, 'ok', JSON.stringify(r.layers.map((l) => l.checks)));
  const base = r.layers.find((l) => l.chainID === V1_BASE)!;
  const top = r.layers.find((l) => l.chainID === V1_TOP)!;
  // No chainID, no short links: "n/a", never a failure.
  assert.match(base.na!.chainid!, /^n\/a \(pre-1\.10/);
  assert.equal(base.na!.link, 'n/a (aufs has no short links)');
  assert.equal(base.checks.find((c) => c.check === 'chainid'), undefined);
  // The checksum is the uncompressed tar's digest: a real check, and the reassembled tar matches it.
  assert.equal(base.computedDiffID, baseSum);
  assert.deepEqual(base.checks.find((c) => c.check === 'checksum')?.status, 'ok');
  assert.equal(base.checks.find((c) => c.check === 'content')?.status, 'ok');
  // A TarSum is not recomputed, and said so (content is still proven by the CRC-64s).
  assert.equal(top.checks.find((c) => c.check === 'checksum'), undefined);
  assert.match(top.na!.checksum!, /TarSum/);
  assert.equal(top.checks.find((c) => c.check === 'content')?.status, 'ok');
  assert.deepEqual(top.extras, []);
  const text = verifyText(r, new Chalk({ level: 0 }));
  assert.doesNotMatch(text, /mismatch|✗/);
  assert.match(text, /link: n\/a \(aufs has no short links\)/);
});

test('pre-1.10 aufs: a file changed in aufs/diff, or one added, is a mismatch', async () => {
  {
    const { entries } = await legacyAufsRoot({ patch: { [`aufs/diff/${V1_BASE}/bin/sh`]: 'SHELL' } });
    const r = await verify(await modelOf(entries), []);
    void r;
    const model = await modelOf(entries);
    const v = await verify(model, [model.images.get(V1_TOP)!]);
    const base = v.layers.find((l) => l.chainID === V1_BASE)!;
    assert.equal(base.status, 'mismatch');
    assert.deepEqual(base.files.map((f) => [f.path, f.status]), [['bin/sh', 'modified']]);
    assert.equal(v.status, 'mismatch');
  }
  {
    const { entries } = await legacyAufsRoot({ extra: [file(`aufs/diff/${V1_TOP}/usr/bin-dropper`, 'x'), file(`aufs/diff/${V1_TOP}/.wh..wh.aufs`, '')] });
    const model = await modelOf(entries);
    const v = await verify(model, [model.images.get(V1_TOP)!]);
    const top = v.layers.find((l) => l.chainID === V1_TOP)!;
    assert.equal(top.status, 'mismatch');
    // aufs' own .wh..wh.aufs is branch metadata, not an extra.
    assert.deepEqual(top.extras.map((x) => x.path), ['usr/bin-dropper']);
  }
});

test('pre-1.10 aufs: chain and image views say n/a for short links and chainIDs, not ✗', async () => {
  const { entries } = await legacyAufsRoot();
  const model = await modelOf(entries);
  const paths = makePathMap('/var/lib/docker', 'as-root');
  const cr = chainReport(model, V1_TOP, V1_TOP, findLayer(model, V1_TOP), paths);
  assert.deepEqual(cr.steps.map((s) => [s.chainID, s.driverDir, s.linkNote, s.recomputeNote !== undefined]), [
    [V1_BASE, `/var/lib/docker/aufs/diff/${V1_BASE}`, 'n/a (aufs has no short links)', true],
    [V1_TOP, `/var/lib/docker/aufs/diff/${V1_TOP}`, 'n/a (aufs has no short links)', true],
  ]);
  const text = chainText(cr, new Chalk({ level: 0 }));
  assert.doesNotMatch(text, /✗/);
  assert.match(text, /link {5}n\/a \(aufs has no short links\)/);
  const lr = layerResolution(model, model.images.get(V1_TOP)!, paths);
  assert.deepEqual(lr.map((l) => l.LinkNote), ['n/a (aufs has no short links)', 'n/a (aufs has no short links)']);
});

test('pre-1.10 aufs: diff, fs and export of a container (.wh. whiteouts, .wh..wh..opq, aufs metadata is not content)', async () => {
  const { entries } = await legacyAufsRoot();
  const model = await modelOf(entries);
  const d = containerDiff(model, model.containers.get(V1_CID)!);
  assert.deepEqual(d.problems, []);
  assert.equal(d.method, 'aufs');
  // archive.Changes strips one `.wh.` from the opaque marker and reports it deleted: the engine's
  // own quirk (see mergedfs.test.ts, "aufs Changes"). aufs' .wh..wh.aufs/plnk/orph never show.
  assert.deepEqual(kinds(d.changes), ['C /bin', 'D /bin/ls', 'C /etc', 'D /etc/.wh..opq', 'C /etc/passwd', 'A /new']);
  const { view } = openView(model, resolveTarget(model, V1_CID));
  assert.deepEqual(names(view, '/'), ['.dockerinit', 'bin', 'etc', 'new', 'usr']);
  assert.deepEqual(names(view, '/bin'), ['sh']);
  // etc/ is opaque in the RW branch: the image's motd, passwd and the init layer's hosts are hidden.
  assert.deepEqual(names(view, '/etc'), ['passwd']);
  assert.equal(view.readFile(view.lookup('/etc/passwd')!, 100).toString(), 'evil');
  assert.deepEqual(names(view, '/usr/share'), ['doc']);
  const exported = (await exportNames(view)).map((e) => e.name);
  assert.deepEqual(exported, ['.dockerinit', 'bin/', 'bin/sh', 'etc/', 'etc/passwd', 'new', 'usr/', 'usr/share/', 'usr/share/doc']);
  // The image: etc/group whited out by the top layer, usr/share opaque.
  const img = openView(model, resolveTarget(model, V1_TOP)).view;
  assert.deepEqual(names(img, '/etc'), ['motd', 'passwd']);
});

test('overlay v1 under the 1.10+ store: chain and verify say n/a for short links; content re-hashed from root/', async () => {
  const { entries } = await overlay1Root();
  const model = await modelOf(entries);
  const paths = makePathMap('/var/lib/docker', 'as-root');
  const top = [...model.layers.values()].find((n) => n.record?.cacheID === TOP)!;
  const cr = chainReport(model, TOP, top.chainID, findLayer(model, TOP), paths);
  assert.deepEqual(cr.steps.map((s) => [s.recomputedMatches, s.recomputeNote, s.linkNote, s.driverDir]), [
    [true, undefined, 'n/a (overlay has no short links)', `/var/lib/docker/overlay/${BASE}`],
    [true, undefined, 'n/a (overlay has no short links)', `/var/lib/docker/overlay/${TOP}`],
  ]);
  assert.doesNotMatch(chainText(cr, new Chalk({ level: 0 })), /✗/);
  const r = await verify(model, [...model.images.values()]);
  assert.equal(r.status, 'ok', JSON.stringify(r.layers.map((l) => l.checks)));
  const vTop = r.layers.find((l) => l.cacheID === TOP)!;
  // TOP's root/ is the whole image: its own size cannot be measured there, nor extras told apart.
  assert.equal(vTop.checks.find((c) => c.check === 'size'), undefined);
  assert.match(vTop.na!.size!, /^n\/a \(overlay keeps each layer as the whole image/);
  assert.equal(vTop.checks.find((c) => c.check === 'content')?.status, 'ok');
  assert.match(vTop.na!.extras!, /parents' files/);
  assert.equal(r.layers.find((l) => l.cacheID === BASE)!.checks.find((c) => c.check === 'size')?.status, 'ok');
});
