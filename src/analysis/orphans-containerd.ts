import { LABEL_PARENT, snapshotChain, type ContainerdStore } from '../model/containerd.js';
import type { Model } from '../model/graph.js';
import { isoNanos } from '../model/time.js';
import { isIndexType, isManifestType, parseIndex, parseManifest } from '../store/containerd-content.js';
import { listIngests } from '../store/containerd-ingest.js';
import { Findings } from '../store/findings.js';
import { containerdPath } from './containerd.js';
import { treeStats } from './dirsize.js';
import type { Orphan } from './orphans.js';
import type { PathMap } from './paths.js';

/**
 * orphans for a containerd image store (FORMATS.md §9): what containerd's garbage collector
 * would take or has left behind, and Docker objects whose storage is gone. Reachability follows
 * what containerd's GC follows (`core/metadata/gc.go`): image targets, their manifests/indexes
 * (and the `containerd.io/gc.ref.content.*` labels), lease content, and for snapshots the image
 * chains (config → `gc.ref.snapshot.<sn>`) and containers' RW/init snapshots.
 */
export function containerdOrphans(model: Model, store: ContainerdStore, paths: PathMap, f: Findings): Orphan[] {
  const out: Orphan[] = [];
  const abs = (rel: string) => containerdPath(store, rel, paths);
  const measure = (rel: string) => {
    const st = treeStats(store.src, rel, f);
    return { size: st.size, ...(st.newestNs !== undefined ? { newest: isoNanos(st.newestNs) } : {}) };
  };
  const ns = store.ns;

  // ---- content: reachable from image targets and leases
  const reached = new Set<string>();
  /** Snapshot keys reachable blobs name (config → `gc.ref.snapshot.<sn>` = the top chainID). */
  const snapRoots: string[] = [];
  const scratch = new Findings();
  const queue: { digest: string; mediaType?: string }[] = [];
  for (const r of ns?.images ?? []) if (r.target) queue.push({ digest: r.target.digest, mediaType: r.target.mediaType });
  // Lease content is referenced too (and what its labels name): Docker holds pulled content with
  // `moby-image-<digest>` leases even in graph-driver mode, and each container with a lease.
  const targetType = new Map((ns?.images ?? []).flatMap((r) => (r.target ? [[r.target.digest, r.target.mediaType] as const] : [])));
  for (const l of ns?.leases ?? []) for (const d of l.content) queue.push({ digest: d, mediaType: targetType.get(d) });
  for (let at = 0; at < queue.length && at < 1_000_000; at++) {
    const { digest, mediaType } = queue[at]!;
    if (reached.has(digest)) continue;
    reached.add(digest);
    const rec = ns?.blobs.get(digest);
    for (const [k, v] of Object.entries(rec?.labels ?? {})) {
      if (k.startsWith('containerd.io/gc.ref.content')) queue.push({ digest: v });
      else if (k === `containerd.io/gc.ref.snapshot.${store.driver}`) snapRoots.push(v);
    }
    if (!rec || !mediaType) continue;
    const b = isIndexType(mediaType) || isManifestType(mediaType) ? store.content.read(digest) : undefined;
    if (!b) continue;
    if (isIndexType(mediaType)) for (const d of parseIndex(b.bytes, '', scratch)?.manifests ?? []) queue.push({ digest: d.digest, mediaType: d.mediaType });
    else {
      const m = parseManifest(b.bytes, '', scratch);
      if (m?.config) queue.push({ digest: m.config.digest, mediaType: m.config.mediaType });
      for (const l of m?.layers ?? []) queue.push({ digest: l.digest, mediaType: l.mediaType });
    }
  }
  for (const [digest, rec] of ns?.blobs ?? []) {
    if (reached.has(digest)) continue;
    const p = store.content.path(digest);
    out.push({
      kind: 'unreferenced-blob',
      id: digest,
      path: abs(p ?? ''),
      detail: `no image or lease refers to it (containerd's GC would delete it)${rec.labels['containerd.io/uncompressed'] ? `; layer with diffID ${rec.labels['containerd.io/uncompressed']}` : ''}`,
      ...(p ? measure(p) : {}),
    });
  }
  // Blob files no record of this namespace names (another namespace's, or left after a crash).
  if (ns)
    for (const digest of store.content.list())
      if (!ns.blobs.has(digest)) {
        const p = store.content.path(digest)!;
        out.push({ kind: 'blob-without-record', id: digest, path: abs(p), detail: `blob file with no content record in namespace ${store.namespace}`, ...measure(p) });
      }

  // ---- partial downloads
  const label = (p: string) => (store.fromDataRoot ? `${store.fromDataRoot}/${p}` : p);
  for (const ing of listIngests(store.src, store.content.base, f, label)) {
    const what = ing.ref ? `ref ${JSON.stringify(ing.ref.length > 200 ? ing.ref.slice(0, 200) + '…' : ing.ref)}` : 'no ref file';
    const got = ing.size === undefined ? 'no data' : ing.total !== undefined ? `${ing.size} of ${ing.total} bytes` : `${ing.size} bytes (total unknown)`;
    const times = [ing.startedAt ? `started ${ing.startedAt.text}` : '', ing.updatedAt ? `updated ${ing.updatedAt.text}` : ''].filter(Boolean).join(', ');
    const o: Orphan = { kind: 'partial-download', id: ing.ref ?? ing.dir, path: abs(ing.path), detail: `interrupted download: ${what}, ${got}${times ? `; ${times}` : ''}`, ...measure(ing.path) };
    if (ing.total !== undefined) o.total = ing.total;
    if (ing.size !== undefined) o.received = ing.size;
    if (ing.startedAt) o.started = isoNanos(ing.startedAt.ns);
    if (ing.updatedAt) o.updated = isoNanos(ing.updatedAt.ns);
    if (ing.expected) o.expected = ing.expected;
    out.push(o);
  }

  // ---- snapshots: used by an image chain or a container
  const used = new Set<string>();
  const st = store.snapshotters.get(store.driver);
  const mark = (key: string | undefined) => {
    if (!key) return;
    for (const s of snapshotChain(st, key).chain) used.add(s.key);
  };
  for (const img of model.images.values()) {
    if (img.store !== store) continue;
    for (const m of img.containerd?.manifests ?? []) mark(m.chainIDs[m.chainIDs.length - 1]);
  }
  for (const k of snapRoots) mark(k);
  for (const c of model.containers.values()) {
    if (c.store !== store || !c.snapshots) continue;
    if (c.snapshots.rw) mark(c.snapshots.rw.key);
    else if (c.snapshots.init) mark(c.snapshots.init.key);
  }
  const leaseSnap = new Map<string, string>();
  for (const l of ns?.leases ?? []) for (const keys of Object.values(l.snapshots)) for (const k of keys) if (!leaseSnap.has(k)) leaseSnap.set(k, l.id);
  for (const s of st?.nodes.values() ?? []) {
    if (used.has(s.key)) continue;
    const lease = leaseSnap.get(s.key);
    out.push({
      kind: 'unused-snapshot',
      id: s.key,
      path: abs(s.dir ?? ''),
      detail: `${s.kind} snapshot ${s.id ?? '?'}: no image chain or container uses it${lease ? `; held by lease ${lease}` : ''}`,
      ...(s.dir && s.dirPresent ? measure(s.dir) : {}),
    });
  }
  // Snapshot dirs no backend record names (the loader's containerd.snapshot-dir-unreferenced).
  for (const sn of store.snapshotters.values()) {
    if (!sn.db) continue;
    const known = new Set([...sn.db.byId.keys()].map(String));
    let dirs: string[] = [];
    try {
      dirs = store.src.readdir(`${sn.dir}/snapshots`) ?? [];
    } catch {
      dirs = [];
    }
    for (const d of dirs)
      if (!known.has(d)) out.push({ kind: 'unreferenced-snapshot-dir', id: d, path: abs(`${sn.dir}/snapshots/${d}`), detail: `no ${sn.name} snapshot has id ${d}`, ...measure(`${sn.dir}/snapshots/${d}`) });
  }

  // ---- containers whose snapshots are gone
  for (const c of model.containers.values()) {
    if (c.store !== store || !c.snapshots) continue;
    const rw = c.snapshots.rw;
    const gone = !rw ? `its RW snapshot ${c.id} is not in meta.db` : rw.fsDir && !rw.fsPresent ? `its RW snapshot's directory ${rw.fsDir} is missing` : undefined;
    if (!gone) continue;
    const dir = `containers/${c.record.dirId}`;
    const t = treeStats(model.src, dir, f);
    out.push({ kind: 'container-snapshot-missing', id: c.id, path: paths.abs(dir), detail: `${c.record.name}: ${gone}`, size: t.size, ...(t.newestNs !== undefined ? { newest: isoNanos(t.newestNs) } : {}) });
  }

  // ---- dangling records: untagged images (moby-dangling@…) that are no image's build parent
  const parents = new Set<string>();
  for (const r of store.records.values()) if (r.labels[LABEL_PARENT]) parents.add(r.labels[LABEL_PARENT]!);
  for (const img of model.images.values()) {
    if (img.store !== store || !img.containerd?.dangling || parents.has(img.id)) continue;
    const users = [...model.containers.values()].filter((c) => c.record.image === img.id).map((c) => c.record.name.replace(/^\//, ''));
    const rec = img.containerd.records[0]!;
    out.push({
      kind: 'dangling-image',
      id: img.id,
      path: abs('io.containerd.metadata.v1.bolt/meta.db'),
      detail: `only a ${rec.name.slice(0, rec.name.indexOf('@'))} record names it (untagged or rmi -f'ed)${users.length ? `; still used by ${users.join(', ')}` : ''}`,
      ...(rec.updatedAt ? { newest: rec.updatedAt.iso } : {}),
    });
  }
  return out;
}

