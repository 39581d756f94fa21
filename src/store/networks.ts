import type { Source } from '../source/types.js';
import { describeKey, openBolt, type StaleSource } from './bbolt.js';
import type { Findings } from './findings.js';
import { isObject, readOptional, tryJson } from './read.js';
import { limits } from '../source/limits.js';
import { jsonType, keyText, setOwn } from './volumes.js';

/**
 * libnetwork's local store (FORMATS.md §1.8): `network/files/local-kv.db`, bbolt bucket
 * `libnetwork`, keys `docker/network/v1.0/<kind>/<id…>/` (`libnetwork/datastore/datastore.go Key`),
 * values = an 8-byte little-endian write index followed by the object's JSON
 * (`libnetwork/internal/kvstore/boltdb/boltdb.go Put`, libkv's boltdb before 23.0). The index is a
 * per-daemon-run counter, so it orders writes within one run only; it is little-endian whatever
 * the host's byte order (binary.LittleEndian), unlike bbolt's own fields.
 *
 * Kinds read here: `network/<nid>/` (Network.MarshalJSON), `endpoint/<nid>/<eid>/`
 * (Endpoint.MarshalJSON), `endpoint_count/<nid>/` (`{"Count":n}`), `sandbox/<sbid>/` (sbState:
 * which container a sandbox belongs to). Driver records (`bridge/<nid>/`, `bridge-endpoint/<eid>/`,
 * overlay, macvlan, ipvlan …) are kept as raw JSON.
 */

export const NETWORK_DB = 'network/files/local-kv.db';
export const NETWORK_BUCKET = 'libnetwork';
export const ROOT_CHAIN = 'docker/network/v1.0/';
const INDEX_LEN = 8;

export interface KvValue {
  /** The libkv write index (absent when the value is too short or the prefix is missing). */
  index?: bigint;
  /** Decoded JSON; undefined when there is none or it does not parse. */
  json?: unknown;
  /** An index with nothing after it: a directory marker (libnetwork ≤ 20.10 `ensureParent`). */
  marker?: boolean;
  problem?: string;
}

/** Splits a stored value into index and JSON. Never throws. */
export function splitKvValue(value: Buffer): KvValue {
  const parse = (b: Buffer): { json?: unknown; problem?: string } => {
    const r = tryJson(b.toString('utf8'));
    return 'value' in r ? { json: r.value } : { problem: `invalid JSON: ${r.error}` };
  };
  const startsJson = value.length > 0 && (value[0] === 0x7b || value[0] === 0x5b);
  if (value.length < INDEX_LEN) {
    if (startsJson) {
      const p = parse(value);
      return p.problem ? { problem: `no 8-byte index prefix; ${p.problem}` } : { json: p.json, problem: 'no 8-byte index prefix' };
    }
    return { problem: `value is ${value.length} bytes, shorter than the 8-byte index prefix` };
  }
  if (startsJson) {
    // An index whose low byte is '{' or '[' is possible (123, 91 …): only call the prefix missing
    // when the whole value is JSON on its own.
    const whole = parse(value);
    if (!whole.problem) return { json: whole.json, problem: 'no 8-byte index prefix' };
  }
  const index = value.readBigUInt64LE(0);
  if (value.length === INDEX_LEN) return { index, marker: true };
  const p = parse(value.subarray(INDEX_LEN));
  return { index, ...p };
}

export interface KvKey {
  /** 'network', 'endpoint', 'endpoint_count', 'sandbox', 'bridge', … ('' for the root marker). */
  kind: string;
  parts: string[];
}

/** `docker/network/v1.0/<kind>/<parts…>/` → kind and parts; undefined for keys outside the chain. */
export function parseKvKey(key: string): KvKey | undefined {
  if (!key.startsWith(ROOT_CHAIN)) return undefined;
  const rest = key.slice(ROOT_CHAIN.length).split('/');
  if (rest[rest.length - 1] === '') rest.pop();
  const [kind = '', ...parts] = rest;
  return { kind, parts };
}

export interface IpamConf {
  PreferredPool: string;
  SubPool: string;
  Gateway: string;
  AuxAddresses: Record<string, string> | null;
}

export interface IpamInfo {
  PoolID: string;
  AddressSpace: string;
  /** CIDR, e.g. 172.17.0.0/16. */
  Pool?: string;
  /** CIDR form as stored (the gateway address with the pool's prefix length). */
  Gateway?: string;
  AuxAddresses?: Record<string, string>;
}

export interface NetworkRecord {
  key: string;
  index?: bigint;
  id: string;
  name: string;
  /** Driver name (`networkType`). */
  type: string;
  scope: string;
  /** As stored (time.MarshalText: RFC 3339 with nanoseconds); records of old engines lack it. */
  created?: string;
  labels: Record<string, string> | null;
  ipamType: string;
  ipamOptions: Record<string, string> | null;
  ipamV4Config: IpamConf[];
  ipamV6Config: IpamConf[];
  ipamV4Info: IpamInfo[];
  ipamV6Info: IpamInfo[];
  enableIPv6: boolean;
  internal: boolean;
  attachable: boolean;
  ingress: boolean;
  configOnly: boolean;
  configFrom: string;
  inDelete: boolean;
  persist: boolean;
  /** generic["com.docker.network.generic"]: the driver options (`docker network create -o`). */
  driverOptions: Record<string, string>;
  raw: Record<string, unknown>;
  /** Fields of the wrong type (libnetwork's type assertions would panic on them). */
  problems: string[];
}

export interface PortBinding {
  Proto: number;
  Port: number;
  IP?: string;
  HostIP?: string;
  HostPort?: number;
  HostPortEnd?: number;
}

export interface EndpointRecord {
  key: string;
  index?: bigint;
  /** From the key. */
  networkId: string;
  id: string;
  /** The container's name (without '/') when the endpoint was made for a container. */
  name: string;
  sandbox: string;
  mac?: string;
  /** CIDR, e.g. 172.17.0.2/16. */
  addr?: string;
  addrv6?: string;
  exposedPorts: { Proto: number; Port: number }[];
  portMap: PortBinding[];
  dnsNames: string[];
  aliases: string[];
  anonymous?: boolean;
  raw: Record<string, unknown>;
  problems: string[];
}

export interface SandboxRecord {
  key: string;
  index?: bigint;
  id: string;
  /** Container ID the sandbox belongs to. */
  containerId: string;
  endpoints: { eid: string; nid: string }[];
  extDNS: string[];
  raw: Record<string, unknown>;
  problems: string[];
}

/** Any other record (driver state, unknown kinds). */
export interface OtherKv {
  key: string;
  kind: string;
  index?: bigint;
  json?: unknown;
  marker?: boolean;
}

export interface DeletedKv {
  key: string;
  kind: string;
  index?: bigint;
  json?: unknown;
  page: number;
  source: StaleSource;
  /** 'deleted': no live record has this key; 'superseded': an older value of a live key. */
  state: 'deleted' | 'superseded';
}

export interface NetworkStore {
  db: boolean;
  networks: Map<string, NetworkRecord>;
  endpoints: EndpointRecord[];
  sandboxes: Map<string, SandboxRecord>;
  endpointCounts: Map<string, number>;
  other: OtherKv[];
  deleted: DeletedKv[];
}

class Fields {
  readonly problems: string[] = [];
  constructor(private readonly doc: Record<string, unknown>) {}
  has(k: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.doc, k);
  }
  str(k: string): string {
    const v = this.doc[k];
    if (v === undefined || v === null) return '';
    if (typeof v === 'string') return v;
    this.problems.push(`${k} is ${jsonType(v)}, not a string`);
    return '';
  }
  optStr(k: string): string | undefined {
    return this.has(k) && this.doc[k] !== null ? this.str(k) : undefined;
  }
  bool(k: string): boolean {
    const v = this.doc[k];
    if (v === undefined || v === null) return false;
    if (typeof v === 'boolean') return v;
    this.problems.push(`${k} is ${jsonType(v)}, not a boolean`);
    return false;
  }
  map(k: string): Record<string, string> | null {
    return stringMap(this.doc[k], k, this.problems);
  }
  strList(k: string): string[] {
    const v = this.doc[k];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.problems.push(`${k} is ${jsonType(v)}, not an array`);
      return [];
    }
    const out: string[] = [];
    for (const x of v) {
      if (typeof x === 'string') out.push(x);
      else this.problems.push(`${k} holds ${jsonType(x)}, not a string`);
    }
    return out;
  }
  /** A field holding JSON text (libnetwork double-encodes its IPAM fields). */
  nested(k: string): unknown[] {
    const v = this.doc[k];
    if (v === undefined || v === null) return [];
    if (typeof v !== 'string') {
      this.problems.push(`${k} is ${jsonType(v)}, not a JSON string`);
      return [];
    }
    const r = tryJson(v);
    if ('value' in r) {
      const d = r.value;
      if (d === null) return [];
      if (Array.isArray(d)) return d;
      this.problems.push(`${k} decodes to ${jsonType(d)}, not an array`);
    } else {
      this.problems.push(`${k}: invalid JSON: ${r.error}`);
    }
    return [];
  }
}

function stringMap(v: unknown, what: string, problems: string[]): Record<string, string> | null {
  if (v === undefined || v === null) return null;
  if (!isObject(v)) {
    problems.push(`${what} is ${jsonType(v)}, not an object`);
    return null;
  }
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x === 'string') setOwn(out, k, x);
    else problems.push(`${what}[${JSON.stringify(k.slice(0, 80))}] is ${jsonType(x)}, not a string`);
  }
  return out;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function ipamConfs(list: unknown[], what: string, problems: string[]): IpamConf[] {
  const out: IpamConf[] = [];
  for (const c of list) {
    if (!isObject(c)) {
      problems.push(`${what} holds ${jsonType(c)}, not an object`);
      continue;
    }
    const f = new Fields(c);
    out.push({ PreferredPool: f.str('PreferredPool'), SubPool: f.str('SubPool'), Gateway: f.str('Gateway'), AuxAddresses: f.map('AuxAddresses') });
    problems.push(...f.problems.map((p) => `${what}: ${p}`));
  }
  return out;
}

function ipamInfos(list: unknown[], what: string, problems: string[]): IpamInfo[] {
  const out: IpamInfo[] = [];
  for (const c of list) {
    if (!isObject(c)) {
      problems.push(`${what} holds ${jsonType(c)}, not an object`);
      continue;
    }
    const f = new Fields(c);
    const info: IpamInfo = { PoolID: f.str('PoolID'), AddressSpace: '' };
    // IPAMData is JSON text inside the JSON text inside the record.
    const d = f.has('IPAMData') ? c.IPAMData : undefined;
    let data: unknown = d;
    if (typeof d === 'string') {
      const r = tryJson(d);
      if ('value' in r) data = r.value;
      else {
        problems.push(`${what}: IPAMData: invalid JSON: ${r.error}`);
        data = undefined;
      }
    }
    if (isObject(data)) {
      const g = new Fields(data);
      info.AddressSpace = g.str('AddressSpace');
      const pool = g.optStr('Pool');
      const gw = g.optStr('Gateway');
      if (pool !== undefined) info.Pool = pool;
      if (gw !== undefined) info.Gateway = gw;
      const aux = g.map('AuxAddresses');
      if (aux) info.AuxAddresses = aux;
      problems.push(...g.problems.map((p) => `${what}.IPAMData: ${p}`));
    } else if (data !== undefined && data !== null) problems.push(`${what}: IPAMData is ${jsonType(data)}`);
    problems.push(...f.problems.map((p) => `${what}: ${p}`));
    out.push(info);
  }
  return out;
}

export function parseNetworkRecord(key: string, v: KvValue, doc: Record<string, unknown>): NetworkRecord {
  const f = new Fields(doc);
  const generic = doc.generic;
  let driverOptions: Record<string, string> = {};
  if (isObject(generic)) {
    const g = stringMap(generic['com.docker.network.generic'], 'generic["com.docker.network.generic"]', f.problems);
    if (g) driverOptions = g;
  } else if (generic !== undefined && generic !== null) f.problems.push(`generic is ${jsonType(generic)}, not an object`);
  const problems = f.problems;
  const rec: NetworkRecord = {
    key,
    index: v.index,
    id: f.str('id'),
    name: f.str('name'),
    type: f.str('networkType'),
    scope: f.str('scope'),
    created: f.optStr('created'),
    labels: f.map('labels'),
    // Missing ipamType means the default driver (network.go UnmarshalJSON).
    ipamType: f.has('ipamType') ? f.str('ipamType') : 'default',
    ipamOptions: f.map('ipamOptions'),
    ipamV4Config: ipamConfs(f.nested('ipamV4Config'), 'ipamV4Config', problems),
    ipamV6Config: ipamConfs(f.nested('ipamV6Config'), 'ipamV6Config', problems),
    ipamV4Info: ipamInfos(f.nested('ipamV4Info'), 'ipamV4Info', problems),
    ipamV6Info: ipamInfos(f.nested('ipamV6Info'), 'ipamV6Info', problems),
    enableIPv6: f.bool('enableIPv6'),
    internal: f.bool('internal'),
    attachable: f.bool('attachable'),
    ingress: f.bool('ingress'),
    configOnly: f.bool('configOnly'),
    configFrom: f.str('configFrom'),
    inDelete: f.bool('inDelete'),
    persist: f.bool('persist'),
    driverOptions,
    raw: doc,
    problems,
  };
  // network.go UnmarshalJSON: "Reconcile old networks with the recently added `--ipv6` flag".
  if (!rec.enableIPv6) rec.enableIPv6 = rec.ipamV6Info.length > 0;
  return rec;
}

function ports(v: unknown, what: string, problems: string[]): PortBinding[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    problems.push(`${what} is ${jsonType(v)}, not an array`);
    return [];
  }
  const out: PortBinding[] = [];
  for (const p of v) {
    if (!isObject(p)) {
      problems.push(`${what} holds ${jsonType(p)}`);
      continue;
    }
    const b: PortBinding = { Proto: num(p.Proto) ?? 0, Port: num(p.Port) ?? 0 };
    if (typeof p.IP === 'string') b.IP = p.IP;
    if (typeof p.HostIP === 'string') b.HostIP = p.HostIP;
    const hp = num(p.HostPort);
    const hpe = num(p.HostPortEnd);
    if (hp !== undefined) b.HostPort = hp;
    if (hpe !== undefined) b.HostPortEnd = hpe;
    out.push(b);
  }
  return out;
}

export function parseEndpointRecord(key: string, networkId: string, v: KvValue, doc: Record<string, unknown>): EndpointRecord {
  const f = new Fields(doc);
  const problems = f.problems;
  const rec: EndpointRecord = {
    key,
    index: v.index,
    networkId,
    id: f.str('id'),
    name: f.str('name'),
    sandbox: f.str('sandbox'),
    exposedPorts: ports(doc.exposed_ports, 'exposed_ports', problems).map((p) => ({ Proto: p.Proto, Port: p.Port })),
    portMap: [],
    dnsNames: f.strList('dnsNames'),
    aliases: f.strList('myAliases'),
    raw: doc,
    problems,
  };
  if (typeof doc.anonymous === 'boolean') rec.anonymous = doc.anonymous;
  const iface = doc.ep_iface;
  if (isObject(iface)) {
    const g = new Fields(iface);
    const mac = g.optStr('mac');
    const addr = g.optStr('addr');
    const addrv6 = g.optStr('addrv6');
    if (mac) rec.mac = mac;
    if (addr) rec.addr = addr;
    if (addrv6) rec.addrv6 = addrv6;
    problems.push(...g.problems.map((p) => `ep_iface: ${p}`));
  } else if (iface !== undefined && iface !== null) problems.push(`ep_iface is ${jsonType(iface)}, not an object`);
  const generic = doc.generic;
  if (isObject(generic)) rec.portMap = ports(generic['com.docker.network.portmap'], 'generic portmap', problems);
  return rec;
}

export function parseSandboxRecord(key: string, v: KvValue, doc: Record<string, unknown>): SandboxRecord {
  const f = new Fields(doc);
  const problems = f.problems;
  const eps: { eid: string; nid: string }[] = [];
  const list = doc.Eps;
  if (Array.isArray(list)) {
    for (const e of list) {
      if (!isObject(e)) {
        problems.push(`Eps holds ${jsonType(e)}`);
        continue;
      }
      const g = new Fields(e);
      eps.push({ eid: g.str('Eid'), nid: g.str('Nid') });
      problems.push(...g.problems.map((p) => `Eps: ${p}`));
    }
  } else if (list !== undefined && list !== null) problems.push(`Eps is ${jsonType(list)}, not an array`);
  // ExtDNS ([]string) before 19.03, ExtDNS2 ([{IPStr, HostLoopback}]) after; 20.10 writes both.
  const extDNS = new Set<string>(f.strList('ExtDNS'));
  const ext2 = doc.ExtDNS2;
  if (Array.isArray(ext2)) for (const e of ext2) if (isObject(e) && typeof e.IPStr === 'string') extDNS.add(e.IPStr);
  return { key, index: v.index, id: f.str('ID'), containerId: f.str('Cid'), endpoints: eps, extDNS: [...extDNS], raw: doc, problems };
}

/** One key/value of the bucket, sorted into `store`; problems go to `f` (when given). */
function addRecord(store: NetworkStore, keyBuf: Buffer, value: Buffer, path: string, f: Findings): void {
  const key = keyText(keyBuf);
  const k = parseKvKey(key);
  const v = splitKvValue(value);
  const label = JSON.stringify(key);
  if (v.problem) f.add(v.json === undefined ? 'error' : 'warn', 'network.bad-value', `${label}: ${v.problem}`, path);
  if (!k) {
    f.add('warn', 'network.unknown-key', `key ${label} is outside ${ROOT_CHAIN}`, path);
    store.other.push({ key, kind: '', index: v.index, json: v.json, marker: v.marker });
    return;
  }
  if (v.marker) {
    store.other.push({ key, kind: k.kind, index: v.index, marker: true });
    return;
  }
  if (v.json === undefined) return;
  const doc = v.json;
  const known = ['network', 'endpoint', 'endpoint_count', 'sandbox'];
  if (known.includes(k.kind) && !isObject(doc)) {
    f.add('error', 'network.bad-value', `${label}: value is ${jsonType(doc)}, not a JSON object`, path);
    return;
  }
  const problems = (what: string, list: string[]) => {
    if (list.length > 0) f.add('warn', 'network.bad-field', `${what}: ${list.slice(0, 5).join('; ')}${list.length > 5 ? ` (+${list.length - 5})` : ''}`, path);
  };
  const o = doc as Record<string, unknown>;
  switch (k.kind) {
    case 'network': {
      const n = parseNetworkRecord(key, v, o);
      problems(`network ${label}`, n.problems);
      if (n.id !== (k.parts[0] ?? '')) f.add('warn', 'network.id-mismatch', `network record ${label} has id ${JSON.stringify(n.id.slice(0, 80))}`, path);
      store.networks.set(k.parts[0] ?? n.id, n);
      return;
    }
    case 'endpoint': {
      const e = parseEndpointRecord(key, k.parts[0] ?? '', v, o);
      problems(`endpoint ${label}`, e.problems);
      if (k.parts.length !== 2 || e.id !== k.parts[1]) f.add('warn', 'network.id-mismatch', `endpoint record ${label} has id ${JSON.stringify(e.id.slice(0, 80))}`, path);
      store.endpoints.push(e);
      return;
    }
    case 'sandbox': {
      const s = parseSandboxRecord(key, v, o);
      problems(`sandbox ${label}`, s.problems);
      store.sandboxes.set(k.parts[0] ?? s.id, s);
      return;
    }
    case 'endpoint_count': {
      const c = num(o.Count);
      if (c === undefined) f.add('warn', 'network.bad-field', `endpoint_count ${label}: Count is ${jsonType(o.Count)}, not a number`, path);
      else if (k.parts[0]) store.endpointCounts.set(k.parts[0], c);
      return;
    }
    default:
      store.other.push({ key, kind: k.kind, index: v.index, json: doc });
  }
}

export function emptyNetworkStore(): NetworkStore {
  return { db: false, networks: new Map(), endpoints: [], sandboxes: new Map(), endpointCounts: new Map(), other: [], deleted: [] };
}

/** Parses a local-kv.db held in `buf`. With `deleted`, stale records in free pages are recovered. */
export function parseNetworkDb(buf: Buffer, path: string, f: Findings, opts: { deleted?: boolean } = {}): NetworkStore {
  const store = emptyNetworkStore();
  const { db, findings } = openBolt(buf, { path });
  if (!db) {
    f.list.push(...findings);
    return store;
  }
  store.db = true;
  const live = new Map<string, Buffer>();
  const bucket = db.bucketPath(NETWORK_BUCKET);
  if (!bucket) f.add('info', 'network.no-bucket', `no "${NETWORK_BUCKET}" bucket: nothing was ever stored`, path);
  else {
    for (const e of bucket.entries()) {
      if (!e.value) {
        f.add('warn', 'network.nested-bucket', `unexpected nested bucket ${describeKey(e.key)} in "${NETWORK_BUCKET}"; skipped`, path);
        continue;
      }
      live.set(e.key.toString('latin1'), e.value);
      addRecord(store, e.key, e.value, path, f);
    }
  }
  if (opts.deleted) {
    const seen = new Set<string>();
    for (const r of db.deleted()) {
      if (r.isBucket) continue;
      const w = r.within;
      if (w.length > 0 && w[w.length - 1]!.toString('latin1') !== NETWORK_BUCKET) continue;
      const kl = r.key.toString('latin1');
      const dedup = `${kl}\0${r.value.toString('latin1')}`;
      if (seen.has(dedup)) continue;
      seen.add(dedup);
      const cur = live.get(kl);
      if (cur && cur.equals(r.value)) continue;
      const key = keyText(r.key);
      const k = parseKvKey(key);
      if (!k) continue;
      const v = splitKvValue(r.value);
      if (v.json === undefined || v.marker) continue;
      store.deleted.push({ key, kind: k.kind, index: v.index, json: v.json, page: r.page, source: r.source, state: cur ? 'superseded' : 'deleted' });
    }
  }
  f.list.push(...findings);
  return store;
}

export function loadNetworkStore(src: Source, f: Findings, opts: { deleted?: boolean } = {}): NetworkStore {
  const buf = readOptional(src, NETWORK_DB, f, 'network.unreadable', limits.boltBytes);
  return buf ? parseNetworkDb(buf, NETWORK_DB, f, opts) : emptyNetworkStore();
}
