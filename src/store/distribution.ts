import type { Source } from '../source/types.js';
import { HEX64, isDigest } from './digest.js';
import type { Findings } from './findings.js';
import { isObject, parseJson, readdirOptional, readOptional, str } from './read.js';

export interface V2Metadata {
  Digest: string;
  SourceRepository: string;
  HMAC?: string;
}

/** `distribution/` (FORMATS.md §1.5): which registry blobs a local layer came from or went to. */
export interface Distribution {
  /** diffID → registry blobs (compressed digests) and their repositories. */
  byDiffID: Map<string, V2Metadata[]>;
  /** registry blob digest → diffID. */
  diffIDByDigest: Map<string, string>;
}

/** Directory of the `v2metadata-by-diffid` files of a store (one per diffID, named by its hex). */
export function v2metadataDir(imageRoot: string): string {
  return `${imageRoot}/distribution/v2metadata-by-diffid/sha256`;
}

/** One `v2metadata-by-diffid` file; undefined when absent or not a JSON array (reported). */
export function loadV2Metadata(src: Source, path: string, f: Findings): V2Metadata[] | undefined {
  const buf = readOptional(src, path, f, 'distribution.unreadable');
  if (!buf) return undefined;
  const doc = parseJson(buf, path, f, 'distribution.bad-json');
  if (!Array.isArray(doc)) {
    if (doc !== undefined) f.add('warn', 'distribution.bad-shape', 'not a JSON array', path);
    return undefined;
  }
  const list: V2Metadata[] = [];
  for (const m of doc) {
    const digest = isObject(m) ? str(m.Digest) : undefined;
    if (!isObject(m) || !digest || !isDigest(digest)) {
      f.add('warn', 'distribution.bad-shape', 'entry without a valid Digest', path);
      continue;
    }
    const e: V2Metadata = { Digest: digest, SourceRepository: str(m.SourceRepository) ?? '' };
    if (typeof m.HMAC === 'string') e.HMAC = m.HMAC;
    list.push(e);
  }
  return list;
}

export function loadDistribution(src: Source, imageRoot: string, f: Findings): Distribution {
  const base = `${imageRoot}/distribution`;
  const out: Distribution = { byDiffID: new Map(), diffIDByDigest: new Map() };
  const v2dir = v2metadataDir(imageRoot);
  for (const name of readdirOptional(src, v2dir, f, 'distribution.unreadable')) {
    if (!HEX64.test(name)) continue;
    const list = loadV2Metadata(src, `${v2dir}/${name}`, f);
    if (list) out.byDiffID.set(`sha256:${name}`, list);
  }
  const ddir = `${base}/diffid-by-digest/sha256`;
  for (const name of readdirOptional(src, ddir, f, 'distribution.unreadable')) {
    if (!HEX64.test(name)) continue;
    const path = `${ddir}/${name}`;
    const v = readOptional(src, path, f, 'distribution.unreadable')?.toString('utf8').trim();
    if (v === undefined) continue;
    if (isDigest(v)) out.diffIDByDigest.set(`sha256:${name}`, v);
    else f.add('warn', 'distribution.bad-diffid', `holds ${JSON.stringify(v.slice(0, 80))}`, path);
  }
  return out;
}
