import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { dockerNetworkList, engineNetwork, findNetwork, networkReport } from '../../src/analysis/networks.js';
import { buildModel } from '../../src/model/graph.js';
import { ResolveError } from '../../src/model/resolve.js';
import { DirSource } from '../../src/source/dir.js';
import { Findings } from '../../src/store/findings.js';
import { parseKvKey, parseNetworkDb, splitKvValue } from '../../src/store/networks.js';
import { buildBolt, type BoltTree } from '../helpers/bboltwriter.js';
import { tmpDir } from '../helpers/tarbuild.js';

const PFX = 'docker/network/v1.0/';
const h = (c: string) => c.repeat(64);
const NB = h('1'); // user bridge network
const NN = h('2'); // none
const NX = h('3'); // a network with an endpoint but no sandbox record
const EP1 = h('a');
const EP2 = h('b');
const EP3 = h('c');
const SB1 = h('d');
const C1 = h('e');
const C2 = h('f');

/** 8-byte little-endian index, then the JSON, as libkv's boltdb Put writes it. */
function kv(index: number, doc: unknown): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(index));
  return Buffer.concat([b, Buffer.from(typeof doc === 'string' ? doc : JSON.stringify(doc))]);
}

function network(id: string, name: string, type: string, extra: Record<string, unknown> = {}) {
  return {
    addrSpace: 'LocalDefault', attachable: false, configFrom: '', configOnly: false, created: '2026-01-02T03:04:05.123456789Z',
    enableIPv6: false, generic: { 'com.docker.network.generic': {} }, id, inDelete: false, ingress: false, internal: false,
    ipamOptions: null, ipamType: 'default', labels: null, loadBalancerIP: '', loadBalancerMode: 'NAT', name, networkType: type,
    persist: true, postIPv6: false, scope: 'local', ...extra,
  };
}

function endpoint(id: string, name: string, sandbox: string, iface: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return {
    disableResolution: false, dnsNames: [name], ep_iface: { dstPrefix: '', routes: null, srcName: '', v4PoolID: '', v6PoolID: '', ...iface },
    exposed_ports: [{ Proto: 6, Port: 80 }], generic: { 'com.docker.network.endpoint.exposedports': [], 'com.docker.network.portmap': [{ Proto: 6, IP: '', Port: 80, HostIP: '0.0.0.0', HostPort: 8080, HostPortEnd: 8080 }] },
    id, ingressPorts: [], joinInfo: { StaticRoutes: null, disableGatewayService: false }, loadBalancer: false, name, sandbox, svcAliases: [], svcID: '', svcName: '', virtualIP: '<nil>', ...extra,
  };
}

const userNet = network(NB, 'backend', 'bridge', {
  labels: { team: 'red' },
  generic: { 'com.docker.network.generic': { 'com.docker.network.bridge.name': 'br-x' } },
  // Double-encoded: JSON text inside the JSON record (network.go MarshalJSON).
  ipamV4Config: JSON.stringify([{ PreferredPool: '10.5.0.0/16', SubPool: '10.5.1.0/24', Gateway: '10.5.0.254', AuxAddresses: { host1: '10.5.0.5' } }]),
  ipamV4Info: JSON.stringify([{ IPAMData: JSON.stringify({ AddressSpace: 'LocalDefault', Gateway: '10.5.0.254/16', Pool: '10.5.0.0/16' }), PoolID: 'LocalDefault/10.5.0.0/16' }]),
  ipamV6Info: JSON.stringify([{ IPAMData: JSON.stringify({ AddressSpace: 'LocalDefault', Gateway: 'fd00::1/64', Pool: 'fd00::/64' }), PoolID: 'p6' }]),
});

function store(extra: Record<string, Buffer | string> = {}): BoltTree {
  const lib = new Map<string, Buffer | string>([
    [`${PFX}network/${NB}/`, kv(2, userNet)],
    [`${PFX}network/${NN}/`, kv(3, network(NN, 'none', 'null', { created: '2025-01-01T00:00:00Z' }))],
    [`${PFX}network/${NX}/`, kv(4, network(NX, 'legacy', 'bridge', { created: undefined, ipamV4Info: JSON.stringify([{ IPAMData: JSON.stringify({ AddressSpace: 'x', Gateway: '172.17.0.1/16', Pool: '172.17.0.0/16' }), PoolID: 'y' }]) }))],
    [`${PFX}endpoint/${NB}/${EP1}/`, kv(10, endpoint(EP1, 'web', SB1, { addr: '10.5.1.2/16', mac: '02:42:0a:05:01:02', addrv6: 'fd00::2/64' }))],
    [`${PFX}endpoint/${NX}/${EP2}/`, kv(11, endpoint(EP2, 'ghost', h('9'), {}))],
    [`${PFX}endpoint_count/${NB}/`, kv(12, { Count: 1 })],
    [`${PFX}endpoint_count/`, kv(13, '')],
    [`${PFX}sandbox/${SB1}/`, kv(14, { ID: SB1, Cid: C1, Eps: [{ Eid: EP1, Nid: NB }], EpPriority: {}, ExtDNS2: [{ IPStr: '1.1.1.1', HostLoopback: false }] })],
    [`${PFX}bridge/${NB}/`, kv(15, { ID: NB, BridgeName: 'br-x', EnableICC: true })],
    ...Object.entries(extra),
  ]);
  return { libnetwork: lib };
}

// ------------------------------------------------------------------------------------------------
// values and keys

test('kv value: 8-byte little-endian index, then JSON', () => {
  const v = splitKvValue(kv(0x0102, { a: 1 }));
  assert.equal(v.index, 0x0102n);
  assert.deepEqual(v.json, { a: 1 });
  assert.equal(v.problem, undefined);
  // The index is little-endian whatever bbolt's byte order: 0x7b ('{') as its low byte is a real index.
  const brace = splitKvValue(kv(0x7b, { b: 2 }));
  assert.equal(brace.index, 0x7bn);
  assert.deepEqual(brace.json, { b: 2 });
  // libnetwork ≤ 20.10 writes directory markers: an index and nothing else.
  assert.deepEqual(splitKvValue(kv(5, '')), { index: 5n, marker: true });
});

test('kv value: hostile and damaged values are reported, never thrown', () => {
  const noPrefix = splitKvValue(Buffer.from('{"id":"x","name":"y"}'));
  assert.equal(noPrefix.index, undefined);
  assert.deepEqual(noPrefix.json, { id: 'x', name: 'y' });
  assert.match(noPrefix.problem!, /no 8-byte index prefix/);
  const shortJson = splitKvValue(Buffer.from('{}'));
  assert.deepEqual(shortJson.json, {});
  assert.match(shortJson.problem!, /no 8-byte index/);
  assert.match(splitKvValue(Buffer.from([1, 2, 3])).problem!, /3 bytes, shorter than the 8-byte index/);
  assert.match(splitKvValue(Buffer.alloc(0)).problem!, /0 bytes/);
  const bad = splitKvValue(kv(1, '{"id":'));
  assert.equal(bad.index, 1n);
  assert.equal(bad.json, undefined);
  assert.match(bad.problem!, /invalid JSON/);
  assert.match(splitKvValue(Buffer.from('{broken')).problem!, /shorter|invalid JSON/);
});

test('kv key: kind and parts under docker/network/v1.0/', () => {
  assert.deepEqual(parseKvKey(`${PFX}endpoint/${NB}/${EP1}/`), { kind: 'endpoint', parts: [NB, EP1] });
  assert.deepEqual(parseKvKey(`${PFX}endpoint_count/`), { kind: 'endpoint_count', parts: [] });
  assert.deepEqual(parseKvKey(`${PFX}network/abc`), { kind: 'network', parts: ['abc'] });
  assert.equal(parseKvKey('docker/network/v2.0/network/abc/'), undefined);
  assert.equal(parseKvKey('other'), undefined);
});

// ------------------------------------------------------------------------------------------------
// the store

test('local-kv.db: networks, endpoints, sandboxes, counts and driver records', () => {
  const f = new Findings();
  const s = parseNetworkDb(buildBolt(store()).buf, 'network/files/local-kv.db', f);
  assert.equal(s.db, true);
  assert.deepEqual(f.list, []);
  assert.deepEqual([...s.networks.keys()].sort(), [NB, NN, NX].sort());
  const n = s.networks.get(NB)!;
  assert.equal(n.name, 'backend');
  assert.equal(n.type, 'bridge');
  assert.equal(n.index, 2n);
  assert.equal(n.created, '2026-01-02T03:04:05.123456789Z');
  assert.deepEqual(n.labels, { team: 'red' });
  assert.deepEqual(n.driverOptions, { 'com.docker.network.bridge.name': 'br-x' });
  assert.deepEqual(n.ipamV4Config, [{ PreferredPool: '10.5.0.0/16', SubPool: '10.5.1.0/24', Gateway: '10.5.0.254', AuxAddresses: { host1: '10.5.0.5' } }]);
  assert.deepEqual(n.ipamV4Info, [{ PoolID: 'LocalDefault/10.5.0.0/16', AddressSpace: 'LocalDefault', Pool: '10.5.0.0/16', Gateway: '10.5.0.254/16' }]);
  // network.go UnmarshalJSON turns IPv6 on for networks that hold v6 pools.
  assert.equal(n.enableIPv6, true);
  assert.equal(s.networks.get(NX)!.created, undefined);
  const e = s.endpoints.find((x) => x.id === EP1)!;
  assert.equal(e.networkId, NB);
  assert.equal(e.name, 'web');
  assert.equal(e.sandbox, SB1);
  assert.equal(e.addr, '10.5.1.2/16');
  assert.equal(e.mac, '02:42:0a:05:01:02');
  assert.deepEqual(e.portMap, [{ Proto: 6, IP: '', Port: 80, HostIP: '0.0.0.0', HostPort: 8080, HostPortEnd: 8080 }]);
  assert.deepEqual(e.exposedPorts, [{ Proto: 6, Port: 80 }]);
  const sb = s.sandboxes.get(SB1)!;
  assert.equal(sb.containerId, C1);
  assert.deepEqual(sb.endpoints, [{ eid: EP1, nid: NB }]);
  assert.deepEqual(sb.extDNS, ['1.1.1.1']);
  assert.equal(s.endpointCounts.get(NB), 1);
  assert.deepEqual(s.other.map((o) => [o.kind, o.marker === true]).sort(), [['bridge', false], ['endpoint_count', true]]);
});

test('local-kv.db: wrong types, bad JSON, missing prefixes and strange keys become findings', () => {
  const f = new Findings();
  const s = parseNetworkDb(
    buildBolt(
      store({
        [`${PFX}network/${h('4')}/`]: kv(20, { id: h('4'), name: 7, networkType: 'bridge', labels: ['x'], enableIPv6: 'yes', ipamV4Config: '{not json', ipamV4Info: 5, generic: [] }),
        [`${PFX}network/${h('5')}/`]: kv(21, '[1,2]'),
        [`${PFX}network/${h('6')}/`]: kv(22, '{"id":'),
        [`${PFX}network/${h('7')}/`]: Buffer.from(JSON.stringify(network(h('7'), 'noprefix', 'null'))),
        [`${PFX}endpoint/${NB}/${EP3}/`]: kv(23, { id: EP3, name: 'x', sandbox: 5, ep_iface: 'nope', myAliases: 'a', generic: { 'com.docker.network.portmap': {} } }),
        [`${PFX}sandbox/${h('8')}/`]: kv(24, { ID: h('8'), Cid: 9, Eps: 'x' }),
        [`${PFX}endpoint_count/${NN}/`]: kv(25, { Count: 'many' }),
        [`${PFX}network/${h('0')}/`]: kv(26, network('somethingelse', 'mismatch', 'null')),
        'docker/other/key': kv(27, {}),
        [`${PFX}network/${h('e')}/`]: Buffer.from([1, 2]),
      }),
    ).buf,
    'network/files/local-kv.db',
    f,
  );
  const msgs = f.list.map((x) => `${x.severity} ${x.code} ${x.message}`);
  const has = (re: RegExp) => assert.ok(msgs.some((m) => re.test(m)), `${re} in\n${msgs.join('\n')}`);
  has(/warn network.bad-field network .*name is a number.*labels is an array.*enableIPv6 is a boolean|warn network.bad-field network .*name is a number/);
  has(/ipamV4Config: invalid JSON/);
  has(/error network.bad-value .*value is an array, not a JSON object/);
  has(/error network.bad-value .*invalid JSON/);
  has(/warn network.bad-value .*no 8-byte index prefix/);
  has(/warn network.bad-field endpoint .*sandbox is a number/);
  has(/ep_iface is a string/);
  has(/warn network.bad-field sandbox .*Cid is a number/);
  has(/endpoint_count .*Count is a string/);
  has(/network.id-mismatch/);
  has(/warn network.unknown-key key "docker\/other\/key"/);
  has(/error network.bad-value .*2 bytes, shorter/);
  // Everything still parsed as far as it goes.
  const weird = s.networks.get(h('4'))!;
  assert.equal(weird.name, '');
  assert.equal(weird.labels, null);
  assert.equal(weird.enableIPv6, false);
  assert.deepEqual(weird.ipamV4Config, []);
  assert.equal(s.networks.get(h('7'))!.name, 'noprefix');
  assert.equal(s.networks.get(h('7'))!.index, undefined);
  assert.equal(s.networks.has(h('5')), false);
  assert.equal(s.sandboxes.get(h('8'))!.containerId, '');
  assert.equal(s.endpoints.find((x) => x.id === EP3)!.sandbox, '');
});

test('local-kv.db --deleted: stale records not live (or older values of live ones)', () => {
  const gone = h('7');
  const f = new Findings();
  const buf = buildBolt(store(), {
    stale: [
      {
        [`${PFX}sandbox/${gone}/`]: kv(90, { ID: gone, Cid: C2, Eps: [] }),
        [`${PFX}sandbox/${SB1}/`]: kv(14, { ID: SB1, Cid: C1, Eps: [{ Eid: EP1, Nid: NB }], EpPriority: {}, ExtDNS2: [{ IPStr: '1.1.1.1', HostLoopback: false }] }),
        [`${PFX}network/${NB}/`]: kv(1, network(NB, 'backend-old', 'bridge')),
        [`${PFX}endpoint_count/`]: kv(1, ''),
        'unrelated/key': kv(1, {}),
      },
      { libnetwork: { [`${PFX}network/${h('6')}/`]: kv(91, network(h('6'), 'removed-net', 'macvlan')) } },
    ],
  }).buf;
  const s = parseNetworkDb(buf, 'network/files/local-kv.db', f, { deleted: true });
  const got = s.deleted.map((d) => [d.kind, d.state, (d.json as { name?: string; Cid?: string }).name ?? (d.json as { Cid?: string }).Cid]).sort();
  assert.deepEqual(got, [
    ['network', 'deleted', 'removed-net'],
    ['network', 'superseded', 'backend-old'],
    ['sandbox', 'deleted', C2],
  ]);
  assert.equal(s.deleted.find((d) => d.kind === 'sandbox')!.index, 90n);
  assert.equal(parseNetworkDb(buf, 'x', new Findings()).deleted.length, 0);
});

test('local-kv.db: absent bucket and garbage files', () => {
  const f = new Findings();
  const s = parseNetworkDb(buildBolt({ other: { a: 'b' } }).buf, 'p', f);
  assert.equal(s.db, true);
  assert.equal(s.networks.size, 0);
  assert.deepEqual(f.list.map((x) => x.code), ['network.no-bucket']);
  const g = new Findings();
  assert.equal(parseNetworkDb(Buffer.alloc(10000, 0x41), 'p', g).db, false);
  assert.ok(g.hasErrors);
});

// ------------------------------------------------------------------------------------------------
// the joined report

function root(opts: { engineId?: boolean; tree?: BoltTree } = {}): string {
  const r = tmpDir();
  fs.mkdirSync(path.join(r, 'network/files'), { recursive: true });
  fs.writeFileSync(path.join(r, 'network/files/local-kv.db'), buildBolt(opts.tree ?? store()).buf);
  if (opts.engineId) fs.writeFileSync(path.join(r, 'engine-id'), 'x');
  const container = (id: string, name: string, running: boolean, networks: Record<string, unknown>) => {
    fs.mkdirSync(path.join(r, 'containers', id), { recursive: true });
    fs.writeFileSync(path.join(r, 'containers', id, 'config.v2.json'), JSON.stringify({ ID: id, Name: name, State: { Running: running }, NetworkSettings: { SandboxID: '', Networks: networks } }));
  };
  container(C1, '/web', true, { backend: { NetworkID: NB, EndpointID: EP1, IPAddress: '10.5.1.2', IPPrefixLen: 16, MacAddress: '02:42:0a:05:01:02' } });
  container(C2, '/stopped', false, {
    backend: { NetworkID: NB, EndpointID: '', IPAddress: '', IPPrefixLen: 0 },
    ghostnet: { NetworkID: '', EndpointID: '' },
  });
  return r;
}

test('networkReport: engine fields, endpoints joined to containers, container-only networks', () => {
  const model = buildModel(new DirSource(root()));
  const r = networkReport(model);
  assert.equal(r.StoreDb, true);
  // Sorted by creation time (none was created first); a missing created time sorts first.
  assert.deepEqual(r.Networks.map((n) => [n.Name, n.Dockscope.Source]), [
    ['legacy', 'store'],
    ['none', 'store'],
    ['backend', 'store'],
    ['ghostnet', 'containers'],
  ]);
  const b = findNetwork(r, 'backend');
  assert.deepEqual(engineNetwork(b), {
    Name: 'backend',
    Id: NB,
    Created: '2026-01-02T03:04:05.123456789Z',
    Scope: 'local',
    Driver: 'bridge',
    EnableIPv6: true,
    IPAM: {
      Driver: 'default',
      Options: null,
      Config: [
        { Subnet: '10.5.0.0/16', IPRange: '10.5.1.0/24', Gateway: '10.5.0.254', AuxiliaryAddresses: { host1: '10.5.0.5' } },
        { Subnet: 'fd00::/64', Gateway: 'fd00::1/64' },
      ],
    },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: { [C1]: { Name: 'web', EndpointID: EP1, MacAddress: '02:42:0a:05:01:02', IPv4Address: '10.5.1.2/16', IPv6Address: 'fd00::2/64' } },
    Options: { 'com.docker.network.bridge.name': 'br-x' },
    Labels: { team: 'red' },
  });
  const eps = b.Dockscope.Endpoints;
  assert.deepEqual(eps.map((e) => [e.ContainerName, e.InStore, e.InContainer, e.Running]), [
    ['/stopped', false, true, false],
    ['/web', true, true, true],
  ]);
  assert.equal(eps[1]!.Index, '10');
  assert.equal(b.Dockscope.StoredEndpointCount, 1);
  // Allocated pools stand in when nothing was configured (buildIPAMResources), gateway without prefix.
  assert.deepEqual(findNetwork(r, 'legacy').IPAM.Config, [{ Subnet: '172.17.0.0/16', Gateway: '172.17.0.1' }]);
  assert.equal(findNetwork(r, 'legacy').Created, '0001-01-01T00:00:00Z');
  // An endpoint whose sandbox is not in the store is keyed "ep-<id>", as the daemon does.
  assert.deepEqual(Object.keys(findNetwork(r, 'legacy').Containers), [`ep-${EP2}`]);
  // Endpoint records carry dnsNames: a 25+ engine, whose empty IPAM.Config is null.
  assert.equal(findNetwork(r, 'none').IPAM.Config, null);
  const ghost = findNetwork(r, 'ghostnet');
  assert.equal(ghost.Id, '');
  assert.deepEqual(ghost.Dockscope.Endpoints.map((e) => e.ContainerID), [C2]);
  assert.deepEqual(r.Sandboxes.map((s) => [s.ContainerName, s.ContainerExists, s.Endpoints[0]!.Network]), [['/web', true, 'backend']]);
  assert.deepEqual(r.DriverRecords.map((d) => d.Kind).sort(), ['bridge', 'endpoint_count']);
  assert.ok(r.Notes.some((n) => /not in the store: host, bridge/.test(n)));
  // network ls: store networks only, Containers empty.
  const ls = dockerNetworkList(r);
  assert.deepEqual(ls.map((n) => n.Name), ['legacy', 'none', 'backend']);
  assert.ok(ls.every((n) => Object.keys(n.Containers).length === 0 && !('Dockscope' in n)));
});

test('networkReport: empty IPAM.Config is [] for engines up to 24', () => {
  const old = store({
    [`${PFX}endpoint/${NB}/${EP1}/`]: kv(10, endpoint(EP1, 'web', SB1, {}, { dnsNames: undefined, myAliases: [], anonymous: false })),
  });
  assert.deepEqual(findNetwork(networkReport(buildModel(new DirSource(root({ tree: old })))), 'none').IPAM.Config, []);
  // Without endpoint records, no engine-id means 22 or older.
  const bare: BoltTree = { libnetwork: { [`${PFX}network/${NN}/`]: kv(3, network(NN, 'none', 'null')) } };
  assert.deepEqual(findNetwork(networkReport(buildModel(new DirSource(root({ tree: bare })))), 'none').IPAM.Config, []);
  assert.equal(findNetwork(networkReport(buildModel(new DirSource(root({ tree: bare, engineId: true })))), 'none').IPAM.Config, null);
});

test('networkReport --deleted names the containers of removed sandboxes', () => {
  const tree = store();
  const r0 = root();
  const gone = h('7');
  fs.writeFileSync(
    path.join(r0, 'network/files/local-kv.db'),
    buildBolt(tree, { stale: [{ [`${PFX}sandbox/${gone}/`]: kv(90, { ID: gone, Cid: C2, Eps: [] }), [`${PFX}sandbox/${h('6')}/`]: kv(91, { ID: h('6'), Cid: h('5'), Eps: [] }) }] }).buf,
  );
  const r = networkReport(buildModel(new DirSource(r0)), { deleted: true });
  assert.deepEqual(r.Deleted!.map((d) => [d.Kind, d.ContainerID, d.ContainerExists]).sort(), [
    ['sandbox', h('5'), false],
    ['sandbox', C2, true],
  ]);
});

test('findNetwork: ID, name, unique prefix; ambiguity and absence are errors', () => {
  const r = networkReport(buildModel(new DirSource(root())));
  assert.equal(findNetwork(r, NB).Name, 'backend');
  assert.equal(findNetwork(r, 'none').Id, NN);
  assert.equal(findNetwork(r, '333').Name, 'legacy');
  assert.throws(() => findNetwork(r, 'nothing'), (e: unknown) => e instanceof ResolveError && /no network/.test(e.message));
  assert.throws(() => findNetwork(r, ''), ResolveError);
  const dup = store({ [`${PFX}network/${h('4')}/`]: kv(30, network(h('4'), 'backend', 'bridge')), [`${PFX}network/${h('5')}/`]: kv(31, network('1' + h('5').slice(1), 'other', 'bridge')) });
  const r2 = networkReport(buildModel(new DirSource(root({ tree: dup }))));
  assert.throws(() => findNetwork(r2, 'backend'), (e: unknown) => e instanceof ResolveError && e.candidates.length === 2);
  assert.throws(() => findNetwork(r2, '1'), (e: unknown) => e instanceof ResolveError && e.candidates.join() === [NB, '1' + h('5').slice(1)].sort().join());
});
