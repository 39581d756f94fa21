import type { ContainerdStore } from '../model/containerd.js';
import type { ContainerNode, ImageNode, Model } from '../model/graph.js';
import type { OciDescriptor, Platform } from '../store/containerd-content.js';
import { isObject } from '../store/read.js';
import type { ImageInspect } from './inspect.js';

/**
 * The Engine API version whose inspect shape `image --json` / `container --json` mirror.
 *  - 1.45 (Docker 26, the default): what the fixtures' oracles were taken with.
 *  - 1.52 (Docker 29): sources cited below, from moby tag docker-v29.7.2 (the 1.52 rules are the
 *    same since docker-v29.0.0):
 *    image  — daemon/containerd/image_inspect.go (ImageInspect: Descriptor = the target,
 *             GraphDriver only as GraphDriverLegacy for < 1.52), daemon/server/router/image/
 *             image_routes.go getImagesByName (Descriptor from 1.48, Manifests with ?manifests=1
 *             from 1.48, Parent/Comment/DockerVersion/Author omitempty from 1.52, Config as
 *             dockerspec.DockerOCIImageConfig with its omitempty fields), api/types/image/
 *             {image_inspect.go,manifest.go} (InspectResponse, ManifestSummary);
 *    container — daemon/inspect.go (ImageManifestDescriptor with Platform defaulted to
 *             ImagePlatform; Storage.RootFS.Snapshot.Name instead of GraphDriver with a
 *             snapshotter), daemon/server/router/container/inspect.go (what < 1.52 restores),
 *             api/types/container/network_settings.go (NetworkSettings = SandboxID, SandboxKey,
 *             Ports, Networks), daemon/container/container.go FromDisk (ImagePlatform.OS from OS).
 *  Identity (1.53, build/pull provenance from the daemon's caches) is not mirrored.
 */
export type ApiVersion = '1.45' | '1.52';
export const API_VERSIONS: ApiVersion[] = ['1.45', '1.52'];

/** ocispec.ImageConfig fields in struct order, then dockerspec's additions (all omitempty). */
const OCI_CONFIG_FIELDS = ['User', 'ExposedPorts', 'Env', 'Entrypoint', 'Cmd', 'Volumes', 'WorkingDir', 'Labels', 'StopSignal', 'ArgsEscaped', 'Healthcheck', 'OnBuild', 'Shell'];

function empty(v: unknown): boolean {
  return v === undefined || v === null || v === '' || v === false || (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0);
}

function ociConfig(cfg: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of OCI_CONFIG_FIELDS) if (cfg && !empty(cfg[k])) out[k] = cfg[k];
  return out;
}

/** ocispec.Descriptor JSON: mediaType, digest, size, urls, annotations, platform (omitempty). */
function descriptor(d: { mediaType: string; digest: string; size: number; annotations?: Record<string, string>; platform?: Platform; urls?: string[] }): Record<string, unknown> {
  return {
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
    ...(d.urls?.length ? { urls: d.urls } : {}),
    ...(d.annotations && Object.keys(d.annotations).length ? { annotations: d.annotations } : {}),
    ...(d.platform ? { platform: platformJson(d.platform) } : {}),
  };
}

function platformJson(p: Platform): Record<string, unknown> {
  const x = p as Platform & { 'os.version'?: string; 'os.features'?: string[] };
  return { architecture: p.architecture, os: p.os, ...(x['os.version'] ? { 'os.version': x['os.version'] } : {}), ...(x['os.features']?.length ? { 'os.features': x['os.features'] } : {}), ...(p.variant ? { variant: p.variant } : {}) };
}

/** ManifestSummary per manifest reachable from the target (daemon/containerd/image_list.go multiPlatformSummary). */
function manifestSummaries(model: Model, img: ImageNode): Record<string, unknown>[] {
  const store = img.store as ContainerdStore;
  const info = img.containerd!;
  return info.manifests.map((pm) => {
    const present = (d: string) => store.ns?.blobs.has(d) === true;
    const m = pm.manifest;
    const children = m ? [...(m.config ? [m.config] : []), ...m.layers] : [];
    const content = pm.desc.size + children.filter((c) => present(c.digest)).reduce((n, c) => n + c.size, 0);
    const available = pm.missing.length === 0 && m !== undefined;
    const ref = pm.desc.annotations['vnd.docker.reference.digest'];
    const out: Record<string, unknown> = { ID: pm.desc.digest, Descriptor: descriptor(pm.desc as OciDescriptor), Available: available, Size: { Content: content, Total: content } };
    if (pm.pseudo) {
      out.Kind = ref && pm.desc.annotations['vnd.docker.reference.type'] === 'attestation-manifest' ? 'attestation' : 'unknown';
      if (out.Kind === 'attestation') out.AttestationData = { For: ref };
      return out;
    }
    const unpacked = pm.unpackedSize ?? 0;
    const containers = [...model.containers.values()].filter((c) => {
      const im = c.record.raw.ImageManifest;
      return isObject(im) && im.digest === pm.desc.digest;
    });
    out.Size = { Content: content, Total: content + unpacked };
    out.Kind = 'image';
    out.ImageData = {
      Platform: platformJson(pm.desc.platform ?? pm.platform ?? { os: '', architecture: '' }),
      Size: { Unpacked: unpacked },
      Containers: containers.length ? containers.map((c) => c.id) : null,
    };
    return out;
  });
}

/** GET /images/{name}/json as API 1.52 answers it, from the 1.45-shaped inspect. */
export function imageInspectForApi(model: Model, img: ImageNode, ins: ImageInspect, api: ApiVersion, opts: { manifests?: boolean } = {}): Record<string, unknown> {
  if (api === '1.45') return ins as unknown as Record<string, unknown>;
  const cd = img.store.kind === 'containerd' ? img.containerd : undefined;
  const raw = img.config?.config;
  const out: Record<string, unknown> = {
    Id: ins.Id,
    RepoTags: ins.RepoTags,
    RepoDigests: ins.RepoDigests,
    ...(ins.Comment ? { Comment: ins.Comment } : {}),
    ...(ins.Created ? { Created: ins.Created } : {}),
    ...(ins.Author ? { Author: ins.Author } : {}),
    Config: ociConfig(isObject(raw) ? raw : undefined),
    Architecture: ins.Architecture,
    ...(ins.Variant ? { Variant: ins.Variant } : {}),
    Os: ins.Os,
    ...(ins.OsVersion ? { OsVersion: ins.OsVersion } : {}),
    Size: ins.Size,
    // With a snapshotter GraphDriver is only restored for API < 1.52.
    ...(cd ? {} : { GraphDriver: ins.GraphDriver }),
    RootFS: ins.RootFS,
    Metadata: ins.Metadata,
  };
  if (cd) {
    out.Descriptor = descriptor({ ...cd.target });
    if (opts.manifests) out.Manifests = manifestSummaries(model, img);
  }
  // compat.WithExtraFields: deprecated fields kept when present.
  if (ins.Parent) out.Parent = ins.Parent;
  if (ins.DockerVersion) out.DockerVersion = ins.DockerVersion;
  out.Dockscope = { ...ins.Dockscope, Api: api };
  return out;
}

/**
 * network.EndpointSettings as API 1.52 declares it (api/types/network/endpoint.go): the
 * daemon-only fields config.v2.json also keeps (IPAMOperational, DesiredMacAddress) are not in it.
 */
const ENDPOINT_FIELDS: [string, unknown][] = [
  ['IPAMConfig', null], ['Links', null], ['Aliases', null], ['DriverOpts', null], ['GwPriority', 0], ['NetworkID', ''], ['EndpointID', ''], ['Gateway', ''], ['IPAddress', ''],
  ['MacAddress', ''], ['IPPrefixLen', 0], ['IPv6Gateway', ''], ['GlobalIPv6Address', ''], ['GlobalIPv6PrefixLen', 0], ['DNSNames', null],
];

function endpoint(e: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(ENDPOINT_FIELDS.map(([k, d]) => [k, e[k] ?? d]));
}

/** GET /containers/{id}/json as API 1.52 answers it, from the 1.45-shaped inspect. */
export function containerInspectForApi(model: Model, c: ContainerNode, ins: ReturnType<typeof import('./inspect.js').inspectContainer>, api: ApiVersion): Record<string, unknown> {
  if (api === '1.45') return ins as unknown as Record<string, unknown>;
  const raw = c.record.raw;
  const { GraphDriver, NetworkSettings, Config, Dockscope, ...rest } = ins;
  const out: Record<string, unknown> = {};
  // Keep Docker's field order: the new fields go where InspectResponse declares them.
  for (const [k, v] of Object.entries(rest)) {
    out[k] = v;
    if (k === 'HostConfig') {
      if (c.store?.kind === 'containerd') out.Storage = { RootFS: { Snapshot: { Name: c.record.driver } } };
      else out.GraphDriver = GraphDriver;
    }
  }
  const cfg = isObject(Config) ? { ...Config } : Config;
  if (isObject(cfg)) delete cfg.MacAddress;
  out.Config = cfg;
  const ns = isObject(NetworkSettings) ? NetworkSettings : undefined;
  const nets = ns && isObject(ns.Networks) ? Object.fromEntries(Object.entries(ns.Networks).map(([k, v]) => [k, isObject(v) ? endpoint(v) : v])) : null;
  out.NetworkSettings = ns ? { SandboxID: ns.SandboxID ?? '', SandboxKey: ns.SandboxKey ?? '', Ports: ns.Ports ?? null, Networks: nets } : null;
  const im = raw.ImageManifest;
  if (isObject(im) && typeof im.digest === 'string') {
    // FromDisk: ImagePlatform.OS from the deprecated OS; without OS, platforms.DefaultSpec() (the
    // host's, which the containerd store's unpacked platform stands in for).
    const host = c.store?.kind === 'containerd' ? c.store.hostPlatform : { os: 'linux', architecture: '' };
    const ip = isObject(raw.ImagePlatform) ? (raw.ImagePlatform as unknown as Platform) : typeof raw.OS === 'string' && raw.OS ? { architecture: '', os: raw.OS } : host;
    const plat = isObject(im.platform) ? (im.platform as unknown as Platform) : ip;
    out.ImageManifestDescriptor = descriptor({ mediaType: String(im.mediaType ?? ''), digest: im.digest, size: Number(im.size ?? 0), ...(isObject(im.annotations) ? { annotations: im.annotations as Record<string, string> } : {}), platform: plat });
  }
  out.Dockscope = { ...Dockscope, Api: api };
  return out;
}

