import { HEX64 } from '../store/digest.js';
import type { ContainerNode, ImageNode, Model } from './graph.js';
import { lookupKey, parseNormalizedNamed } from './reference.js';

/** Why a reference did not resolve: nothing matched, or a prefix matched several objects. */
export class ResolveError extends Error {
  constructor(
    message: string,
    readonly candidates: string[] = [],
  ) {
    super(message);
    this.name = 'ResolveError';
  }
}

function byPrefix<T>(ids: Iterable<string>, prefix: string, get: (id: string) => T, what: string): T | undefined {
  const hex = prefix.startsWith('sha256:') ? prefix.slice(7) : prefix;
  if (!/^[a-f0-9]+$/.test(hex)) return undefined;
  const hits: string[] = [];
  for (const id of ids) if ((id.startsWith('sha256:') ? id.slice(7) : id).startsWith(hex)) hits.push(id);
  if (hits.length > 1) throw new ResolveError(`${JSON.stringify(prefix)} is ambiguous: ${hits.length} ${what} match`, hits.sort());
  return hits.length === 1 ? get(hits[0]!) : undefined;
}

/**
 * A containerd image as reached through one of its records: Docker's history walks from the
 * record a reference names (by ID: the first record, in name order, with that target).
 */
function via(img: ImageNode, record?: string): ImageNode {
  if (img.store.kind !== 'containerd' || !img.containerd) return img;
  return { ...img, resolvedVia: record ?? img.containerd.records[0]?.name };
}

/**
 * Resolves an image reference the way `docker image inspect` does (daemon GetImage): a full ID,
 * then a name[:tag] or name@digest from repositories.json (or containerd's image records), then
 * a unique ID prefix.
 */
export function resolveImage(model: Model, ref: string): ImageNode {
  const images = [...model.images.values()].filter((i) => i.loadable);
  const ids = images.map((i) => i.id);
  const get = (id: string) => model.images.get(id)!;
  const hex = ref.startsWith('sha256:') ? ref.slice(7) : ref;
  if (HEX64.test(hex)) {
    const img = model.images.get(`sha256:${hex}`);
    if (img?.loadable) return via(img);
  }
  const named = parseNormalizedNamed(ref);
  if (named) {
    const key = lookupKey(named);
    const id = model.refIndex.get(key);
    const img = id ? model.images.get(id) : undefined;
    if (img?.loadable) return img.store.kind === 'containerd' ? via(img, img.store.refs.get(key)?.record.name) : img;
  }
  const hit = byPrefix(ids, ref, get, 'images');
  if (hit) return via(hit);
  const notRestorable = [...model.images.values()].find((i) => !i.loadable && (i.id === `sha256:${hex}` || i.id.slice(7).startsWith(hex)));
  const extra = notRestorable ? ` (image ${notRestorable.id} is on disk but Docker would not restore it: ${notRestorable.dropReason})` : '';
  throw new ResolveError(
    `no image ${JSON.stringify(ref)}: searched ${images.length} image IDs and ${model.refIndex.size} references` +
      (named ? ` (as ${lookupKey(named)})` : '') +
      extra,
  );
}

/** Resolves a container like daemon GetContainer: full ID, then name (with or without '/'), then ID prefix. */
export function resolveContainer(model: Model, ref: string): ContainerNode {
  if (ref === '') throw new ResolveError('empty container reference');
  const full = model.containers.get(ref);
  if (full) return full;
  const name = ref.startsWith('/') ? ref : `/${ref}`;
  for (const c of model.containers.values()) if (c.record.name === name) return c;
  const hit = byPrefix(model.containers.keys(), ref, (id) => model.containers.get(id)!, 'containers');
  if (hit) return hit;
  throw new ResolveError(`no container ${JSON.stringify(ref)}: searched ${model.containers.size} container IDs and names`);
}
