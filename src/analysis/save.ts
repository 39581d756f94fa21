import { createHash } from 'node:crypto';
import type { Writable } from 'node:stream';
import tarStream from 'tar-stream';
import type { ImageNode, Model } from '../model/graph.js';
import { Findings } from '../store/findings.js';
import { openTarSplit } from '../store/tarsplit.js';
import { fullString, parseNormalizedNamed } from '../model/reference.js';
import { hashLayer, layerFilesFromSource, reassemble } from './reassemble.js';
import { planSaveContainerd, writeSaveContainerd, type ContainerdSavePlan } from './save-containerd.js';

/**
 * `docker save` from evidence: the layout Docker 25+ writes (OCI image layout with
 * blobs/sha256/, index.json, oci-layout, plus the legacy manifest.json and repositories that
 * older `docker load` reads), each layer reassembled byte-exact from tar-split so its sha256 is
 * the diffID and a real `docker load` restores the image with the same ID.
 */
export interface SaveLayerPlan {
  diffID: string;
  chainID: string;
  /** sha256 of the reassembled stream. */
  digest: string;
  size: number;
  exact: boolean;
  problem?: string;
  diffDir?: string;
  tarSplit?: string;
}

export interface SavePlan {
  image: ImageNode;
  layers: SaveLayerPlan[];
  exact: boolean;
  findings: Findings;
  /** containerd store: the content-store blobs written as they are (analysis/save-containerd.ts). */
  containerd?: ContainerdSavePlan;
}

const MT_LAYER = 'application/vnd.oci.image.layer.v1.tar';
const MT_CONFIG = 'application/vnd.oci.image.config.v1+json';
const MT_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const MT_INDEX = 'application/vnd.oci.image.index.v1+json';

function layerSource(model: Model, img: ImageNode, i: number): { diffDir?: string; tarSplit?: string; problem?: string } {
  const l = img.layers[i]!;
  const rec = l.layer?.record;
  const store = model.stores.find((s) => 'layerdb' in s);
  if (!rec || !store || !('layerdb' in store)) return { problem: 'layer is not in layerdb' };
  if (!rec.hasTarSplit) return { problem: 'no tar-split.json.gz: the layer tar cannot be rebuilt byte-exact' };
  if (!rec.cacheID || !l.layer?.dir) return { problem: 'driver dir missing' };
  return { diffDir: `${store.dirs.home}/${rec.cacheID}/diff`, tarSplit: `${store.imageRoot}/layerdb/sha256/${l.chainID.slice(7)}/tar-split.json.gz` };
}

/** First pass: reassemble and hash every distinct layer, so nothing is written unless all is exact. */
export async function planSave(model: Model, img: ImageNode): Promise<SavePlan> {
  if (img.store.kind === 'containerd') return planSaveContainerd(model, img);
  const f = new Findings();
  const layers: SaveLayerPlan[] = [];
  const seen = new Map<string, SaveLayerPlan>();
  for (let i = 0; i < img.layers.length; i++) {
    const l = img.layers[i]!;
    const again = seen.get(l.diffID);
    if (again) {
      layers.push(again);
      continue;
    }
    const src = layerSource(model, img, i);
    const plan: SaveLayerPlan = { diffID: l.diffID, chainID: l.chainID, digest: '', size: 0, exact: false, ...src };
    if (src.diffDir && src.tarSplit) {
      const files = model.src.sub(src.diffDir);
      const h = await hashLayer(openTarSplit(model.src, src.tarSplit, f), layerFilesFromSource(files), { findings: f, whiteouts: 'overlay', path: src.diffDir, expectedDiffID: l.diffID });
      plan.digest = h.diffID;
      plan.size = h.bytes;
      plan.exact = h.matches === true;
      if (!plan.exact) plan.problem = `reassembles to ${h.diffID}${h.files.length ? ` (${h.files.length} files differ, e.g. ${h.files[0]!.path} ${h.files[0]!.status})` : ''}`;
    }
    seen.set(l.diffID, plan);
    layers.push(plan);
  }
  return { image: img, layers, exact: layers.every((l) => l.exact), findings: f };
}

export function entry(pack: tarStream.Pack, name: string, body: Buffer | string): Promise<void> {
  const header = { name, size: Buffer.byteLength(body), mode: 0o644, mtime: new Date(0), type: 'file' as const };
  return new Promise((res, rej) => pack.entry(header, body, (e) => (e ? rej(e) : res())));
}

/** Second pass: writes the archive, streaming each layer again; constant memory. */
export async function writeSave(model: Model, plan: SavePlan, out: Writable, refs: string[]): Promise<void> {
  const img = plan.image;
  const pack = tarStream.pack();
  const done = new Promise<void>((res, rej) => {
    pack.on('error', rej);
    out.on('error', rej);
    out.on('finish', () => res());
  });
  pack.pipe(out);
  await entry(pack, 'oci-layout', '{"imageLayoutVersion": "1.0.0"}');
  if (plan.containerd) {
    await writeSaveContainerd(plan.containerd, pack, refs);
    pack.finalize();
    await done;
    return;
  }
  const configBytes = model.src.readFile(`${model.stores[0]!.imageRoot}/imagedb/content/sha256/${img.id.slice(7)}`, 64 << 20);
  await entry(pack, `blobs/sha256/${img.id.slice(7)}`, configBytes);
  const written = new Set<string>();
  for (const l of plan.layers) {
    if (written.has(l.digest) || !l.diffDir || !l.tarSplit) continue;
    written.add(l.digest);
    const hash = createHash('sha256');
    const w = pack.entry({ name: `blobs/sha256/${l.digest.slice(7)}`, size: l.size, mode: 0o644, mtime: new Date(0), type: 'file' });
    const f = new Findings();
    for await (const chunk of reassemble(openTarSplit(model.src, l.tarSplit, f), layerFilesFromSource(model.src.sub(l.diffDir)), { findings: f, whiteouts: 'overlay' })) {
      hash.update(chunk);
      if (!w.write(chunk)) await new Promise<void>((r) => w.once('drain', () => r()));
    }
    await new Promise<void>((res, rej) => w.end((e?: Error | null) => (e ? rej(e) : res())));
    // The evidence could change between the passes (a live host): say so rather than write a lie.
    if ('sha256:' + hash.digest('hex') !== l.digest) throw new Error(`layer ${l.diffID} changed while it was being saved`);
  }
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: MT_MANIFEST,
    config: { mediaType: MT_CONFIG, digest: img.id, size: configBytes.length },
    layers: plan.layers.map((l) => ({ mediaType: MT_LAYER, digest: l.digest, size: l.size })),
  });
  const mdigest = createHash('sha256').update(manifest).digest('hex');
  await entry(pack, `blobs/sha256/${mdigest}`, manifest);
  await writeIndexes(pack, { mediaType: MT_MANIFEST, digest: `sha256:${mdigest}`, size: Buffer.byteLength(manifest) }, refs, `blobs/sha256/${img.id.slice(7)}`, plan.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`));
  pack.finalize();
  await done;
}

/**
 * index.json (the target, once per tag with containerd's and OCI's name annotations),
 * manifest.json (what `docker load` before 25 reads) and, for tagged images, repositories —
 * as Docker 25+ `docker save` writes them (moby daemon/images/image_exporter.go, tarexport/save.go).
 */
export async function writeIndexes(pack: tarStream.Pack, desc: { mediaType: string; digest: string; size: number }, refs: string[], configPath: string, layerPaths: string[]): Promise<void> {
  const tagged = refs.map((r) => parseNormalizedNamed(r)).filter((r) => r?.tag !== undefined);
  const manifests = tagged.length
    ? tagged.map((r) => ({ ...desc, annotations: { 'io.containerd.image.name': fullString(r!), 'org.opencontainers.image.ref.name': r!.tag! } }))
    : [desc];
  await entry(pack, 'index.json', JSON.stringify({ schemaVersion: 2, mediaType: MT_INDEX, manifests }) + '\n');
  await entry(pack, 'manifest.json', JSON.stringify([{ Config: configPath, RepoTags: refs.filter((r) => parseNormalizedNamed(r)?.tag !== undefined), Layers: layerPaths }]) + '\n');
  if (tagged.length) {
    const repos: Record<string, Record<string, string>> = {};
    const top = layerPaths[layerPaths.length - 1]?.replace(/^blobs\/sha256\//, '') ?? '';
    for (const r of refs) {
      const p = parseNormalizedNamed(r);
      if (!p?.tag) continue;
      const name = r.slice(0, r.lastIndexOf(':'));
      (repos[name] ??= {})[p.tag] = top;
    }
    await entry(pack, 'repositories', JSON.stringify(repos) + '\n');
  }
}
