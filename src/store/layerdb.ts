import type { Source, Stat } from '../source/types.js';
import { HEX64, isDigest } from './digest.js';
import type { Findings } from './findings.js';
import { isObject, lstatOptional, parseJson, prefetch, readdirOptional, readOptional } from './read.js';

/** `layerdb/sha256/<chainID>/` (FORMATS.md §1.3). */
export interface LayerRecord {
  chainID: string;
  diffID?: string;
  /** Parsed `size`; undefined when Docker's strict ParseInt would fail. */
  size?: number;
  /** `size` verbatim when it is not what Docker writes (e.g. a trailing newline). */
  sizeRaw?: string;
  cacheID?: string;
  parent?: string;
  descriptor?: Record<string, unknown>;
  hasTarSplit: boolean;
  /** Why Docker would refuse to load this layer (and so every layer and image above it). */
  loadError?: string;
  dirStat?: Stat;
}

/** `layerdb/mounts/<containerID>/` (FORMATS.md §1.4). */
export interface MountRecord {
  containerID: string;
  mountID?: string;
  initID?: string;
  /** ChainID of the image's top layer. */
  parent?: string;
  dirStat?: Stat;
}

export interface LayerDb {
  layers: Map<string, LayerRecord>;
  mounts: Map<string, MountRecord>;
  /** `<chainID>-<rand>-removing` dirs: deletions that never finished. */
  removing: { name: string; stat?: Stat }[];
  /** `tmp/write-set-*`: metadata transactions that never committed. */
  writeSets: { name: string; stat?: Stat }[];
}

const ID_RE = /^[0-9a-f]{64}(-init)?$/;

function text(src: Source, path: string, f: Findings): string | undefined {
  return readOptional(src, path, f, 'layerdb.unreadable')?.toString('utf8');
}

export function loadLayer(src: Source, dir: string, chainHex: string, f: Findings): LayerRecord {
  const rec: LayerRecord = { chainID: `sha256:${chainHex}`, hasTarSplit: false };
  prefetch(src, dir);
  rec.dirStat = lstatOptional(src, dir, f, 'layerdb.unreadable');
  const fail = (why: string, path: string, sev: 'warn' | 'error' = 'error') => {
    rec.loadError ??= why;
    f.add(sev, 'layerdb.bad-layer', why, path);
  };
  const diff = text(src, `${dir}/diff`, f)?.trim();
  if (diff === undefined) fail('no diff file', `${dir}/diff`);
  else if (!isDigest(diff)) fail(`diff is ${JSON.stringify(diff.slice(0, 80))}, not a digest`, `${dir}/diff`);
  else rec.diffID = diff;

  const size = text(src, `${dir}/size`, f);
  if (size === undefined) fail('no size file', `${dir}/size`);
  else if (/^[+-]?\d{1,19}$/.test(size) && Number.isSafeInteger(Number(size))) rec.size = Number(size);
  else {
    rec.sizeRaw = size.slice(0, 80);
    // Docker parses `size` without trimming: anything else makes the layer fail to load.
    if (/^\s*\d+\s*$/.test(size)) rec.size = Number(size.trim());
    fail(`size is ${JSON.stringify(size.slice(0, 80))}; Docker's ParseInt refuses it`, `${dir}/size`);
  }

  const cache = text(src, `${dir}/cache-id`, f)?.trim();
  if (cache === undefined) fail('no cache-id file', `${dir}/cache-id`);
  else if (cache === '') fail('cache-id is empty', `${dir}/cache-id`);
  else {
    rec.cacheID = cache;
    // Random 64 hex since 1.10; migrated layers keep the old v1 ID, also 64 hex.
    if (!ID_RE.test(cache)) f.add('warn', 'layerdb.odd-cache-id', `cache-id ${JSON.stringify(cache.slice(0, 80))} is not 64 hex`, `${dir}/cache-id`);
  }

  const parent = text(src, `${dir}/parent`, f)?.trim();
  if (parent !== undefined) {
    if (isDigest(parent)) rec.parent = parent;
    else fail(`parent is ${JSON.stringify(parent.slice(0, 80))}, not a digest`, `${dir}/parent`);
  }

  const desc = readOptional(src, `${dir}/descriptor.json`, f, 'layerdb.unreadable');
  if (desc) {
    const d = parseJson(desc, `${dir}/descriptor.json`, f, 'layerdb.bad-descriptor');
    if (isObject(d)) rec.descriptor = d;
    else rec.loadError ??= 'descriptor.json is not valid JSON';
  }
  try {
    rec.hasTarSplit = src.lstat(`${dir}/tar-split.json.gz`)?.type === 'file';
  } catch (e) {
    f.caught(e, 'layerdb.unreadable', `${dir}/tar-split.json.gz`);
  }
  return rec;
}

function loadMount(src: Source, dir: string, containerID: string, f: Findings): MountRecord {
  prefetch(src, dir);
  const rec: MountRecord = { containerID, dirStat: lstatOptional(src, dir, f, 'layerdb.unreadable') };
  for (const [file, key] of [['mount-id', 'mountID'], ['init-id', 'initID']] as const) {
    const v = text(src, `${dir}/${file}`, f)?.trim();
    if (v === undefined) continue;
    if (ID_RE.test(v)) rec[key] = v;
    else f.add('error', 'layerdb.bad-mount', `${file} is ${JSON.stringify(v.slice(0, 80))}; Docker requires 64 hex`, `${dir}/${file}`);
  }
  if (!rec.mountID) f.add('error', 'layerdb.bad-mount', 'no usable mount-id', dir);
  const parent = text(src, `${dir}/parent`, f)?.trim();
  if (parent !== undefined) {
    if (isDigest(parent)) rec.parent = parent;
    else f.add('error', 'layerdb.bad-mount', `parent is ${JSON.stringify(parent.slice(0, 80))}, not a digest`, `${dir}/parent`);
  }
  return rec;
}

/** Reads every layer and mount record under `image/<driver>/layerdb`. */
export function loadLayerDb(src: Source, imageRoot: string, f: Findings): LayerDb {
  const base = `${imageRoot}/layerdb`;
  const db: LayerDb = { layers: new Map(), mounts: new Map(), removing: [], writeSets: [] };
  for (const name of readdirOptional(src, `${base}/sha256`, f, 'layerdb.unreadable')) {
    const path = `${base}/sha256/${name}`;
    if (HEX64.test(name)) {
      db.layers.set(`sha256:${name}`, loadLayer(src, path, name, f));
    } else if (/^[0-9a-f]{64}-.*-removing$/.test(name)) {
      db.removing.push({ name, stat: lstatOptional(src, path, f, 'layerdb.unreadable') });
      f.add('info', 'layerdb.removing', 'layer deletion that never finished', path);
    } else {
      f.add('warn', 'layerdb.stray', `unexpected entry ${JSON.stringify(name)}`, path);
    }
  }
  for (const name of readdirOptional(src, `${base}/mounts`, f, 'layerdb.unreadable')) {
    const path = `${base}/mounts/${name}`;
    if (!HEX64.test(name)) {
      f.add('warn', 'layerdb.stray', `unexpected mount entry ${JSON.stringify(name)}`, path);
      continue;
    }
    db.mounts.set(name, loadMount(src, path, name, f));
  }
  // One string per chainID: a parent pointer becomes the parent's own chainID (a store of thousands
  // of layers otherwise keeps a copy per child, and per container for a mount's parent).
  for (const rec of db.layers.values()) if (rec.parent !== undefined) rec.parent = db.layers.get(rec.parent)?.chainID ?? rec.parent;
  for (const rec of db.mounts.values()) if (rec.parent !== undefined) rec.parent = db.layers.get(rec.parent)?.chainID ?? rec.parent;
  for (const name of readdirOptional(src, `${base}/tmp`, f, 'layerdb.unreadable')) {
    const path = `${base}/tmp/${name}`;
    db.writeSets.push({ name, stat: lstatOptional(src, path, f, 'layerdb.unreadable') });
    f.add('info', 'layerdb.write-set', 'uncommitted layer metadata (interrupted pull or build)', path);
  }
  return db;
}
