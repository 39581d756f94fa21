import type { Source, Stat } from '../source/types.js';
import { HEX64 } from './digest.js';
import type { Findings } from './findings.js';
import { isObject, lstatOptional, parseJson, preview, readdirOptional, readOptional, str } from './read.js';

/**
 * The pre-1.10 layout (FORMATS.md §7): `graph/<v1ID>/` holds one image *and* its layer (v1 has no
 * separate layer store), `repositories-<driver>` the tags, driver dirs are named by the v1 ID.
 */
export interface LegacyImage {
  /** 64-hex v1 ID (the directory name). */
  id: string;
  /** The v1 image JSON, as parsed. */
  json?: Record<string, unknown>;
  parent?: string;
  created?: string;
  /** `layersize`: this layer's bytes. */
  size?: number;
  /** `checksum`: `sha256:…` registry blob digest or a `tarsum.v1+sha256:…` (older). */
  checksum?: string;
  hasTarData: boolean;
  /** 1.10 migration markers left in the dir (`.migration-diffid` …), when present. */
  migration: { diffID?: string; size?: number };
  stat?: Stat;
}

export interface LegacyRef {
  /** Repository name as stored (`busybox`, `registry:5000/x`). */
  repo: string;
  /** Inner key: a bare tag (`latest`) or a digest (`sha256:…`). */
  tag: string;
  id: string;
  /** The tag in 1.10 form (`busybox:latest`, `busybox@sha256:…`). */
  ref: string;
}

/** `repositories-<driver>`: `{"Repositories":{"<repo>":{"<tag>":"<v1ID>"}}}` with bare inner keys. */
export function parseLegacyRepositories(buf: Buffer, path: string, f: Findings): LegacyRef[] {
  const doc = parseJson(buf, path, f, 'legacy.bad-repositories');
  const repos = isObject(doc) && isObject(doc.Repositories) ? doc.Repositories : undefined;
  if (!repos) {
    if (doc !== undefined) f.add('error', 'legacy.bad-repositories', 'no "Repositories" object', path);
    return [];
  }
  const out: LegacyRef[] = [];
  for (const [repo, tags] of Object.entries(repos)) {
    if (!isObject(tags)) continue;
    for (const [tag, id] of Object.entries(tags)) {
      if (typeof id !== 'string' || !HEX64.test(id)) {
        f.add('warn', 'legacy.bad-ref', `${JSON.stringify(repo)} ${JSON.stringify(tag)} → ${preview(id, 80)}`, path);
        continue;
      }
      out.push({ repo, tag, id, ref: tag.includes(':') ? `${repo}@${tag}` : `${repo}:${tag}` });
    }
  }
  return out;
}

function text(src: Source, path: string, f: Findings, limit = 4096): string | undefined {
  return readOptional(src, path, f, 'legacy.unreadable', limit)?.toString('utf8').trim();
}

export function loadLegacyImage(src: Source, id: string, f: Findings): LegacyImage {
  const dir = `graph/${id}`;
  const img: LegacyImage = { id, hasTarData: false, migration: {}, stat: lstatOptional(src, dir, f, 'legacy.unreadable') };
  const buf = readOptional(src, `${dir}/json`, f, 'legacy.unreadable');
  if (buf) {
    const doc = parseJson(buf, `${dir}/json`, f, 'legacy.bad-json');
    if (isObject(doc)) {
      img.json = doc;
      img.created = str(doc.created);
      const p = str(doc.parent);
      if (p && HEX64.test(p)) img.parent = p;
      else if (p) f.add('warn', 'legacy.bad-parent', `parent ${JSON.stringify(p.slice(0, 80))}`, `${dir}/json`);
      if (str(doc.id) !== undefined && doc.id !== id) f.add('warn', 'legacy.id-mismatch', `json says id ${JSON.stringify(String(doc.id).slice(0, 80))}`, `${dir}/json`);
    } else if (doc !== undefined) f.add('error', 'legacy.bad-json', 'image json is not an object', `${dir}/json`);
  } else f.add('error', 'legacy.no-json', 'graph entry without json', dir);
  const size = text(src, `${dir}/layersize`, f);
  if (size !== undefined && /^\d{1,18}$/.test(size)) img.size = Number(size);
  else if (size !== undefined) f.add('warn', 'legacy.bad-size', `layersize ${JSON.stringify(size.slice(0, 40))}`, `${dir}/layersize`);
  img.checksum = text(src, `${dir}/checksum`, f);
  try {
    img.hasTarData = src.lstat(`${dir}/tar-data.json.gz`)?.type === 'file';
  } catch (e) {
    f.caught(e, 'legacy.unreadable', `${dir}/tar-data.json.gz`);
  }
  const mdiff = text(src, `${dir}/.migration-diffid`, f);
  if (mdiff) img.migration.diffID = mdiff;
  const msize = text(src, `${dir}/.migration-size`, f);
  if (msize && /^\d{1,18}$/.test(msize)) img.migration.size = Number(msize);
  return img;
}

/** Every `graph/<64hex>/`; `_tmp` and other names are skipped (reported when odd). */
export function loadLegacyGraph(src: Source, f: Findings): Map<string, LegacyImage> {
  const out = new Map<string, LegacyImage>();
  for (const name of readdirOptional(src, 'graph', f, 'legacy.unreadable')) {
    if (name === '_tmp') continue;
    if (!HEX64.test(name)) {
      f.add('info', 'legacy.stray', `unexpected entry ${JSON.stringify(name)}`, `graph/${name}`);
      continue;
    }
    out.set(name, loadLegacyImage(src, name, f));
  }
  return out;
}

/** Every `repositories-<driver>` file at the top of the data root. */
export function loadLegacyRepositories(src: Source, f: Findings): { driver: string; refs: LegacyRef[] }[] {
  const out: { driver: string; refs: LegacyRef[] }[] = [];
  for (const name of readdirOptional(src, '', f, 'legacy.unreadable')) {
    if (!name.startsWith('repositories-')) continue;
    const buf = readOptional(src, name, f, 'legacy.unreadable');
    if (buf) out.push({ driver: name.slice('repositories-'.length), refs: parseLegacyRepositories(buf, name, f) });
  }
  return out;
}

/** `.migration-v1-images.json`: v1 ID → 1.10 image ID, written by the 1.10 migration. */
export function loadMigrationMap(src: Source, f: Findings): Map<string, string> {
  const out = new Map<string, string>();
  const buf = readOptional(src, '.migration-v1-images.json', f, 'legacy.unreadable');
  if (!buf) return out;
  const doc = parseJson(buf, '.migration-v1-images.json', f, 'legacy.bad-migration');
  if (!isObject(doc)) return out;
  for (const [k, v] of Object.entries(doc)) if (HEX64.test(k) && typeof v === 'string') out.set(k, v);
  return out;
}
