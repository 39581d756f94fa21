import path from 'node:path';
import { chainIDOf } from '../model/chainid.js';
import { isDanglingRecord, LABEL_PARENT, parseNamedStrict, platformString, snapshotChain, type ContainerdStore, type SnapshotNode } from '../model/containerd.js';
import type { ContainerNode, ImageNode, Model } from '../model/graph.js';
import { familiarString, parseNormalizedNamed } from '../model/reference.js';
import { goRFC3339Nano, unixSeconds } from '../model/time.js';
import { listIngests } from '../store/containerd-ingest.js';
import type { MetaImage } from '../store/containerd-meta.js';
import { Findings } from '../store/findings.js';
import type { V2Metadata } from '../store/distribution.js';
import { isObject } from '../store/read.js';
import type { ChainStep } from './chain.js';
import { goContainerConfig } from './goshape.js';
import type { HistoryItem, ImageInspect, ImageSummary, LayerResolution } from './inspect.js';
import type { MountReport, StackEntry } from './mounts.js';
import type { PathMap } from './paths.js';

/**
 * The containerd image store's answers, as Docker 26 (API 1.45) computes them in
 * daemon/containerd (image_list.go, image.go, image_history.go) and the image router. Chosen by
 * inspect.ts / mounts.ts / chain.ts from the object's store; commands never see the difference.
 */

/** A path inside the containerd root, shown like the data root's paths are. */
export function containerdPath(store: ContainerdStore, rel: string, paths: PathMap): string {
  const tail = rel.replace(/^\/+/, '');
  if (paths.how === 'directory' && store.src.kind === 'dir') return tail ? `${store.src.location}/${tail}` : store.src.location;
  if (store.fromDataRoot !== undefined) return path.posix.normalize(paths.abs(tail ? `${store.fromDataRoot}/${tail}` : store.fromDataRoot));
  return tail ? `${store.src.location.replace(/\/$/, '')}/${tail}` : store.src.location;
}

/** What `ctr snapshots info` shows of a snapshot, plus where its files are. */
export interface SnapshotView {
  Kind: string;
  Name: string;
  Parent?: string;
  Labels?: Record<string, string>;
  Created?: string;
  Updated?: string;
  /** Backend key in the snapshotter's metadata.db. */
  BackendKey?: string;
  Id?: number;
  Dir?: string;
  DirPresent: boolean;
  Size?: number;
  Inodes?: number;
}

export function snapshotView(store: ContainerdStore, s: SnapshotNode, paths: PathMap): SnapshotView {
  const v: SnapshotView = { Kind: s.kind, Name: s.key, DirPresent: s.fsPresent };
  if (s.parent) v.Parent = s.parent;
  if (s.meta && Object.keys(s.meta.labels).length) v.Labels = s.meta.labels;
  if (s.createdAt) v.Created = s.createdAt.iso;
  if (s.updatedAt) v.Updated = s.updatedAt.iso;
  v.BackendKey = s.backend?.name ?? s.meta?.name;
  v.Id = s.id;
  if (s.fsDir) v.Dir = containerdPath(store, s.fsDir, paths);
  if (s.size !== undefined) v.Size = s.size;
  if (s.inodes !== undefined) v.Inodes = s.inodes;
  return v;
}

function cd(img: ImageNode) {
  return img.containerd!;
}

function labelsOf(cfg: Record<string, unknown> | undefined): Record<string, string> | null {
  const l = cfg?.Labels;
  return isObject(l) ? (l as Record<string, string>) : null;
}

// -------------------------------------------------------------------------------------------------
// images ls

/** daemon/containerd/image_list.go Images() for one containerd store. */
export function listImagesContainerd(model: Model, store: ContainerdStore, all: boolean): ImageSummary[] {
  const out: ImageSummary[] = [];
  // Untagged images that are some image's classic-builder parent are intermediate: -a only.
  const intermediate = new Set<string>();
  if (!all) for (const r of store.records.values()) if (r.labels[LABEL_PARENT]) intermediate.add(r.labels[LABEL_PARENT]!);
  for (const img of model.images.values()) {
    if (img.store !== store) continue;
    const info = cd(img);
    const best = info.listManifest;
    if (!best?.config) continue;
    const recs = all ? info.records : info.records.filter((r) => !(isDanglingRecord(r) && intermediate.has(img.id)));
    const last = recs[recs.length - 1];
    if (!last) continue;
    const repoTags: string[] = [];
    for (const r of recs) {
      if (isDanglingRecord(r)) continue;
      const p = parseNormalizedNamed(r.name);
      if (p) repoTags.push(familiarString(p));
    }
    // RepoDigests and ParentId come from the last record only (the map keeps the last one seen).
    const lp = parseNamedStrict(last.name);
    if (!lp && !isDanglingRecord(last)) repoTags.push(last.name);
    out.push({
      Containers: -1,
      Created: unixSeconds(best.config.created) ?? 0,
      Id: img.id,
      Labels: labelsOf(best.config.config),
      ParentId: last.labels[LABEL_PARENT] ?? '',
      RepoDigests: lp ? [familiarString({ domain: lp.domain, path: lp.path, digest: img.id })] : [],
      RepoTags: repoTags,
      SharedSize: -1,
      Size: img.size,
      Dockscope: { Store: store.name },
    });
  }
  return out;
}

// -------------------------------------------------------------------------------------------------
// image inspect

function dockerConfigOf(cfg: Record<string, unknown> | undefined): Record<string, unknown> {
  // dockerOCIImageConfigToContainerConfig: only the OCI image config fields survive.
  const c = cfg ?? {};
  const out: Record<string, unknown> = {};
  for (const k of ['Entrypoint', 'Env', 'Cmd', 'User', 'WorkingDir', 'ExposedPorts', 'Volumes', 'Labels', 'ArgsEscaped', 'StopSignal', 'Healthcheck', 'OnBuild', 'Shell'])
    if (c[k] !== undefined) out[k] = c[k];
  return out;
}

function distributionOf(store: ContainerdStore, digest: string): V2Metadata[] {
  const labels = store.ns?.blobs.get(digest)?.labels ?? {};
  const out: V2Metadata[] = [];
  for (const [k, v] of Object.entries(labels)) {
    const m = /^containerd\.io\/distribution\.source\.(.+)$/.exec(k);
    if (m) for (const repo of v.split(',')) out.push({ Digest: digest, SourceRepository: `${m[1]}/${repo}` });
  }
  return out;
}

export function layerResolutionContainerd(model: Model, img: ImageNode, paths: PathMap): LayerResolution[] {
  const store = img.store as ContainerdStore;
  return img.layers.map((l) => {
    const s = l.layer?.snapshot;
    return {
      Index: l.index,
      DiffID: l.diffID,
      ChainID: l.chainID,
      LayerDB: null,
      Present: s !== undefined,
      DiffMatches: l.diffMatches,
      ParentMatches: l.parentMatches,
      Size: s?.size ?? null,
      CacheID: null,
      DriverDir: s?.fsDir ? containerdPath(store, s.fsDir, paths) : null,
      DriverDirPresent: s?.fsPresent === true,
      Link: null,
      LinkPresent: false,
      TarSplit: false,
      Distribution: l.blob ? distributionOf(store, l.blob.digest) : [],
      Snapshot: s ? snapshotView(store, s, paths) : null,
      Blob: l.blob
        ? { Digest: l.blob.digest, MediaType: l.blob.mediaType, Size: l.blob.size, Present: l.blob.present, Path: containerdPath(store, store.content.path(l.blob.digest) ?? '', paths), ...(l.blob.uncompressed ? { Uncompressed: l.blob.uncompressed } : {}) }
        : null,
    };
  });
}

/** GET /images/{name}/json on Docker 26 with the containerd store (API 1.45 shape). */
export function inspectImageContainerd(model: Model, img: ImageNode, paths: PathMap): ImageInspect {
  const store = img.store as ContainerdStore;
  const info = cd(img);
  const pm = info.inspectManifest;
  const cfg = pm?.config;
  const history = cfg?.history ?? [];
  const comment = history.length > 0 ? (history[history.length - 1]!.comment ?? '') : '';
  return {
    Id: img.id,
    RepoTags: info.inspectRepoTags,
    RepoDigests: info.inspectRepoDigests,
    Parent: img.record.parent ?? '',
    Comment: comment,
    Created: cfg?.created ? goRFC3339Nano(cfg.created) : '',
    // The engine fills in its own version (dockerversion.Version); nothing on disk records it.
    DockerVersion: '',
    Author: cfg?.author ?? '',
    Config: goContainerConfig(dockerConfigOf(cfg?.config)),
    Architecture: cfg?.architecture ?? '',
    ...(cfg?.variant ? { Variant: cfg.variant } : {}),
    Os: cfg?.os || 'linux',
    ...(cfg?.osVersion ? { OsVersion: cfg.osVersion } : {}),
    Size: info.packedSize,
    GraphDriver: { Data: null, Name: store.driver },
    RootFS: { Type: cfg?.rootfsType ?? '', ...(img.layers.length ? { Layers: img.layers.map((l) => l.diffID) } : {}) },
    Metadata: { LastTagTime: info.lastUpdated?.iso ?? '1970-01-01T00:00:00Z' },
    Dockscope: {
      Store: store.name,
      Restorable: img.loadable,
      ...(img.dropReason ? { DropReason: img.dropReason } : {}),
      BuiltLocally: false,
      ConfigDigestMatches: img.record.computedId === img.id,
      Children: img.children,
      Layers: layerResolutionContainerd(model, img, paths),
      Containerd: {
        Records: info.records.map((r) => ({ Name: r.name, Created: r.createdAt?.iso ?? null, Updated: r.updatedAt?.iso ?? null, Labels: r.labels })),
        Target: { ...info.target, Path: containerdPath(store, store.content.path(info.target.digest) ?? '', paths) },
        ...(info.index ? { Index: info.index } : {}),
        Manifest: pm ? { Digest: pm.desc.digest, Size: pm.desc.size, Platform: platformString(pm.platform), Config: pm.configDigest ?? null } : null,
        Manifests: info.manifests.length,
        PackedSize: info.packedSize,
        UnpackedSize: info.listManifest?.unpackedSize ?? null,
        DockerVersionNote: 'not stored: the engine reports its own version here',
        Problems: info.problems,
      },
    },
  };
}

// -------------------------------------------------------------------------------------------------
// history

function tagsOf(records: MetaImage[]): string[] {
  const tags: string[] = [];
  for (const r of records) {
    if (isDanglingRecord(r)) continue;
    const p = parseNamedStrict(r.name);
    if (p) tags.push(familiarString(p));
  }
  return tags;
}

/** daemon/containerd/image_history.go ImageHistory(). */
export function imageHistoryContainerd(model: Model, img: ImageNode): HistoryItem[] {
  const store = img.store as ContainerdStore;
  const info = cd(img);
  const cfg = info.inspectManifest?.config;
  const st = store.snapshotters.get(store.driver);
  const sizes = (info.inspectManifest?.chainIDs ?? []).map((c) => {
    const s = st?.nodes.get(c);
    return s && s.kind !== 'Active' ? (s.size ?? 0) : 0;
  });
  const items: HistoryItem[] = [];
  let layer = 0;
  for (const h of cfg?.history ?? []) {
    let size = 0;
    let idx: number | undefined;
    if (!h.empty_layer) {
      size = sizes[layer] ?? 0;
      idx = layer < img.layers.length ? layer : undefined;
      layer++;
    }
    items.unshift({
      Comment: h.comment ?? '',
      Created: unixSeconds(h.created) ?? 0,
      CreatedBy: h.created_by ?? '',
      Id: '<missing>',
      Size: size,
      Tags: null,
      ...(idx !== undefined ? { Layer: idx } : {}),
    });
  }
  // IDs follow the classic builder's parent label from the record the reference resolved to;
  // among several records of the parent, the last one that has the label is followed.
  let cur: MetaImage | undefined = (img.resolvedVia !== undefined ? store.records.get(img.resolvedVia) : undefined) ?? info.records[0];
  const byTarget = (d: string) => [...store.records.values()].filter((r) => r.target?.digest === d);
  for (const item of items) {
    if (!cur?.target) break;
    item.Id = cur.target.digest;
    const tags = tagsOf(byTarget(cur.target.digest));
    item.Tags = tags.length ? tags : null;
    const parent = cur.labels[LABEL_PARENT];
    if (!parent) break;
    let next: MetaImage | undefined;
    for (const r of byTarget(parent)) if (!next || r.labels[LABEL_PARENT] !== undefined) next = r;
    cur = next;
  }
  return items;
}

// -------------------------------------------------------------------------------------------------
// container mounts

/** The overlay stack containerd mounted for a container: RW and init snapshots on the image chain. */
export function mountReportContainerd(model: Model, c: ContainerNode, paths: PathMap): Omit<MountReport, 'volumes'> {
  const store = c.store as ContainerdStore;
  const cs = c.snapshots!;
  const abs = (rel: string) => containerdPath(store, rel, paths);
  const problems = [...cs.problems];
  const stack: StackEntry[] = [];
  const layerIndex = new Map((c.image?.store === store ? c.image.layers : []).map((l) => [l.chainID, l.index]));
  const entry = (role: StackEntry['role'], s: SnapshotNode | undefined) => {
    if (!s) return;
    const e: StackEntry = { role, id: s.key, diff: s.fsDir ? abs(s.fsDir) : '(unknown)', present: s.fsPresent, snapshot: snapshotView(store, s, paths) };
    if (role === 'image') {
      if (s.isLayer) {
        e.chainID = s.key;
        e.diffID = store.layers.get(s.key)?.diffID;
        e.index = layerIndex.get(s.key);
      } else e.buildStep = true;
    }
    if (s.fsDir && !s.fsPresent) problems.push(`${role} snapshot ${s.key}: ${e.diff} is missing`);
    stack.push(e);
  };
  entry('upper', cs.rw);
  entry('init', cs.init);
  for (const s of cs.lower) entry('image', s);
  const upper = stack.find((s) => s.role === 'upper');
  const lowers = stack.filter((s) => s.role !== 'upper').map((s) => s.diff);
  const work = cs.rw?.dir ? abs(`${cs.rw.dir}/work`) : undefined;
  const merged = paths.abs(cs.mountPoint);
  const q = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  // containerd overlay.go mounts: an Active snapshot with parents is an overlay of them.
  const dockerMount =
    upper && work && lowers.length
      ? `mount -t overlay overlay -o ${q(`lowerdir=${lowers.join(':')},upperdir=${upper.diff},workdir=${work}`)} ${q(merged)}`
      : upper && work
        ? `mount --bind ${q(upper.diff)} ${q(merged)}`
        : undefined;
  const readOnlyMount = upper ? `mount -t overlay overlay -o ${q(`ro,lowerdir=${[upper.diff, ...lowers].join(':')}`)} ${q(`/mnt/${c.id.slice(0, 12)}`)}` : undefined;
  return {
    driver: c.record.driver,
    store: store.name,
    stack,
    work,
    merged,
    mergedPresent: cs.mountPointPresent,
    lowerFromDisk: [],
    problems,
    dockerMount,
    readOnlyMount,
  };
}

// -------------------------------------------------------------------------------------------------
// chain

/** The snapshot chain below (and including) a layer, base first, each chainID recomputed. */
export function chainStepsContainerd(model: Model, store: ContainerdStore, chainID: string, paths: PathMap): { steps: ChainStep[]; problem?: string } {
  const st = store.snapshotters.get(store.driver);
  const { chain, problem } = snapshotChain(st, chainID);
  let below: string | undefined;
  const steps = chain
    .slice()
    .reverse()
    .map((s): ChainStep => {
      const layer = store.layers.get(s.key);
      const diffID = layer?.diffID;
      const isLayer = s.isLayer;
      const recomputed = isLayer && diffID ? chainIDOf(below, diffID) : undefined;
      if (isLayer) below = s.key;
      return {
        chainID: s.key,
        diffID,
        recomputed,
        recomputedMatches: isLayer ? recomputed === s.key : true,
        parent: s.parent,
        present: true,
        size: s.size,
        cacheID: s.id !== undefined ? String(s.id) : undefined,
        driverDir: s.fsDir ? containerdPath(store, s.fsDir, paths) : undefined,
        driverDirPresent: s.fsPresent,
        linkOk: true,
        tarSplit: false,
        committed: s.kind === 'Committed',
        snapshot: snapshotView(store, s, paths),
        ...(isLayer ? {} : { buildStep: true }),
      };
    });
  return { steps, problem };
}

/** Registry blobs (from content labels) a layer's diffID came from. */
export function pulledFromContainerd(store: ContainerdStore, diffID: string | undefined): V2Metadata[] {
  if (!diffID) return [];
  const out: V2Metadata[] = [];
  for (const [d, b] of store.ns?.blobs ?? []) if (b.labels['containerd.io/uncompressed'] === diffID || d === diffID) out.push(...distributionOf(store, d));
  return out;
}


/** What `info` can say about a containerd store (one line of counts and where it was found). */
export function containerdSummary(model: Model, store: ContainerdStore, paths: PathMap) {
  const images = [...model.images.values()].filter((i) => i.store === store);
  return {
    Store: store.name,
    Root: containerdPath(store, '', paths),
    Found: store.how === 'option' ? '--containerd-root' : store.how === 'managed' ? "Docker's managed containerd (<data-root>/containerd/daemon)" : 'system containerd beside the data root',
    Namespace: store.namespace,
    Namespaces: store.meta?.namespaces ?? [],
    SchemaVersion: store.meta?.schemaVersion ?? null,
    Snapshotter: store.driver,
    HostPlatform: platformString(store.hostPlatform),
    Images: images.length,
    Restorable: images.filter((i) => i.loadable).length,
    ImageRecords: store.ns?.images.length ?? 0,
    Layers: store.layers.size,
    Snapshots: store.snapshotters.get(store.driver)?.nodes.size ?? 0,
    Blobs: store.ns?.blobs.size ?? 0,
    Leases: store.ns?.leases.length ?? 0,
    /** Partial downloads left in the content store's ingest/ (see orphans). */
    Ingests: listIngests(store.src, store.content.base, new Findings()).length,
    Containers: [...model.containers.values()].filter((c) => c.store === store).length,
  };
}
