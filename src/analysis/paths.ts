import type { Evidence } from '../source/open.js';
import type { Model } from '../model/graph.js';

/**
 * Where printed paths point. A directory is shown where it lies on the analyst's machine; an
 * archive under the data root its host used (inferred from the evidence), unless --as-root says.
 */
export interface PathMap {
  root: string;
  abs(rel: string): string;
  /** The data root the host used, when the evidence says; paths under it are re-rooted. */
  original?: string;
  /** A path the engine stored (LogPath, a volume Source) shown under `root` when it lies in the data root. */
  rebase(p: string): string;
  /** How `root` was chosen, for `info`. */
  how: 'directory' | 'inferred' | 'default' | 'as-root';
}

export function makePathMap(root: string, how: PathMap['how'], original?: string): PathMap {
  const r = root.length > 1 ? root.replace(/\/+$/, '') : root;
  const abs = (rel: string) => (rel ? `${r === '/' ? '' : r}/${rel}` : r);
  const rebase = (p: string) => (original && p.startsWith(original + '/') ? abs(p.slice(original.length + 1)) : p);
  return { root: r, how, abs, original, rebase };
}

const PATH_FIELDS = ['LogPath', 'ResolvConfPath', 'HostnamePath', 'HostsPath'];
const CONTAINER_FILE = /^(.*)\/containers\/([^/]+)\/[^/]+$/;

/**
 * The data root the evidence was written under, voted from container paths that embed it
 * (`<root>/containers/<id>/…`) and volume sources (`<root>/volumes/<name>/_data`).
 */
export function inferOriginalRoot(model: Model): string | undefined {
  const votes = new Map<string, number>();
  const vote = (p: unknown, re: RegExp, id?: string) => {
    if (typeof p !== 'string') return;
    const m = re.exec(p);
    if (m && (id === undefined || m[2] === id) && m[1]!.startsWith('/')) votes.set(m[1]!, (votes.get(m[1]!) ?? 0) + 1);
  };
  for (const c of model.containers.values()) {
    // One regex for all containers (a regex per container was compiled thousands of times on a large
    // store): the component before the last is the only one that can follow /containers/, so comparing
    // it with the container's ID (64 hex, no regex syntax) accepts exactly what `^(.*)/containers/<id>/[^/]+$` did.
    for (const k of PATH_FIELDS) vote(c.record.raw[k], CONTAINER_FILE, c.id);
    for (const m of c.record.mountPoints) if (m.Type === 'volume') vote(m.Source, /^(.*)\/volumes\/[^/]+\/_data$/);
  }
  let best: string | undefined;
  let n = 0;
  for (const [k, v] of votes) if (v > n || (v === n && best !== undefined && k < best)) [best, n] = [k, v];
  return best;
}

export function choosePathMap(ev: Evidence, model: Model, asRoot?: string): PathMap {
  const inferred = inferOriginalRoot(model);
  if (asRoot) return makePathMap(asRoot, 'as-root', inferred);
  if (ev.root.kind === 'dir') return makePathMap(ev.root.location, 'directory', inferred);
  return inferred ? makePathMap(inferred, 'inferred', inferred) : makePathMap('/var/lib/docker', 'default');
}
