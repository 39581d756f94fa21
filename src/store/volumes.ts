import { limits } from '../source/limits.js';
import { isEvidenceError, type Source, type Stat } from '../source/types.js';
import { describeKey, openBolt, type StaleSource } from './bbolt.js';
import type { Findings } from './findings.js';
import { isObject, lstatOptional, readdirOptional, readOptional, tryJson } from './read.js';

/**
 * Docker's volume store (FORMATS.md §1.8): `volumes/metadata.db` (bbolt, bucket `volumes`, key =
 * volume name, value = JSON `{"Name","Driver","Labels","Options"}`; moby `volume/service/db.go`)
 * and the local driver's directories `volumes/<name>/{_data/,opts.json}` (`volume/local/`).
 */

export const VOLUMES_DB = 'volumes/metadata.db';
export const VOLUME_BUCKET = 'volumes';
/** Label Docker 23+ puts on anonymous volumes (`volume/service/service.go AnonymousLabel`). */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';
/** names.RestrictedNamePattern: what the local driver accepts for a new volume. */
export const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** One `volumes` bucket entry as Docker's `json.Unmarshal` into `volumeMetadata` would read it. */
export interface VolumeMeta {
  /** Bucket key (Docker's getMeta looks a volume up by it). */
  key: string;
  /** `Name` field (restore uses this one, not the key). */
  name: string;
  driver: string;
  /** null when absent or JSON null, as Go leaves a nil map (the API then says `null`). */
  labels: Record<string, string> | null;
  options: Record<string, string> | null;
  /**
   * Why Docker would skip this record at start-up (`listMeta`: empty value, or JSON it cannot
   * decode into the struct). Fields above are then best effort.
   */
  unusable?: string;
}

/** `opts.json` of the local driver (`local_unix.go optsConfig`). */
export interface VolumeOpts {
  MountType: string;
  MountOpts: string;
  MountDevice: string;
  QuotaSize?: number;
  raw: unknown;
}

export interface VolumeDir {
  name: string;
  /** `volumes/<name>` */
  path: string;
  stat?: Stat;
  /** `volumes/<name>/_data` (undefined when absent). */
  data?: Stat;
  opts?: VolumeOpts;
  /** opts.json exists but does not decode into optsConfig: the local driver then fails to load. */
  badOpts?: string;
  /** Pre-1.7 `volumes/<id>/config.json` (data then lived in `vfs/dir/<id>`). */
  legacyConfig: boolean;
}

export interface DeletedVolume {
  meta: VolumeMeta;
  page: number;
  source: StaleSource;
  /** 'deleted': no live record has this key; 'superseded': an older value of a live key. */
  state: 'deleted' | 'superseded';
}

export interface VolumeStore {
  /** metadata.db exists and opened. */
  db: boolean;
  metas: Map<string, VolumeMeta>;
  dirs: Map<string, VolumeDir>;
  /** Only filled when asked for (loadVolumeStore(..., { deleted: true })). */
  deleted: DeletedVolume[];
}

function fold(doc: Record<string, unknown>, field: string): unknown {
  // encoding/json matches struct fields exactly first, then case-insensitively.
  if (Object.prototype.hasOwnProperty.call(doc, field)) return doc[field];
  const lower = field.toLowerCase();
  let hit: unknown;
  for (const k of Object.keys(doc)) if (k.toLowerCase() === lower) hit = doc[k];
  return hit;
}

function goString(v: unknown, field: string, problems: string[]): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  problems.push(`${field} is ${jsonType(v)}, not a string`);
  return '';
}

function goStringMap(v: unknown, field: string, problems: string[]): Record<string, string> | null {
  if (v === undefined || v === null) return null;
  if (!isObject(v)) {
    problems.push(`${field} is ${jsonType(v)}, not an object`);
    return null;
  }
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x === 'string') setOwn(out, k, x);
    else if (x === null) setOwn(out, k, '');
    else problems.push(`${field}[${JSON.stringify(k.slice(0, 80))}] is ${jsonType(x)}, not a string`);
  }
  return out;
}

/**
 * Stores an evidence-named key as an own property: a plain `o[k] = v` with k = "__proto__" would
 * drop the value (or, for an object, swap the prototype) instead of keeping it.
 */
export function setOwn<T>(o: Record<string, T>, k: string, v: T): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

export function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** Key bytes as text; non-UTF-8 keys are shown described (hex) so they cannot pass for another name. */
export function keyText(k: Buffer): string {
  const s = k.toString('utf8');
  return Buffer.from(s, 'utf8').equals(k) ? s : describeKey(k);
}

/** Decodes one bucket entry. Never throws; `unusable` says what Docker would make of it. */
export function parseVolumeRecord(key: Buffer, value: Buffer): VolumeMeta {
  const k = keyText(key);
  const meta: VolumeMeta = { key: k, name: '', driver: '', labels: null, options: null };
  if (value.length === 0) return { ...meta, unusable: 'empty value' };
  const parsed = tryJson(value.toString('utf8'));
  if ('error' in parsed) return { ...meta, unusable: `invalid JSON: ${parsed.error}` };
  const doc = parsed.value;
  // Unmarshalling JSON null into a struct is a no-op: a record of zero values.
  if (doc === null) return meta;
  if (!isObject(doc)) return { ...meta, unusable: `value is ${jsonType(doc)}, not a JSON object` };
  const problems: string[] = [];
  meta.name = goString(fold(doc, 'Name'), 'Name', problems);
  meta.driver = goString(fold(doc, 'Driver'), 'Driver', problems);
  meta.labels = goStringMap(fold(doc, 'Labels'), 'Labels', problems);
  meta.options = goStringMap(fold(doc, 'Options'), 'Options', problems);
  if (problems.length > 0) meta.unusable = problems.join('; ');
  return meta;
}

/**
 * Reads the `volumes` bucket of a metadata.db held in `buf`. bbolt findings and record problems go
 * to `f` with `path`. With `deleted`, records left in free pages are recovered too.
 */
export function parseVolumeDb(buf: Buffer, path: string, f: Findings, opts: { deleted?: boolean } = {}): { ok: boolean; metas: Map<string, VolumeMeta>; deleted: DeletedVolume[] } {
  const metas = new Map<string, VolumeMeta>();
  const deleted: DeletedVolume[] = [];
  const { db, findings } = openBolt(buf, { path });
  // The bbolt findings list keeps growing while the tree is read: copy it once, at the end.
  const flush = () => {
    f.list.push(...findings);
  };
  if (!db) {
    flush();
    return { ok: false, metas, deleted };
  }
  const live = new Map<string, Buffer>();
  const bucket = db.bucketPath(VOLUME_BUCKET);
  if (!bucket) {
    // Created with the first volume; a daemon that never made one has no bucket.
    f.add('info', 'volume.no-bucket', `no "${VOLUME_BUCKET}" bucket: no volume metadata was ever written`, path);
  } else {
    for (const e of bucket.entries()) {
      if (!e.value) {
        f.add('warn', 'volume.nested-bucket', `unexpected nested bucket ${describeKey(e.key)} in "${VOLUME_BUCKET}"; skipped`, path);
        continue;
      }
      const meta = parseVolumeRecord(e.key, e.value);
      live.set(e.key.toString('latin1'), e.value);
      if (meta.unusable) f.add(meta.unusable === 'empty value' ? 'warn' : 'error', 'volume.bad-metadata', `volume ${JSON.stringify(meta.key)}: ${meta.unusable}; Docker skips this record at start-up`, path);
      else if (meta.name !== meta.key) {
        f.add('warn', 'volume.name-mismatch', `record under key ${JSON.stringify(meta.key)} has Name ${JSON.stringify(meta.name)}; Docker restores it under the Name`, path);
      }
      if (metas.has(meta.key)) f.add('warn', 'volume.duplicate-key', `key ${JSON.stringify(meta.key)} appears twice`, path);
      metas.set(meta.key, meta);
    }
  }
  if (opts.deleted) {
    const seen = new Set<string>();
    for (const r of db.deleted()) {
      if (r.isBucket) continue;
      // A paged `volumes` bucket leaves leaves of its own (within = []); an inline one sits in a
      // stale root page (within = ['volumes']).
      const w = r.within;
      if (w.length > 0 && w[w.length - 1]!.toString('latin1') !== VOLUME_BUCKET) continue;
      const k = r.key.toString('latin1');
      const dedup = `${k}\0${r.value.toString('latin1')}`;
      if (seen.has(dedup)) continue;
      seen.add(dedup);
      const cur = live.get(k);
      if (cur && cur.equals(r.value)) continue;
      const meta = parseVolumeRecord(r.key, r.value);
      // Stale pages hold garbage too: keep only what decodes as volume metadata.
      if (meta.unusable || meta.name === '') continue;
      deleted.push({ meta, page: r.page, source: r.source, state: cur ? 'superseded' : 'deleted' });
    }
  }
  flush();
  return { ok: true, metas, deleted };
}

export function parseVolumeOpts(buf: Buffer): { opts?: VolumeOpts; problem?: string } {
  const parsed = tryJson(buf.toString('utf8'));
  if ('error' in parsed) return { problem: `invalid JSON: ${parsed.error}` };
  const doc = parsed.value;
  if (doc === null) return { opts: { MountType: '', MountOpts: '', MountDevice: '', raw: doc } };
  if (!isObject(doc)) return { problem: `opts.json is ${jsonType(doc)}, not an object` };
  const problems: string[] = [];
  const quota = fold(doc, 'Quota');
  let size: number | undefined;
  if (isObject(quota)) {
    const s = fold(quota, 'Size');
    if (typeof s === 'number' && Number.isFinite(s)) size = s;
    else if (s !== undefined && s !== null) problems.push(`Quota.Size is ${jsonType(s)}, not a number`);
  } else if (quota !== undefined && quota !== null) problems.push(`Quota is ${jsonType(quota)}, not an object`);
  const opts: VolumeOpts = {
    MountType: goString(fold(doc, 'MountType'), 'MountType', problems),
    MountOpts: goString(fold(doc, 'MountOpts'), 'MountOpts', problems),
    MountDevice: goString(fold(doc, 'MountDevice'), 'MountDevice', problems),
    raw: doc,
  };
  if (size !== undefined) opts.QuotaSize = size;
  return problems.length > 0 ? { opts, problem: problems.join('; ') } : { opts };
}

/** A name usable as one path component under `volumes/` (evidence keys may hold anything). */
export function safeComponent(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0') && name.length <= 255;
}

function loadDir(src: Source, name: string, f: Findings): VolumeDir {
  const path = `volumes/${name}`;
  const d: VolumeDir = { name, path, stat: lstatOptional(src, path, f, 'volume.unreadable'), legacyConfig: false };
  const data = lstatOptional(src, `${path}/_data`, f, 'volume.unreadable');
  if (data) d.data = data;
  const ob = readOptional(src, `${path}/opts.json`, f, 'volume.unreadable', 1024 * 1024);
  if (ob) {
    const { opts, problem } = parseVolumeOpts(ob);
    if (opts) d.opts = opts;
    if (problem) {
      d.badOpts = problem;
      f.add('warn', 'volume.bad-opts', `${problem}; Docker's local volume driver fails to load over this (volume/local New), so the daemon would not start`, `${path}/opts.json`);
    }
  }
  if (src.lstat(`${path}/config.json`)) d.legacyConfig = true;
  return d;
}

/** Reads metadata.db and the local driver's directories. Absence of either is not an error. */
export function loadVolumeStore(src: Source, f: Findings, opts: { deleted?: boolean } = {}): VolumeStore {
  const store: VolumeStore = { db: false, metas: new Map(), dirs: new Map(), deleted: [] };
  const buf = readOptional(src, VOLUMES_DB, f, 'volume.unreadable', limits.boltBytes);
  if (buf) {
    const r = parseVolumeDb(buf, VOLUMES_DB, f, opts);
    store.db = r.ok;
    store.metas = r.metas;
    store.deleted = r.deleted;
  }
  for (const name of readdirOptional(src, 'volumes', f, 'volume.unreadable')) {
    const st = lstatOptional(src, `volumes/${name}`, f, 'volume.unreadable');
    if (!st) continue;
    if (st.type !== 'dir') {
      // Root.New lists directories only (DirEntry.IsDir: a symlink is not one).
      if (name !== 'metadata.db' && name !== 'backingFsBlockDev') {
        f.add('info', 'volume.stray', `unexpected ${st.type} ${JSON.stringify(name)} in volumes/`, `volumes/${name}`);
      }
      continue;
    }
    store.dirs.set(name, loadDir(src, name, f));
  }
  return store;
}

export interface TreeUsage {
  /** Like moby pkg/directory.Size: non-directory sizes, each inode once. */
  bytes: number;
  files: number;
  dirs: number;
  /** Newest mtime of anything in the tree, the root included. */
  newestMtimeNs?: bigint;
  newestPath?: string;
  /** Stopped at a bound; counts are lower limits. */
  truncated: boolean;
}

export const USAGE_MAX_DEPTH = 256;

/**
 * Walks `path` (not following symlinks) through the source, bounded in entries and depth. A
 * missing root yields undefined; unreadable subdirectories are recorded and skipped.
 */
export function treeUsage(src: Source, path: string, f: Findings, bounds: { maxEntries?: number; maxDepth?: number } = {}): TreeUsage | undefined {
  const maxEntries = bounds.maxEntries ?? limits.volumeUsageEntries;
  const maxDepth = bounds.maxDepth ?? USAGE_MAX_DEPTH;
  const root = lstatOptional(src, path, f, 'volume.unreadable');
  if (!root) return undefined;
  const u: TreeUsage = { bytes: 0, files: 0, dirs: 0, truncated: false };
  const inodes = new Set<string>();
  let entries = 0;
  const note = (p: string, st: Stat) => {
    if (u.newestMtimeNs === undefined || st.mtimeNs > u.newestMtimeNs) {
      u.newestMtimeNs = st.mtimeNs;
      u.newestPath = p;
    }
  };
  note(path, root);
  if (root.type !== 'dir') {
    u.files = 1;
    u.bytes = root.size;
    return u;
  }
  u.dirs = 1;
  const stack: { p: string; depth: number }[] = [{ p: path, depth: 0 }];
  while (stack.length > 0) {
    const { p, depth } = stack.pop()!;
    let names: string[];
    try {
      names = src.readdir(p) ?? [];
    } catch (e) {
      if (!isEvidenceError(e)) throw e;
      f.caught(e, 'volume.unreadable', p);
      continue;
    }
    for (const n of names) {
      if (++entries > maxEntries) {
        u.truncated = true;
        return u;
      }
      const cp = `${p}/${n}`;
      const st = lstatOptional(src, cp, f, 'volume.unreadable');
      if (!st) continue;
      note(cp, st);
      if (st.type === 'dir') {
        u.dirs++;
        if (depth + 1 >= maxDepth) u.truncated = true;
        else stack.push({ p: cp, depth: depth + 1 });
        continue;
      }
      u.files++;
      if (st.size > 0 && !inodes.has(st.inode)) {
        inodes.add(st.inode);
        u.bytes += st.size;
      }
    }
  }
  return u;
}
