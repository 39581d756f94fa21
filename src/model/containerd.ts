import path from 'node:path';
import { DirSource } from '../source/dir.js';
import { limits } from '../source/limits.js';
import { isEvidenceError, type Source } from '../source/types.js';
import { ContentStore, isIndexType, isLayerType, isManifestType, parseIndex, parseManifest, type OciDescriptor, type ParsedManifest, type Platform } from '../store/containerd-content.js';
import { isContentDigest, parseMetaDb, type GoTime, type MetaContainer, type MetaDb, type MetaImage, type MetaLease, type MetaNamespace, type MetaSnapshot } from '../store/containerd-meta.js';
import { parseSnapshotterDb, type BackendSnapshot, type SnapshotKind, type SnapshotterDb } from '../store/containerd-snapshots.js';
import { isDigest } from '../store/digest.js';
import type { Findings } from '../store/findings.js';
import { parseImageConfig, type ImageConfig } from '../store/imageconfig.js';
import { chainIDs } from './chainid.js';
import type { ContainerNode, ImageLayer, ImageNode, LayerNode, Model } from './graph.js';
import { familiarString, fullString, lookupKey, parseNormalizedNamed, type ParsedRef } from './reference.js';

/**
 * The containerd image store (Docker 24–28 opt-in, 29 default; FORMATS.md §9): images are
 * meta.db records in namespace `moby` whose target is a manifest or index in the content store,
 * layers are committed snapshots keyed by chainID, containers are an Active snapshot `<cid>` on
 * a Committed `<cid>-init`. This module loads all of it into the same Model maps the graph-driver
 * store fills, so commands never ask which store an object came from.
 */

export const META_DB = 'io.containerd.metadata.v1.bolt/meta.db';
const SNAPSHOTTER_PREFIX = 'io.containerd.snapshotter.v1.';
/** Snapshot parent chains: Docker refuses images deeper than 125 layers; builds add one init each. */
const CHAIN_LIMIT = 4096;
const DANGLING_PREFIX = 'moby-dangling@';
/** Labels Docker's classic builder and commit put on image records (daemon/containerd/image_builder.go). */
export const LABEL_PARENT = 'org.mobyproject.image.parent';
const ANNOTATION_REFERENCE_TYPE = 'vnd.docker.reference.type';

// -------------------------------------------------------------------------------------------------
// Types

/** One snapshot as both databases describe it: the namespace's reference and the backend record. */
export interface SnapshotNode {
  snapshotter: string;
  /** User key (meta.db), e.g. a chainID, `<cid>`, `<cid>-init`. */
  key: string;
  meta?: MetaSnapshot;
  backend?: BackendSnapshot;
  kind: SnapshotKind;
  /** User key of the parent (meta.db; the backend's parent when meta.db has none). */
  parent?: string;
  id?: number;
  /** `io.containerd.snapshotter.v1.<sn>/snapshots/<id>` inside the containerd root. */
  dir?: string;
  /** The directory the snapshot's files are in (`<dir>/fs` for overlayfs). */
  fsDir?: string;
  dirPresent: boolean;
  fsPresent: boolean;
  /** Usage recorded at commit. */
  size?: number;
  inodes?: number;
  /** As `ctr snapshots info` shows them: the namespace's timestamps. */
  createdAt?: GoTime;
  updatedAt?: GoTime;
  /** The key is a chainID: an image layer. */
  isLayer: boolean;
}

export interface SnapshotterState {
  name: string;
  /** Plugin dir inside the containerd root. */
  dir: string;
  db?: SnapshotterDb;
  /** By user key, for the namespace. */
  nodes: Map<string, SnapshotNode>;
}

/** One platform-specific manifest of an image. */
export interface PlatformManifest {
  desc: OciDescriptor;
  manifest?: ParsedManifest;
  configDigest?: string;
  config?: ImageConfig;
  /** The config's platform (what inspect reports). */
  platform?: Platform;
  /** Attestation or other non-image manifest. */
  pseudo: boolean;
  /** Digests of the manifest, config or layers with no content record in the namespace. */
  missing: string[];
  diffIDs: string[];
  chainIDs: string[];
  /** Manifest + config + layer sizes as their descriptors state them. */
  contentSize: number;
  /** Sum of the committed usage down the snapshot chain; undefined when not unpacked. */
  unpackedSize?: number;
}

export interface ContainerdImageInfo {
  target: { digest: string; mediaType: string; size: number };
  /** Every record with this target, in name order. */
  records: MetaImage[];
  /** The record `images ls` takes its RepoDigests and ParentId from (the last one). */
  listRecord: MetaImage;
  manifests: PlatformManifest[];
  /** What inspect reads (first present config by platform preference). */
  inspectManifest?: PlatformManifest;
  /** What `images ls` summarises (first available image manifest by preference). */
  listManifest?: PlatformManifest;
  index?: { digest: string; manifests: number };
  listRepoTags: string[];
  listRepoDigests: string[];
  inspectRepoTags: string[];
  inspectRepoDigests: string[];
  listParent: string;
  /** inspect Size: target + the preferred platform's children. */
  packedSize: number;
  lastUpdated?: GoTime;
  /** Only a `moby-dangling@` record names it. */
  dangling: boolean;
  problems: string[];
}

export interface ContainerSnapshots {
  snapshotter: string;
  rw?: SnapshotNode;
  init?: SnapshotNode;
  /** Below the init snapshot, nearest first: image layers and, for classic-builder images, build-step init snapshots. */
  lower: SnapshotNode[];
  problems: string[];
  lease?: MetaLease;
  /** containerd's container record (present while the container runs or ran under this daemon). */
  meta?: MetaContainer;
  /** `<data-root>/rootfs/<snapshotter>/<cid>`: Docker's mount point. */
  mountPoint: string;
  mountPointPresent: boolean;
}

export interface ContainerdStore {
  kind: 'containerd';
  name: 'containerd';
  /** The snapshotter Docker uses (`Driver` of its containers), normally `overlayfs`. */
  driver: string;
  /** Contained view of the containerd root. */
  src: Source;
  /** Root inside the evidence top, when it was found there. */
  rootPath?: string;
  /** Root relative to the data root ('../containerd', 'containerd/daemon'); for paths and findings. */
  fromDataRoot?: string;
  how: 'option' | 'sibling' | 'managed';
  namespace: string;
  meta?: MetaDb;
  ns?: MetaNamespace;
  snapshotters: Map<string, SnapshotterState>;
  content: ContentStore;
  /** Image layers (committed snapshots keyed by chainID) of the Docker snapshotter. */
  layers: Map<string, LayerNode>;
  /** Image records by name. */
  records: Map<string, MetaImage>;
  /** lookupKey → image ID and the record the name is. */
  refs: Map<string, { id: string; record: MetaImage }>;
  hostPlatform: Platform;
}

export interface ContainerdOptions {
  /** Whole evidence and where the data root sits in it. */
  top?: Source;
  rootPath?: string;
  /** `--containerd-root`: a path inside the evidence (or, for directory evidence, on this machine). */
  containerdRoot?: string;
  /** Files read ahead (asynchronously) by path inside the containerd root. */
  prefetched?: Map<string, Buffer>;
}

// -------------------------------------------------------------------------------------------------
// Finding the root

function isRoot(src: Source, p: string): boolean {
  try {
    return src.lstat(p ? `${p}/io.containerd.metadata.v1.bolt` : 'io.containerd.metadata.v1.bolt')?.type === 'dir';
  } catch {
    return false;
  }
}

export interface ContainerdLocation {
  src: Source;
  rootPath?: string;
  fromDataRoot?: string;
  how: ContainerdStore['how'];
}

function norm(p: string): string {
  const n = path.posix.normalize(p.replace(/^\/+/, ''));
  return n === '.' ? '' : n.replace(/\/+$/, '');
}

/**
 * Where containerd's root is (FORMATS.md §9.1): `--containerd-root`, else `containerd` beside the
 * data root in the evidence (`var/lib/containerd` next to `var/lib/docker`), else Docker's managed
 * `<data-root>/containerd/daemon`. Never leaves the evidence except for an explicit option on
 * directory evidence.
 */
export function findContainerdRoot(dataRoot: Source, opts: ContainerdOptions, f: Findings): ContainerdLocation | undefined {
  const { top, rootPath } = opts;
  const rel = (inTop: string) => (rootPath !== undefined ? path.posix.relative(rootPath || '.', inTop || '.') || '.' : undefined);
  if (opts.containerdRoot !== undefined && opts.containerdRoot !== '') {
    const want = opts.containerdRoot;
    const base = top ?? dataRoot;
    let inside: string | undefined;
    if (!want.startsWith('/')) inside = norm(want);
    else if (base.kind === 'tar') inside = norm(want);
    else if (want === base.location || want.startsWith(base.location.replace(/\/$/, '') + '/')) inside = norm(want.slice(base.location.length));
    if (inside !== undefined && !inside.startsWith('..')) {
      try {
        const src = inside ? base.sub(inside) : base;
        if (!isRoot(src, '')) f.add('warn', 'containerd.root-unrecognised', `--containerd-root ${JSON.stringify(want)} has no io.containerd.metadata.v1.bolt/`);
        return { src, rootPath: top ? inside : undefined, fromDataRoot: top ? rel(inside) : inside, how: 'option' };
      } catch (e) {
        if (!isEvidenceError(e)) throw e;
        f.add('error', 'containerd.root-missing', `--containerd-root ${JSON.stringify(want)}: ${e.message}`);
        return undefined;
      }
    }
    if (base.kind === 'dir' && want.startsWith('/')) {
      // Directory evidence whose containerd root lies elsewhere on this machine (a live host's
      // /var/lib/docker with /var/lib/containerd): a separate contained, read-only view.
      try {
        const src = new DirSource(want);
        if (!isRoot(src, '')) f.add('warn', 'containerd.root-unrecognised', `--containerd-root ${JSON.stringify(want)} has no io.containerd.metadata.v1.bolt/`);
        return { src, how: 'option' };
      } catch (e) {
        f.add('error', 'containerd.root-missing', `--containerd-root ${JSON.stringify(want)}: ${(e as Error).message}`);
        return undefined;
      }
    }
    f.add('error', 'containerd.root-missing', `--containerd-root ${JSON.stringify(want)} is outside the evidence`);
    return undefined;
  }
  const found: ContainerdLocation[] = [];
  if (top && rootPath !== undefined && rootPath !== '') {
    const sibling = norm(path.posix.join(path.posix.dirname(rootPath), 'containerd'));
    const candidates = [sibling, 'var/lib/containerd'].filter((c, i, a) => a.indexOf(c) === i && c !== rootPath);
    for (const c of candidates) {
      if (isRoot(top, c)) {
        found.push({ src: top.sub(c), rootPath: c, fromDataRoot: rel(c), how: 'sibling' });
        break;
      }
    }
  }
  if (isRoot(dataRoot, 'containerd/daemon')) {
    found.push({ src: dataRoot.sub('containerd/daemon'), rootPath: rootPath !== undefined ? norm(path.posix.join(rootPath, 'containerd/daemon')) : undefined, fromDataRoot: 'containerd/daemon', how: 'managed' });
  }
  if (found.length > 1)
    f.add('info', 'containerd.two-roots', `both ${found[0]!.rootPath ?? found[0]!.fromDataRoot} and the managed containerd/daemon hold containerd data; reading the first (use --containerd-root for the other)`);
  return found[0];
}

// -------------------------------------------------------------------------------------------------
// Platforms (containerd platforms.Default() preference, as Docker uses it)

function normArch(p: Platform): { os: string; arch: string; variant: string } {
  let arch = p.architecture.toLowerCase();
  let variant = (p.variant ?? '').toLowerCase();
  if (arch === 'aarch64' || (arch === 'arm64' && (variant === '' || variant === 'v8'))) [arch, variant] = ['arm64', ''];
  else if (arch === 'armhf') [arch, variant] = ['arm', 'v7'];
  else if (arch === 'armel') [arch, variant] = ['arm', 'v6'];
  else if (arch === 'arm' && variant === '') variant = 'v7';
  else if (arch === 'x86_64' || arch === 'x86-64') [arch, variant] = ['amd64', ''];
  else if (arch === 'i386') arch = '386';
  if (arch === 'amd64' && variant === 'v1') variant = '';
  return { os: p.os.toLowerCase(), arch, variant };
}

/** 0 = the host platform, 1 = one the host can run, 2 = anything else. */
export function platformRank(host: Platform, p: Platform | undefined): number {
  if (!p) return 3;
  const h = normArch(host);
  const x = normArch(p);
  if (x.os !== h.os) return 2;
  if (x.arch === h.arch && x.variant === h.variant) return 0;
  if (h.arch === 'amd64' && x.arch === '386') return 1;
  if (h.arch === 'arm64' && x.arch === 'arm') return 1;
  if (h.arch === 'arm' && x.arch === 'arm' && x.variant < h.variant) return 1;
  return 2;
}

function platformKey(p: Platform): string {
  const n = normArch(p);
  return `${n.os}/${n.arch}${n.variant ? '/' + n.variant : ''}`;
}

export function platformString(p: Platform | undefined): string {
  return p ? `${p.os}/${p.architecture}${p.variant ? '/' + p.variant : ''}` : '';
}

// -------------------------------------------------------------------------------------------------
// References

/** distribution/reference ParseNamed: the name must already be in canonical (normalised) form. */
export function parseNamedStrict(name: string): ParsedRef | undefined {
  const r = parseNormalizedNamed(name);
  return r && fullString(r) === name ? r : undefined;
}

export function isDanglingRecord(img: MetaImage): boolean {
  return img.target !== undefined && img.name === DANGLING_PREFIX + img.target.digest;
}

/** familiar(TrimNamed(name)@digest) */
function digested(r: ParsedRef, digest: string): string {
  return familiarString({ domain: r.domain, path: r.path, digest });
}

// -------------------------------------------------------------------------------------------------
// Loading

function readBolt(src: Source, p: string, label: string, opts: ContainerdOptions, f: Findings): Buffer | undefined {
  const pre = opts.prefetched?.get(p);
  if (pre) return pre;
  try {
    return src.readFile(p, limits.boltBytes);
  } catch (e) {
    if (isEvidenceError(e, 'ENOENT')) return undefined;
    f.caught(e, 'containerd.unreadable', label);
    return undefined;
  }
}

/** Bolt files a tar keeps no body for must be streamed before the (synchronous) model build. */
export async function prefetchContainerd(loc: ContainerdLocation, f: Findings): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  if (loc.src.kind !== 'tar') return out;
  const want = [META_DB];
  for (const name of safeReaddir(loc.src, '')) if (name.startsWith(SNAPSHOTTER_PREFIX)) want.push(`${name}/metadata.db`);
  for (const p of want) {
    const st = safeLstat(loc.src, p);
    if (st?.type !== 'file') continue;
    try {
      loc.src.readFile(p, limits.boltBytes);
      continue; // small enough to be held by the tar index
    } catch (e) {
      if (!isEvidenceError(e, 'ETOOBIG') || st.size > limits.boltBytes) continue;
    }
    try {
      const chunks: Buffer[] = [];
      let n = 0;
      for await (const c of loc.src.createReadStream(p)) {
        n += (c as Buffer).length;
        if (n > limits.boltBytes) throw new Error(`larger than ${limits.boltBytes} bytes`);
        chunks.push(c as Buffer);
      }
      out.set(p, Buffer.concat(chunks, n));
    } catch (e) {
      f.add('error', 'containerd.unreadable', `cannot stream ${p}: ${(e as Error).message}`);
    }
  }
  return out;
}

function safeReaddir(src: Source, p: string): string[] {
  try {
    return src.readdir(p) ?? [];
  } catch {
    return [];
  }
}

function safeLstat(src: Source, p: string) {
  try {
    return src.lstat(p);
  } catch {
    return undefined;
  }
}

/** Where a snapshot's files are, by snapshotter layout. */
function fsDirOf(snapshotter: string, dir: string): string | undefined {
  if (snapshotter === 'native') return dir;
  if (snapshotter === 'overlayfs' || snapshotter === 'fuse-overlayfs' || snapshotter === 'stargz') return `${dir}/fs`;
  return undefined;
}

function loadSnapshotter(store: ContainerdStore, name: string, opts: ContainerdOptions, f: Findings, label: (p: string) => string): SnapshotterState {
  const dir = `${SNAPSHOTTER_PREFIX}${name}`;
  const st: SnapshotterState = { name, dir, nodes: new Map() };
  const buf = readBolt(store.src, `${dir}/metadata.db`, label(`${dir}/metadata.db`), opts, f);
  if (buf) {
    st.db = parseSnapshotterDb(buf, { path: label(`${dir}/metadata.db`) });
    f.list.push(...st.db.findings);
  }
  const refs = store.ns?.snapshots.get(name) ?? new Map<string, MetaSnapshot>();
  const used = new Set<string>();
  const dirs = new Set(safeReaddir(store.src, `${dir}/snapshots`));
  for (const [key, m] of refs) {
    const b = m.name ? st.db?.snapshots.get(m.name) : undefined;
    if (m.name && st.db && !b) f.add('error', 'containerd.snapshot-missing', `snapshot ${JSON.stringify(key)} refers to backend key ${JSON.stringify(m.name)}, which the ${name} snapshotter does not have`, label(`${dir}/metadata.db`));
    if (b) used.add(b.name);
    const node: SnapshotNode = {
      snapshotter: name,
      key,
      meta: m,
      backend: b,
      kind: b?.kind ?? 'Unknown',
      parent: m.parent,
      id: b?.id,
      dirPresent: false,
      fsPresent: false,
      size: b?.size,
      inodes: b?.inodes,
      createdAt: m.createdAt ?? b?.createdAt,
      updatedAt: m.updatedAt ?? b?.updatedAt,
      isLayer: isDigest(key),
    };
    if (b?.id !== undefined) {
      node.dir = `${dir}/snapshots/${b.id}`;
      node.fsDir = fsDirOf(name, node.dir);
      node.dirPresent = dirs.has(String(b.id));
      node.fsPresent = node.fsDir !== undefined && safeLstat(store.src, node.fsDir)?.type === 'dir';
      if (!node.dirPresent) f.add('error', 'containerd.snapshot-dir-missing', `snapshot ${JSON.stringify(key)} (id ${b.id}) has no directory`, label(node.dir));
    }
    st.nodes.set(key, node);
  }
  // The two databases must agree on who is whose parent.
  for (const n of st.nodes.values()) {
    const bp = n.backend?.parent;
    const want = n.parent ? st.nodes.get(n.parent)?.backend?.name : undefined;
    if (n.backend && (bp ?? '') !== (want ?? '') && !(n.parent && !st.nodes.get(n.parent)?.backend))
      f.add('warn', 'containerd.snapshot-parent-mismatch', `snapshot ${JSON.stringify(n.key)}: meta.db parent ${JSON.stringify(n.parent ?? '')} but the snapshotter says ${JSON.stringify(bp ?? '')}`, label(`${dir}/metadata.db`));
    if (n.parent && !st.nodes.has(n.parent)) f.add('error', 'containerd.snapshot-missing', `snapshot ${JSON.stringify(n.key)} has parent ${JSON.stringify(n.parent)}, which the namespace does not have`, label(META_DB));
  }
  if (st.db) {
    const ns = `${store.namespace}/`;
    const orphans = [...st.db.snapshots.values()].filter((b) => !used.has(b.name) && b.name.startsWith(ns));
    if (orphans.length)
      f.add('info', 'containerd.snapshot-unreferenced', `${orphans.length} ${name} snapshots of namespace ${store.namespace} are not referenced by meta.db (e.g. ${JSON.stringify(orphans[0]!.name)})`, label(`${dir}/metadata.db`));
    const known = new Set([...st.db.byId.keys()].map(String));
    const stray = [...dirs].filter((d) => !known.has(d));
    if (stray.length) f.add('info', 'containerd.snapshot-dir-unreferenced', `${stray.length} directories under ${dir}/snapshots/ belong to no snapshot (remnants): ${stray.slice(0, 10).join(', ')}`, label(`${dir}/snapshots`));
  }
  return st;
}

/** Follows parent keys from `key`, nearest first, bounded and cycle-safe. */
export function snapshotChain(st: SnapshotterState | undefined, key: string | undefined): { chain: SnapshotNode[]; problem?: string } {
  const chain: SnapshotNode[] = [];
  const seen = new Set<string>();
  let cur = key;
  while (cur !== undefined) {
    if (seen.has(cur)) return { chain, problem: `snapshot parent cycle at ${cur}` };
    if (chain.length >= CHAIN_LIMIT) return { chain, problem: `snapshot chain deeper than ${CHAIN_LIMIT}` };
    seen.add(cur);
    const n = st?.nodes.get(cur);
    if (!n) return { chain, problem: `missing snapshot ${cur}` };
    chain.push(n);
    cur = n.parent;
  }
  return { chain };
}

/** calculateSnapshotTotalUsage: stored usage down the chain; undefined when any link is missing. */
function totalUsage(st: SnapshotterState | undefined, key: string): number | undefined {
  const { chain, problem } = snapshotChain(st, key);
  if (problem || chain.length === 0) return undefined;
  return chain.reduce((n, s) => n + (s.kind === 'Active' ? 0 : (s.size ?? 0)), 0);
}

function hostPlatformOf(store: ContainerdStore, manifests: PlatformManifest[]): Platform {
  const st = store.snapshotters.get(store.driver);
  const votes = new Map<string, { p: Platform; n: number }>();
  const vote = (p: Platform | undefined, w: number) => {
    if (!p) return;
    const k = platformKey(p);
    const v = votes.get(k) ?? { p, n: 0 };
    v.n += w;
    votes.set(k, v);
  };
  // Docker unpacks only the platform it runs on: an unpacked manifest is the strongest evidence.
  for (const m of manifests) vote(m.platform, m.chainIDs.length && st?.nodes.has(m.chainIDs[m.chainIDs.length - 1]!) ? 10 : 1);
  let best: { p: Platform; n: number } | undefined;
  for (const v of votes.values()) if (!best || v.n > best.n) best = v;
  return best ? { os: best.p.os, architecture: best.p.architecture, ...(best.p.variant ? { variant: best.p.variant } : {}) } : { os: 'linux', architecture: 'amd64' };
}

function loadPlatformManifest(store: ContainerdStore, desc: OciDescriptor, present: (d: string) => boolean, f: Findings): PlatformManifest {
  const pm: PlatformManifest = { desc, pseudo: false, missing: [], diffIDs: [], chainIDs: [], contentSize: desc.size };
  if (ANNOTATION_REFERENCE_TYPE in desc.annotations) pm.pseudo = true;
  // containerd serves a blob only to a namespace that has a record of it (checkAccess).
  if (!present(desc.digest)) {
    pm.missing.push(desc.digest);
    return pm;
  }
  const mb = store.content.read(desc.digest);
  if (!mb) return pm;
  pm.manifest = parseManifest(mb.bytes, store.content.where(desc.digest), f);
  const m = pm.manifest;
  if (!m) return pm;
  if (m.layers.length > 0 && !m.layers.some((l) => isLayerType(l.mediaType))) pm.pseudo = true;
  for (const l of m.layers) {
    pm.contentSize += l.size;
    if (!present(l.digest)) pm.missing.push(l.digest);
  }
  if (!m.config) return pm;
  pm.contentSize += m.config.size;
  pm.configDigest = m.config.digest;
  if (!present(m.config.digest)) {
    pm.missing.push(m.config.digest);
    return pm;
  }
  const cb = store.content.read(m.config.digest);
  if (!cb) return pm;
  pm.config = parseImageConfig(cb.bytes, store.content.where(m.config.digest), f);
  if (pm.config) {
    pm.platform = { os: pm.config.os ?? '', architecture: pm.config.architecture ?? '', ...(pm.config.variant ? { variant: pm.config.variant } : {}) };
    pm.diffIDs = pm.config.diffIDs;
    pm.chainIDs = chainIDs(pm.diffIDs);
    if (m.layers.length !== pm.diffIDs.length && !pm.pseudo)
      f.add('warn', 'containerd.layer-count', `manifest lists ${m.layers.length} layers, its config ${pm.diffIDs.length} diffIDs`, store.content.where(desc.digest));
  }
  return pm;
}

/** walkImageManifests: every present manifest reachable from the target (indexes nested ≤ 4 deep). */
function walkManifests(store: ContainerdStore, target: OciDescriptor, present: (d: string) => boolean, f: Findings, info: ContainerdImageInfo, depth = 0): PlatformManifest[] {
  if (isManifestType(target.mediaType)) return [loadPlatformManifest(store, target, present, f)];
  if (!isIndexType(target.mediaType)) {
    info.problems.push(`target media type ${JSON.stringify(target.mediaType)} is neither a manifest nor an index`);
    return [];
  }
  if (!present(target.digest) || depth > 4) return [];
  const b = store.content.read(target.digest);
  const idx = b ? parseIndex(b.bytes, store.content.where(target.digest), f) : undefined;
  if (!idx) {
    info.problems.push(`index ${target.digest} cannot be read`);
    return [];
  }
  if (depth === 0) info.index = { digest: target.digest, manifests: idx.manifests.length };
  const out: PlatformManifest[] = [];
  for (const d of idx.manifests) {
    if (!present(d.digest)) continue;
    if (isManifestType(d.mediaType)) out.push(loadPlatformManifest(store, d, present, f));
    else if (isIndexType(d.mediaType)) out.push(...walkManifests(store, d, present, f, info, depth + 1));
  }
  return out;
}

/** ImageService.size: the target plus, per index level, the preferred child and its children. */
function packedSize(store: ContainerdStore, desc: OciDescriptor, present: (d: string) => boolean, f: Findings, depth = 0): number {
  let size = desc.size;
  if (depth > 4) return size;
  if (isManifestType(desc.mediaType)) {
    const b = present(desc.digest) ? store.content.read(desc.digest) : undefined;
    const m = b ? parseManifest(b.bytes, store.content.where(desc.digest), f) : undefined;
    if (m) size += (m.config?.size ?? 0) + m.layers.reduce((n, l) => n + l.size, 0);
  } else if (isIndexType(desc.mediaType)) {
    const b = present(desc.digest) ? store.content.read(desc.digest) : undefined;
    const idx = b ? parseIndex(b.bytes, store.content.where(desc.digest), f) : undefined;
    if (idx && idx.manifests.length) {
      const sorted = idx.manifests.map((d, i) => ({ d, i })).sort((a, b) => platformRank(store.hostPlatform, a.d.platform) - platformRank(store.hostPlatform, b.d.platform) || a.i - b.i);
      size += packedSize(store, sorted[0]!.d, present, f, depth + 1);
    }
  }
  return size;
}

function maxTime(ts: (GoTime | undefined)[]): GoTime | undefined {
  let best: GoTime | undefined;
  for (const t of ts) if (t && (!best || t.unix > best.unix || (t.unix === best.unix && t.nanos > best.nanos))) best = t;
  return best;
}

/**
 * Loads a containerd root into the model: one ImageNode per distinct target digest (the image ID
 * Docker reports), one LayerNode per committed chainID snapshot of the Docker snapshotter.
 */
export function loadContainerdStore(model: Model, loc: ContainerdLocation, opts: ContainerdOptions): ContainerdStore {
  const f = model.findings;
  const label = (p: string) => (loc.fromDataRoot ? path.posix.normalize(`${loc.fromDataRoot}/${p}`) : `${loc.src.label}:${p}`);
  const store: ContainerdStore = {
    kind: 'containerd',
    name: 'containerd',
    driver: 'overlayfs',
    src: loc.src,
    rootPath: loc.rootPath,
    fromDataRoot: loc.fromDataRoot,
    how: loc.how,
    namespace: 'moby',
    snapshotters: new Map(),
    content: new ContentStore(loc.src, f, 'io.containerd.content.v1.content', loc.fromDataRoot ? path.posix.normalize(loc.fromDataRoot) : loc.src.label),
    layers: new Map(),
    records: new Map(),
    refs: new Map(),
    hostPlatform: { os: 'linux', architecture: 'amd64' },
  };
  const buf = readBolt(loc.src, META_DB, label(META_DB), opts, f);
  if (!buf) {
    f.add('error', 'containerd.no-meta', 'containerd root without a readable meta.db: images and snapshots cannot be listed', label(META_DB));
  } else {
    store.meta = parseMetaDb(buf, { path: label(META_DB), namespace: store.namespace });
    f.list.push(...store.meta.findings);
    store.ns = store.meta.ns;
    if (!store.ns && store.meta.namespaces.length)
      f.add('info', 'containerd.no-moby', `meta.db has no ${store.namespace} namespace (only ${store.meta.namespaces.join(', ')}): not used by Docker`, label(META_DB));
  }
  for (const name of safeReaddir(loc.src, '')) {
    if (!name.startsWith(SNAPSHOTTER_PREFIX)) continue;
    const sn = name.slice(SNAPSHOTTER_PREFIX.length);
    if (safeLstat(loc.src, `${name}/metadata.db`)?.type !== 'file' && !store.ns?.snapshots.has(sn)) continue;
    store.snapshotters.set(sn, loadSnapshotter(store, sn, opts, f, label));
  }
  for (const sn of store.ns?.snapshots.keys() ?? []) if (!store.snapshotters.has(sn)) store.snapshotters.set(sn, loadSnapshotter(store, sn, opts, f, label));
  // Docker's snapshotter: the one its image layers are in, overlayfs unless the evidence says otherwise.
  if (!store.snapshotters.has('overlayfs')) {
    const withLayers = [...store.snapshotters.values()].find((s) => [...s.nodes.values()].some((n) => n.isLayer));
    if (withLayers) store.driver = withLayers.name;
  }
  const st = store.snapshotters.get(store.driver);
  for (const n of st?.nodes.values() ?? []) {
    if (!n.isLayer) continue;
    store.layers.set(n.key, { chainID: n.key, store, snapshot: n, images: new Set(), containers: new Set() });
  }

  const ns = store.ns;
  if (!ns) return store;
  const present = (d: string) => ns.blobs.has(d);
  for (const d of ns.blobs.keys()) {
    const s = store.content.stat(d);
    if (!s) f.add('error', 'containerd.content.missing', `content record ${d} has no blob file`, store.content.where(d));
    else if (s.type === 'file' && ns.blobs.get(d)!.size !== undefined && s.size !== ns.blobs.get(d)!.size)
      f.add('error', 'containerd.content.size-mismatch', `blob is ${s.size} bytes, its record says ${ns.blobs.get(d)!.size}`, store.content.where(d));
  }

  // Group records by target, in name order (bucket order is containerd's List order).
  const byTarget = new Map<string, MetaImage[]>();
  for (const rec of ns.images) {
    store.records.set(rec.name, rec);
    if (!rec.target) continue;
    const list = byTarget.get(rec.target.digest) ?? [];
    list.push(rec);
    byTarget.set(rec.target.digest, list);
  }
  const infos = new Map<string, ContainerdImageInfo>();
  const allManifests: PlatformManifest[] = [];
  for (const [digest, records] of byTarget) {
    const last = records[records.length - 1]!;
    const info: ContainerdImageInfo = {
      target: last.target!,
      records,
      listRecord: last,
      manifests: [],
      listRepoTags: [],
      listRepoDigests: [],
      inspectRepoTags: [],
      inspectRepoDigests: [],
      listParent: last.labels[LABEL_PARENT] ?? '',
      packedSize: 0,
      lastUpdated: maxTime(records.map((r) => r.updatedAt)),
      dangling: records.every(isDanglingRecord),
      problems: [],
    };
    const targetDesc: OciDescriptor = { ...info.target, annotations: {} };
    info.manifests = walkManifests(store, targetDesc, present, f, info);
    allManifests.push(...info.manifests);
    for (const r of records) {
      if (r.target!.mediaType !== info.target.mediaType || r.target!.size !== info.target.size)
        info.problems.push(`records naming ${digest} disagree on its media type or size (${r.name})`);
    }
    infos.set(digest, info);
  }
  store.hostPlatform = hostPlatformOf(store, allManifests);

  for (const [digest, info] of infos) {
    const rank = (p: Platform | undefined) => platformRank(store.hostPlatform, p);
    const byPref = (a: PlatformManifest, b: PlatformManifest) => rank(a.platform) - rank(b.platform);
    // Stable sorts: ties keep walk order, as Go's sort.SliceStable does.
    info.inspectManifest = info.manifests.filter((m) => m.config).sort(byPref)[0];
    const usable = info.manifests.filter((m) => !m.pseudo && m.missing.length === 0 && m.config);
    info.listManifest = usable.map((m) => m).sort((a, b) => rank(a.desc.platform ?? a.platform) - rank(b.desc.platform ?? b.platform))[0];
    for (const m of usable) m.unpackedSize = m.chainIDs.length ? totalUsage(st, m.chainIDs[m.chainIDs.length - 1]!) : 0;
    info.packedSize = packedSize(store, { ...info.target, annotations: {} }, present, f);
    for (const m of info.manifests) if (m.missing.length) info.problems.push(`manifest ${m.desc.digest}: content missing for ${m.missing.join(', ')}`);

    // images ls: tags from every non-dangling record (lenient parse); digests from the last record.
    for (const r of info.records) {
      if (isDanglingRecord(r)) continue;
      const p = parseNormalizedNamed(r.name);
      if (p) info.listRepoTags.push(familiarString(p));
    }
    const lp = parseNamedStrict(info.listRecord.name);
    if (lp) info.listRepoDigests.push(digested(lp, digest));
    else if (!isDanglingRecord(info.listRecord)) info.listRepoTags.push(info.listRecord.name);
    // inspect: strict parse; tagged names add `<repo>@<target>`, digested names are kept as they are.
    for (const r of info.records) {
      if (isDanglingRecord(r)) continue;
      const p = parseNamedStrict(r.name);
      if (!p) continue;
      if (p.tag !== undefined) info.inspectRepoTags.push(familiarString(p));
      else if (p.digest !== undefined) info.inspectRepoDigests.push(familiarString(p));
      if (p.digest === undefined) info.inspectRepoDigests.push(digested(p, digest));
    }

    const pm = info.inspectManifest;
    const cfg = pm?.config;
    const parents = [...new Set(info.records.map((r) => r.labels[LABEL_PARENT]).filter((v): v is string => !!v))];
    if (parents.length > 1) info.problems.push(`records disagree on the parent label: ${parents.join(', ')}`);
    const targetBlob = store.content.read(digest);
    const img: ImageNode = {
      id: digest,
      store,
      record: {
        id: digest,
        computedId: targetBlob?.actual ?? digest,
        config: cfg,
        parent: parents.length === 1 && isDigest(parents[0]!) ? parents[0] : undefined,
        lastUpdated: info.lastUpdated?.iso,
        builtLocally: false,
        contentStat: store.content.stat(digest),
        bytes: info.target.size,
      },
      config: cfg,
      repoTags: [...new Set(info.inspectRepoTags)],
      repoDigests: [...new Set(info.inspectRepoDigests)],
      layers: [],
      loadable: true,
      size: 0,
      children: [],
      containerd: info,
    };
    if (pm) img.layers = imageLayers(store, st, pm, digest);
    img.topChainID = pm?.chainIDs[pm.chainIDs.length - 1];
    if (!pm) img.dropReason = info.manifests.length ? 'no manifest with a readable config' : 'no manifest present in the content store';
    if (info.problems.some((p) => p.includes('neither a manifest nor an index'))) img.dropReason = info.problems[0];
    img.loadable = img.dropReason === undefined;
    if (info.listManifest) img.size = usable.reduce((n, m) => n + m.contentSize + (m.unpackedSize ?? 0), 0);
    if (!img.loadable) f.add('warn', 'image.not-restorable', `Docker would not show image ${digest}: ${img.dropReason}`, store.content.where(digest));
    for (const p of info.problems) f.add('warn', 'containerd.image-problem', `image ${digest}: ${p}`, label(META_DB));
    model.images.set(digest, img);

    // Name lookup: every tagged record, and repo@target for every record (resolveImage matches
    // any repository whose record has that target).
    for (const r of info.records) {
      const p = parseNormalizedNamed(r.name);
      if (!p) continue;
      for (const k of new Set([lookupKey(p), lookupKey({ ...p, tag: undefined, digest })])) {
        if (!store.refs.has(k)) store.refs.set(k, { id: digest, record: r });
        const prior = model.refIndex.get(k);
        if (prior === undefined) model.refIndex.set(k, digest);
        else if (prior !== digest && model.images.get(prior)?.store !== store)
          f.add('warn', 'containerd.ref-conflict', `${k} names ${prior} in the ${model.images.get(prior)?.store.name ?? 'other'} store and ${digest} in containerd; name lookups use the first`);
      }
    }
  }
  for (const img of model.images.values()) {
    if (img.store !== store || !img.loadable) continue;
    const p = img.containerd!.listParent || img.record.parent;
    if (p) {
      const parent = model.images.get(p);
      if (parent?.store === store) parent.children.push(img.id);
    }
  }
  return store;
}

function imageLayers(store: ContainerdStore, st: SnapshotterState | undefined, pm: PlatformManifest, imageId: string): ImageLayer[] {
  const blobs = pm.manifest?.layers ?? [];
  return pm.diffIDs.map((diffID, index) => {
    const chainID = pm.chainIDs[index]!;
    const layer = store.layers.get(chainID);
    layer?.images.add(imageId);
    if (layer && !layer.diffID) layer.diffID = diffID;
    const bd = blobs[index];
    const blobRec = bd ? store.ns?.blobs.get(bd.digest) : undefined;
    const uncompressed = blobRec?.labels['containerd.io/uncompressed'];
    // The nearest ancestor that is itself a layer (build steps put an init snapshot in between).
    let parentLayer: string | undefined;
    if (layer?.snapshot) {
      const { chain } = snapshotChain(st, layer.snapshot.parent);
      parentLayer = chain.find((s) => s.isLayer)?.key;
    }
    const il: ImageLayer = {
      index,
      diffID,
      chainID,
      layer,
      diffMatches: layer !== undefined && (uncompressed === undefined ? bd === undefined || bd.digest === diffID || !/gzip|zstd/.test(bd.mediaType) : uncompressed === diffID),
      parentMatches: layer !== undefined && parentLayer === (index === 0 ? undefined : pm.chainIDs[index - 1]),
    };
    if (bd) il.blob = { digest: bd.digest, mediaType: bd.mediaType, size: bd.size, present: blobRec !== undefined, uncompressed };
    return il;
  });
}

const indexes = new WeakMap<ContainerdStore, Map<string, Map<string, MetaLease | MetaContainer>>>();

/** Leases and containerd containers by ID, built once per store. */
function byId(store: ContainerdStore, what: 'leases' | 'containers'): Map<string, MetaLease | MetaContainer> {
  let per = indexes.get(store);
  if (!per) indexes.set(store, (per = new Map()));
  let m = per.get(what);
  if (!m) {
    m = new Map();
    for (const x of store.ns?.[what] ?? []) if (!m.has(x.id)) m.set(x.id, x);
    per.set(what, m);
  }
  return m;
}

/** Attaches a container whose Driver is this store's snapshotter to its RW and init snapshots. */
export function attachContainerdContainer(model: Model, store: ContainerdStore, c: ContainerNode): void {
  const sn = c.record.driver;
  const st = store.snapshotters.get(sn);
  const mountPoint = `rootfs/${sn}/${c.id}`;
  const cs: ContainerSnapshots = {
    snapshotter: sn,
    lower: [],
    problems: [],
    mountPoint,
    mountPointPresent: safeLstat(model.src, mountPoint)?.type === 'dir',
    lease: byId(store, 'leases').get(c.id) as MetaLease | undefined,
    meta: byId(store, 'containers').get(c.id) as MetaContainer | undefined,
  };
  c.store = store;
  c.snapshots = cs;
  if (!st) {
    cs.problems.push(`no ${sn} snapshotter in the containerd root`);
    return;
  }
  cs.rw = st.nodes.get(c.id);
  if (!cs.rw) {
    cs.problems.push(`no snapshot ${c.id} (the container's RW layer) in meta.db`);
    return;
  }
  if (cs.rw.kind !== 'Active') cs.problems.push(`RW snapshot is ${cs.rw.kind}, not Active`);
  if (cs.rw.parent !== `${c.id}-init`) cs.problems.push(`RW snapshot's parent is ${JSON.stringify(cs.rw.parent ?? '')}, not ${c.id}-init`);
  cs.init = cs.rw.parent ? st.nodes.get(cs.rw.parent) : undefined;
  if (cs.rw.parent && !cs.init) cs.problems.push(`missing init snapshot ${cs.rw.parent}`);
  if (cs.init && cs.init.kind !== 'Committed') cs.problems.push(`init snapshot is ${cs.init.kind}, not Committed`);
  if (cs.init?.parent) {
    const { chain, problem } = snapshotChain(st, cs.init.parent);
    cs.lower = chain;
    if (problem) cs.problems.push(problem);
    c.parentLayer = store.layers.get(cs.init.parent);
    for (const s of chain) store.layers.get(s.key)?.containers.add(c.id);
  }
  const img = c.image;
  const top = img?.store === store ? img.topChainID : undefined;
  if (top && cs.init && cs.init.parent !== top) cs.problems.push(`init snapshot's parent ${cs.init.parent ?? '(none)'} is not the image's top layer ${top}`);
  // config.v2.json ImageManifest: the platform manifest the container was created from.
  const im = c.record.raw.ImageManifest;
  const imd = typeof im === 'object' && im !== null ? (im as Record<string, unknown>).digest : undefined;
  if (typeof imd === 'string' && img?.containerd && !img.containerd.manifests.some((m) => m.desc.digest === imd))
    cs.problems.push(`ImageManifest ${imd} is not a manifest of image ${img.id}`);
  if (!cs.lease) cs.problems.push('no lease holds this container\'s snapshots (containerd may garbage-collect them)');
}
