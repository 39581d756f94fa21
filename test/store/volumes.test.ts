import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { makePathMap } from '../../src/analysis/paths.js';
import { dockerVolumeList, engineVolume, findVolume, rfc3339Seconds, volumeReport } from '../../src/analysis/volumes.js';
import { buildModel } from '../../src/model/graph.js';
import { ResolveError } from '../../src/model/resolve.js';
import { DirSource } from '../../src/source/dir.js';
import { Findings } from '../../src/store/findings.js';
import { loadVolumeStore, parseVolumeDb, parseVolumeOpts, parseVolumeRecord, treeUsage } from '../../src/store/volumes.js';
import { buildBolt, type BoltTree } from '../helpers/bboltwriter.js';
import { tmpDir } from '../helpers/tarbuild.js';

const meta = (name: string, extra: Record<string, unknown> = {}) => JSON.stringify({ Name: name, Driver: 'local', Labels: null, Options: null, ...extra });
const codes = (f: Findings) => f.list.map((x) => x.code);

function db(tree: BoltTree, o: Parameters<typeof buildBolt>[1] = {}) {
  return buildBolt(tree, o).buf;
}

// ------------------------------------------------------------------------------------------------
// records

test('volume record: fields as Docker writes them', () => {
  const m = parseVolumeRecord(Buffer.from('web'), Buffer.from(meta('web', { Labels: { b: '2', a: '1' }, Options: { type: 'nfs', o: 'addr=1.2.3.4' } })));
  assert.deepEqual(m, { key: 'web', name: 'web', driver: 'local', labels: { b: '2', a: '1' }, options: { type: 'nfs', o: 'addr=1.2.3.4' } });
});

test('volume record: Go decoding rules (case-insensitive fields, null, empty)', () => {
  // encoding/json matches struct fields case-insensitively.
  const m = parseVolumeRecord(Buffer.from('x'), Buffer.from('{"name":"x","DRIVER":"local","labels":{}}'));
  assert.equal(m.name, 'x');
  assert.equal(m.driver, 'local');
  assert.deepEqual(m.labels, {});
  assert.equal(m.unusable, undefined);
  // A key named __proto__ is kept as a label, not swallowed by the object's prototype setter.
  const proto = parseVolumeRecord(Buffer.from('p'), Buffer.from('{"Name":"p","Labels":{"__proto__":"x","a":"b"}}'));
  assert.deepEqual(Object.keys(proto.labels!), ['__proto__', 'a']);
  assert.equal(Object.getPrototypeOf(proto.labels), Object.prototype);
  // JSON null decodes into a struct of zero values without an error.
  assert.deepEqual(parseVolumeRecord(Buffer.from('y'), Buffer.from('null')), { key: 'y', name: '', driver: '', labels: null, options: null });
  // listMeta skips empty values.
  assert.equal(parseVolumeRecord(Buffer.from('z'), Buffer.alloc(0)).unusable, 'empty value');
});

test('volume record: hostile values are reported, never thrown', () => {
  const bad = (v: string) => parseVolumeRecord(Buffer.from('k'), Buffer.from(v)).unusable ?? '(usable)';
  assert.match(bad('{"Name":'), /invalid JSON/);
  assert.match(bad('[1,2]'), /an array, not a JSON object/);
  assert.match(bad('"str"'), /a string, not a JSON object/);
  assert.match(bad('{"Name":5}'), /Name is a number/);
  assert.match(bad('{"Name":"k","Labels":["a"]}'), /Labels is an array/);
  assert.match(bad('{"Name":"k","Options":{"a":1}}'), /Options\["a"\] is a number/);
  assert.match(bad('{"Name":"k","Driver":{"x":1}}'), /Driver is an object/);
  // Not UTF-8: the key is shown described, so it cannot pass for a different printable name.
  const m = parseVolumeRecord(Buffer.from([0xff, 0xfe, 0x41]), Buffer.from(meta('A')));
  assert.equal(m.key, '0xfffe41');
});

// ------------------------------------------------------------------------------------------------
// metadata.db

test('metadata.db: every record of the volumes bucket, problems as findings', () => {
  const f = new Findings();
  const buf = db({
    volumes: {
      a: meta('a'),
      b: '{"Name":',
      c: meta('other'),
      d: '',
      e: { nested: 'x' },
    },
  });
  const r = parseVolumeDb(buf, 'volumes/metadata.db', f);
  assert.equal(r.ok, true);
  assert.deepEqual([...r.metas.keys()], ['a', 'b', 'c', 'd']);
  assert.equal(r.metas.get('a')!.unusable, undefined);
  assert.match(r.metas.get('b')!.unusable!, /invalid JSON/);
  assert.equal(r.metas.get('c')!.name, 'other');
  assert.ok(codes(f).includes('volume.bad-metadata'));
  assert.ok(codes(f).includes('volume.name-mismatch'));
  assert.ok(codes(f).includes('volume.nested-bucket'));
  assert.ok(f.list.every((x) => x.path === 'volumes/metadata.db'));
  assert.equal(f.list.find((x) => x.message.includes('"b"'))!.severity, 'error');
  assert.equal(f.list.find((x) => x.message.includes('"d"'))!.severity, 'warn');
});

test('metadata.db: no bucket is a note, garbage is an error, neither throws', () => {
  const f1 = new Findings();
  const r1 = parseVolumeDb(db({ other: { k: 'v' } }), 'volumes/metadata.db', f1);
  assert.equal(r1.ok, true);
  assert.equal(r1.metas.size, 0);
  assert.deepEqual(codes(f1), ['volume.no-bucket']);

  const f2 = new Findings();
  const r2 = parseVolumeDb(Buffer.from('not a bolt file at all'.repeat(300)), 'volumes/metadata.db', f2);
  assert.equal(r2.ok, false);
  assert.ok(f2.hasErrors);
});

test('metadata.db --deleted: records only in free pages, stale copies of live ones left out', () => {
  const f = new Findings();
  const buf = db(
    { volumes: { keep: meta('keep'), relabelled: meta('relabelled', { Labels: { v: '2' } }) } },
    {
      // A paged `volumes` bucket leaves plain leaves (within = []); an inline one sits in a stale root page.
      stale: [
        { keep: meta('keep'), gone: meta('gone', { Labels: { evidence: 'yes' } }), relabelled: meta('relabelled', { Labels: { v: '1' } }) },
        { volumes: { inline: meta('inline'), junk: 'garbage' } },
        { other: { notvol: meta('notvol') } },
      ],
    },
  );
  const r = parseVolumeDb(buf, 'volumes/metadata.db', f, { deleted: true });
  const got = r.deleted.map((d) => [d.meta.name, d.state]).sort();
  assert.deepEqual(got, [
    ['gone', 'deleted'],
    ['inline', 'deleted'],
    ['relabelled', 'superseded'],
  ]);
  assert.deepEqual(r.deleted.find((d) => d.meta.name === 'gone')!.meta.labels, { evidence: 'yes' });
  assert.ok(r.deleted.every((d) => d.source === 'freelist'));
  // Without the option nothing is recovered.
  assert.equal(parseVolumeDb(buf, 'volumes/metadata.db', new Findings()).deleted.length, 0);
});

test('opts.json: decoded like optsConfig; bad files reported', () => {
  const ok = parseVolumeOpts(Buffer.from('{"MountType":"nfs","MountOpts":"addr=10.0.0.1,rw","MountDevice":":/export","Quota":{"Size":1024}}'));
  assert.deepEqual({ ...ok.opts, raw: undefined }, { MountType: 'nfs', MountOpts: 'addr=10.0.0.1,rw', MountDevice: ':/export', QuotaSize: 1024, raw: undefined });
  assert.equal(ok.problem, undefined);
  assert.match(parseVolumeOpts(Buffer.from('{')).problem!, /invalid JSON/);
  assert.match(parseVolumeOpts(Buffer.from('7')).problem!, /not an object/);
  assert.match(parseVolumeOpts(Buffer.from('{"MountType":1,"Quota":"big"}')).problem!, /Quota is a string.*MountType is a number/);
});

// ------------------------------------------------------------------------------------------------
// directories, usage, and the joined report

const CID = 'c'.repeat(64);
const ANON = 'a'.repeat(64);

function dataRoot(): string {
  const root = tmpDir();
  const w = (p: string, data: string | Buffer) => {
    fs.mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
    fs.writeFileSync(path.join(root, p), data);
  };
  fs.mkdirSync(path.join(root, 'volumes/withdata/_data/sub'), { recursive: true });
  w('volumes/withdata/_data/one', 'hello');
  w('volumes/withdata/_data/sub/two', '0123456789');
  fs.linkSync(path.join(root, 'volumes/withdata/_data/one'), path.join(root, 'volumes/withdata/_data/hardlink'));
  fs.symlinkSync('/etc/passwd', path.join(root, 'volumes/withdata/_data/abs'));
  fs.mkdirSync(path.join(root, `volumes/${ANON}/_data`), { recursive: true });
  fs.mkdirSync(path.join(root, 'volumes/diskonly/_data'), { recursive: true });
  fs.mkdirSync(path.join(root, 'volumes/nodata'), { recursive: true });
  w('volumes/withdata/opts.json', '{"MountType":"tmpfs","MountOpts":"size=1m","MountDevice":"tmpfs"}');
  w('volumes/nodata/opts.json', '{"MountType":');
  w('volumes/stray-file', 'x');
  w(
    'volumes/metadata.db',
    db({
      volumes: {
        withdata: meta('withdata', { Labels: { 'com.example': 'x\u001b[31m' } }),
        [ANON]: meta(ANON, { Labels: { 'com.docker.volume.anonymous': '' } }),
        nodata: meta('nodata'),
        metaonly: meta('metaonly'),
        '../escape': meta('../escape'),
        broken: '{"Name":5}',
      },
    }),
  );
  w(
    `containers/${CID}/config.v2.json`,
    JSON.stringify({
      ID: CID,
      Name: '/user',
      Driver: 'overlay2',
      State: { Running: true },
      MountPoints: {
        '/data': { Source: '/var/lib/docker/volumes/withdata/_data', Destination: '/data', RW: true, Name: 'withdata', Driver: 'local', Type: 'volume' },
        '/anon': { Source: '', Destination: '/anon', RW: true, Name: ANON, Driver: 'local', Type: 'volume' },
        '/gone': { Source: '/var/lib/docker/volumes/removed/_data', Destination: '/gone', RW: false, Name: 'removed', Driver: 'local', Type: 'volume' },
        '/bind': { Source: '/srv', Destination: '/bind', RW: true, Name: '', Driver: '', Type: 'bind' },
      },
    }),
  );
  fs.mkdirSync(path.join(root, 'image/overlay2'), { recursive: true });
  return root;
}

test('treeUsage: sizes like pkg/directory.Size (hard links once, symlinks by their own size), bounded', () => {
  const root = dataRoot();
  const src = new DirSource(root);
  const f = new Findings();
  const u = treeUsage(src, 'volumes/withdata/_data', f)!;
  assert.equal(u.bytes, 5 + 10 + '/etc/passwd'.length);
  assert.equal(u.files, 4);
  assert.equal(u.dirs, 2);
  assert.equal(u.truncated, false);
  assert.ok(u.newestMtimeNs! > 0n);
  assert.equal(treeUsage(src, 'volumes/nothing', f), undefined);
  const cut = treeUsage(src, 'volumes/withdata/_data', f, { maxEntries: 2 })!;
  assert.equal(cut.truncated, true);
  const shallow = treeUsage(src, 'volumes/withdata/_data', f, { maxDepth: 1 })!;
  assert.equal(shallow.truncated, true);
  assert.equal(shallow.files, 3);
});

test('loadVolumeStore: directories only, opts.json decoded, strays noted', () => {
  const src = new DirSource(dataRoot());
  const f = new Findings();
  const s = loadVolumeStore(src, f);
  assert.equal(s.db, true);
  assert.deepEqual([...s.dirs.keys()].sort(), [ANON, 'diskonly', 'nodata', 'withdata'].sort());
  assert.equal(s.dirs.get('withdata')!.opts!.MountType, 'tmpfs');
  assert.equal(s.dirs.get('nodata')!.data, undefined);
  assert.match(s.dirs.get('nodata')!.badOpts!, /invalid JSON/);
  assert.ok(codes(f).includes('volume.stray'));
  assert.ok(codes(f).includes('volume.bad-opts'));
  assert.ok(!f.list.some((x) => x.path === 'volumes/metadata.db' && x.code === 'volume.stray'));
});

test('volumeReport: metadata joined with directories and the containers that mount them', () => {
  const root = dataRoot();
  const model = buildModel(new DirSource(root));
  const paths = makePathMap('/evidence/docker', 'as-root');
  const r = volumeReport(model, paths);
  const by = (n: string) => r.Volumes.find((v) => v.Name === n)!;
  assert.deepEqual(
    r.Volumes.map((v) => [v.Name, v.Dockscope.Status]),
    [
      ['../escape', 'no-directory'],
      [ANON, 'ok'],
      ['broken', 'bad-metadata'],
      ['diskonly', 'no-metadata'],
      ['metaonly', 'no-directory'],
      ['nodata', 'ok'],
      ['removed', 'referenced-only'],
      ['withdata', 'ok'],
    ],
  );
  const w = by('withdata');
  assert.equal(w.Mountpoint, '/evidence/docker/volumes/withdata/_data');
  assert.deepEqual(w.Labels, { 'com.example': 'x\u001b[31m' });
  assert.equal(w.Scope, 'local');
  assert.equal(w.Dockscope.Size, 5 + 10 + 11);
  assert.equal(w.Dockscope.RefCount, 1);
  assert.deepEqual(w.Dockscope.UsedBy, [{ Container: CID, Name: '/user', Destination: '/data', RW: true, Running: true }]);
  assert.equal(w.Dockscope.Opts!.MountType, 'tmpfs');
  // No engine-id: a 22-or-older engine, whose CreatedAt is the ctime of _data.
  const st = fs.statSync(path.join(root, 'volumes/withdata/_data'), { bigint: true });
  assert.equal(w.CreatedAt, rfc3339Seconds(st.ctimeNs));
  assert.match(w.Dockscope.CreatedAtFrom!, /ctime of volumes\/withdata\/_data/);
  assert.equal(by(ANON).Dockscope.Anonymous, true);
  assert.equal(by('diskonly').Labels, null);
  assert.equal(by('diskonly').Dockscope.DockerLists, true);
  assert.equal(by('metaonly').Dockscope.DockerLists, false);
  assert.equal(by('metaonly').CreatedAt, undefined);
  // A name that is not one path component never becomes a path.
  assert.equal(by('../escape').Mountpoint, '');
  assert.equal(by('../escape').Dockscope.Directory, undefined);
  assert.equal(by('removed').Mountpoint, '/evidence/docker/volumes/removed/_data');
  assert.deepEqual(by('removed').Dockscope.UsedBy.map((u) => u.Destination), ['/gone']);
  assert.equal(by('broken').Dockscope.DockerLists, false);
  assert.match(by('broken').Dockscope.MetadataProblem!, /Name is a number/);
  // docker volume ls: what has a directory.
  assert.deepEqual(dockerVolumeList(r).map((v) => v.Name), [ANON, 'diskonly', 'nodata', 'withdata']);
  assert.deepEqual(Object.keys(engineVolume(w)), ['CreatedAt', 'Driver', 'Labels', 'Mountpoint', 'Name', 'Options', 'Scope']);
  const codesNow = codes(model.findings);
  for (const c of ['volume.no-directory', 'volume.no-metadata', 'volume.missing', 'volume.bad-metadata']) assert.ok(codesNow.includes(c), c);
});

test('volumeReport: engine-id switches CreatedAt to the volume directory (Docker 23+)', () => {
  const root = dataRoot();
  fs.writeFileSync(path.join(root, 'engine-id'), '6f1c8f0e-0000-4000-8000-000000000000');
  const r = volumeReport(buildModel(new DirSource(root)), makePathMap(root, 'directory'));
  const w = r.Volumes.find((v) => v.Name === 'withdata')!;
  const st = fs.statSync(path.join(root, 'volumes/withdata'), { bigint: true });
  assert.equal(w.CreatedAt, rfc3339Seconds(st.ctimeNs));
  assert.match(w.Dockscope.CreatedAtFrom!, /ctime of volumes\/withdata,/);
});

test('findVolume: exact name, unique prefix, else a clear error', () => {
  const root = dataRoot();
  fs.mkdirSync(path.join(root, 'volumes/withdata2/_data'), { recursive: true });
  const r = volumeReport(buildModel(new DirSource(root)), makePathMap('/x', 'as-root'), { size: false });
  assert.equal(findVolume(r, 'withdata').Name, 'withdata');
  assert.equal(findVolume(r, 'aaaa').Name, ANON);
  assert.equal(findVolume(r, 'meta').Name, 'metaonly');
  assert.equal(findVolume(r, 'withdata').Dockscope.Size, undefined);
  assert.throws(() => findVolume(r, 'with'), (e: unknown) => e instanceof ResolveError && e.candidates.join() === 'withdata,withdata2');
  assert.throws(() => findVolume(r, 'nope'), (e: unknown) => e instanceof ResolveError && /no volume/.test(e.message));
});

test('rfc3339Seconds truncates like Go Format(RFC3339) in UTC', () => {
  assert.equal(rfc3339Seconds(1_700_000_000_999_999_999n), '2023-11-14T22:13:20Z');
  assert.equal(rfc3339Seconds(0n), '1970-01-01T00:00:00Z');
  assert.equal(rfc3339Seconds(-1n), '1969-12-31T23:59:59Z');
});

test('volumeReport --deleted: recovered records say whether their directory survived', () => {
  const root = tmpDir();
  fs.mkdirSync(path.join(root, 'volumes/leftover/_data'), { recursive: true });
  fs.mkdirSync(path.join(root, 'containers'), { recursive: true });
  fs.writeFileSync(path.join(root, 'volumes/metadata.db'), db({ volumes: { live: meta('live') } }, { stale: [{ leftover: meta('leftover'), purged: meta('purged') }] }));
  const r = volumeReport(buildModel(new DirSource(root)), makePathMap(root, 'directory'), { deleted: true });
  assert.deepEqual(
    r.Deleted!.map((d) => [d.Name, d.Directory, d.State]).sort(),
    [
      ['leftover', true, 'deleted'],
      ['purged', false, 'deleted'],
    ],
  );
  assert.equal(volumeReport(buildModel(new DirSource(root)), makePathMap(root, 'directory')).Deleted, undefined);
});
