import type { Findings } from '../store/findings.js';
import type { ImageConfig, HistoryEntry } from '../store/imageconfig.js';
import type { ImageRecord } from '../store/imagedb.js';
import type { LayerRecord, MountRecord } from '../store/layerdb.js';
import { loadLegacyGraph, loadLegacyRepositories, loadMigrationMap, type LegacyImage } from '../store/legacy.js';
import { Overlay2Dirs } from '../store/overlay2.js';
import { isObject, str } from '../store/read.js';
import { HEX64 } from '../store/digest.js';
import type { GraphStore, ImageLayer, ImageNode, LayerNode, Model } from './graph.js';
import { familiarString, fullString, parseNormalizedNamed } from './reference.js';

/**
 * The pre-1.10 store (FORMATS.md §7) in the same maps as the 1.10+ ones: each `graph/<v1ID>` is an
 * image *and* a layer. Images are keyed by the bare v1 ID (as Docker 1.9 showed them), layers by
 * the same ID (there are no chainIDs), the driver dir is named by the v1 ID, containers' RW and
 * init dirs by the container ID. Migrated hosts (`.migration-v1-images.json`) keep both generations.
 */
export interface LegacyInfo {
  images: Map<string, LegacyImage>;
  /** `repositories-<driver>` the tags were read from. */
  repositoriesFile?: string;
}

const WALK = 4096;

/** Which driver the pre-1.10 layers live in: the repositories file's, else the first driver dir present. */
function legacyDriver(model: Model, fromRepos: string[]): string | undefined {
  if (fromRepos.length) return fromRepos[0];
  for (const d of ['aufs', 'overlay', 'devicemapper', 'btrfs', 'vfs', 'zfs']) if (model.src.lstat(d)?.type === 'dir') return d;
  return undefined;
}

function v1Config(img: LegacyImage, chain: LegacyImage[]): ImageConfig {
  const j = img.json ?? {};
  const history: HistoryEntry[] = chain.map((l) => {
    const lj = l.json ?? {};
    const cc = isObject(lj.container_config) ? lj.container_config : {};
    const cmd = Array.isArray(cc.Cmd) ? cc.Cmd.filter((x): x is string => typeof x === 'string').join(' ') : '';
    return { created: l.created, created_by: cmd, author: str(lj.author), comment: str(lj.comment), empty_layer: false };
  });
  return {
    created: str(j.created),
    author: str(j.author),
    comment: str(j.comment),
    container: str(j.container),
    dockerVersion: str(j.docker_version),
    architecture: str(j.architecture),
    os: str(j.os),
    config: isObject(j.config) ? j.config : undefined,
    containerConfig: isObject(j.container_config) ? j.container_config : undefined,
    diffIDs: [],
    rootfsType: 'layers',
    history,
  };
}

export function loadLegacyStore(model: Model): void {
  const { src, findings: f } = model;
  if (src.lstat('graph')?.type !== 'dir') return;
  const graph = loadLegacyGraph(src, f);
  const repos = loadLegacyRepositories(src, f);
  const driver = legacyDriver(model, repos.map((r) => r.driver));
  if (!driver) {
    f.add('warn', 'legacy.no-driver', 'graph/ present but no repositories-<driver> file or driver directory says where the layers are', 'graph');
    return;
  }
  const reposOfDriver = repos.find((r) => r.driver === driver);
  const store: GraphStore = {
    kind: 'graphdriver',
    name: `${driver} (pre-1.10)`,
    driver,
    imageRoot: 'graph',
    repositories: (reposOfDriver?.refs ?? []).map((r) => ({ repo: r.repo, ref: r.ref, id: r.id })),
    layerdb: { layers: new Map(), mounts: new Map(), removing: [], writeSets: [] },
    distribution: { byDiffID: new Map(), diffIDByDigest: new Map() },
    dirs: model.stores.find((s) => s.driver === driver)?.dirs ?? new Overlay2Dirs(src, driver, f),
    legacy: { images: graph, repositoriesFile: reposOfDriver ? `repositories-${driver}` : undefined },
  };
  model.stores.push(store);

  // Layers: one per graph entry, keyed by the v1 ID, parent = the v1 parent.
  for (const [id, li] of graph) {
    const rec: LayerRecord = { chainID: id, diffID: li.migration.diffID, size: li.size ?? 0, cacheID: id, parent: li.parent, hasTarSplit: li.hasTarData, dirStat: li.stat };
    if (li.parent && !graph.has(li.parent)) rec.loadError = `parent ${li.parent} is not in graph/`;
    if (!li.json) rec.loadError = 'graph entry has no readable json';
    store.layerdb.layers.set(id, rec);
    const node: LayerNode = { chainID: id, store, record: rec, images: new Set(), containers: new Set() };
    node.dir = store.dirs.dir(id);
    if (!node.dir) f.add('warn', 'layer.no-driver-dir', `v1 layer ${id} has no ${driver} dir`, `graph/${id}`);
    model.layers.set(id, node);
  }

  const refsById = new Map<string, { familiar: string; full: string; digest: boolean; tag: boolean }[]>();
  for (const e of store.repositories) {
    const r = parseNormalizedNamed(e.ref);
    if (!r) {
      f.add('warn', 'repositories.bad-ref', `reference ${JSON.stringify(e.ref)} does not parse`, store.legacy!.repositoriesFile ?? 'graph');
      continue;
    }
    const list = refsById.get(e.id) ?? [];
    list.push({ familiar: familiarString(r), full: fullString(r), digest: r.digest !== undefined, tag: r.tag !== undefined });
    refsById.set(e.id, list);
    // A 1.10+ store's tag wins the familiar lookup: it is what the engine used last.
    if (!model.refIndex.has(familiarString(r))) model.refIndex.set(familiarString(r), e.id);
  }

  const migration = loadMigrationMap(src, f);
  for (const [id, li] of graph) {
    // The v1 chain, base first.
    const chain: LegacyImage[] = [];
    const seen = new Set<string>();
    let cur: LegacyImage | undefined = li;
    let problem: string | undefined;
    while (cur) {
      if (seen.has(cur.id)) {
        problem = `parent cycle at ${cur.id}`;
        break;
      }
      if (chain.length >= WALK) {
        problem = `parent chain deeper than ${WALK}`;
        break;
      }
      seen.add(cur.id);
      chain.unshift(cur);
      const p: string | undefined = cur.parent;
      cur = p ? graph.get(p) : undefined;
      if (p && !cur) problem = `missing parent ${p}`;
    }
    const refs = (refsById.get(id) ?? []).sort((a, b) => (a.full < b.full ? -1 : a.full > b.full ? 1 : 0));
    const record: ImageRecord = { id, computedId: id, config: li.json ? v1Config(li, chain) : undefined, parent: li.parent, builtLocally: false, contentStat: li.stat, bytes: 0 };
    const layers: ImageLayer[] = chain.map((l, index) => {
      const layer = model.layers.get(l.id);
      layer?.images.add(id);
      return { index, diffID: l.migration.diffID ?? '', chainID: l.id, layer, diffMatches: true, parentMatches: true };
    });
    const img: ImageNode = {
      id,
      store,
      record,
      config: record.config,
      repoTags: refs.filter((r) => r.tag && !r.digest).map((r) => r.familiar),
      repoDigests: refs.filter((r) => r.digest).map((r) => r.familiar),
      layers,
      topChainID: id,
      loadable: true,
      size: 0,
      children: [],
      legacy: { v1ID: id, migratedTo: migration.get(id), checksum: li.checksum },
    };
    img.dropReason = problem ?? (record.config ? model.loadError(id) : 'graph entry has no readable json');
    img.loadable = img.dropReason === undefined;
    if (img.loadable) img.size = model.chainSize(id);
    if (!img.loadable) f.add('warn', 'legacy.image-broken', `v1 image ${id}: ${img.dropReason}`, `graph/${id}`);
    model.images.set(id, img);
  }
  for (const img of model.images.values()) {
    if (img.store !== store) continue;
    const p = img.record.parent;
    if (img.loadable && p) model.images.get(p)?.children.push(img.id);
  }
  for (const [id, refs] of refsById)
    if (!model.images.has(id)) f.add('warn', 'repositories.dangling-ref', `${refs.map((r) => r.familiar).join(', ')} point at missing v1 image ${id}`, store.legacy!.repositoriesFile ?? 'graph');
  for (const [v1, nu] of migration) {
    if (!graph.has(v1)) f.add('info', 'legacy.migrated-gone', `migration map names v1 image ${v1}, no longer in graph/`, '.migration-v1-images.json');
    else if (!model.images.has(nu)) f.add('info', 'legacy.migrated-missing', `v1 image ${v1} was migrated to ${nu}, which is not in the 1.10+ image store`, '.migration-v1-images.json');
  }
  model.migration = migration;
}

/** A pre-1.10 container (config.json, bare v1 `Image`): RW dir = its ID, init = `<id>-init`. */
export function legacyMount(store: GraphStore, containerID: string, image: string, f: Findings): MountRecord | undefined {
  if (!HEX64.test(image)) return undefined;
  void f;
  const init = store.dirs.dir(`${containerID}-init`);
  return { containerID, mountID: containerID, initID: init ? `${containerID}-init` : undefined, parent: image };
}

/**
 * Migrated hosts: a container the 1.10 migration rewrote (config.v2.json beside the old
 * config.json) still has its RW and init dirs named by its ID, created by the v1 engine on the v1
 * image. The legacy store records that mount too, so both generations account for the dirs.
 */
export function recordMigratedMounts(model: Model): void {
  for (const store of model.stores) {
    if (!store.legacy) continue;
    for (const c of model.containers.values()) {
      if (c.store === store || c.record.driver !== store.driver || store.layerdb.mounts.has(c.id)) continue;
      if (!c.record.files.includes('config.json')) continue;
      const v1 = [...model.migration].find(([, v]) => v === c.record.image)?.[0];
      const init = store.dirs.dir(`${c.id}-init`);
      store.layerdb.mounts.set(c.id, { containerID: c.id, mountID: c.id, initID: init ? `${c.id}-init` : undefined, parent: v1 });
    }
  }
}
