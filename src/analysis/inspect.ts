import type { ContainerdStore } from '../model/containerd.js';
import type { ContainerNode, ImageNode, Model } from '../model/graph.js';
import { lookupKey, parseNormalizedNamed } from '../model/reference.js';
import type { V2Metadata } from '../store/distribution.js';
import {
  imageHistoryContainerd,
  inspectImageContainerd,
  layerResolutionContainerd,
  listImagesContainerd,
  snapshotView,
  type SnapshotView,
} from './containerd.js';
import { GO_ZERO_TIME, goRFC3339Nano, isZeroTime, unixSeconds } from '../model/time.js';
import type { DriverDir } from '../store/overlay2.js';
import { goContainerConfig, goZeroContainerConfig } from './goshape.js';
import type { PathMap } from './paths.js';

/**
 * Docker's own answers, computed offline: the shapes of `docker image ls`, `image inspect`,
 * `history`, `ps` and `inspect` (Engine API 1.41, i.e. Docker 20.10, as the superset).
 */

/** overlay2 GetMetadata: UpperDir/WorkDir/MergedDir always, LowerDir from `lower` via `l/`. */
export function graphDriverData(model: Model, driver: string, dir: DriverDir | undefined, paths: PathMap): Record<string, string> | null {
  if (!dir) return null;
  const store = model.stores.find((s) => s.driver === driver);
  const home = store?.dirs.home ?? driver;
  if (driver === 'overlay') {
    // overlay v1 GetMetadata: RootDir when root/ exists (image layers), else the container's dirs.
    if (dir.hasRoot) return { RootDir: paths.abs(`${home}/${dir.id}/root`) };
    const data: Record<string, string> = {};
    if (dir.lowerId) data.LowerDir = paths.abs(`${home}/${dir.lowerId}/root`);
    data.MergedDir = paths.abs(`${home}/${dir.id}/merged`);
    data.UpperDir = paths.abs(`${home}/${dir.id}/upper`);
    data.WorkDir = paths.abs(`${home}/${dir.id}/work`);
    return data;
  }
  // aufs, vfs, btrfs, zfs, devicemapper (without a device) GetMetadata: nil.
  if (driver !== 'overlay2' && driver !== 'fuse-overlayfs') return null;
  const data: Record<string, string> = {};
  if (dir.lower && dir.lower.length > 0) {
    data.LowerDir = dir.lower
      .map((e) => {
        const link = store?.dirs.shortLink(e.replace(/^l\//, ''));
        return link?.id ? paths.abs(`${home}/${link.id}/diff`) : paths.abs(`${home}/${e}`);
      })
      .join(':');
  }
  data.MergedDir = paths.abs(`${home}/${dir.id}/merged`);
  data.UpperDir = paths.abs(`${home}/${dir.id}/diff`);
  data.WorkDir = paths.abs(`${home}/${dir.id}/work`);
  return data;
}

export interface ImageSummary {
  Containers: number;
  Created: number;
  Id: string;
  Labels: Record<string, string> | null;
  ParentId: string;
  RepoDigests: string[];
  RepoTags: string[];
  SharedSize: number;
  Size: number;
  /** API < 1.44 only (the graph-driver answers here are 20.10's superset). */
  VirtualSize?: number;
  /** Not Docker's: which image store the image is in. */
  Dockscope?: { Store: string };
}

/** daemon/images/images.go Images(): which images `docker image ls [-a]` lists, newest first. */
export function listImages(model: Model, all: boolean): ImageSummary[] {
  const out: ImageSummary[] = [];
  for (const img of model.images.values()) {
    if (!img.loadable || img.store.kind !== 'graphdriver') continue;
    const tags = img.repoTags;
    const digests = img.repoDigests;
    // Untagged images with children are intermediate (build steps): shown only with -a. Like
    // API 1.44+ they carry empty lists, not the `<none>:<none>` placeholders 20.10 put in.
    if (tags.length === 0 && digests.length === 0 && !all && img.children.some((c) => model.images.get(c)?.loadable)) continue;
    const labels = img.config?.config?.Labels;
    out.push({
      Containers: -1,
      Created: unixSeconds(img.config?.created) ?? -62135596800,
      Id: img.id,
      Labels: labels && typeof labels === 'object' ? (labels as Record<string, string>) : null,
      ParentId: img.record.parent ?? '',
      RepoDigests: digests,
      RepoTags: tags,
      SharedSize: -1,
      Size: img.size,
      VirtualSize: img.size,
      Dockscope: { Store: img.store.name },
    });
  }
  for (const s of model.containerdStores) out.push(...listImagesContainerd(model, s, all));
  return out.sort((a, b) => b.Created - a.Created || (a.Id < b.Id ? -1 : 1));
}

/** One rootfs layer resolved to where the store keeps it. */
export interface LayerResolution {
  Index: number;
  DiffID: string;
  ChainID: string;
  LayerDB: string | null;
  Present: boolean;
  DiffMatches: boolean;
  ParentMatches: boolean;
  Size: number | null;
  /** overlay2: the driver dir id; containerd: null (see Snapshot). */
  CacheID: string | null;
  /** overlay2: `overlay2/<cache-id>`; containerd: the snapshot's `snapshots/<n>/fs`. */
  DriverDir: string | null;
  DriverDirPresent: boolean;
  Link: string | null;
  LinkPresent: boolean;
  /** Set when the driver has no short links (aufs, overlay v1, vfs …): the link fields do not apply. */
  LinkNote?: string;
  TarSplit: boolean;
  Distribution: V2Metadata[];
  /** containerd: the committed snapshot keyed by the chainID. */
  Snapshot?: SnapshotView | null;
  /** containerd: the manifest's layer blob in the content store. */
  Blob?: { Digest: string; MediaType: string; Size: number; Present: boolean; Path: string; Uncompressed?: string } | null;
}

/** Where a driver keeps a layer's directory, relative to the data root. */
export function driverDirPath(driver: string, home: string, id: string): string {
  switch (driver) {
    case 'aufs':
      return `aufs/diff/${id}`;
    case 'vfs':
      return `vfs/dir/${id}`;
    case 'btrfs':
      return `btrfs/subvolumes/${id}`;
    default:
      return `${home}/${id}`;
  }
}

/** overlay2 and fuse-overlayfs keep `link` files and `l/` short links; no other driver does. */
export function hasShortLinks(driver: string): boolean {
  return driver === 'overlay2' || driver === 'fuse-overlayfs';
}

/** What the link column says where the driver has no short links (never a ✗: nothing is wrong). */
export function noLinksNote(driver: string): string {
  return `n/a (${driver} has no short links)`;
}

/** What the chainID recomputation says for a pre-1.10 layer (named by its random v1 ID). */
export const LEGACY_CHAIN_NOTE = 'n/a (pre-1.10 v1 layer: named by a random v1 ID, no chainID to recompute)';

/** The layer resolution Docker never shows: one entry per rootfs layer. */
export function layerResolution(model: Model, img: ImageNode, paths: PathMap): LayerResolution[] {
  if (img.store.kind === 'containerd') return layerResolutionContainerd(model, img, paths);
  const store = img.store;
  const home = store?.dirs.home ?? 'overlay2';
  return img.layers.map((l) => {
    const rec = l.layer?.record;
    const dir = l.layer?.dir;
    return {
      Index: l.index,
      DiffID: l.diffID,
      ChainID: l.chainID,
      LayerDB: rec ? paths.abs(store.legacy ? `graph/${l.chainID}` : `${store!.imageRoot}/layerdb/sha256/${l.chainID.slice(7)}`) : null,
      Present: rec !== undefined,
      DiffMatches: l.diffMatches,
      ParentMatches: l.parentMatches,
      Size: rec?.size ?? null,
      CacheID: rec?.cacheID ?? null,
      DriverDir: rec?.cacheID ? paths.abs(driverDirPath(store.driver, home, rec.cacheID)) : null,
      DriverDirPresent: dir !== undefined,
      Link: dir?.link ?? null,
      LinkPresent: l.layer?.shortLink?.id === rec?.cacheID && rec?.cacheID !== undefined,
      ...(hasShortLinks(store.driver) ? {} : { LinkNote: noLinksNote(store.driver) }),
      TarSplit: rec?.hasTarSplit ?? false,
      Distribution: (store?.v2For ? store.v2For(l.diffID) : store?.distribution.byDiffID.get(l.diffID)) ?? [],
    };
  });
}

/**
 * `docker image inspect`. Graph-driver images get API 1.41's superset (Container,
 * ContainerConfig, VirtualSize); containerd images the shape Docker 26 gives them (API 1.45).
 */
export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  Container?: string;
  ContainerConfig?: Record<string, unknown> | null;
  DockerVersion: string;
  Author: string;
  Config: Record<string, unknown> | null;
  Architecture: string;
  Variant?: string;
  Os: string;
  OsVersion?: string;
  Size: number;
  VirtualSize?: number;
  GraphDriver: { Data: Record<string, string> | null; Name: string };
  RootFS: { Type: string; Layers?: string[] };
  Metadata: { LastTagTime: string };
  Dockscope: {
    Store: string;
    Restorable: boolean;
    DropReason?: string;
    BuiltLocally: boolean;
    ConfigDigestMatches: boolean;
    Children: string[];
    Layers: LayerResolution[];
    Containerd?: Record<string, unknown>;
    Legacy?: { V1ID: string; Checksum: string | null; MigratedTo: string | null };
    MigratedFrom?: string[];
  };
}

export function inspectImage(model: Model, img: ImageNode, paths: PathMap): ImageInspect {
  if (img.store.kind === 'containerd') return inspectImageContainerd(model, img, paths);
  const cfg = img.config;
  const history = cfg?.history ?? [];
  let comment = cfg?.comment ?? '';
  if (comment === '' && history.length > 0) comment = history[history.length - 1]!.comment ?? '';
  const top = img.topChainID ? model.layer(img.topChainID) : undefined;
  const driver = img.store.driver;
  return {
    Id: img.id,
    RepoTags: img.repoTags,
    RepoDigests: img.repoDigests,
    Parent: img.record.parent ?? '',
    Comment: comment,
    Created: cfg?.created ? goRFC3339Nano(cfg.created) : GO_ZERO_TIME,
    Container: cfg?.container ?? '',
    ContainerConfig: cfg?.containerConfig ? goContainerConfig(cfg.containerConfig) : goZeroContainerConfig(),
    DockerVersion: cfg?.dockerVersion ?? '',
    Author: cfg?.author ?? '',
    Config: goContainerConfig(cfg?.config),
    Architecture: cfg?.architecture ?? '',
    ...(cfg?.variant ? { Variant: cfg.variant } : {}),
    Os: cfg?.os || 'linux',
    ...(cfg?.osVersion ? { OsVersion: cfg.osVersion } : {}),
    Size: img.size,
    VirtualSize: img.size,
    GraphDriver: { Data: graphDriverData(model, driver, top?.dir, paths), Name: driver },
    RootFS: { Type: cfg?.rootfsType ?? 'layers', ...(img.layers.length ? { Layers: img.layers.map((l) => l.diffID) } : {}) },
    Metadata: { LastTagTime: img.record.lastUpdated ? goRFC3339Nano(img.record.lastUpdated) : GO_ZERO_TIME },
    Dockscope: {
      Store: img.store.name,
      Restorable: img.loadable,
      ...(img.dropReason ? { DropReason: img.dropReason } : {}),
      BuiltLocally: img.record.builtLocally,
      ConfigDigestMatches: img.record.computedId === img.id,
      Children: img.children,
      Layers: layerResolution(model, img, paths),
      ...(img.legacy ? { Legacy: { V1ID: img.legacy.v1ID, Checksum: img.legacy.checksum ?? null, MigratedTo: img.legacy.migratedTo ?? null } } : {}),
      ...(!img.legacy && model.migration.size ? migratedFrom(model, img.id) : {}),
    },
  };
}

function migratedFrom(model: Model, id: string): { MigratedFrom?: string[] } {
  const from = [...model.migration].filter(([, v]) => v === id).map(([k]) => k);
  return from.length ? { MigratedFrom: from } : {};
}

export interface HistoryItem {
  Comment: string;
  Created: number;
  CreatedBy: string;
  Id: string;
  Size: number;
  Tags: string[] | null;
  /** Not in Docker's answer: which rootfs layer this step produced, if any. */
  Layer?: number;
}

/** daemon/images/image_history.go ImageHistory(), newest step first. */
export function imageHistory(model: Model, img: ImageNode): HistoryItem[] {
  if (img.store.kind === 'containerd') return imageHistoryContainerd(model, img);
  const items: HistoryItem[] = [];
  let layer = 0;
  for (const h of img.config?.history ?? []) {
    let size = 0;
    let idx: number | undefined;
    if (!h.empty_layer) {
      const l = img.layers[layer];
      size = l?.layer?.record?.size ?? 0;
      idx = l ? layer : undefined;
      layer++;
    }
    items.unshift({
      Comment: h.comment ?? '',
      Created: unixSeconds(h.created) ?? -62135596800,
      CreatedBy: h.created_by ?? '',
      Id: '<missing>',
      Size: size,
      Tags: null,
      ...(idx !== undefined ? { Layer: idx } : {}),
    });
  }
  // Image IDs are filled in walking the metadata parent chain, one per step from the top.
  let cur: ImageNode | undefined = img;
  for (const item of items) {
    if (!cur) break;
    item.Id = cur.id;
    item.Tags = cur.repoTags.length ? [...cur.repoTags] : null;
    const p: string | undefined = cur.record.parent;
    cur = p ? model.images.get(p) : undefined;
    if (cur && !cur.loadable) cur = undefined;
  }
  return items;
}

/** container.State.StateString(). */
export function stateString(c: ContainerNode): string {
  const s = c.record.state;
  if (s.Running) {
    if (s.Paused) return 'paused';
    if (s.Restarting) return 'restarting';
    return 'running';
  }
  if (s.RemovalInProgress) return 'removing';
  if (s.Dead) return 'dead';
  if (isZeroTime(s.StartedAt)) return 'created';
  return 'exited';
}

/** go-units HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3_600_000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`;
}

/** container.State.String() as `docker ps` prints it, relative to `now`. */
export function statusString(c: ContainerNode, now: number): string {
  const s = c.record.state;
  const since = (t: string) => humanDuration(now - Date.parse(t));
  if (s.Running) {
    if (s.Paused) return `Up ${since(s.StartedAt)} (Paused)`;
    if (s.Restarting) return `Restarting (${s.ExitCode}) ${since(s.FinishedAt)} ago`;
    const h = s.Health as { Status?: unknown } | undefined;
    const health = typeof h?.Status === 'string' && h.Status !== 'none' ? ` (${h.Status === 'starting' ? 'health: starting' : h.Status})` : '';
    return `Up ${since(s.StartedAt)}${health}`;
  }
  if (s.RemovalInProgress) return 'Removal In Progress';
  if (s.Dead) return 'Dead';
  if (isZeroTime(s.StartedAt)) return 'Created';
  if (isZeroTime(s.FinishedAt)) return '';
  return `Exited (${s.ExitCode}) ${since(s.FinishedAt)} ago`;
}

/** Path + args as the container list shows them (args with spaces quoted). */
export function commandString(c: ContainerNode): string {
  const args = c.record.args.map((a) => (a.includes(' ') ? `'${a}'` : a));
  return args.length ? `${c.record.path} ${args.join(' ')}` : c.record.path;
}

/** daemon/list.go refreshImage: the name the user gave while it still means the same image. */
export function imageShown(model: Model, c: ContainerNode): string {
  const given = typeof c.record.config.Image === 'string' ? c.record.config.Image : '';
  if (given && given !== c.record.image) {
    const parsed = given.startsWith('sha256:') ? undefined : given;
    // A name is looked up in the container's own store (both kinds can share one disk).
    const id = parsed ? (c.store?.kind === 'containerd' ? resolveInContainerd(model, c.store, parsed) : resolveQuiet(model, parsed)) : undefined;
    if (id === c.record.image) return given;
    return c.record.image;
  }
  return given || c.record.image;
}

function resolveInContainerd(model: Model, store: ContainerdStore, ref: string): string | undefined {
  const named = parseNormalizedNamed(ref);
  const hit = named ? store.refs.get(lookupKey(named)) : undefined;
  if (hit) return model.images.get(hit.id)?.loadable ? hit.id : undefined;
  const hex = ref.replace(/^sha256:/, '');
  if (/^[a-f0-9]{4,64}$/.test(hex)) {
    const hits = [...model.images.values()].filter((i) => i.store === store && i.loadable && i.id.slice(7).startsWith(hex));
    if (hits.length === 1) return hits[0]!.id;
  }
  return undefined;
}

function resolveQuiet(model: Model, ref: string): string | undefined {
  // The first key in the index equal to `ref` or `ref:latest`: a lookup each, and a scan for
  // their order only when both are there (a reference stored without a tag).
  const exact = model.refIndex.get(ref);
  const latest = model.refIndex.get(`${ref}:latest`);
  if (exact !== undefined && latest !== undefined) {
    for (const [key, id] of model.refIndex) if (key === ref || key === `${ref}:latest`) return model.images.get(id)?.loadable ? id : undefined;
  }
  const hit = exact ?? latest;
  if (hit !== undefined) return model.images.get(hit)?.loadable ? hit : undefined;
  const hex = ref.replace(/^sha256:/, '');
  if (/^[a-f0-9]{1,64}$/.test(hex)) {
    const hits = [...model.images.values()].filter((i) => i.loadable && i.id.slice(7).startsWith(hex));
    if (hits.length === 1) return hits[0]!.id;
  }
  return undefined;
}

/**
 * HostConfig.Links of every container, as linked name → aliases, in container then link order:
 * built once per model (containerNames is asked for every container of a listing).
 */
const aliasIndex = new WeakMap<Model, Map<string, string[]>>();
function linkAliases(model: Model): Map<string, string[]> {
  let index = aliasIndex.get(model);
  if (index !== undefined) return index;
  index = new Map();
  for (const other of model.containers.values()) {
    const links = other.record.hostConfig?.Links;
    if (!Array.isArray(links)) continue;
    for (const l of links) {
      if (typeof l !== 'string') continue;
      const [child, alias] = l.split(':');
      if (child === undefined || !alias) continue;
      const list = index.get(child);
      if (list) list.push(alias);
      else index.set(child, [alias]);
    }
  }
  aliasIndex.set(model, index);
  return index;
}

/** Names of a container: its own plus `/<parent>/<alias>` for every link to it. */
export function containerNames(model: Model, c: ContainerNode): string[] {
  const names = [c.record.name, ...(linkAliases(model).get(c.record.name) ?? [])];
  // pre-1.10: links lived in linkgraph.db (parent container → alias → linked container).
  for (const l of model.linkgraph?.links ?? []) {
    if (l.child !== c.id) continue;
    const parent = model.containers.get(l.parent)?.record.name || (model.linkgraph!.names.has(l.parent) ? `/${model.linkgraph!.names.get(l.parent)}` : undefined);
    const name = `${parent ?? `/${l.parent.slice(0, 12)}`}/${l.alias}`;
    if (!names.includes(name)) names.push(name);
  }
  return names;
}

export function listContainers(model: Model, all: boolean, paths: PathMap, now = Date.now()) {
  const out = [];
  for (const c of model.containers.values()) {
    const state = stateString(c);
    if (!all && !c.record.state.Running) continue;
    out.push({
      Id: c.id,
      Names: containerNames(model, c),
      Image: imageShown(model, c),
      ImageID: c.record.image,
      Command: commandString(c),
      Created: unixSeconds(c.record.created) ?? 0,
      Labels: (c.record.config.Labels as Record<string, string> | null | undefined) ?? {},
      State: state,
      Status: statusString(c, now),
      Mounts: mountsOf(c, paths, false),
      Dockscope: { CreatedAt: c.record.created ?? null, ImagePresent: c.image?.loadable === true, Store: c.store?.name ?? null },
    });
  }
  return out.sort((a, b) => (b.Dockscope.CreatedAt ?? '').localeCompare(a.Dockscope.CreatedAt ?? '') || a.Id.localeCompare(b.Id));
}

/**
 * daemon addMountPoints: one entry per MountPoints value (Docker's order is map order). Inspect
 * asks the live volume for its path (MountPoint.Path()), which for the local driver is
 * `<root>/volumes/<name>/_data` even where the file's Source is still empty; `ps` shows the file.
 */
export function mountsOf(c: ContainerNode, paths: PathMap, live: boolean) {
  return c.record.mountPoints
    .map((m) => ({
      ...(m.Type ? { Type: m.Type } : {}),
      ...(m.Name ? { Name: m.Name } : {}),
      Source: live && m.Source === '' && m.Type === 'volume' && m.Driver === 'local' && /^[\w][\w.-]*$/.test(m.Name) ? paths.abs(`volumes/${m.Name}/_data`) : paths.rebase(m.Source),
      Destination: m.Destination,
      ...(m.Driver ? { Driver: m.Driver } : {}),
      Mode: m.Mode,
      RW: m.RW,
      Propagation: m.Propagation,
    }))
    .sort((a, b) => a.Destination.localeCompare(b.Destination));
}

export function inspectContainer(model: Model, c: ContainerNode, paths: PathMap) {
  const r = c.record;
  const raw = r.raw;
  const s = r.state;
  const state: Record<string, unknown> = {
    Status: stateString(c),
    Running: s.Running,
    Paused: s.Paused,
    Restarting: s.Restarting,
    OOMKilled: s.OOMKilled,
    Dead: s.Dead,
    Pid: s.Pid,
    ExitCode: s.ExitCode,
    Error: s.Error,
    StartedAt: goRFC3339Nano(s.StartedAt),
    FinishedAt: goRFC3339Nano(s.FinishedAt),
  };
  if (s.Health !== undefined) state.Health = s.Health;
  const str = (k: string) => (typeof raw[k] === 'string' ? (raw[k] as string) : '');
  return {
    Id: c.id,
    Created: r.created ? goRFC3339Nano(r.created) : GO_ZERO_TIME,
    Path: r.path,
    Args: r.args,
    State: state,
    Image: r.image,
    ResolvConfPath: paths.rebase(str('ResolvConfPath')),
    HostnamePath: paths.rebase(str('HostnamePath')),
    HostsPath: paths.rebase(str('HostsPath')),
    LogPath: paths.rebase(r.logPath),
    Name: r.name,
    RestartCount: r.restartCount,
    Driver: r.driver,
    Platform: str('OS') || 'linux',
    MountLabel: str('MountLabel'),
    ProcessLabel: str('ProcessLabel'),
    AppArmorProfile: str('AppArmorProfile'),
    ExecIDs: null,
    HostConfig: r.hostConfig ?? null,
    GraphDriver: { Data: graphDriverData(model, r.driver, c.rw, paths), Name: r.driver },
    Mounts: mountsOf(c, paths, true),
    Config: r.config,
    NetworkSettings: raw.NetworkSettings ?? null,
    Dockscope: {
      Store: c.store?.name ?? null,
      ImagePresent: c.image?.loadable === true,
      // containerd: the RW and init snapshot keys and the image top layer they sit on.
      MountID: c.mount?.mountID ?? c.snapshots?.rw?.key ?? null,
      InitID: c.mount?.initID ?? c.snapshots?.init?.key ?? null,
      ParentChainID: c.mount?.parent ?? c.snapshots?.init?.parent ?? null,
      ...(c.snapshots && c.store?.kind === 'containerd'
        ? {
            Snapshots: {
              RW: c.snapshots.rw ? snapshotView(c.store, c.snapshots.rw, paths) : null,
              Init: c.snapshots.init ? snapshotView(c.store, c.snapshots.init, paths) : null,
              Lease: c.snapshots.lease ? { ID: c.snapshots.lease.id, Created: c.snapshots.lease.createdAt?.iso ?? null } : null,
              ContainerdContainer: c.snapshots.meta ? { Runtime: c.snapshots.meta.runtime ?? null, Created: c.snapshots.meta.createdAt?.iso ?? null, Labels: c.snapshots.meta.labels } : null,
              Problems: c.snapshots.problems,
            },
          }
        : {}),
      HasBeenStartedBefore: raw.HasBeenStartedBefore === true,
      HasBeenManuallyStopped: raw.HasBeenManuallyStopped === true,
      Files: r.files,
    },
  };
}
