import { chainIDOf } from '../model/chainid.js';
import type { LayerNode, Model } from '../model/graph.js';
import { ResolveError } from '../model/resolve.js';
import { LINK_RE } from '../store/overlay2.js';
import type { PathMap } from './paths.js';

export type IdKind = 'chainID' | 'diffID' | 'cache-id' | 'short link' | 'registry blob' | 'container mount-id' | 'container init-id';

export interface LayerMatch {
  kind: IdKind;
  value: string;
  chainID?: string;
  containerId?: string;
}

/**
 * Every way a layer can be named, matched against `query` (full or unique prefix, with or
 * without `sha256:`): chainID, diffID, cache-id (driver dir), `l/` short link, registry blob digest.
 */
export function findLayer(model: Model, query: string): LayerMatch[] {
  const q = query.trim().replace(/^sha256:/, '').replace(/^l\//, '');
  if (q === '') throw new ResolveError('empty layer identifier');
  const isHex = /^[a-f0-9]+$/.test(q);
  const isLink = /^[A-Z2-7]+$/.test(q) && q.length <= 26;
  if (!isHex && !isLink) throw new ResolveError(`${JSON.stringify(query)} is neither a hex digest/ID nor an l/ short link name`);
  const out: LayerMatch[] = [];
  const hexMatch = (v: string | undefined) => isHex && v !== undefined && v.replace(/^sha256:/, '').startsWith(q);
  for (const n of model.layers.values()) {
    const r = n.record;
    if (hexMatch(n.chainID)) out.push({ kind: 'chainID', value: n.chainID, chainID: n.chainID });
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
  for (const c of model.containers.values()) {
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
  tarSplit: boolean;
  committed?: boolean;
  loadError?: string;
}

export interface ChainReport {
  query: string;
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
  const { chain, problem } = model.parentChain(chainID);
  const base = chain.slice().reverse();
  const store = model.stores[0];
  const home = store?.dirs.home ?? 'overlay2';
  let below: string | undefined;
  const steps: ChainStep[] = base.map((n: LayerNode) => {
    const r = n.record!;
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
      driverDir: r.cacheID ? paths.abs(`${home}/${r.cacheID}`) : undefined,
      driverDirPresent: n.dir !== undefined,
      link,
      linkTarget: n.shortLink?.target,
      linkOk: link !== undefined && n.shortLink?.id === r.cacheID,
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
  return { query, matches, chainID, steps, problem, usedByImages, usedByContainers, pulledFrom };
}

export function isLinkName(s: string): boolean {
  return LINK_RE.test(s);
}
