import { chainIDOf } from '../model/chainid.js';
import type { ContainerdStore } from '../model/containerd.js';
import type { LayerNode, Model } from '../model/graph.js';
import { ResolveError } from '../model/resolve.js';
import { LINK_RE } from '../store/overlay2.js';
import { chainStepsContainerd, pulledFromContainerd, type SnapshotView } from './containerd.js';
import { driverDirPath, hasShortLinks, LEGACY_CHAIN_NOTE, noLinksNote } from './inspect.js';
import type { PathMap } from './paths.js';

export type IdKind =
  | 'chainID'
  | 'diffID'
  | 'cache-id'
  | 'short link'
  | 'registry blob'
  | 'container mount-id'
  | 'container init-id'
  | 'snapshot'
  | 'content blob'
  | 'container snapshot';

export interface LayerMatch {
  kind: IdKind;
  value: string;
  chainID?: string;
  containerId?: string;
  /** The image store the match is in. */
  store?: string;
}

/**
 * Every way a layer can be named, matched against `query` (full or unique prefix, with or
 * without `sha256:`): chainID, diffID, cache-id (driver dir), `l/` short link, registry blob digest.
 */
export function findLayer(model: Model, query: string): LayerMatch[] {
  // containerd snapshot directories are numbered: `snapshot:12` or `snapshots/12`.
  const sn = /^snapshots?[:/](\d{1,15})(?:\/fs)?$/.exec(query.trim());
  if (sn) {
    const id = Number(sn[1]);
    const out: LayerMatch[] = [];
    for (const store of model.containerdStores) {
      const st = store.snapshotters.get(store.driver);
      for (const n of st?.nodes.values() ?? []) {
        if (n.id !== id) continue;
        if (n.isLayer) out.push({ kind: 'snapshot', value: String(id), chainID: n.key, store: store.name });
        for (const c of model.containers.values())
          if (c.snapshots && (c.snapshots.rw === n || c.snapshots.init === n)) out.push({ kind: 'snapshot', value: String(id), containerId: c.id, store: store.name });
        if (!n.isLayer && !out.length) throw new ResolveError(`snapshot ${id} is ${JSON.stringify(n.key)}, neither an image layer nor a container's RW or init snapshot`);
      }
    }
    return out;
  }
  const q = query.trim().replace(/^sha256:/, '').replace(/^l\//, '');
  if (q === '') throw new ResolveError('empty layer identifier');
  const isHex = /^[a-f0-9]+$/.test(q);
  const isLink = /^[A-Z2-7]+$/.test(q) && q.length <= 26;
  if (!isHex && !isLink) throw new ResolveError(`${JSON.stringify(query)} is neither a hex digest/ID nor an l/ short link name`);
  const out: LayerMatch[] = [];
  const hexMatch = (v: string | undefined) => isHex && v !== undefined && v.replace(/^sha256:/, '').startsWith(q);
  for (const n of model.layers.values()) {
    const r = n.record;
    if (hexMatch(n.chainID)) out.push({ kind: 'chainID', value: n.chainID, chainID: n.chainID, store: n.store.name });
    if (hexMatch(r?.diffID)) out.push({ kind: 'diffID', value: r!.diffID!, chainID: n.chainID });
    if (hexMatch(r?.cacheID)) out.push({ kind: 'cache-id', value: r!.cacheID!, chainID: n.chainID });
    if (isLink && n.dir?.link?.startsWith(q)) out.push({ kind: 'short link', value: n.dir.link, chainID: n.chainID });
  }
  for (const store of model.stores) {
    for (const [blob, diffID] of store.distribution.diffIDByDigest) {
      if (!hexMatch(blob)) continue;
      const layers = [...model.layers.values()].filter((n) => n.record?.diffID === diffID);
      if (layers.length === 0) out.push({ kind: 'registry blob', value: blob });
      for (const n of layers) out.push({ kind: 'registry blob', value: blob, chainID: n.chainID });
    }
  }
  for (const store of model.containerdStores) {
    for (const n of store.layers.values()) {
      if (hexMatch(n.chainID)) out.push({ kind: 'chainID', value: n.chainID, chainID: n.chainID, store: store.name });
      if (hexMatch(n.diffID)) out.push({ kind: 'diffID', value: n.diffID!, chainID: n.chainID, store: store.name });
    }
    // Layer blobs (compressed, as pulled or pushed) named by the images' manifests.
    const seen = new Set<string>();
    for (const img of model.images.values()) {
      if (img.store !== store) continue;
      for (const l of img.layers) {
        if (!l.blob || !hexMatch(l.blob.digest) || seen.has(`${l.blob.digest} ${l.chainID}`)) continue;
        seen.add(`${l.blob.digest} ${l.chainID}`);
        if (l.blob.digest !== l.diffID) out.push({ kind: 'content blob', value: l.blob.digest, chainID: store.layers.has(l.chainID) ? l.chainID : undefined, store: store.name });
      }
    }
  }
  for (const c of model.containers.values()) {
    if (c.snapshots && c.store?.kind === 'containerd' && c.snapshots.rw && hexMatch(c.id))
      out.push({ kind: 'container snapshot', value: c.snapshots.rw.key, containerId: c.id, store: c.store.name });
    if (hexMatch(c.mount?.mountID)) out.push({ kind: 'container mount-id', value: c.mount!.mountID!, containerId: c.id });
    if (c.mount?.initID && isHex && c.mount.initID.startsWith(q) && q.length > 0)
      if (!out.some((m) => m.containerId === c.id)) out.push({ kind: 'container init-id', value: c.mount.initID, containerId: c.id });
    if (isLink && c.rw?.link?.startsWith(q)) out.push({ kind: 'container mount-id', value: c.rw.link, containerId: c.id });
    if (isLink && c.init?.link?.startsWith(q)) out.push({ kind: 'container init-id', value: c.init.link, containerId: c.id });
  }
  return out;
}

export interface ChainStep {
  chainID: string;
  diffID?: string;
  /** chainID recomputed from the step below and this diffID. */
  recomputed?: string;
  recomputedMatches: boolean;
  /** The layerdb `parent` of this step. */
  parent?: string;
  present: boolean;
  size?: number;
  cacheID?: string;
  driverDir?: string;
  driverDirPresent: boolean;
  link?: string;
  linkTarget?: string;
  linkOk: boolean;
  /** Set when the driver has no short links: link/linkOk do not apply. */
  linkNote?: string;
  /** Set when there is no chainID to recompute (pre-1.10 layers): recomputed/recomputedMatches do not apply. */
  recomputeNote?: string;
  tarSplit: boolean;
  committed?: boolean;
  loadError?: string;
  /** containerd: the snapshot (`cacheID` is then its number, `driverDir` its fs dir). */
  snapshot?: SnapshotView;
  /** containerd: a classic-builder step's init snapshot between two layers. */
  buildStep?: boolean;
}

export interface ChainReport {
  query: string;
  /** The image store the layer is in. */
  store?: string;
  matches: LayerMatch[];
  chainID: string;
  /** Base layer first. */
  steps: ChainStep[];
  problem?: string;
  usedByImages: { id: string; tags: string[]; position: number }[];
  usedByContainers: { id: string; name: string }[];
  pulledFrom: { Digest: string; SourceRepository: string }[];
}

/** The chain from the base layer up to `chainID`, each chainID recomputed and checked. */
export function chainReport(model: Model, query: string, chainID: string, matches: LayerMatch[], paths: PathMap): ChainReport {
  const cstore = model.containerdStores.find((s) => matches.some((m) => m.store === s.name) && s.layers.has(chainID) && !model.layers.has(chainID)) ??
    (!model.layers.has(chainID) ? model.containerdStores.find((s) => s.layers.has(chainID)) : undefined);
  if (cstore) return chainReportContainerd(model, cstore, query, chainID, matches, paths);
  const { chain, problem } = model.parentChain(chainID);
  const base = chain.slice().reverse();
  const top0 = model.layers.get(chainID);
  const store = (top0?.store.kind === 'graphdriver' ? top0.store : undefined) ?? model.stores[0];
  let below: string | undefined;
  const steps: ChainStep[] = base.map((n: LayerNode) => {
    const r = n.record!;
    const ns = n.store.kind === 'graphdriver' ? n.store : store;
    const driver = ns?.driver ?? 'overlay2';
    const home = ns?.dirs.home ?? driver;
    const recomputed = r.diffID ? chainIDOf(below, r.diffID) : undefined;
    below = n.chainID;
    const link = n.dir?.link;
    return {
      chainID: n.chainID,
      diffID: r.diffID,
      recomputed,
      recomputedMatches: recomputed === n.chainID,
      parent: r.parent,
      present: true,
      size: r.size,
      cacheID: r.cacheID,
      driverDir: r.cacheID ? paths.abs(driverDirPath(driver, home, r.cacheID)) : undefined,
      driverDirPresent: n.dir !== undefined,
      link,
      linkTarget: n.shortLink?.target,
      linkOk: link !== undefined && n.shortLink?.id === r.cacheID,
      ...(hasShortLinks(driver) ? {} : { linkNote: noLinksNote(driver) }),
      ...(ns?.legacy ? { recomputeNote: LEGACY_CHAIN_NOTE } : {}),
      tarSplit: r.hasTarSplit,
      committed: n.dir?.committed,
      loadError: r.loadError,
    };
  });
  const top = model.layers.get(chainID);
  const usedByImages = [...(top?.images ?? [])].map((id) => {
    const img = model.images.get(id)!;
    return { id, tags: img.repoTags, position: img.layers.findIndex((l) => l.chainID === chainID) };
  });
  // Images whose chain passes through this layer (not only those ending on it).
  for (const img of model.images.values()) {
    const pos = img.layers.findIndex((l) => l.chainID === chainID);
    if (pos >= 0 && !usedByImages.some((u) => u.id === img.id)) usedByImages.push({ id: img.id, tags: img.repoTags, position: pos });
  }
  const usedByContainers = [...(top?.containers ?? [])].map((id) => ({ id, name: model.containers.get(id)?.record.name ?? '' }));
  const diffID = top?.record?.diffID;
  const pulledFrom = diffID ? (store?.distribution.byDiffID.get(diffID) ?? []).map(({ Digest, SourceRepository }) => ({ Digest, SourceRepository })) : [];
  return { query, store: store?.name, matches, chainID, steps, problem, usedByImages, usedByContainers, pulledFrom };
}

function chainReportContainerd(model: Model, store: ContainerdStore, query: string, chainID: string, matches: LayerMatch[], paths: PathMap): ChainReport {
  const { steps, problem } = chainStepsContainerd(model, store, chainID, paths);
  const top = store.layers.get(chainID);
  const usedByImages: ChainReport['usedByImages'] = [];
  for (const img of model.images.values()) {
    if (img.store !== store) continue;
    const pos = img.layers.findIndex((l) => l.chainID === chainID);
    if (pos >= 0) usedByImages.push({ id: img.id, tags: img.repoTags, position: pos });
  }
  const usedByContainers = [...(top?.containers ?? [])].map((id) => ({ id, name: model.containers.get(id)?.record.name ?? '' }));
  const pulledFrom = pulledFromContainerd(store, top?.diffID).map(({ Digest, SourceRepository }) => ({ Digest, SourceRepository }));
  return { query, store: store.name, matches, chainID, steps, problem, usedByImages, usedByContainers, pulledFrom };
}

export function isLinkName(s: string): boolean {
  return LINK_RE.test(s);
}
