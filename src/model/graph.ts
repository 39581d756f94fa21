import type { Source } from '../source/types.js';
import { loadContainers, type ContainerRecord } from '../store/containers.js';
import { loadDistribution, loadV2Metadata, v2metadataDir, type Distribution, type V2Metadata } from '../store/distribution.js';
import { HEX64 } from '../store/digest.js';
import { Findings, type Deferred } from '../store/findings.js';
import { loadImageDb, type ImageRecord } from '../store/imagedb.js';
import type { ImageConfig } from '../store/imageconfig.js';
import { loadLayerDb, type LayerDb, type LayerRecord, type MountRecord } from '../store/layerdb.js';
import { Overlay2Dirs, type DriverDir, type ShortLink } from '../store/overlay2.js';
import { readdirOptional } from '../store/read.js';
import { loadRepositories, type RepoEntry } from '../store/repositories.js';
import { chainIDs, type ChainMemo } from './chainid.js';
import {
  attachContainerdContainer,
  findContainerdRoot,
  loadContainerdStore,
  prefetchContainerd,
  type ContainerdImageInfo,
  type ContainerdOptions,
  type ContainerdStore,
  type ContainerSnapshots,
  type SnapshotNode,
} from './containerd.js';
import { loadLinkgraph, type Linkgraph } from '../store/linkgraph.js';
import { legacyMount, loadLegacyStore, recordMigratedMounts, type LegacyInfo } from './legacy.js';
import { familiarString, fullString, parseNormalizedNamed } from './reference.js';

/** Docker refuses chains deeper than this when creating layers (layer_store.go maxLayerDepth). */
export const MAX_LAYER_DEPTH = 125;
/** Our own bound when following evidence-controlled parent pointers. */
const WALK_LIMIT = 4096;

/** A read-only layer as the store holds it, keyed by chainID. */
export interface LayerNode {
  chainID: string;
  /** The image store the layer is in. */
  store: ImageStore;
  /** Graph-driver store: the layerdb record. */
  record?: LayerRecord;
  /** containerd store: the committed snapshot keyed by this chainID. */
  snapshot?: SnapshotNode;
  /** containerd store: the diffID, as the images using the layer state it. */
  diffID?: string;
  /** Driver dir named by the record's cache-id. */
  dir?: DriverDir;
  /** `l/<link>` entry for the dir's link. */
  shortLink?: ShortLink;
  images: Set<string>;
  containers: Set<string>;
}

/** One position in an image's rootfs. */
export interface ImageLayer {
  index: number;
  diffID: string;
  /** Recomputed from the diffIDs. */
  chainID: string;
  layer?: LayerNode;
  /** layerdb `diff` equals this diffID. */
  diffMatches: boolean;
  /** layerdb `parent` equals the recomputed chainID below. */
  parentMatches: boolean;
  /** containerd store: the manifest's (usually compressed) layer blob. */
  blob?: { digest: string; mediaType: string; size: number; present: boolean; uncompressed?: string };
}

export interface ImageNode {
  id: string;
  /** The image store the image is in. */
  store: ImageStore;
  record: ImageRecord;
  config?: ImageConfig;
  /** Familiar references, sorted like Docker (by fully-qualified string). */
  repoTags: string[];
  repoDigests: string[];
  layers: ImageLayer[];
  topChainID?: string;
  /** Docker would restore it at start-up (config hash ok, top layer loadable). */
  loadable: boolean;
  dropReason?: string;
  /** Sum of layer sizes along the top layer's parent chain, as Docker computes it. */
  size: number;
  children: string[];
  /** containerd store: records, manifests and the engine's per-command views of them. */
  containerd?: ContainerdImageInfo;
  /** containerd store: the image record a reference resolved through (history walks from it). */
  resolvedVia?: string;
  /** pre-1.10 image: its v1 ID, and the 1.10+ image ID it was migrated to (`.migration-v1-images.json`). */
  legacy?: { v1ID: string; migratedTo?: string; checksum?: string };
}

export interface ContainerNode {
  id: string;
  record: ContainerRecord;
  image?: ImageNode;
  mount?: MountRecord;
  rw?: DriverDir;
  init?: DriverDir;
  /** The image top layer the RW layer was created on (layerdb mounts/<id>/parent). */
  parentLayer?: LayerNode;
  /** The image store whose driver/snapshotter the container's `Driver` names. */
  store?: ImageStore;
  /** containerd store: RW (`<id>`) and init (`<id>-init`) snapshots and the chain below. */
  snapshots?: ContainerSnapshots;
}

export interface GraphStore {
  kind: 'graphdriver';
  /** Shown as the store an object came from: the driver name, e.g. 'overlay2'. */
  name: string;
  /** e.g. 'overlay2'. */
  driver: string;
  /** 'image/overlay2'. */
  imageRoot: string;
  repositories: RepoEntry[];
  layerdb: LayerDb;
  distribution: Distribution;
  /** distribution.byDiffID.get(diffID), without reading all of `distribution/` where it can. */
  v2For?(diffID: string): V2Metadata[] | undefined;
  dirs: Overlay2Dirs;
  /** The pre-1.10 `graph/` store (FORMATS.md §7): IDs are bare v1 IDs. */
  legacy?: LegacyInfo;
}

/** A store of images and layers: a graph driver's `image/<driver>/` or a containerd root. */
export type ImageStore = GraphStore | ContainerdStore;

export class Model {
  readonly findings = new Findings();
  readonly images = new Map<string, ImageNode>();
  readonly layers = new Map<string, LayerNode>();
  readonly containers = new Map<string, ContainerNode>();
  /** Graph-driver image stores found (one per `image/<driver>/`). */
  readonly stores: GraphStore[] = [];
  /** containerd image stores (at most one root is read). */
  readonly containerdStores: ContainerdStore[] = [];
  /** Familiar lookup key ('ubuntu:latest', 'ubuntu@sha256:…') → image ID. */
  readonly refIndex = new Map<string, string>();
  /** `.migration-v1-images.json`: v1 ID → 1.10+ image ID (empty unless the host was migrated). */
  migration = new Map<string, string>();
  /** pre-1.10 `linkgraph.db`: container names and links (undefined when absent). */
  linkgraph?: Linkgraph;

  constructor(readonly src: Source) {}

  get store(): GraphStore | undefined {
    return this.stores[0];
  }

  /** Every image store, graph-driver ones first. */
  allStores(): ImageStore[] {
    return [...this.stores, ...this.containerdStores];
  }

  /** Layers of every store (graph-driver ones are also in `layers`, keyed by chainID). */
  *allLayers(): Generator<LayerNode> {
    yield* this.layers.values();
    for (const s of this.containerdStores) yield* s.layers.values();
  }

  layer(chainID: string): LayerNode | undefined {
    return this.layers.get(chainID);
  }

  /** Follows layerdb `parent` pointers from a chainID, top first, bounded and cycle-safe. */
  parentChain(chainID: string): { chain: LayerNode[]; problem?: string } {
    // Every image and container walks its chain while the model is built: walk first without the
    // cycle-detecting Set. Only a chain that reaches WALK_LIMIT (a cycle, or absurd depth) is walked
    // again the careful way below, which gives the same answer the Set would have.
    const fast: LayerNode[] = [];
    for (let cur: string | undefined = chainID; cur !== undefined && fast.length < WALK_LIMIT; ) {
      const node = this.layers.get(cur);
      if (!node?.record) return { chain: fast, problem: `missing layer ${cur}` };
      fast.push(node);
      cur = node.record.parent;
      if (cur === undefined) return { chain: fast };
    }
    const chain: LayerNode[] = [];
    const seen = new Set<string>();
    let cur: string | undefined = chainID;
    while (cur !== undefined) {
      if (seen.has(cur)) return { chain, problem: `parent cycle at ${cur}` };
      if (chain.length >= WALK_LIMIT) return { chain, problem: `parent chain deeper than ${WALK_LIMIT}` };
      seen.add(cur);
      const node = this.layers.get(cur);
      if (!node?.record) return { chain, problem: `missing layer ${cur}` };
      chain.push(node);
      cur = node.record.parent;
    }
    return { chain };
  }

  /** Docker's loadLayer: the layer and every ancestor must parse; else it (and all above) vanish. */
  loadError(chainID: string): string | undefined {
    const { chain, problem } = this.parentChain(chainID);
    if (problem) return problem;
    for (const n of chain) if (n.record!.loadError) return `layer ${n.chainID}: ${n.record!.loadError}`;
    return undefined;
  }

  /** roLayer.Size(): the sum of `size` down the parent chain. */
  chainSize(chainID: string): number {
    let total = 0;
    for (const n of this.parentChain(chainID).chain) total += n.record!.size ?? 0;
    return total;
  }
}

/**
 * A graph-driver store's layer. Its `l/` short link is resolved on first use (which reads the
 * driver dir's `link`): a listing of images or containers never asks. Its findings keep the place
 * they had when every link was resolved while the model was built (Findings.defer).
 */
class GraphLayer implements LayerNode, Deferred {
  dir?: DriverDir;
  readonly images = new Set<string>();
  readonly containers = new Set<string>();
  private link?: ShortLink | null;
  constructor(
    readonly chainID: string,
    readonly store: GraphStore,
    readonly record: LayerRecord,
    private readonly f: Findings,
  ) {}

  load(f: Findings): void {
    const name = this.dir?.link;
    this.link = (name !== undefined ? this.store.dirs.shortLink(name, f) : undefined) ?? null;
  }

  get shortLink(): ShortLink | undefined {
    if (this.link === undefined && this.dir) this.f.force(this);
    return this.link ?? undefined;
  }
}

/** A store's `distribution/`, read when first asked for; its findings keep their place (Findings.defer). */
class LazyDistribution implements Deferred {
  private loaded?: Distribution;
  /** Names in `v2metadata-by-diffid/sha256`, for v2For. */
  private names?: Set<string>;
  /** Something asked for the maps (not only for the findings of reading them). */
  private wanted = false;
  /** The findings were placed by a read whose maps were not kept. */
  private reported = false;
  constructor(
    private readonly src: Source,
    private readonly imageRoot: string,
    private readonly f: Findings,
  ) {}

  /**
   * Reads `distribution/`. When only the findings list asked for it (`info` lists every finding
   * and never looks at the maps) the maps are not kept: on the huge bench store they are 20 MB
   * that stayed alive to the end. Asked for later, they are read again, quietly: their findings
   * are already in the list.
   */
  load(f: Findings): void {
    const d = loadDistribution(this.src, this.imageRoot, f);
    if (this.wanted) this.loaded = d;
    else this.reported = true;
  }

  get value(): Distribution {
    if (this.loaded === undefined) {
      this.wanted = true;
      if (this.reported) this.loaded = loadDistribution(this.src, this.imageRoot, new Findings());
      else this.f.force(this);
    }
    return this.loaded!;
  }

  /**
   * byDiffID.get(diffID), reading only that diffID's file while the rest is not loaded (`image
   * <ref>` asks for its own layers). A file with anything to report, or a directory that does not
   * list, loads the whole store instead, so findings come once, in their place.
   */
  v2For(diffID: string): V2Metadata[] | undefined {
    if (this.loaded !== undefined) return this.loaded.byDiffID.get(diffID);
    const hex = diffID.startsWith('sha256:') ? diffID.slice(7) : '';
    if (!HEX64.test(hex)) return this.value.byDiffID.get(diffID);
    const dir = v2metadataDir(this.imageRoot);
    if (this.names === undefined) {
      try {
        this.names = new Set(this.src.readdir(dir) ?? []);
      } catch {
        return this.value.byDiffID.get(diffID);
      }
    }
    if (!this.names.has(hex)) return undefined;
    const quiet = new Findings();
    const list = loadV2Metadata(this.src, `${dir}/${hex}`, quiet);
    return quiet.list.length === 0 ? list : this.value.byDiffID.get(diffID);
  }
}

function loadGraphStore(model: Model, driver: string): void {
  const { src, findings: f } = model;
  const imageRoot = `image/${driver}`;
  const repositories = loadRepositories(src, imageRoot, f);
  const layerdb = loadLayerDb(src, imageRoot, f);
  // `distribution/` (a file per layer and per blob) is read on first use: listings never ask.
  const distribution = new LazyDistribution(src, imageRoot, f);
  f.defer(distribution);
  const store: GraphStore = {
    kind: 'graphdriver',
    name: driver,
    driver,
    imageRoot,
    repositories,
    layerdb,
    get distribution() {
      return distribution.value;
    },
    v2For: (diffID: string) => distribution.v2For(diffID),
    dirs: new Overlay2Dirs(src, driver, f),
  };
  model.stores.push(store);

  for (const [chainID, record] of store.layerdb.layers) {
    const node = new GraphLayer(chainID, store, record, f);
    if (record.cacheID) {
      node.dir = store.dirs.dir(record.cacheID);
      // zfs layers are datasets in the pool: nothing in the data root names them (FORMATS.md §8).
      if (!node.dir && driver !== 'zfs')
        f.add('warn', 'layer.no-driver-dir', `cache-id ${record.cacheID} names no ${driver === 'devicemapper' ? 'devicemapper/metadata/ device' : `${driver}/ dir`}`, `${imageRoot}/layerdb/sha256/${chainID.slice(7)}/cache-id`);
      // Its l/ link is resolved when asked (reading the dir's link first), reporting here.
      else if (node.dir) f.defer(node);
    }
    model.layers.set(chainID, node);
  }

  const records = loadImageDb(src, imageRoot, f);
  const refsById = new Map<string, { familiar: string; full: string; digest: boolean; tag: boolean }[]>();
  for (const e of store.repositories) {
    const r = parseNormalizedNamed(e.ref);
    if (!r) {
      f.add('warn', 'repositories.bad-ref', `reference ${JSON.stringify(e.ref)} does not parse; Docker skips it`, `${imageRoot}/repositories.json`);
      continue;
    }
    const list = refsById.get(e.id) ?? [];
    list.push({ familiar: familiarString(r), full: fullString(r), digest: r.digest !== undefined, tag: r.tag !== undefined });
    refsById.set(e.id, list);
    model.refIndex.set(familiarString(r), e.id);
  }

  // Images of a store share most of their chains: each "parent diffID" pair is hashed once.
  const chainMemo: ChainMemo = new Map();
  for (const rec of records) {
    const refs = (refsById.get(rec.id) ?? []).sort((a, b) => (a.full < b.full ? -1 : a.full > b.full ? 1 : 0));
    const img: ImageNode = {
      id: rec.id,
      store,
      record: rec,
      config: rec.config,
      repoTags: refs.filter((r) => r.tag && !r.digest).map((r) => r.familiar),
      repoDigests: refs.filter((r) => r.digest).map((r) => r.familiar),
      layers: [],
      loadable: true,
      size: 0,
      children: [],
    };
    const diffIDs = rec.config?.diffIDs ?? [];
    const chain = chainIDs(diffIDs, chainMemo);
    img.layers = diffIDs.map((diffID, index) => {
      const layer = model.layers.get(chain[index]!);
      layer?.images.add(rec.id);
      const rd = layer?.record;
      // The layer's own diffID string where equal, in the config too: images repeat the same chains.
      if (rd?.diffID === diffID) diffIDs[index] = diffID = rd.diffID;
      return {
        index,
        diffID,
        // The layer's own string when it exists (equal by value): thousands of images repeat the same
        // chains, and each computed copy would stay alive here.
        chainID: layer?.chainID ?? chain[index]!,
        layer,
        diffMatches: rd?.diffID === diffID,
        parentMatches: rd ? rd.parent === (index === 0 ? undefined : chain[index - 1]) : false,
      };
    });
    img.topChainID = img.layers[img.layers.length - 1]?.chainID;
    if (!rec.config) img.dropReason = 'config does not parse';
    else if (rec.computedId !== rec.id) img.dropReason = 'config bytes do not hash to the image ID';
    else if (img.topChainID) img.dropReason = model.loadError(img.topChainID);
    img.loadable = img.dropReason === undefined;
    if (img.loadable && img.topChainID) img.size = model.chainSize(img.topChainID);
    if (!img.loadable) f.add('warn', 'image.not-restorable', `Docker would not restore image ${rec.id}: ${img.dropReason}`, `${imageRoot}/imagedb/content/sha256/${rec.id.slice(7)}`);
    model.images.set(rec.id, img);
  }
  for (const img of model.images.values()) {
    const p = img.record.parent;
    if (img.loadable && p) model.images.get(p)?.children.push(img.id);
  }
  for (const [id, refs] of refsById)
    if (!model.images.has(id)) f.add('warn', 'repositories.dangling-ref', `${refs.map((r) => r.familiar).join(', ')} point at missing image ${id}`, `${imageRoot}/repositories.json`);
}

function attachContainers(model: Model): void {
  model.linkgraph = loadLinkgraph(model.src, model.findings);
  for (const rec of loadContainers(model.src, model.findings)) {
    // A pre-1.10 config.json without a Name: linkgraph.db held the names then.
    const lgName = model.linkgraph?.names.get(rec.id);
    if (!rec.name && lgName) rec.name = `/${lgName}`;
    const c: ContainerNode = { id: rec.id, record: rec };
    c.image = model.images.get(rec.image);
    // The driver is decided per container: stores of several drivers can share one data root. A
    // pre-1.10 container (config.json, bare v1 Image) belongs to the legacy store of its driver.
    const legacyStore = rec.legacyConfig && !rec.image.startsWith('sha256:') ? model.stores.find((s) => s.legacy && s.driver === rec.driver) : undefined;
    const store = legacyStore ?? model.stores.find((s) => s.driver === rec.driver && !s.legacy) ?? model.stores.find((s) => s.driver === rec.driver);
    const cstore = store ? undefined : model.containerdStores.find((s) => s.snapshotters.has(rec.driver) || s.driver === rec.driver);
    if (cstore) {
      attachContainerdContainer(model, cstore, c);
      model.containers.set(rec.id, c);
      continue;
    }
    if (store) c.store = store;
    if (store?.legacy && !store.layerdb.mounts.has(rec.id)) {
      const m = legacyMount(store, rec.id, rec.image, model.findings);
      if (m) store.layerdb.mounts.set(rec.id, m);
    }
    const mount = store?.layerdb.mounts.get(rec.id);
    if (mount && store) {
      c.mount = mount;
      if (mount.mountID) c.rw = store.dirs.dir(mount.mountID);
      if (mount.initID) c.init = store.dirs.dir(mount.initID);
      if (mount.parent) {
        c.parentLayer = model.layers.get(mount.parent);
        for (const n of model.parentChain(mount.parent).chain) n.containers.add(rec.id);
      }
    }
    model.containers.set(rec.id, c);
  }
}

export type BuildOptions = ContainerdOptions;

/**
 * Builds the model of a data root: its 1.10+ graph-driver stores and, when one is found (see
 * findContainerdRoot; `opts.top`/`rootPath` let it look beside the data root), the containerd
 * image store, side by side.
 */
export function buildModel(src: Source, opts: BuildOptions = {}): Model {
  const model = new Model(src);
  const drivers = readdirOptional(src, 'image', model.findings, 'store.unreadable');
  // overlay2 first: a 29 host migrated to containerd may still hold other drivers' leftovers.
  drivers.sort((a, b) => (a === 'overlay2' ? -1 : b === 'overlay2' ? 1 : a.localeCompare(b)));
  for (const d of drivers) {
    if (src.lstat(`image/${d}`)?.type === 'dir') loadGraphStore(model, d);
  }
  loadLegacyStore(model);
  const loc = findContainerdRoot(src, opts, model.findings);
  if (loc) model.containerdStores.push(loadContainerdStore(model, loc, opts));
  attachContainers(model);
  recordMigratedMounts(model);
  const orphaned = [...model.containers.values()].filter((c) => !c.store && c.record.driver);
  const unserved = [...new Set(orphaned.map((c) => c.record.driver))];
  if (unserved.length)
    model.findings.add(
      'warn',
      'store.missing',
      `${orphaned.length} containers use ${unserved.join(', ')}, for which no image store was found` +
        (unserved.some((d) => !['overlay2', 'aufs', 'vfs', 'btrfs', 'zfs', 'devicemapper', 'fuse-overlayfs', 'overlay', 'windowsfilter'].includes(d))
          ? ' (a containerd snapshotter: point --root at the filesystem holding var/lib/containerd, or pass --containerd-root)'
          : ''),
    );
  return model;
}

/**
 * buildModel for opened evidence: looks for containerd's root beside the data root, and streams
 * bbolt files an archive index does not keep in memory before the (synchronous) build.
 */
export async function loadModel(ev: { top: Source; root: Source; rootPath: string }, opts: { containerdRoot?: string } = {}): Promise<Model> {
  const base: BuildOptions = { top: ev.top, rootPath: ev.rootPath, containerdRoot: opts.containerdRoot };
  const probe = new Findings();
  const loc = findContainerdRoot(ev.root, base, probe);
  const prefetched = loc ? await prefetchContainerd(loc, probe) : undefined;
  const model = buildModel(ev.root, { ...base, prefetched });
  for (const f of probe.list) if (f.code === 'containerd.unreadable') model.findings.list.push(f);
  return model;
}
