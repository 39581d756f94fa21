/**
 * Regenerates test/fuzz/seeds/ from the real-engine fixture (overlay2-20.10) and the tar-split
 * test vectors, plus a few hand-made edge cases. Run once after `tsc -p .`:
 *
 *   node dist/test/fuzz/make-seeds.js
 *
 * Seeds are small on purpose (a few KB each; trees are trimmed copies of the fixture): the fuzzer
 * spends its time mutating, not copying. Needs root to extract the device files of the fixture
 * (whiteouts); without root they are simply absent from the seeds.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { buildBolt } from '../helpers/bboltwriter.js';
import { FIXTURES, REPO } from '../helpers/fixtures.js';
import { SEEDS } from './corpus.js';
import { parseFrames } from './mutate-proto.js';
import { CTR_ID } from './targets.js';
import { dirToTree, tgzToTree, treeToTgz, type Tree } from './tree.js';

const top = fs.mkdtempSync(path.join(os.tmpdir(), 'dockscope-seeds-'));
process.on('exit', () => fs.rmSync(top, { recursive: true, force: true }));
execFileSync('tar', ['-C', top, '--xattrs', '--xattrs-include=*', '--numeric-owner', '-xzf', path.join(FIXTURES, 'overlay2-20.10', 'data-root.tar.gz')]);
const D = path.join(top, 'var/lib/docker');
const IMG = 'image/overlay2';
const read = (p: string) => fs.readFileSync(path.join(D, p));

fs.rmSync(SEEDS, { recursive: true, force: true });
const put = (target: string, name: string, data: Buffer | string) => {
  const dir = path.join(SEEDS, target);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, name), data);
};
const putTree = async (target: string, name: string, t: Tree) => put(target, name, await treeToTgz(t));
const hex = (c: string) => c.repeat(64);

// ---- what the trimmed store keeps
const IMAGES = ['d2e7320d80db59d280bc0e23669a02c3d4c3fcb8501313212851871bafa93443', '0788ca1ae9e3d3b14835e67c1ad321c16958cb2b57263a0fb8e0739f234955f1', 'd846559b4043f08be15d075a149901b7c7e28e9704b6885c6fd192b9e4f30405'];
const CTRS = [CTR_ID, 'a56a8a3f6397cde0dc8b9f2fad28e3f8b3f191e8d375a76aad200a086aa8a212', '6f80155eae35aec717bd1377c9b1f1e246b110ee48f405662f73137a944d5189'];
const LOCAL_CTR = '5128811697df7760992411ffe9b157c67b48cb865ae13045fd56fbbae7c9e3f6';
const BASE_LAYER = 'd047660dfe5efc658b90496c3f7a3304a15f9ce73c2370c55c2808345760690d';

const layers = fs.readdirSync(path.join(D, IMG, 'layerdb/sha256'));
const cacheIds = new Set(layers.map((l) => read(`${IMG}/layerdb/sha256/${l}/cache-id`).toString().trim()));
for (const c of CTRS) {
  for (const f of ['mount-id', 'init-id']) {
    const p = `${IMG}/layerdb/mounts/${c}/${f}`;
    if (fs.existsSync(path.join(D, p))) cacheIds.add(read(p).toString().trim());
  }
}
const links = new Set([...cacheIds].flatMap((id) => (fs.existsSync(path.join(D, 'overlay2', id, 'link')) ? [read(`overlay2/${id}/link`).toString().trim()] : [])));

const perDiff = new Map<string, number>();
function keepModel(p: string): boolean {
  const parts = p.split('/');
  if (p === 'engine-id' || p === 'image' || p === IMG) return true;
  if (parts[0] === 'image') {
    if (p === `${IMG}/repositories.json`) return true;
    if (p.startsWith(`${IMG}/imagedb`)) return parts.length <= 5 || IMAGES.includes(parts[5]!);
    if (p.startsWith(`${IMG}/layerdb/sha256/${BASE_LAYER}/tar-split`)) return false;
    if (p.startsWith(`${IMG}/layerdb/mounts`)) return parts.length <= 4 || CTRS.includes(parts[4]!);
    if (p.startsWith(`${IMG}/layerdb`)) return true;
    if (p.startsWith(`${IMG}/distribution`)) return parts.length <= 5 || fs.readdirSync(path.join(D, parts.slice(0, 5).join('/'))).sort().slice(0, 2).includes(parts[5]!);
    return false;
  }
  if (parts[0] === 'overlay2') {
    if (parts.length === 1) return true;
    if (parts[1] === 'l') return parts.length === 2 || links.has(parts[2]!);
    if (!cacheIds.has(parts[1]!)) return false;
    if (parts.length <= 3) return true;
    // a layer's content: only the first few top-level entries of diff/, bodies cut short
    if (parts[2] !== 'diff' || parts.length > 4) return false;
    const n = (perDiff.get(parts[1]!) ?? 0) + 1;
    perDiff.set(parts[1]!, n);
    return n <= 4;
  }
  if (parts[0] === 'containers') return parts.length === 1 || (CTRS.includes(parts[1]!) && (parts.length === 2 || ['config.v2.json', 'hostconfig.json'].includes(parts[2]!)));
  if (parts[0] === 'volumes') return parts.length <= 3 && !p.endsWith('backingFsBlockDev');
  if (parts[0] === 'network') return true;
  return false;
}

async function main(): Promise<void> {
  // -- whole store
  const model = dirToTree(D, keepModel, 16 << 10);
  for (const [p, n] of model) if (p.includes('/diff/') && n.body && n.body.length > 64) n.body = n.body.subarray(0, 64);
  await putTree('model', 'overlay2-20.10-trimmed.tgz', model);
  const small: Tree = new Map([...model].filter(([p]) => !p.startsWith('network') && !p.startsWith('volumes') && !p.includes('/distribution') && !p.includes('/diff/')));
  await putTree('model', 'overlay2-20.10-metadata-only.tgz', small);

  // -- single files
  put('repositories', 'real.json', read(`${IMG}/repositories.json`));
  put('repositories', 'edge-null.json', '{"Repositories":null}');
  put('repositories', 'edge-refs.json', JSON.stringify({ Repositories: { a: { 'a:1': `sha256:${hex('a')}`, [`a@sha256:${hex('b')}`]: `sha256:${hex('a')}`, 'A:x': 'sha256:zz' }, '': {}, b: [] } }));

  put('imageconfig', 'fx-base.json', read(`${IMG}/imagedb/content/sha256/${IMAGES[0]}`));
  put('imageconfig', 'fx-app.json', read(`${IMG}/imagedb/content/sha256/${IMAGES[1]}`));
  put('imageconfig', 'edge-minimal.json', JSON.stringify({ rootfs: { type: 'layers', diff_ids: [] }, history: [{ empty_layer: true }, {}] }));

  for (const c of [CTR_ID, CTRS[1]!, LOCAL_CTR]) {
    put('container-config', `${c.slice(0, 12)}.json`, read(`containers/${c}/config.v2.json`));
    put('hostconfig', `${c.slice(0, 12)}.json`, read(`containers/${c}/hostconfig.json`));
  }

  // -- layerdb: three layers, two mounts, a leftover and a write-set; one foreign-layer descriptor
  const l2 = layers.filter((l) => l !== BASE_LAYER).slice(0, 2);
  const ldb = dirToTree(path.join(D, IMG, 'layerdb'), (p) => {
    const parts = p.split('/');
    if (parts[0] === 'sha256') return parts.length === 1 || ([BASE_LAYER, ...l2].includes(parts[1]!) && !(parts[1] === BASE_LAYER && parts[2] === 'tar-split.json.gz'));
    if (parts[0] === 'mounts') return parts.length === 1 || CTRS.slice(0, 2).includes(parts[1]!);
    return parts[0] === 'tmp';
  });
  const layerdb: Tree = new Map([...ldb].map(([p, n]) => [`${IMG}/layerdb/${p}`, n]));
  layerdb.set(`${IMG}/layerdb/sha256/${l2[0]}/descriptor.json`, { type: 'file', body: Buffer.from(JSON.stringify({ mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', size: 1234, digest: `sha256:${hex('c')}`, urls: ['https://example.invalid/layer'] })) });
  layerdb.set(`${IMG}/layerdb/sha256/${BASE_LAYER}-4c8f0a1b2-removing`, { type: 'dir' });
  layerdb.set(`${IMG}/layerdb/tmp/write-set-123456`, { type: 'dir' });
  await putTree('layerdb', 'real.tgz', layerdb);

  // -- overlay2: the app image's chain dirs and links, plus a container's RW and init dirs
  const ovIds = [...cacheIds].slice(0, 6);
  const ovLinks = new Set(ovIds.flatMap((id) => (fs.existsSync(path.join(D, 'overlay2', id, 'link')) ? [read(`overlay2/${id}/link`).toString().trim()] : [])));
  const ov = dirToTree(path.join(D, 'overlay2'), (p) => {
    const parts = p.split('/');
    if (parts[0] === 'l') return parts.length === 1 || ovLinks.has(parts[1]!);
    if (!ovIds.includes(parts[0]!)) return false;
    return parts.length <= 2 || (parts[1] === 'diff' && parts.length <= 3);
  });
  await putTree('overlay2', 'real.tgz', new Map([...ov].map(([p, n]) => [`overlay2/${p}`, n])));

  // -- distribution
  const dist = dirToTree(path.join(D, IMG, 'distribution'), (p) => {
    const parts = p.split('/');
    return parts.length < 3 || fs.readdirSync(path.join(D, IMG, 'distribution', parts[0]!, parts[1]!)).sort().slice(0, 2).includes(parts[2]!);
  });
  await putTree('distribution', 'real.tgz', new Map([...dist].map(([p, n]) => [`${IMG}/distribution/${p}`, n])));

  // -- tar-split: real ones from the fixture and the test vectors (PAX, GNU, raw names)
  for (const l of ['41a38f54fc4d', '79369b720ffc', '777ef2e05996']) {
    const full = layers.find((x) => x.startsWith(l))!;
    put('tarsplit', `${l}.json.gz`, read(`${IMG}/layerdb/sha256/${full}/tar-split.json.gz`));
  }
  const TS = path.join(REPO, 'test/data/tarsplit');
  put('tarsplit', 'vector-pax.json.gz', fs.readFileSync(path.join(TS, 'pax/tar-split.json.gz')));
  put('tarsplit', 'vector-gnu.json.gz', fs.readFileSync(path.join(TS, 'gnu/tar-split.json.gz')));

  // -- reassemble: a tar-split with the layer directory it describes
  const app = layers.find((x) => x.startsWith('79369b720ffc'))!;
  const appCache = read(`${IMG}/layerdb/sha256/${app}/cache-id`).toString().trim();
  const diff = dirToTree(path.join(D, 'overlay2', appCache, 'diff'), () => true);
  const re1: Tree = new Map([['tar-split.json.gz', { type: 'file', body: read(`${IMG}/layerdb/sha256/${app}/tar-split.json.gz`) }]]);
  for (const [p, n] of diff) re1.set(`diff/${p}`, n);
  await putTree('reassemble', 'fixture-layer.tgz', re1);
  for (const v of ['pax', 'gnu']) {
    const tree = await tgzToTree(fs.readFileSync(path.join(TS, v, v === 'pax' ? 'tree-overlay.tar.gz' : 'tree.tar.gz')));
    const t: Tree = new Map([['tar-split.json.gz', { type: 'file', body: fs.readFileSync(path.join(TS, v, 'tar-split.json.gz')) }]]);
    for (const [p, n] of tree) t.set(`diff/${p}`, n);
    await putTree('reassemble', `vector-${v}.tgz`, t);
  }

  // -- logs
  const jl = `containers/${CTRS[1]}/${CTRS[1]}-json.log`;
  put('jsonlog', 'rotated.log', read(jl));
  const big = read(`containers/9bd6199d633b30c6fb5aacee2ad222bab3ec87b0b4f8d717aa229d041daee920/9bd6199d633b30c6fb5aacee2ad222bab3ec87b0b4f8d717aa229d041daee920-json.log`);
  put('jsonlog', 'default-head.log', big.subarray(0, big.lastIndexOf(0x0a, 3000) + 1));
  put('jsonlog', 'edge.log', ['{"log":"no newline","stream":"stdout","time":"2024-01-01T00:00:00.123456789+02:00"}', '{"Log":"case\\n","STREAM":"stderr","time":"2024-01-01T00:00:00Z","attrs":{"a":"b"}}', '', '{"log":"x\\n"}', 'garbage'].join('\n'));

  const ll = read(`containers/${LOCAL_CTR}/local-logs/container.log`);
  const { frames } = parseFrames(ll);
  let cut = 0;
  for (let i = 0; i < frames.length && cut < 3000; i++) cut += frames[i]!.msg.length + 8;
  put('locallog', 'head.log', ll.subarray(0, cut));
  put('logentry', 'first.pb', frames[0]!.msg);
  put('logentry', 'other.pb', frames[Math.min(5, frames.length - 1)]!.msg);

  const logsJson: Tree = new Map();
  for (const name of fs.readdirSync(path.join(D, 'containers', CTRS[1]!))) {
    if (name === 'config.v2.json' || name === 'hostconfig.json' || name.includes('json.log')) logsJson.set(`containers/${CTRS[1]}/${name}`, { type: 'file', body: read(`containers/${CTRS[1]}/${name}`) });
  }
  await putTree('logs', 'json-file-rotated.tgz', logsJson);
  const logsLocal: Tree = new Map([
    [`containers/${LOCAL_CTR}/config.v2.json`, { type: 'file', body: read(`containers/${LOCAL_CTR}/config.v2.json`) }],
    [`containers/${LOCAL_CTR}/hostconfig.json`, { type: 'file', body: read(`containers/${LOCAL_CTR}/hostconfig.json`) }],
    [`containers/${LOCAL_CTR}/local-logs/container.log`, { type: 'file', body: ll.subarray(0, cut) }],
    [`containers/${LOCAL_CTR}/local-logs/container.log.1.gz`, { type: 'file', body: zlib.gzipSync(ll.subarray(0, 600)) }],
  ]);
  await putTree('logs', 'local.tgz', logsLocal);

  // -- bbolt stores: the real ones, and small synthetic ones with every layout feature
  const vdb = read('volumes/metadata.db');
  const ndb = read('network/files/local-kv.db');
  put('bbolt', 'volumes-metadata.db', vdb);
  put('bbolt', 'local-kv.db', ndb);
  put('volumes', 'metadata.db', vdb);
  put('networks', 'local-kv.db', ndb);
  const vol = (name: string) => JSON.stringify({ Name: name, Driver: 'local', Labels: { 'com.docker.volume.anonymous': '' }, Options: null });
  const synth = buildBolt(
    { volumes: { vol1: vol('vol1'), other: vol('x'), empty: '' }, nested: { a: { b: { c: 'd' } }, inline: { k: 'v' } } },
    {
      pageSize: 512,
      maxLeafKeys: 2,
      stale: [{ volumes: { gone: vol('gone'), vol1: vol('vol1-old') } }],
      unlisted: [{ old: vol('old') }],
      beyondHighWater: [{ far: vol('far') }],
      txid: 9,
    },
  );
  put('bbolt', 'synthetic-512.db', synth.buf);
  put('volumes', 'synthetic-512.db', synth.buf);
  const kv = (json: unknown) => Buffer.concat([Buffer.from([7, 0, 0, 0, 0, 0, 0, 0]), Buffer.from(JSON.stringify(json))]);
  const net = buildBolt(
    {
      libnetwork: new Map<string, Buffer>([
        ['docker/network/v1.0/network/' + hex('1') + '/', kv({ id: hex('1'), name: 'n', networkType: 'bridge', scope: 'local', ipamV4Config: '[{"PreferredPool":"10.0.0.0/24","Gateway":"10.0.0.1"}]', ipamV4Info: '[{"PoolID":"p","IPAMData":"{\\"AddressSpace\\":\\"LocalDefault\\",\\"Pool\\":\\"10.0.0.0/24\\"}"}]', generic: { 'com.docker.network.generic': { a: 'b' } } })],
        ['docker/network/v1.0/endpoint/' + hex('1') + '/' + hex('2') + '/', kv({ id: hex('2'), name: 'c', ep_iface: { addr: '10.0.0.2/24', mac: '02:42:0a:00:00:02' }, exposed_ports: [{ Proto: 6, Port: 80 }], generic: { 'com.docker.network.portmap': [{ Proto: 6, Port: 80, HostPort: 8080 }] } })],
        ['docker/network/v1.0/endpoint_count/' + hex('1') + '/', kv({ Count: 1 })],
        ['docker/network/v1.0/sandbox/' + hex('3') + '/', kv({ ID: hex('3'), Cid: hex('4'), Eps: [{ Eid: hex('2'), Nid: hex('1') }], ExtDNS2: [{ IPStr: '1.1.1.1' }] })],
        ['docker/network/v1.0/', Buffer.from([1, 0, 0, 0, 0, 0, 0, 0])],
      ]),
    },
    { pageSize: 1024, stale: [{ libnetwork: { ['docker/network/v1.0/network/' + hex('9') + '/']: kv({ id: hex('9'), name: 'deleted' }).toString('latin1') } }] },
  );
  put('networks', 'synthetic-1024.db', net.buf);

  // -- pre-1.10 aufs host (hand-made: no engine here writes it; shapes as in FORMATS.md §6-7)
  const [v1a, v1b, v1c] = [hex('1'), hex('2'), hex('c')];
  const tarData = zlib.gzipSync('{"type":2,"payload":null,"position":0}\n{"type":1,"name":"etc/x","size":0,"position":1}\n');
  const legacy: Tree = new Map<string, { type: 'file' | 'dir'; body?: Buffer }>([
    ['repositories-aufs', { type: 'file', body: Buffer.from(JSON.stringify({ Repositories: { busybox: { latest: v1b, [`sha256:${hex('d')}`]: v1b } } })) }],
    [`graph/${v1a}/json`, { type: 'file', body: Buffer.from(JSON.stringify({ id: v1a, created: '2015-10-01T00:00:00.000000000Z', container_config: { Cmd: ['/bin/sh', '-c', '#(nop) ADD file:x in /'] }, docker_version: '1.8.2', architecture: 'amd64', os: 'linux', Size: 1234 })) }],
    [`graph/${v1a}/layersize`, { type: 'file', body: Buffer.from('1234') }],
    [`graph/${v1a}/checksum`, { type: 'file', body: Buffer.from(`tarsum.v1+sha256:${hex('e')}`) }],
    [`graph/${v1b}/json`, { type: 'file', body: Buffer.from(JSON.stringify({ id: v1b, parent: v1a, created: '2015-10-01T00:00:01Z', container_config: { Cmd: ['/bin/sh', '-c', '#(nop) CMD ["sh"]'] }, config: { Cmd: ['sh'] } })) }],
    [`graph/${v1b}/layersize`, { type: 'file', body: Buffer.from('0') }],
    [`graph/${v1b}/tar-data.json.gz`, { type: 'file', body: tarData }],
    [`graph/${v1b}/.migration-diffid`, { type: 'file', body: Buffer.from(`sha256:${hex('5')}`) }],
    [`graph/${v1b}/.migration-size`, { type: 'file', body: Buffer.from('0') }],
    ['graph/_tmp', { type: 'dir' }],
    [`aufs/layers/${v1a}`, { type: 'file', body: Buffer.alloc(0) }],
    [`aufs/layers/${v1b}`, { type: 'file', body: Buffer.from(`${v1a}\n`) }],
    [`aufs/layers/${v1c}-init`, { type: 'file', body: Buffer.from(`${v1b}\n${v1a}\n`) }],
    [`aufs/layers/${v1c}`, { type: 'file', body: Buffer.from(`${v1c}-init\n${v1b}\n${v1a}\n`) }],
    [`aufs/diff/${v1a}/bin/sh`, { type: 'file', body: Buffer.from('x') }],
    [`aufs/diff/${v1b}/.wh.gone`, { type: 'file', body: Buffer.alloc(0) }],
    [`aufs/diff/${v1c}/tmp/f`, { type: 'file', body: Buffer.from('y') }],
    [`aufs/mnt/${v1c}`, { type: 'dir' }],
    [`containers/${v1c}/config.json`, { type: 'file', body: Buffer.from(JSON.stringify({ ID: v1c, Name: '/old', Image: v1b, Driver: 'aufs', Created: '2015-10-02T00:00:00Z', State: { Running: false }, Config: { Image: 'busybox', Cmd: ['sh'] } })) }],
    ['.migration-v1-images.json', { type: 'file', body: Buffer.from(JSON.stringify({ [v1b]: `sha256:${hex('9')}` })) }],
  ]);
  await putTree('legacy', 'aufs-1.9.tgz', legacy);

  // -- acquisitions: a small data root as a plain tar (var/lib/docker/… like a real one), with a
  //    hard link, a symlink, a whiteout device and an opaque-dir xattr; and the same gzipped
  const acqTree: Tree = new Map();
  const keepAcq = (p: string) => p.startsWith(`${IMG}/repositories.json`) || p.startsWith(`${IMG}/imagedb/content/sha256/${IMAGES[0]}`) || (p.startsWith(`${IMG}/layerdb/sha256/${BASE_LAYER}`) && !p.endsWith('tar-split.json.gz')) || p.startsWith(`containers/${CTR_ID}/config`) || p.startsWith(`containers/${CTR_ID}/hostconfig`);
  for (const [p, n] of small) if (keepAcq(p)) acqTree.set(`var/lib/docker/${p}`, n);
  const baseCache = read(`${IMG}/layerdb/sha256/${BASE_LAYER}/cache-id`).toString().trim();
  acqTree.set(`var/lib/docker/overlay2/${baseCache}/link`, { type: 'file', body: Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZ') });
  acqTree.set(`var/lib/docker/overlay2/${baseCache}/diff/etc/gone`, { type: 'char', rdev: [0, 0] });
  acqTree.set(`var/lib/docker/overlay2/${baseCache}/diff/opt`, { type: 'dir', xattrs: { 'trusted.overlay.opaque': Buffer.from('y') } });
  acqTree.set('var/lib/docker/overlay2/l/ABCDEFGHIJKLMNOPQRSTUVWXYZ', { type: 'symlink', link: `../${baseCache}/diff` });
  const smallLayer = layers.find((x) => x.startsWith('41a38f54fc4d'))!;
  for (const f of ['cache-id', 'diff', 'parent', 'size', 'tar-split.json.gz']) acqTree.set(`var/lib/docker/${IMG}/layerdb/sha256/${smallLayer}/${f}`, { type: 'file', body: read(`${IMG}/layerdb/sha256/${smallLayer}/${f}`) });
  const acq = zlib.gunzipSync(await treeToTgz(acqTree));
  put('acquisition', 'small-root.tar', acq);
  put('acquisition', 'small-root-gz.tar', zlib.gzipSync(acq));

  await putTree('containerd-ingest', 'partial-downloads.tgz', ingestSeed());

  for (const t of fs.readdirSync(SEEDS).sort()) {
    const files = fs.readdirSync(path.join(SEEDS, t));
    console.log(`${t.padEnd(17)} ${files.length} seeds, ${files.reduce((n, f) => n + fs.statSync(path.join(SEEDS, t, f)).size, 0)} bytes`);
  }
}

/** Two interrupted downloads in a containerd content store (FORMATS.md §9.2), one with every file. */
function ingestSeed(): Tree {
  const B = 'io.containerd.content.v1.content/ingest';
  const file = (s: string) => ({ type: 'file' as const, body: Buffer.from(s) });
  const ref1 = `layer-sha256:${hex('a')}`;
  const ref2 = `manifest-sha256:${hex('b')}`;
  const d1 = `${B}/${createHash('sha256').update(ref1).digest('hex')}`;
  const d2 = `${B}/${createHash('sha256').update(ref2).digest('hex')}`;
  return new Map([
    [`${d1}/ref`, file(ref1)],
    [`${d1}/data`, file('partial layer bytes')],
    [`${d1}/total`, file('1048576')],
    [`${d1}/startedat`, file('2026-11-23T01:02:03.123456789Z')],
    [`${d1}/updatedat`, file('2026-11-23T03:02:04.5+02:00')],
    [`${d2}/ref`, file(ref2)],
    [`${d2}/startedat`, file('2026-11-23T01:02:03Z')],
  ]);
}

await main();
