import { createHash } from 'node:crypto';
import type tarStream from 'tar-stream';
import type { ContainerdStore, PlatformManifest } from '../model/containerd.js';
import type { ImageNode, Model } from '../model/graph.js';
import { Findings } from '../store/findings.js';
import type { SaveLayerPlan, SavePlan } from './save.js';
import { writeIndexes } from './save.js';

/**
 * `docker save` of a containerd-store image: the content store already holds the exact bytes
 * Docker 25+ exports (moby daemon/containerd/image_exporter.go: the target and its children
 * copied from the content store into an OCI layout), so nothing is rebuilt — every blob is
 * streamed through sha256 first, must hash to its name and have the size its descriptor states,
 * and is hashed again while written. The target is the image's own (index or manifest) when all
 * it references is present; an index with absent platforms is replaced by the platform manifest
 * in use, and the plan says so (the loaded image's ID is then that manifest's digest).
 */
export interface ContainerdSaveBlob {
  digest: string;
  size: number;
  mediaType: string;
  /** What the blob is, for messages. */
  role: string;
  ok: boolean;
  problem?: string;
}

export interface ContainerdSavePlan {
  store: ContainerdStore;
  target: { mediaType: string; digest: string; size: number };
  manifest: PlatformManifest;
  blobs: ContainerdSaveBlob[];
  /** Why the index was not kept as the target. */
  note?: string;
  problems: string[];
}

/** Every blob of the manifest has a record and a file (what containerd's export would need). */
function complete(store: ContainerdStore, pm: PlatformManifest): boolean {
  if (pm.missing.length || !pm.manifest || (pm.manifest.config && !pm.config && !pm.pseudo)) return false;
  const all = [pm.desc.digest, ...(pm.manifest.config ? [pm.manifest.config.digest] : []), ...pm.manifest.layers.map((l) => l.digest)];
  return all.every((d) => store.content.stat(d)?.type === 'file');
}

export async function planSaveContainerd(model: Model, img: ImageNode): Promise<SavePlan> {
  const f = new Findings();
  const store = img.store as ContainerdStore;
  const info = img.containerd!;
  const pm = info.listManifest ?? info.inspectManifest;
  const plan: SavePlan = { image: img, layers: [], exact: false, findings: f };
  if (!pm?.manifest?.config) {
    f.add('error', 'save.no-manifest', `image ${img.id} has no platform manifest with a readable config in the content store`);
    plan.containerd = { store, target: info.target, manifest: pm!, blobs: [], problems: ['no platform manifest with a readable config in the content store'] };
    return plan;
  }
  let target = info.target;
  let manifests = [pm];
  let note: string | undefined;
  if (info.index) {
    const all = info.manifests.length === info.index.manifests && info.manifests.every((m) => complete(store, m));
    if (all) manifests = info.manifests;
    else {
      target = { mediaType: pm.desc.mediaType, digest: pm.desc.digest, size: pm.desc.size };
      note = `index ${info.target.digest} lists ${info.index.manifests} manifests, not all present: saved the platform manifest ${pm.desc.digest} alone (loads as that ID)`;
    }
  }
  const blobs: ContainerdSaveBlob[] = [];
  const seen = new Set<string>();
  const add = (d: { digest: string; size: number; mediaType: string }, role: string) => {
    if (seen.has(d.digest)) return;
    seen.add(d.digest);
    blobs.push({ ...d, role, ok: false });
  };
  if (target.digest !== pm.desc.digest) add(target, 'index');
  for (const m of manifests) {
    add(m.desc, `manifest ${m.desc.digest}`);
    if (m.manifest?.config) add(m.manifest.config, 'config');
    m.manifest?.layers.forEach((l, i) => add(l, `layer ${i}`));
  }
  for (const b of blobs) {
    if (!store.ns?.blobs.has(b.digest)) {
      b.problem = 'no content record in the namespace';
      continue;
    }
    const v = await store.content.verifyBlob(b.digest);
    if (!v) b.problem = 'blob missing or unreadable';
    else if (!v.ok) b.problem = `bytes hash to ${v.actual}`;
    else if (v.size !== b.size) b.problem = `${v.size} bytes, its descriptor says ${b.size}`;
    else b.ok = true;
  }
  const byDigest = new Map(blobs.map((b) => [b.digest, b]));
  plan.layers = pm.manifest.layers.map((l, i): SaveLayerPlan => {
    const b = byDigest.get(l.digest)!;
    return { diffID: pm.diffIDs[i] ?? '', chainID: pm.chainIDs[i] ?? '', digest: l.digest, size: l.size, exact: b.ok, ...(b.problem ? { problem: b.problem } : {}) };
  });
  const problems = blobs.filter((b) => !b.ok).map((b) => `${b.role} ${b.digest}: ${b.problem}`);
  plan.exact = problems.length === 0;
  plan.containerd = { store, target, manifest: pm, blobs, problems, ...(note ? { note } : {}) };
  return plan;
}

/** Writes the blobs as they are in the content store, then index.json / manifest.json / repositories. */
export async function writeSaveContainerd(plan: ContainerdSavePlan, pack: tarStream.Pack, refs: string[]): Promise<void> {
  const { store } = plan;
  for (const b of plan.blobs) {
    const p = store.content.path(b.digest);
    if (!p || !b.ok) continue; // --allow-mismatch: what cannot be copied exactly is left out
    const hash = createHash(b.digest.slice(0, b.digest.indexOf(':')));
    const w = pack.entry({ name: `blobs/${b.digest.replace(':', '/')}`, size: b.size, mode: 0o644, mtime: new Date(0), type: 'file' });
    let n = 0;
    for await (const chunk of store.src.createReadStream(p)) {
      const c = chunk as Buffer;
      n += c.length;
      if (n > b.size) throw new Error(`blob ${b.digest} grew while it was being saved`);
      hash.update(c);
      if (!w.write(c)) await new Promise<void>((r) => w.once('drain', () => r()));
    }
    await new Promise<void>((res, rej) => w.end((e?: Error | null) => (e ? rej(e) : res())));
    if (`${b.digest.slice(0, b.digest.indexOf(':'))}:${hash.digest('hex')}` !== b.digest || n !== b.size) throw new Error(`blob ${b.digest} changed while it was being saved`);
  }
  const m = plan.manifest.manifest!;
  await writeIndexes(pack, plan.target, refs, `blobs/${m.config!.digest.replace(':', '/')}`, m.layers.map((l) => `blobs/${l.digest.replace(':', '/')}`));
}
