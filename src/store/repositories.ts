import type { Source } from '../source/types.js';
import { isDigest } from './digest.js';
import { Findings } from './findings.js';
import { isObject, parseJson, preview, readOptional } from './read.js';

/** One entry of repositories.json: `Repositories[repo][ref] = imageID`. */
export interface RepoEntry {
  /** Outer key: the familiar repository name (`ubuntu`, `registry:5000/x`). */
  repo: string;
  /** Inner key: the familiar reference (`ubuntu:22.04`, `ubuntu@sha256:…`). */
  ref: string;
  /** Image ID digest string. */
  id: string;
}

/** Parses `image/<driver>/repositories.json` (FORMATS.md §1.1). */
export function parseRepositories(buf: Buffer, path: string, f: Findings): RepoEntry[] {
  const doc = parseJson(buf, path, f, 'repositories.bad-json');
  if (doc === undefined) return [];
  if (!isObject(doc)) {
    f.add('error', 'repositories.bad-shape', 'not a JSON object', path);
    return [];
  }
  const repos = doc.Repositories;
  if (repos === undefined || repos === null) return [];
  if (!isObject(repos)) {
    f.add('error', 'repositories.bad-shape', '"Repositories" is not an object', path);
    return [];
  }
  const out: RepoEntry[] = [];
  for (const [repo, refs] of Object.entries(repos)) {
    if (!isObject(refs)) {
      f.add('warn', 'repositories.bad-shape', `repository ${preview(repo)} is not an object`, path);
      continue;
    }
    for (const [ref, id] of Object.entries(refs)) {
      if (typeof id !== 'string' || !isDigest(id)) {
        f.add('warn', 'repositories.bad-id', `reference ${preview(ref)} points at ${preview(id)}, not an image ID`, path);
        continue;
      }
      out.push({ repo, ref, id });
    }
  }
  return out;
}

export function loadRepositories(src: Source, imageRoot: string, f: Findings): RepoEntry[] {
  const path = `${imageRoot}/repositories.json`;
  const buf = readOptional(src, path, f, 'repositories.unreadable');
  return buf ? parseRepositories(buf, path, f) : [];
}
