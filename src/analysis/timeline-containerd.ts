import type { ContainerdStore, SnapshotNode } from '../model/containerd.js';
import type { GoTime } from '../store/containerd-meta.js';
import { listIngests } from '../store/containerd-ingest.js';
import type { Findings } from '../store/findings.js';
import { containerdPath } from './containerd.js';
import { clip, containerLabel, DESC, imageRefs, imageWhat, short, type Collector, type TimelineEvent, type TimelineKind } from './timeline.js';

/**
 * Timeline events only a containerd image store records (FORMATS.md §9.3, §9.2), all at
 * nanosecond precision from Go `time.MarshalBinary` values in meta.db or the RFC 3339 text of
 * ingest files:
 *  - image records (`v1/<ns>/images/<name>/{createdat,updatedat}`): when a name was first given
 *    and last re-pointed — one event per name, where the graph-driver store keeps only the last;
 *  - content records (`content/blob/<digest>/{createdat,updatedat}`): when a blob was committed
 *    (pulled, built or imported) and when its labels last changed;
 *  - snapshots other than image layers (layers are in timeline.ts): init snapshots, build-step
 *    snapshots, and the RW snapshot's update time;
 *  - leases (`leases/<id>/createdat`): when Docker started holding a container's snapshots or
 *    a pull's content;
 *  - partial downloads (`ingest/<ref>/{startedat,updatedat}`): interrupted or running pulls.
 */

function ns(t: GoTime | undefined): bigint | undefined {
  return t ? BigInt(t.unix) * 1_000_000_000n + BigInt(t.nanos) : undefined;
}

export function containerdEvents(col: Collector, store: ContainerdStore, f: Findings): void {
  const { model, paths } = col;
  const metaDb = containerdPath(store, 'io.containerd.metadata.v1.bolt/meta.db', paths);
  const both = (c: GoTime | undefined, u: GoTime | undefined, kind: TimelineKind, what: string, base: Partial<TimelineEvent>, source = metaDb) => {
    const cn = ns(c);
    const un = ns(u);
    if (cn !== undefined) col.add({ ...base, ns: cn, kind, desc: DESC.created, message: `${what} created`, source, field: 'createdat' });
    if (un !== undefined && un !== cn) col.add({ ...base, ns: un, kind, desc: DESC.updated, message: `${what} updated`, source, field: 'updatedat' });
  };
  const ns_ = store.ns;
  if (!ns_) return;

  // Image records: one per name (tags, digests, moby-dangling@…).
  for (const r of ns_.images) {
    const img = r.target ? model.images.get(r.target.digest) : undefined;
    const to = img ? imageWhat(img) : r.target ? short(r.target.digest) : '(no target)';
    both(r.createdAt, r.updatedAt, 'image.record', `image record ${JSON.stringify(clip(r.name, 300))} → ${to}`, {
      imageId: r.target?.digest,
      imageRef: img ? imageRefs(img) || undefined : undefined,
      attrs: { name: r.name, ...(r.target ? { media_type: r.target.mediaType } : {}) },
    });
  }

  // Content records: what each blob is to the images, where that is known.
  const role = new Map<string, string>();
  for (const img of model.images.values()) {
    if (img.store !== store || !img.containerd) continue;
    const who = imageWhat(img);
    if (!role.has(img.id)) role.set(img.id, `${img.containerd.index ? 'index' : 'manifest'} of ${who}`);
    for (const m of img.containerd.manifests) {
      if (!role.has(m.desc.digest)) role.set(m.desc.digest, `manifest of ${who}`);
      if (m.configDigest && !role.has(m.configDigest)) role.set(m.configDigest, `config of ${who}`);
      m.manifest?.layers.forEach((l, i) => {
        if (!role.has(l.digest)) role.set(l.digest, `layer ${i} of ${who}`);
      });
    }
  }
  // Blobs only a label names (a commit's container config: gc.ref.content.moby/container.config).
  for (const [digest, b] of ns_.blobs)
    for (const [k, v] of Object.entries(b.labels)) {
      const m = /^containerd\.io\/gc\.ref\.content\.(.+)$/.exec(k);
      if (m && !role.has(v) && ns_.blobs.has(v)) role.set(v, `${clip(m[1]!, 60)} of ${short(digest)}${role.has(digest) ? ` (${role.get(digest)})` : ''}`);
    }
  for (const [digest, b] of ns_.blobs) {
    const sources = Object.entries(b.labels)
      .filter(([k]) => k.startsWith('containerd.io/distribution.source.'))
      .map(([k, v]) => `${k.slice('containerd.io/distribution.source.'.length)}/${v}`);
    const attrs: Record<string, string | number | boolean> = { ...(b.size !== undefined ? { size: b.size } : {}) };
    if (sources.length) attrs.repositories = sources.join(' ');
    if (b.labels['containerd.io/uncompressed']) attrs.uncompressed = b.labels['containerd.io/uncompressed'];
    const what = `content ${short(digest)} (${role.get(digest) ?? 'used by no image'}${sources.length ? `, from ${clip(sources.join(', '), 200)}` : ''})`;
    both(b.createdAt, b.updatedAt, 'content.blob', what, { attrs: { digest, ...attrs } });
    // The blob file's own times (written once at commit: mtime ≈ the end of the download).
    const p = store.content.path(digest);
    if (p) col.fileTimes(store.content.stat(digest), 'content.blob', containerdPath(store, p, paths), `blob file of ${what}`, { attrs: { digest } });
  }

  // Snapshots that are not image layers (those are layer.snapshot events).
  const owner = new Map<string, string>();
  for (const c of model.containers.values()) {
    if (c.store !== store || !c.snapshots) continue;
    if (c.snapshots.rw) owner.set(c.snapshots.rw.key, c.id);
    if (c.snapshots.init) owner.set(c.snapshots.init.key, c.id);
  }
  for (const st of store.snapshotters.values()) {
    for (const s of st.nodes.values() as Iterable<SnapshotNode>) {
      if (s.isLayer && st.name === store.driver) continue;
      const cid = owner.get(s.key);
      const c = cid ? model.containers.get(cid) : undefined;
      const name = c ? containerLabel(c) : undefined;
      const role = !c ? (st.name === store.driver ? 'build-step or unowned' : st.name) : s.key === c.id ? 'RW' : 'init';
      const base: Partial<TimelineEvent> = { ...(c ? { containerId: c.id, containerName: name } : {}), driverDir: s.dir ? containerdPath(store, s.dir, paths) : undefined, attrs: { key: s.key, kind: s.kind, snapshotter: st.name } };
      const what = `${role} snapshot ${s.id ?? '?'}${name ? ` of ${name}` : ` ${clip(s.key, 100)}`}`;
      // The RW snapshot's creation is already a container.rw-dir event (timeline.ts).
      if (c && role === 'RW') {
        const cn = ns(s.createdAt);
        const un = ns(s.updatedAt);
        if (un !== undefined && un !== cn) col.add({ ...base, ns: un, kind: 'snapshot', desc: DESC.updated, message: `${what} updated`, source: metaDb, field: 'updatedat' });
      } else both(s.createdAt, s.updatedAt, 'snapshot', what, base);
    }
  }

  // Leases: Docker names a container's lease by its ID, a pull's by moby-image-<digest>.
  for (const l of ns_.leases) {
    const c = model.containers.get(l.id);
    const t = ns(l.createdAt);
    if (t === undefined) continue;
    const holds = [l.content.length ? `${l.content.length} blobs` : '', Object.values(l.snapshots).flat().length ? `${Object.values(l.snapshots).flat().length} snapshots` : '', l.ingests.length ? `${l.ingests.length} downloads` : ''].filter(Boolean).join(', ');
    col.add({
      ...(c ? { containerId: c.id, containerName: containerLabel(c) } : {}),
      ns: t,
      kind: 'lease',
      desc: DESC.created,
      message: `lease ${clip(l.id, 100)}${c ? ` (container ${containerLabel(c)})` : ''} created${holds ? `, holds ${holds}` : ''}`,
      source: metaDb,
      field: 'createdat',
      attrs: { lease: l.id },
    });
  }

  // Partial downloads.
  const label = (p: string) => (store.fromDataRoot ? `${store.fromDataRoot}/${p}` : p);
  for (const ing of listIngests(store.src, store.content.base, f, label)) {
    const src = containerdPath(store, ing.path, paths);
    const what = `download ${ing.ref ? JSON.stringify(clip(ing.ref, 200)) : ing.dir}`;
    const got = ing.size === undefined ? '' : ing.total !== undefined ? ` (${ing.size} of ${ing.total} bytes)` : ` (${ing.size} bytes)`;
    const attrs: Record<string, string | number | boolean> = { ...(ing.size !== undefined ? { received: ing.size } : {}), ...(ing.total !== undefined ? { total: ing.total } : {}), ...(ing.expected ? { expected: ing.expected } : {}) };
    if (ing.startedAt) col.add({ ns: ing.startedAt.ns, kind: 'download.started', desc: DESC.downloadStarted, message: `${what} started`, source: `${src}/startedat`, field: 'startedat', attrs });
    if (ing.updatedAt) col.add({ ns: ing.updatedAt.ns, kind: 'download.updated', desc: DESC.downloadUpdated, message: `${what} last written${got}`, source: `${src}/updatedat`, field: 'updatedat', attrs });
  }
}
