import type { Model } from '../model/graph.js';
import { isoNanos } from '../model/time.js';
import { Findings } from '../store/findings.js';
import { treeStats } from './dirsize.js';
import { containerdPath } from './containerd.js';
import { containerdOrphans } from './orphans-containerd.js';
import type { PathMap } from './paths.js';

/**
 * What the store holds that nothing references (left by deleted images and containers,
 * interrupted pulls, crashes) and references to what is gone (force-removed images, lost layers).
 */
export type OrphanKind =
  | 'unused-layer'
  | 'unreferenced-driver-dir'
  | 'removing-dir'
  | 'write-set'
  | 'mount-without-container'
  | 'container-image-missing'
  | 'image-not-restorable'
  | 'dangling-short-link'
  | 'missing-short-link'
  | 'metadata-without-image'
  | 'reference-to-missing-image'
  // containerd image store (analysis/orphans-containerd.ts)
  | 'unreferenced-blob'
  | 'blob-without-record'
  | 'partial-download'
  | 'unused-snapshot'
  | 'unreferenced-snapshot-dir'
  | 'container-snapshot-missing'
  | 'dangling-image';

export interface Orphan {
  kind: OrphanKind;
  /** The object: chainID, dir id, container ID, link name … */
  id: string;
  /** Evidence path (under the shown root). */
  path: string;
  detail: string;
  /** Bytes held (directory.Size of what is left), when it holds anything. */
  size?: number;
  /** Newest mtime in what is left (ISO, ns precision). */
  newest?: string;
  /** partial-download: bytes received, the expected total, the digest being fetched, start and last write (ISO, ns). */
  received?: number;
  total?: number;
  expected?: string;
  started?: string;
  updated?: string;
}

export function findOrphans(model: Model, paths: PathMap): { orphans: Orphan[]; findings: Findings } {
  const f = new Findings();
  const out: Orphan[] = [];
  const add = (kind: OrphanKind, id: string, rel: string, detail: string, measure = true) => {
    const o: Orphan = { kind, id, path: paths.abs(rel), detail };
    if (measure) {
      const st = treeStats(model.src, rel, f);
      o.size = st.size;
      if (st.newestNs !== undefined) o.newest = isoNanos(st.newestNs);
    }
    out.push(o);
  };

  for (const store of model.stores) {
    if (!('layerdb' in store)) continue;
    const ldb = `${store.imageRoot}/layerdb`;
    const home = store.dirs.home;

    // Layers reachable from any image config (restorable or not) or any container's RW layer.
    const used = new Set<string>();
    const mark = (chainID: string | undefined) => {
      if (!chainID) return;
      for (const n of model.parentChain(chainID).chain) used.add(n.chainID);
    };
    for (const img of model.images.values()) for (const l of img.layers) if (l.layer?.record) mark(l.chainID);
    for (const m of store.layerdb.mounts.values()) mark(m.parent);
    for (const [chainID, rec] of store.layerdb.layers) {
      if (used.has(chainID)) continue;
      const dir = rec.cacheID ? `${home}/${rec.cacheID}` : undefined;
      out.push({
        kind: 'unused-layer',
        id: chainID,
        path: paths.abs(`${ldb}/sha256/${chainID.slice(7)}`),
        detail: `no image or container uses it${rec.cacheID ? `; data in ${home}/${rec.cacheID}` : ''}`,
        ...(() => {
          const a = treeStats(model.src, `${ldb}/sha256/${chainID.slice(7)}`, f);
          const b = dir ? treeStats(model.src, dir, f) : undefined;
          const newest = b?.newestNs !== undefined && (a.newestNs === undefined || b.newestNs > a.newestNs) ? b.newestNs : a.newestNs;
          return { size: a.size + (b?.size ?? 0), newest: newest === undefined ? undefined : isoNanos(newest) };
        })(),
      });
    }

    // Driver dirs nothing names: not a layer's cache-id, not a mount's mount-id or init-id.
    const named = new Set<string>();
    for (const rec of store.layerdb.layers.values()) if (rec.cacheID) named.add(rec.cacheID);
    for (const m of store.layerdb.mounts.values()) {
      if (m.mountID) named.add(m.mountID);
      if (m.initID) named.add(m.initID);
    }
    const dirIds = store.dirs.ids();
    for (const id of dirIds) if (!named.has(id)) add('unreferenced-driver-dir', id, `${home}/${id}`, 'no layer or container mount refers to it');

    for (const r of store.layerdb.removing) add('removing-dir', r.name, `${ldb}/sha256/${r.name}`, 'a layer deletion that never finished');
    for (const w of store.layerdb.writeSets) add('write-set', w.name, `${ldb}/tmp/${w.name}`, 'layer metadata never committed (interrupted pull or build)');

    for (const [cid, m] of store.layerdb.mounts)
      if (!model.containers.has(cid))
        add('mount-without-container', cid, `${ldb}/mounts/${cid}`, `RW layer ${m.mountID ?? '?'} of a container whose directory is gone`);

    // Short links: l/X must lead to an existing dir whose link file says X, and back.
    const dirSet = new Set(dirIds);
    for (const name of store.dirs.linkNames()) {
      const sl = store.dirs.shortLink(name);
      if (!sl?.id || !dirSet.has(sl.id)) add('dangling-short-link', name, `${home}/l/${name}`, `points at ${sl?.target ?? '?'}, which does not exist`, false);
    }
    for (const id of dirIds) {
      const d = store.dirs.dir(id);
      if (d?.link && !store.dirs.shortLink(d.link)) add('missing-short-link', id, `${home}/${id}/link`, `names l/${d.link}, which does not exist`, false);
    }

    for (const e of store.repositories)
      if (!model.images.has(e.id)) out.push({ kind: 'reference-to-missing-image', id: e.ref, path: paths.abs(`${store.imageRoot}/repositories.json`), detail: `${e.ref} → ${e.id}` });
  }

  for (const c of model.containers.values()) {
    const img = model.images.get(c.record.image);
    if (!img?.loadable)
      add('container-image-missing', c.id, `containers/${c.id}`, `${c.record.name} runs ${c.record.image}, ${img ? `which Docker would not restore (${img.dropReason})` : 'which is gone (force-removed)'}`);
  }
  for (const img of model.images.values()) {
    if (img.loadable) continue;
    if (img.store.kind === 'containerd') out.push({ kind: 'image-not-restorable', id: img.id, path: containerdPath(img.store, img.store.content.path(img.id) ?? '', paths), detail: img.dropReason ?? '' });
    else add('image-not-restorable', img.id, `${img.store.imageRoot}/imagedb/content/sha256/${img.id.slice(7)}`, img.dropReason ?? '');
  }
  for (const store of model.containerdStores) out.push(...containerdOrphans(model, store, paths, f));
  for (const x of model.findings.list)
    if (x.code === 'imagedb.orphan-metadata' && x.path) out.push({ kind: 'metadata-without-image', id: x.path.split('/').pop()!, path: paths.abs(x.path), detail: x.message });

  return { orphans: out, findings: f };
}
