import type { Model } from '../model/graph.js';
import { ResolveError } from '../model/resolve.js';
import type { Stat } from '../source/types.js';
import { HEX64 } from '../store/digest.js';
import {
  ANONYMOUS_LABEL,
  loadVolumeStore,
  safeComponent,
  treeUsage,
  VOLUME_NAME,
  VOLUMES_DB,
  type VolumeDir,
  type VolumeMeta,
  type VolumeOpts,
} from '../store/volumes.js';
import type { PathMap } from './paths.js';

/**
 * `docker volume ls` / `docker volume inspect` computed offline (moby `volume/service`,
 * `volume/local`), joined with what the engine never shows: directories without metadata and
 * metadata without directories, data size and newest change, and the containers that mount each
 * volume.
 */

export interface VolumeUse {
  /** Container ID. */
  Container: string;
  /** Container name, with its leading '/'. */
  Name: string;
  Destination: string;
  RW: boolean;
  Running: boolean;
}

/**
 * ok: metadata and directory agree. no-metadata: a local directory with no record (Docker still
 * lists it, without labels). no-directory: a local-driver record whose directory is gone (Docker
 * drops the record at its next start). bad-metadata: a record Docker cannot decode. referenced-only:
 * named by a container's MountPoints but absent from both.
 */
export type VolumeStatus = 'ok' | 'no-metadata' | 'no-directory' | 'bad-metadata' | 'referenced-only';

export interface VolumeExtras {
  Status: VolumeStatus;
  /** Would `docker volume ls` list it: null when a plugin driver decides. */
  DockerLists: boolean | null;
  InMetadata: boolean;
  /** The bucket key when it differs from the Name. */
  MetadataKey?: string;
  /** Why Docker would skip the metadata record. */
  MetadataProblem?: string;
  /** `volumes/<name>` as shown (absent when there is no such directory). */
  Directory?: string;
  DataDir: boolean;
  /** A 64-hex name or Docker 23+'s anonymous label. */
  Anonymous: boolean;
  /** Which timestamp CreatedAt was computed from. */
  CreatedAtFrom?: string;
  /** Change times of `volumes/<name>` and `_data`, full precision (UTC). */
  DirChanged?: string;
  DataChanged?: string;
  DataModified?: string;
  /** Like `docker system df -v`: bytes of non-directories in `_data`, each inode once. */
  Size?: number;
  Files?: number;
  Dirs?: number;
  SizeTruncated?: boolean;
  /** Newest mtime anywhere in `_data` and where. */
  NewestMtime?: string;
  NewestPath?: string;
  /** Local driver's opts.json (type/device/o of a mount-backed volume). */
  Opts?: Omit<VolumeOpts, 'raw'>;
  /** Containers with a MountPoint naming this volume (`docker system df` RefCount). */
  RefCount: number;
  UsedBy: VolumeUse[];
  Notes: string[];
}

/** The engine's volume shape (API `Volume`), plus what dockscope knows beyond it. */
export interface VolumeView {
  CreatedAt?: string;
  Driver: string;
  Labels: Record<string, string> | null;
  Mountpoint: string;
  Name: string;
  Options: Record<string, string> | null;
  Scope: string;
  Dockscope: VolumeExtras;
}

export interface DeletedVolumeView {
  Name: string;
  Driver: string;
  Labels: Record<string, string> | null;
  Options: Record<string, string> | null;
  Key: string;
  /** deleted: no live record has this key any more; superseded: an older value of a live record. */
  State: 'deleted' | 'superseded';
  Page: number;
  PageSource: string;
  /** The volume's directory still exists. */
  Directory: boolean;
}

export interface VolumesReport {
  MetadataDb: boolean;
  Volumes: VolumeView[];
  /** Only with { deleted: true }. */
  Deleted?: DeletedVolumeView[];
  Notes: string[];
}

/** Go's Time.Format(time.RFC3339) of a UTC time: whole seconds, truncated. */
export function rfc3339Seconds(ns: bigint): string {
  const sec = ns >= 0n ? ns / 1_000_000_000n : (ns - 999_999_999n) / 1_000_000_000n;
  const d = new Date(Number(sec) * 1000);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function isoNs(ns: bigint | undefined): string | undefined {
  if (ns === undefined) return undefined;
  const sec = ns >= 0n ? ns / 1_000_000_000n : (ns - 999_999_999n) / 1_000_000_000n;
  const frac = (ns - sec * 1_000_000_000n).toString().padStart(9, '0');
  const d = new Date(Number(sec) * 1000);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString().replace(/\.\d{3}Z$/, `.${frac}Z`);
}

/**
 * The local driver's CreatedAt is a ctime (`local_unix.go CreatedAt`): of `_data` up to 22.x, of
 * `volumes/<name>` from 23.0 (moby 01fd23b625). `engine-id` first appears in the data root with
 * 23.0, so it tells the two apart. A copied tree has the copy's ctimes: then say so.
 */
function createdAt(dir: VolumeDir, modern: boolean): { at?: string; from?: string; note?: string } {
  const st: Stat | undefined = modern ? dir.stat : dir.data;
  const what = modern ? `volumes/${dir.name}` : `volumes/${dir.name}/_data`;
  if (!st) return { note: `${what} is missing: Docker could not compute CreatedAt` };
  const engine = modern ? 'Docker 23+ (engine-id present)' : 'Docker 22 and older (no engine-id)';
  if (st.ctimeNs !== undefined) {
    return { at: rfc3339Seconds(st.ctimeNs), from: `ctime of ${what}, as ${engine}` };
  }
  return { at: rfc3339Seconds(st.mtimeNs), from: `mtime of ${what} (the evidence has no ctime; ${engine} uses the ctime)` };
}

function usesOf(model: Model): Map<string, VolumeUse[]> {
  const out = new Map<string, VolumeUse[]>();
  for (const c of model.containers.values()) {
    for (const m of c.record.mountPoints) {
      // Type is 'volume' since 1.13; older records name the volume with Name+Driver and no Type.
      const isVolume = m.Type === 'volume' || (m.Type === '' && m.Name !== '' && m.Driver !== '');
      if (!isVolume || m.Name === '') continue;
      const list = out.get(m.Name) ?? [];
      list.push({ Container: c.id, Name: c.record.name, Destination: m.Destination, RW: m.RW, Running: c.record.state.Running });
      out.set(m.Name, list);
    }
  }
  for (const l of out.values()) l.sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : a.Destination < b.Destination ? -1 : 1));
  return out;
}

/** Every volume the store holds or a container names, sorted by name. Findings go to model.findings. */
export function volumeReport(model: Model, paths: PathMap, opts: { deleted?: boolean; size?: boolean } = {}): VolumesReport {
  const { src, findings: f } = model;
  const store = loadVolumeStore(src, f, { deleted: opts.deleted });
  const modern = src.lstat('engine-id') !== undefined;
  const fromDir = src.kind === 'dir';
  const uses = usesOf(model);
  const notes: string[] = [];
  if (!store.db) notes.push(src.lstat(VOLUMES_DB) ? `${VOLUMES_DB} is unreadable` : `no ${VOLUMES_DB}: no volume metadata (fresh root, pre-1.11 engine, or removed)`);

  // Docker restores metadata under the record's Name (listMeta); look directories up the same way.
  const byName = new Map<string, VolumeMeta>();
  for (const m of store.metas.values()) {
    const name = m.unusable ? m.key : m.name;
    if (!byName.has(name)) byName.set(name, m);
  }
  const names = new Set<string>([...byName.keys(), ...store.dirs.keys(), ...uses.keys()]);
  const volumes: VolumeView[] = [];
  let ctimeUsed = false;
  for (const name of names) {
    const meta = byName.get(name);
    const dir = safeComponent(name) ? store.dirs.get(name) : undefined;
    const used = uses.get(name) ?? [];
    const notesV: string[] = [];
    const usable = meta && !meta.unusable ? meta : undefined;
    // A record with no Driver gets the driver that has the volume (restore.go): local, if its dir exists.
    let driver = usable?.driver ?? '';
    if (!driver) driver = dir ? 'local' : meta ? '' : driverOfUse(model, name);
    const local = driver === 'local' || driver === '';
    let status: VolumeStatus;
    if (meta?.unusable) status = 'bad-metadata';
    else if (meta && dir) status = 'ok';
    else if (meta) status = local ? 'no-directory' : 'ok';
    else if (dir) status = 'no-metadata';
    else status = 'referenced-only';
    const dockerLists = dir ? true : usable && !local ? null : false;

    if (!safeComponent(name)) notesV.push('name cannot be a directory name: no local data can belong to it');
    else if (!VOLUME_NAME.test(name) && (dir || meta)) notesV.push('name does not match [a-zA-Z0-9][a-zA-Z0-9_.-]+: the local driver would not have created it');
    if (status === 'no-directory') notesV.push(`metadata for a ${driver || 'local'} volume without volumes/${name}/: Docker removes the record at its next start`);
    if (status === 'no-metadata') notesV.push('directory without a metadata.db record: Docker lists it without labels or options');
    if (status === 'referenced-only') notesV.push('named by a container but neither in metadata.db nor on disk: removed, or never created here');
    if (dir && !dir.data) notesV.push(`volumes/${name}/_data is missing`);
    if (dir?.legacyConfig) notesV.push('volumes/<id>/config.json present: pre-1.7 volume (data in vfs/dir/<id>)');
    if (dir?.badOpts) notesV.push(`opts.json does not decode: ${dir.badOpts}`);
    if (meta && !meta.unusable && meta.key !== meta.name) notesV.push(`stored under key ${JSON.stringify(meta.key)}`);

    const anonymous = (usable?.labels !== null && usable?.labels !== undefined && ANONYMOUS_LABEL in usable.labels) || HEX64.test(name);
    let created: string | undefined;
    let from: string | undefined;
    let usage: ReturnType<typeof treeUsage>;
    if (dir) {
      const c = createdAt(dir, modern);
      if (c.from?.startsWith('ctime')) ctimeUsed = true;
      created = c.at;
      from = c.from;
      if (c.note) notesV.push(c.note);
      if (dir.data && opts.size !== false) usage = treeUsage(src, `volumes/${name}/_data`, f);
    }
    const extras: VolumeExtras = compact({
      Status: status,
      DockerLists: dockerLists,
      InMetadata: meta !== undefined,
      MetadataKey: meta && meta.key !== meta.name ? meta.key : undefined,
      MetadataProblem: meta?.unusable,
      Directory: dir ? paths.abs(`volumes/${name}`) : undefined,
      DataDir: dir?.data?.type === 'dir',
      Anonymous: anonymous,
      CreatedAtFrom: from,
      DirChanged: isoNs(dir?.stat?.ctimeNs),
      DataChanged: isoNs(dir?.data?.ctimeNs),
      DataModified: isoNs(dir?.data?.mtimeNs),
      Size: usage?.bytes,
      Files: usage?.files,
      Dirs: usage?.dirs,
      SizeTruncated: usage?.truncated ? true : undefined,
      NewestMtime: isoNs(usage?.newestMtimeNs),
      NewestPath: usage?.newestPath ? paths.abs(usage.newestPath) : undefined,
      Opts: dir?.opts ? withoutRaw(dir.opts) : undefined,
      RefCount: used.length,
      UsedBy: used,
      Notes: notesV,
    });

    // Mountpoint: the local driver's path whether or not it exists; a plugin's is unknown offline,
    // so show where a container had it mounted from.
    let mountpoint = '';
    if (local && safeComponent(name)) mountpoint = paths.abs(`volumes/${name}/_data`);
    else {
      const src0 = firstSource(model, name);
      if (src0) mountpoint = paths.rebase(src0);
    }
    const view: VolumeView = {
      ...(created !== undefined ? { CreatedAt: created } : {}),
      Driver: driver || 'local',
      Labels: usable ? sortedMap(usable.labels) : null,
      Mountpoint: mountpoint,
      Name: name,
      Options: usable ? sortedMap(usable.options) : null,
      Scope: 'local',
      Dockscope: extras,
    };
    volumes.push(view);

    if (status === 'no-directory') f.add('warn', 'volume.no-directory', `volume ${JSON.stringify(name)} has metadata but no directory`, `volumes/${name}`);
    if (status === 'no-metadata') f.add('info', 'volume.no-metadata', `volume directory ${JSON.stringify(name)} has no metadata.db record`, `volumes/${name}`);
    if (status === 'referenced-only') {
      f.add('info', 'volume.missing', `volume ${JSON.stringify(name)} is mounted by ${used.map((u) => u.Name || u.Container.slice(0, 12)).join(', ')} but not in the store`);
    }
  }
  volumes.sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
  if (ctimeUsed && fromDir) {
    notes.push('CreatedAt is a ctime, as Docker computes it: if this directory is a copy of the evidence, those are the copy\'s ctimes, not the host\'s');
  }

  const report: VolumesReport = { MetadataDb: store.db, Volumes: volumes, Notes: notes };
  if (opts.deleted) {
    report.Deleted = store.deleted.map((d) => ({
      Name: d.meta.name,
      Driver: d.meta.driver,
      Labels: d.meta.labels,
      Options: d.meta.options,
      Key: d.meta.key,
      State: d.state,
      Page: d.page,
      PageSource: d.source,
      Directory: safeComponent(d.meta.name) && store.dirs.has(d.meta.name),
    }));
    if (!store.db) notes.push('--deleted: no metadata.db to recover records from');
  }
  return report;
}

/** Drops undefined members so JSON and tables show only what is known. */
export function compact<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

/** Go encodes maps with sorted keys; show labels and options the same way. */
export function sortedMap(m: Record<string, string> | null): Record<string, string> | null {
  if (!m) return m;
  return Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function withoutRaw(o: VolumeOpts): Omit<VolumeOpts, 'raw'> {
  const { raw: _raw, ...rest } = o;
  return rest;
}

function driverOfUse(model: Model, name: string): string {
  for (const c of model.containers.values()) for (const m of c.record.mountPoints) if (m.Name === name && m.Driver) return m.Driver;
  return '';
}

function firstSource(model: Model, name: string): string | undefined {
  for (const c of model.containers.values()) for (const m of c.record.mountPoints) if (m.Name === name && m.Source) return m.Source;
  return undefined;
}

/** The engine's answer for one volume: the API fields without dockscope's extras. */
export function engineVolume(v: VolumeView): Omit<VolumeView, 'Dockscope'> {
  const { Dockscope: _d, ...rest } = v;
  return rest;
}

/** `docker volume ls`: what the engine would list (plugin-driver volumes included). */
export function dockerVolumeList(r: VolumesReport): VolumeView[] {
  return r.Volumes.filter((v) => v.Dockscope.DockerLists !== false);
}

/** A volume by exact name, else by unique prefix (Docker itself wants the exact name). */
export function findVolume(r: VolumesReport, name: string): VolumeView {
  const exact = r.Volumes.find((v) => v.Name === name);
  if (exact) return exact;
  const hits = r.Volumes.filter((v) => name !== '' && v.Name.startsWith(name));
  if (hits.length === 1) return hits[0]!;
  if (hits.length > 1) throw new ResolveError(`${JSON.stringify(name)} is ambiguous: ${hits.length} volumes match`, hits.map((v) => v.Name));
  throw new ResolveError(`no volume ${JSON.stringify(name)}: searched ${r.Volumes.length} volumes (metadata, directories and container mounts)`);
}
