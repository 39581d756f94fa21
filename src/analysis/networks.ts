import type { ContainerNode, Model } from '../model/graph.js';
import { GO_ZERO_TIME } from '../model/time.js';
import { ResolveError } from '../model/resolve.js';
import { isObject } from '../store/read.js';
import { compact, sortedMap } from './volumes.js';
import { setOwn } from '../store/volumes.js';
import { loadNetworkStore, NETWORK_DB, type EndpointRecord, type NetworkRecord, type NetworkStore, type PortBinding } from '../store/networks.js';

/**
 * `docker network ls` / `docker network inspect` as far as libnetwork's store holds them (moby
 * `daemon/network.go buildNetworkResource`, `buildIPAMResources`, `buildContainerAttachments`),
 * joined with the containers' own view (`config.v2.json NetworkSettings.Networks`).
 *
 * What the store cannot say: swarm networks (held by the swarm raft store), live Peers/Services,
 * and predefined networks the daemon re-creates at start-up without persisting them.
 */

/** API `EndpointResource`, the values of `network inspect`'s Containers map. */
export interface EndpointResource {
  Name: string;
  EndpointID: string;
  MacAddress: string;
  IPv4Address: string;
  IPv6Address: string;
}

export interface EndpointView extends EndpointResource {
  NetworkID: string;
  ContainerID?: string;
  /** With the leading '/'. */
  ContainerName?: string;
  SandboxID?: string;
  Running?: boolean;
  /** An endpoint record exists in local-kv.db. */
  InStore: boolean;
  /** The container's config.v2.json names this network (EndpointID '' = configured, not connected). */
  InContainer: boolean;
  ExposedPorts?: { Proto: number; Port: number }[];
  PortMap?: PortBinding[];
  DNSNames?: string[];
  Aliases?: string[];
  /** libkv write index of the record (orders writes within one daemon run). */
  Index?: string;
}

export interface NetworkExtras {
  /** store: a network record in local-kv.db; containers: only named by containers' NetworkSettings. */
  Source: 'store' | 'containers';
  InDelete?: boolean;
  Persist?: boolean;
  StoredEndpointCount?: number;
  Index?: string;
  Endpoints: EndpointView[];
  Problems?: string[];
  Notes: string[];
}

export interface IPAMConfig {
  Subnet?: string;
  IPRange?: string;
  Gateway?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

/** API `NetworkResource` (local-scope fields), plus dockscope's extras. */
export interface NetworkView {
  Name: string;
  Id: string;
  Created: string;
  Scope: string;
  Driver: string;
  EnableIPv6: boolean;
  IPAM: { Driver: string; Options: Record<string, string> | null; Config: IPAMConfig[] | null };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  /** As `network inspect` fills it; `network ls` (API ≥ 1.28) always sends {}. */
  Containers: Record<string, EndpointResource>;
  Options: Record<string, string>;
  Labels: Record<string, string>;
  Dockscope: NetworkExtras;
}

export interface SandboxView {
  SandboxID: string;
  ContainerID: string;
  ContainerName?: string;
  /** The container still has a config.v2.json. */
  ContainerExists: boolean;
  Endpoints: { EndpointID: string; NetworkID: string; Network?: string }[];
  ExtDNS: string[];
  Index?: string;
}

export interface DeletedKvView {
  Key: string;
  Kind: string;
  Id: string;
  State: 'deleted' | 'superseded';
  Page: number;
  PageSource: string;
  Index?: string;
  /** One line for tables: a network's name and driver, a sandbox's container, an endpoint's name. */
  Summary: string;
  /** For sandbox and endpoint records: the container they name, and whether it still exists. */
  ContainerID?: string;
  ContainerExists?: boolean;
  Value: unknown;
}

export interface NetworksReport {
  StoreDb: boolean;
  Networks: NetworkView[];
  Sandboxes: SandboxView[];
  /** Driver records (bridge, bridge-endpoint, overlay …) and markers, by key. */
  DriverRecords: { Key: string; Kind: string; Index?: string; Value?: unknown }[];
  Deleted?: DeletedKvView[];
  Notes: string[];
}

interface ContainerClaim {
  c: ContainerNode;
  netName: string;
  NetworkID: string;
  EndpointID: string;
  IPv4: string;
  IPv6: string;
  Mac: string;
}

function s(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function claimsOf(model: Model): ContainerClaim[] {
  const out: ContainerClaim[] = [];
  for (const c of model.containers.values()) {
    const ns = c.record.raw.NetworkSettings;
    if (!isObject(ns) || !isObject(ns.Networks)) continue;
    for (const [netName, es] of Object.entries(ns.Networks)) {
      if (!isObject(es)) continue;
      const ip = s(es.IPAddress);
      const ip6 = s(es.GlobalIPv6Address);
      const len = typeof es.IPPrefixLen === 'number' ? es.IPPrefixLen : 0;
      const len6 = typeof es.GlobalIPv6PrefixLen === 'number' ? es.GlobalIPv6PrefixLen : 0;
      out.push({
        c,
        netName,
        NetworkID: s(es.NetworkID),
        EndpointID: s(es.EndpointID),
        IPv4: ip ? `${ip}/${len}` : '',
        IPv6: ip6 ? `${ip6}/${len6}` : '',
        Mac: s(es.MacAddress),
      });
    }
  }
  return out;
}

/**
 * daemon/network.go buildIPAMResources: configured pools, else the allocated ones (ipamV4Info),
 * per family. An empty list is JSON `[]` up to 24.x and `null` from 25.0 (`var ipamConfig`).
 */
function ipamConfig(n: NetworkRecord, emptyAsList: boolean): IPAMConfig[] | null {
  const out: IPAMConfig[] = [];
  const conf = (c: NetworkRecord['ipamV4Config'][number]) => {
    const x: IPAMConfig = { Subnet: c.PreferredPool };
    if (c.SubPool) x.IPRange = c.SubPool;
    if (c.Gateway) x.Gateway = c.Gateway;
    if (c.AuxAddresses && Object.keys(c.AuxAddresses).length > 0) x.AuxiliaryAddresses = c.AuxAddresses;
    return x;
  };
  const v4 = n.ipamV4Config.filter((c) => c.PreferredPool !== '');
  if (v4.length > 0) out.push(...v4.map(conf));
  else
    for (const i of n.ipamV4Info) {
      const x: IPAMConfig = {};
      if (i.Pool) x.Subnet = i.Pool;
      if (i.Gateway) x.Gateway = i.Gateway.replace(/\/\d+$/, '');
      out.push(x);
    }
  const v6 = n.ipamV6Config.filter((c) => c.PreferredPool !== '');
  if (v6.length > 0) out.push(...v6.map(conf));
  else
    for (const i of n.ipamV6Info) {
      if (!i.Pool) continue;
      // 20.10 and 26 print the v6 gateway as a CIDR (Gateway.String() of a *net.IPNet).
      const x: IPAMConfig = { Subnet: i.Pool };
      if (i.Gateway) x.Gateway = i.Gateway;
      out.push(x);
    }
  return out.length > 0 ? out : emptyAsList ? [] : null;
}

/**
 * Which engine generation wrote the store, for the one shape difference that matters here (empty
 * IPAM.Config). Endpoint records name it: `dnsNames` from 25.0, `myAliases`/`anonymous` before;
 * without endpoints, no `engine-id` means 22 or older.
 */
function emptyIpamAsList(store: NetworkStore, model: Model): { list: boolean; how: string } {
  for (const e of store.endpoints) {
    if ('dnsNames' in e.raw) return { list: false, how: 'endpoint records carry dnsNames (Docker 25+)' };
    if ('myAliases' in e.raw || 'anonymous' in e.raw) return { list: true, how: 'endpoint records carry myAliases (Docker 24 or older)' };
  }
  if (!model.src.lstat('engine-id')) return { list: true, how: 'no engine-id (Docker 22 or older)' };
  return { list: false, how: 'assumed Docker 25+ (engine-id present, no endpoint records to tell)' };
}

function endpointFromRecord(e: EndpointRecord, store: NetworkStore, model: Model): EndpointView {
  const sb = e.sandbox ? store.sandboxes.get(e.sandbox) : undefined;
  const cid = sb?.containerId || undefined;
  const c = cid ? model.containers.get(cid) : undefined;
  return compact<EndpointView>({
    Name: e.name,
    EndpointID: e.id,
    MacAddress: e.mac ?? '',
    IPv4Address: e.addr ?? '',
    IPv6Address: e.addrv6 ?? '',
    NetworkID: e.networkId,
    ContainerID: cid,
    ContainerName: c?.record.name,
    SandboxID: e.sandbox || undefined,
    Running: c?.record.state.Running,
    InStore: true,
    InContainer: false,
    ExposedPorts: e.exposedPorts.length > 0 ? e.exposedPorts : undefined,
    PortMap: e.portMap.length > 0 ? e.portMap : undefined,
    DNSNames: e.dnsNames.length > 0 ? e.dnsNames : undefined,
    Aliases: e.aliases.length > 0 ? e.aliases : undefined,
    Index: e.index?.toString(),
  });
}

function summaryOf(kind: string, json: unknown): { summary: string; container?: string } {
  if (!isObject(json)) return { summary: '' };
  switch (kind) {
    case 'network':
      return { summary: `${s(json.name)} (${s(json.networkType)})` };
    case 'endpoint':
      return { summary: `endpoint ${s(json.name)}${s(json.sandbox) ? ` in sandbox ${s(json.sandbox).slice(0, 12)}` : ''}` };
    case 'sandbox':
      return { summary: `sandbox of container ${s(json.Cid)}`, container: s(json.Cid) || undefined };
    case 'endpoint_count':
      return { summary: `Count ${typeof json.Count === 'number' ? json.Count : '?'}` };
    default:
      return { summary: '' };
  }
}

/** Every network the store holds or a container names; findings go to model.findings. */
export function networkReport(model: Model, opts: { deleted?: boolean } = {}): NetworksReport {
  const f = model.findings;
  const store = loadNetworkStore(model.src, f, { deleted: opts.deleted });
  const notes: string[] = [];
  if (!store.db) notes.push(model.src.lstat(NETWORK_DB) ? `${NETWORK_DB} is unreadable` : `no ${NETWORK_DB}: the network store is absent`);
  const era = emptyIpamAsList(store, model);
  const claims = claimsOf(model);

  const views = new Map<string, NetworkView>();
  const byName = new Map<string, NetworkView>();
  const sorted = [...store.networks.values()].sort((a, b) => (a.created ?? '').localeCompare(b.created ?? '') || a.name.localeCompare(b.name));
  for (const n of sorted) {
    const v: NetworkView = {
      Name: n.name,
      Id: n.id,
      Created: n.created ?? GO_ZERO_TIME,
      Scope: n.scope,
      Driver: n.type,
      EnableIPv6: n.enableIPv6,
      IPAM: { Driver: n.ipamType, Options: n.ipamOptions, Config: ipamConfig(n, era.list) },
      Internal: n.internal,
      Attachable: n.attachable,
      Ingress: n.ingress,
      ConfigFrom: { Network: n.configFrom },
      ConfigOnly: n.configOnly,
      Containers: {},
      Options: sortedMap(n.driverOptions) ?? {},
      Labels: sortedMap(n.labels) ?? {},
      Dockscope: compact({
        Source: 'store',
        InDelete: n.inDelete,
        Persist: n.persist,
        StoredEndpointCount: store.endpointCounts.get(n.id),
        Index: n.index?.toString(),
        Endpoints: [],
        Problems: n.problems.length > 0 ? n.problems : undefined,
        Notes: [],
      }),
    };
    if (n.inDelete) v.Dockscope.Notes.push('marked inDelete: removal was under way when the store was last written');
    if (n.configOnly) v.Dockscope.Notes.push('config-only network: a template for --config-from, never attached');
    if (byName.has(n.name)) f.add('warn', 'network.duplicate-name', `two networks are named ${JSON.stringify(n.name)}`, NETWORK_DB);
    views.set(n.id, v);
    if (!byName.has(n.name)) byName.set(n.name, v);
  }

  // Endpoints from the store, then the containers' claims merged in or added.
  const epIndex = new Map<string, EndpointView>();
  for (const e of store.endpoints) {
    const ev = endpointFromRecord(e, store, model);
    let v = views.get(e.networkId);
    if (!v) {
      f.add('warn', 'network.orphan-endpoint', `endpoint ${e.id.slice(0, 12)} (${JSON.stringify(e.name)}) belongs to network ${e.networkId.slice(0, 12)}, which the store lacks`, NETWORK_DB);
      v = containerOnly(views, byName, e.networkId, `network ${e.networkId.slice(0, 12)}`, e.networkId);
    }
    v.Dockscope.Endpoints.push(ev);
    // buildContainerAttachments: keyed by the sandbox's container, else "ep-<endpoint id>".
    const sb = e.sandbox ? store.sandboxes.get(e.sandbox) : undefined;
    setOwn(v.Containers, sb?.containerId || `ep-${e.id}`, { Name: ev.Name, EndpointID: ev.EndpointID, MacAddress: ev.MacAddress, IPv4Address: ev.IPv4Address, IPv6Address: ev.IPv6Address });
    epIndex.set(e.id, ev);
  }
  for (const cl of claims) {
    const existing = cl.EndpointID ? epIndex.get(cl.EndpointID) : undefined;
    if (existing) {
      existing.InContainer = true;
      existing.ContainerID ??= cl.c.id;
      existing.ContainerName ??= cl.c.record.name;
      existing.Running ??= cl.c.record.state.Running;
      if (existing.ContainerID !== cl.c.id) {
        f.add('warn', 'network.endpoint-owner', `endpoint ${cl.EndpointID.slice(0, 12)} is claimed by ${cl.c.record.name} but its sandbox names container ${existing.ContainerID.slice(0, 12)}`, `containers/${cl.c.id}/config.v2.json`);
      }
      continue;
    }
    let v = cl.NetworkID ? views.get(cl.NetworkID) : undefined;
    v ??= byName.get(cl.netName);
    v ??= containerOnly(views, byName, cl.NetworkID || `name:${cl.netName}`, cl.netName, cl.NetworkID);
    v.Dockscope.Endpoints.push({
      Name: cl.c.record.name.replace(/^\//, ''),
      EndpointID: cl.EndpointID,
      MacAddress: cl.Mac,
      IPv4Address: cl.IPv4,
      IPv6Address: cl.IPv6,
      NetworkID: cl.NetworkID,
      ContainerID: cl.c.id,
      ContainerName: cl.c.record.name,
      Running: cl.c.record.state.Running,
      InStore: false,
      InContainer: true,
    });
    if (cl.EndpointID && cl.c.record.state.Running) {
      f.add('info', 'network.endpoint-missing', `running container ${cl.c.record.name} names endpoint ${cl.EndpointID.slice(0, 12)} on ${cl.netName}, which the store lacks`, `containers/${cl.c.id}/config.v2.json`);
    }
  }
  for (const v of views.values()) {
    v.Containers = Object.fromEntries(Object.entries(v.Containers).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    v.Dockscope.Endpoints.sort((a, b) => (a.ContainerName ?? a.Name).localeCompare(b.ContainerName ?? b.Name) || a.EndpointID.localeCompare(b.EndpointID));
    const stored = v.Dockscope.Endpoints.filter((e) => e.InStore).length;
    const cnt = v.Dockscope.StoredEndpointCount;
    if (cnt !== undefined && cnt !== stored) v.Dockscope.Notes.push(`endpoint_count says ${cnt}, the store holds ${stored} endpoint record(s)`);
  }

  const sandboxes: SandboxView[] = [...store.sandboxes.values()]
    .map((sb) => {
      const c = model.containers.get(sb.containerId);
      const sv: SandboxView = compact<SandboxView>({
        SandboxID: sb.id,
        ContainerID: sb.containerId,
        ContainerName: c?.record.name,
        ContainerExists: c !== undefined,
        Endpoints: sb.endpoints.map((e) => {
          const name = views.get(e.nid)?.Name;
          return name !== undefined ? { EndpointID: e.eid, NetworkID: e.nid, Network: name } : { EndpointID: e.eid, NetworkID: e.nid };
        }),
        ExtDNS: sb.extDNS,
        Index: sb.index?.toString(),
      });
      if (!c) f.add('info', 'network.sandbox-orphan', `sandbox ${sb.id.slice(0, 12)} belongs to container ${sb.containerId.slice(0, 12)}, which has no config.v2.json`, NETWORK_DB);
      return sv;
    })
    .sort((a, b) => (a.ContainerName ?? a.ContainerID).localeCompare(b.ContainerName ?? b.ContainerID));

  const present = new Set([...store.networks.values()].map((n) => n.name));
  const missing = ['none', 'host', 'bridge'].filter((n) => !present.has(n));
  if (store.db && missing.length > 0) {
    notes.push(
      `predefined network(s) not in the store: ${missing.join(', ')}. Docker creates none and host at start-up, and bridge unless ` +
        'started with --bridge none; what is missing here was not persisted, or never existed on this host',
    );
  }
  notes.push('network ls (API 1.28+) sends an empty Containers map; network inspect fills it from endpoints whose sandbox is in the store');

  const report: NetworksReport = {
    StoreDb: store.db,
    Networks: [...views.values()],
    Sandboxes: sandboxes,
    DriverRecords: store.other.map((o) => {
      const r: NetworksReport['DriverRecords'][number] = { Key: o.key, Kind: o.kind };
      if (o.index !== undefined) r.Index = o.index.toString();
      if (o.json !== undefined) r.Value = o.json;
      return r;
    }),
    Notes: notes,
  };
  if (opts.deleted) {
    report.Deleted = store.deleted.map((d) => {
      const parts = d.key.replace(/\/$/, '').split('/');
      const { summary, container } = summaryOf(d.kind, d.json);
      const out = compact<DeletedKvView>({
        Key: d.key,
        Kind: d.kind,
        Id: parts[parts.length - 1] ?? '',
        State: d.state,
        Page: d.page,
        PageSource: d.source,
        Index: d.index?.toString(),
        Summary: summary,
        ContainerID: container,
        ContainerExists: container ? model.containers.has(container) : undefined,
        Value: d.json,
      });
      return out;
    });
  }
  return report;
}

function containerOnly(views: Map<string, NetworkView>, byName: Map<string, NetworkView>, key: string, name: string, id: string): NetworkView {
  const hit = views.get(key);
  if (hit) return hit;
  const v: NetworkView = {
    Name: name,
    Id: id,
    Created: GO_ZERO_TIME,
    Scope: '',
    Driver: '',
    EnableIPv6: false,
    IPAM: { Driver: '', Options: null, Config: null },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: {},
    Options: {},
    Labels: {},
    Dockscope: { Source: 'containers', Endpoints: [], Notes: ['not in the network store: only named by containers (removed, never created, or a swarm network)'] },
  };
  views.set(key, v);
  if (!byName.has(name)) byName.set(name, v);
  return v;
}

/** `docker network ls` (API): the store's networks, Containers left empty as the engine does. */
export function dockerNetworkList(r: NetworksReport): Omit<NetworkView, 'Dockscope'>[] {
  return r.Networks.filter((n) => n.Dockscope.Source === 'store').map((n) => ({ ...engineNetwork(n), Containers: {} }));
}

/** `docker network inspect`: the engine fields without dockscope's extras. */
export function engineNetwork(n: NetworkView): Omit<NetworkView, 'Dockscope'> {
  const { Dockscope: _d, ...rest } = n;
  return rest;
}

/** Like the daemon's FindNetwork: full ID, then exact name, then unique ID prefix. */
export function findNetwork(r: NetworksReport, term: string): NetworkView {
  if (term === '') throw new ResolveError('empty network reference');
  const nets = r.Networks;
  const byId = nets.find((n) => n.Id !== '' && n.Id === term);
  if (byId) return byId;
  const byName = nets.filter((n) => n.Name === term);
  if (byName.length === 1) return byName[0]!;
  if (byName.length > 1) throw new ResolveError(`network ${JSON.stringify(term)} is ambiguous: ${byName.length} networks have that name`, byName.map((n) => n.Id || n.Name));
  const hits = /^[0-9a-f]+$/.test(term) ? nets.filter((n) => n.Id.startsWith(term)) : [];
  if (hits.length === 1) return hits[0]!;
  if (hits.length > 1) throw new ResolveError(`${JSON.stringify(term)} is ambiguous: ${hits.length} networks match`, hits.map((n) => n.Id));
  throw new ResolveError(`no network ${JSON.stringify(term)}: searched ${nets.length} networks (store and container references)`);
}
