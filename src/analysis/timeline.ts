/**
 * `dockscope timeline`: one sorted timeline of the host's Docker history, from what the store
 * recorded (image configs, imagedb metadata, distribution metadata, container state, logs) and
 * from the file system times of the store's own files. Plus the bodyfile source: the files of
 * every container's upper dir and Docker's metadata files, for `mactime`.
 *
 * Where each time comes from (FORMATS.md §1–§3, §11):
 *  - image created / history steps: the image config's `created` and `history[].created`
 *    (written by whoever built the image: trust them like any evidence, they can be forged);
 *  - last tag time: `imagedb/metadata/sha256/<id>/lastUpdated` (`Metadata.LastTagTime`);
 *  - pulls: mtimes of `distribution/v2metadata-by-diffid/sha256/<diffID>` — rewritten on every
 *    pull *and push* of the layer, so "pulled or pushed";
 *  - container created / started / finished: `config.v2.json` `Created`, `State.StartedAt`,
 *    `State.FinishedAt` (+ `ExitCode`, `OOMKilled`, `Error`), `RestartCount`, `State.Health.Log`;
 *  - first and last log entry: the log files `docker logs` would read (analysis/logs.ts);
 *  - directory and file times (mtime = content modification, ctime = metadata change) of
 *    layerdb entries, driver dirs, `containers/<id>/`, `config.v2.json`, `hostconfig.json`,
 *    `layerdb/mounts/<id>/`, and the RW layer's upper dir.
 */
import path from 'node:path/posix';
import type { ContainerNode, ImageNode, LayerNode, Model } from '../model/graph.js';
import { unixNanos, isZeroTime } from '../model/time.js';
import type { Stat, Source } from '../source/types.js';
import type { ContainerdStore } from '../model/containerd.js';
import { Findings } from '../store/findings.js';
import { parseGoTime } from '../store/jsonlog.js';
import type { LogEntry } from '../store/jsonlog.js';
import { isObject, num, str } from '../store/read.js';
import { containerdPath } from './containerd.js';
import { planLogs, readLogEntries, type LogPlan } from './logs.js';
import { containerdEvents } from './timeline-containerd.js';
import type { PathMap } from './paths.js';

/** Timesketch/plaso-style descriptions of what a time means. */
export const DESC = {
  imageCreated: 'Image Created',
  historyStep: 'Image Build Step',
  lastTagged: 'Image Last Tagged',
  pulled: 'Layer Pulled or Pushed',
  containerCreated: 'Container Created',
  containerStarted: 'Container Started',
  containerFinished: 'Container Finished',
  healthCheck: 'Container Health Check',
  logFirst: 'First Log Entry',
  logLast: 'Last Log Entry',
  /** plaso's definitions.TIME_DESCRIPTION_MODIFICATION / _CHANGE / _CREATION / _LAST_ACCESS. */
  mtime: 'Content Modification Time',
  ctime: 'Metadata Modification Time',
  created: 'Creation Time',
  updated: 'Update Time',
  downloadStarted: 'Download Started',
  downloadUpdated: 'Download Last Written',
} as const;

export type TimelineKind =
  | 'image.created'
  | 'image.history'
  | 'image.tagged'
  | 'image.config-file'
  | 'layer.pulled'
  | 'layer.layerdb-dir'
  | 'layer.driver-dir'
  | 'layer.snapshot'
  | 'container.created'
  | 'container.started'
  | 'container.health'
  | 'container.log-first'
  | 'container.log-last'
  | 'container.finished'
  | 'container.dir'
  | 'container.config-file'
  | 'container.hostconfig-file'
  | 'container.mount-dir'
  | 'container.rw-dir'
  | 'container.init-dir'
  | 'container.upper-dir'
  // containerd image store (analysis/timeline-containerd.ts)
  | 'download.started'
  | 'download.updated'
  | 'content.blob'
  | 'image.record'
  | 'snapshot'
  | 'lease';

/** Order of kinds at the same instant: cause before effect. */
const KIND_ORDER: TimelineKind[] = [
  'image.history',
  'image.created',
  'download.started',
  'download.updated',
  'content.blob',
  'layer.pulled',
  'layer.layerdb-dir',
  'layer.driver-dir',
  'layer.snapshot',
  'image.config-file',
  'image.record',
  'image.tagged',
  'lease',
  'container.created',
  'snapshot',
  'container.dir',
  'container.mount-dir',
  'container.init-dir',
  'container.rw-dir',
  'container.config-file',
  'container.hostconfig-file',
  'container.started',
  'container.log-first',
  'container.health',
  'container.upper-dir',
  'container.log-last',
  'container.finished',
];
const KIND_RANK = new Map(KIND_ORDER.map((k, i) => [k, i]));

export interface TimelineEvent {
  /** Nanoseconds since the Unix epoch. */
  ns: bigint;
  kind: TimelineKind;
  /** Timesketch `timestamp_desc`. */
  desc: string;
  /** One line for people; quotes evidence (escape before printing to a terminal). */
  message: string;
  /** Where the time was read: a path as printed elsewhere (PathMap), and the field or file time. */
  source?: string;
  field?: string;
  containerId?: string;
  containerName?: string;
  imageId?: string;
  /** The image's tags/digests, space separated. */
  imageRef?: string;
  chainId?: string;
  diffId?: string;
  /** Driver dir / cache-id / mount-id. */
  driverDir?: string;
  /** More attributes (exit code, OOM, stream, restart count …). */
  attrs?: Record<string, string | number | boolean>;
}

export interface TimelineOptions {
  /** Keep events at or after / at or before these instants (ns since the epoch). */
  since?: bigint;
  until?: bigint;
  /** Read first and last log entries (default true). */
  logs?: boolean;
  /**
   * The last entry needs the whole live log file streamed (sources cannot seek): files bigger
   * than this are skipped for the last entry, with a finding. Default 256 MiB.
   */
  maxLogBytes?: number;
  /** Directory and file times (default true). */
  fileTimes?: boolean;
}

/** An RFC 3339 time from evidence to ns; undefined for Go's zero time and what does not parse. */
export function timeNs(s: string | undefined): bigint | undefined {
  if (s === undefined || isZeroTime(s)) return undefined;
  return parseGoTime(s)?.ns ?? unixNanos(s);
}

export function compareEvents(a: TimelineEvent, b: TimelineEvent): number {
  if (a.ns !== b.ns) return a.ns < b.ns ? -1 : 1;
  const ka = KIND_RANK.get(a.kind) ?? 99;
  const kb = KIND_RANK.get(b.kind) ?? 99;
  if (ka !== kb) return ka - kb;
  const sa = `${a.containerId ?? ''}\0${a.imageId ?? ''}\0${a.chainId ?? ''}\0${a.message}`;
  const sb = `${b.containerId ?? ''}\0${b.imageId ?? ''}\0${b.chainId ?? ''}\0${b.message}`;
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

export function short(id: string): string {
  return (id.startsWith('sha256:') ? id.slice(7) : id).slice(0, 12);
}

export function containerLabel(c: ContainerNode): string {
  return c.record.name.replace(/^\//, '') || short(c.id);
}

export function imageRefs(img: ImageNode): string {
  return [...img.repoTags, ...img.repoDigests].join(' ');
}

function imageLabel(img: ImageNode): string {
  return img.repoTags[0] ?? img.repoDigests[0] ?? short(img.id);
}

/** "fx/app:1 (6fd8233a3c81)", or the short ID alone for an untagged image. */
export function imageWhat(img: ImageNode): string {
  const label = imageLabel(img);
  return label === short(img.id) ? label : `${label} (${short(img.id)})`;
}

/** At most this many characters of evidence text in one message. */
const MESSAGE_TEXT = 200;

export function clip(s: string, n = MESSAGE_TEXT): string {
  const chars = [...s];
  return chars.length > n ? chars.slice(0, n).join('') + '…' : s;
}

export class Collector {
  readonly events: TimelineEvent[] = [];
  constructor(
    readonly model: Model,
    readonly paths: PathMap,
    readonly opts: TimelineOptions,
  ) {}

  add(e: TimelineEvent): void {
    if (this.opts.since !== undefined && e.ns < this.opts.since) return;
    if (this.opts.until !== undefined && e.ns > this.opts.until) return;
    this.events.push(e);
  }

  /** mtime and ctime of one evidence object, as two events. */
  fileTimes(st: Stat | undefined, kind: TimelineKind, source: string, what: string, base: Partial<TimelineEvent>): void {
    if (!st || this.opts.fileTimes === false) return;
    this.add({ ...base, ns: st.mtimeNs, kind, desc: DESC.mtime, message: `${what}: content modified (mtime)`, source, field: 'mtime' });
    if (st.ctimeNs !== undefined) this.add({ ...base, ns: st.ctimeNs, kind, desc: DESC.ctime, message: `${what}: metadata changed (ctime)`, source, field: 'ctime' });
  }
}

function safeLstat(src: Source, p: string, f: Findings): Stat | undefined {
  try {
    return src.lstat(p);
  } catch (e) {
    f.caught(e, 'timeline.unreadable', p);
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Images.

function imageEvents(col: Collector): void {
  const { model, paths } = col;
  // History steps are shared by every image built on top: one event per distinct step, filed
  // under the image that step produced (its own last step), else the nearest image holding it.
  const steps = new Map<string, { ns: bigint; img: ImageNode; index: number; own: boolean; len: number; images: string[]; entry: { created_by?: string; comment?: string; author?: string; empty_layer?: boolean } }>();
  for (const img of model.images.values()) {
    const cfg = img.config;
    const source = img.store.kind === 'graphdriver' ? paths.abs(`${img.store.imageRoot}/imagedb/content/sha256/${img.id.slice(7)}`) : containerdPath(img.store, img.store.content.where(img.id), paths);
    const base = { imageId: img.id, imageRef: imageRefs(img) || undefined };
    const created = timeNs(cfg?.created);
    if (created !== undefined) {
      const extra = [cfg?.author ? `author ${JSON.stringify(cfg.author)}` : '', cfg?.comment ? `comment ${JSON.stringify(clip(cfg.comment))}` : '', cfg?.dockerVersion ? `docker ${cfg.dockerVersion}` : ''].filter(Boolean);
      col.add({ ...base, ns: created, kind: 'image.created', desc: DESC.imageCreated, message: `image ${imageWhat(img)} created${extra.length ? ` (${extra.join(', ')})` : ''}`, source, field: 'created' });
    }
    const hist = cfg?.history ?? [];
    hist.forEach((h, index) => {
      const ns = timeNs(h.created);
      if (ns === undefined) return;
      const key = JSON.stringify([index, h.created, h.created_by ?? '', h.comment ?? '', h.author ?? '', h.empty_layer === true, hist.slice(0, index).map((x) => x.created_by ?? '')]);
      const own = index === hist.length - 1;
      const hit = steps.get(key);
      if (hit) {
        hit.images.push(img.id);
        // the image that step produced, else the nearest ancestor (shortest history) holding it
        if (!hit.own && (own || hist.length < hit.len)) Object.assign(hit, { img, own, len: hist.length });
      } else steps.set(key, { ns, img, index, own, len: hist.length, images: [img.id], entry: h });
    });
    const tagged = timeNs(img.record.lastUpdated);
    if (tagged !== undefined) {
      const metaSource = img.store.kind === 'graphdriver' ? paths.abs(`${img.store.imageRoot}/imagedb/metadata/sha256/${img.id.slice(7)}/lastUpdated`) : source;
      col.add({ ...base, ns: tagged, kind: 'image.tagged', desc: DESC.lastTagged, message: `image ${imageWhat(img)} last tagged${img.repoTags.length ? `: ${img.repoTags.join(', ')}` : ''}`, source: metaSource, field: 'lastUpdated' });
    }
    col.fileTimes(img.record.contentStat, 'image.config-file', source, `image config of ${imageWhat(img)}`, base);
  }
  for (const s of steps.values()) {
    const h = s.entry;
    const what = h.created_by ? clip(h.created_by) : h.comment ? `(comment: ${clip(h.comment)})` : '(no created_by)';
    const attrs: Record<string, string | number | boolean> = { step: s.index, empty_layer: h.empty_layer === true };
    if (s.images.length > 1) attrs.images = [...s.images].sort().slice(0, 50).join(' ');
    if (h.author) attrs.author = h.author;
    col.add({
      ns: s.ns,
      kind: 'image.history',
      desc: DESC.historyStep,
      message: `build step ${s.index} of ${imageWhat(s.img)}${h.empty_layer ? ' [no layer]' : ''}: ${what}`,
      imageId: s.img.id,
      imageRef: imageRefs(s.img) || undefined,
      source: s.img.store.kind === 'graphdriver' ? paths.abs(`${s.img.store.imageRoot}/imagedb/content/sha256/${s.img.id.slice(7)}`) : undefined,
      field: `history[${s.index}].created`,
      attrs,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Layers and distribution.

function layerImages(model: Model, l: LayerNode): string {
  return [...l.images]
    .slice(0, 20)
    .map((id) => {
      const img = model.images.get(id);
      return img ? imageLabel(img) : short(id);
    })
    .join(', ');
}

function layerEvents(col: Collector, f: Findings): void {
  const { model, paths } = col;
  for (const store of model.stores) {
    // Pulls: one v2metadata file per diffID, rewritten when the layer is pulled or pushed.
    const diffToLayers = new Map<string, LayerNode[]>();
    for (const l of model.layers.values()) {
      if (l.store !== store || !l.record?.diffID) continue;
      const list = diffToLayers.get(l.record.diffID) ?? [];
      list.push(l);
      diffToLayers.set(l.record.diffID, list);
    }
    for (const [diffID, metas] of store.distribution.byDiffID) {
      const rel = `${store.imageRoot}/distribution/v2metadata-by-diffid/sha256/${diffID.slice(7)}`;
      const st = safeLstat(model.src, rel, f);
      if (!st) continue;
      const repos = [...new Set(metas.map((m) => m.SourceRepository).filter(Boolean))];
      const layers = diffToLayers.get(diffID) ?? [];
      const imgs = layers.map((l) => layerImages(model, l)).filter(Boolean).join('; ');
      col.add({
        ns: st.mtimeNs,
        kind: 'layer.pulled',
        desc: DESC.pulled,
        message: `layer ${short(diffID)} pulled from or pushed to ${repos.length ? repos.map((r) => clip(r, 100)).join(', ') : '(no repository recorded)'}${metas[0] ? ` as blob ${short(metas[metas.length - 1]!.Digest)}` : ''}${imgs ? ` (used by ${imgs})` : ''}`,
        source: paths.abs(rel),
        field: 'mtime',
        diffId: diffID,
        chainId: layers[0]?.chainID,
        attrs: { blobs: metas.map((m) => m.Digest).join(' '), repositories: repos.join(' ') },
      });
    }
    for (const l of model.layers.values()) {
      if (l.store !== store) continue;
      const base: Partial<TimelineEvent> = { chainId: l.chainID, diffId: l.record?.diffID, driverDir: l.record?.cacheID };
      const users = layerImages(model, l);
      const what = `layer ${short(l.chainID)}${users ? ` (of ${users})` : ''}`;
      col.fileTimes(l.record?.dirStat, 'layer.layerdb-dir', paths.abs(`${store.imageRoot}/layerdb/sha256/${l.chainID.slice(7)}`), `layerdb entry of ${what}`, base);
      if (l.dir) col.fileTimes(l.dir.stat, 'layer.driver-dir', paths.abs(`${store.dirs.home}/${l.dir.id}`), `${store.driver} dir of ${what}`, base);
    }
  }
  for (const store of model.containerdStores) {
    for (const l of store.layers.values()) {
      const s = l.snapshot;
      if (!s) continue;
      const users = layerImages(model, l);
      const base: Partial<TimelineEvent> = { chainId: l.chainID, diffId: l.diffID, driverDir: s.dir ? containerdPath(store, s.dir, paths) : undefined };
      const what = `snapshot ${s.id ?? '?'} of layer ${short(l.chainID)}${users ? ` (of ${users})` : ''}`;
      const c = s.createdAt ? timeNs(s.createdAt.iso) : undefined;
      const u = s.updatedAt ? timeNs(s.updatedAt.iso) : undefined;
      if (c !== undefined) col.add({ ...base, ns: c, kind: 'layer.snapshot', desc: DESC.created, message: `${what} created`, source: containerdPath(store, 'io.containerd.metadata.v1.bolt/meta.db', paths), field: 'createdat' });
      if (u !== undefined && u !== c) col.add({ ...base, ns: u, kind: 'layer.snapshot', desc: DESC.updated, message: `${what} updated`, source: containerdPath(store, 'io.containerd.metadata.v1.bolt/meta.db', paths), field: 'updatedat' });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Containers.

function containerEvents(col: Collector, f: Findings): void {
  const { model, paths } = col;
  for (const c of model.containers.values()) {
    const rec = c.record;
    const name = containerLabel(c);
    const dir = `containers/${rec.dirId}`;
    const cfgSource = paths.abs(`${dir}/config.v2.json`);
    const attrs: Record<string, string | number | boolean> = { restart_count: rec.restartCount };
    const base: Partial<TimelineEvent> = { containerId: c.id, containerName: name, imageId: rec.image || undefined, imageRef: c.image ? imageRefs(c.image) || undefined : undefined };
    const st = rec.state;
    const created = timeNs(rec.created);
    const cmd = clip([rec.path, ...rec.args].filter((x) => x !== '').join(' '));
    const from = str(rec.config.Image) || (c.image ? imageLabel(c.image) : rec.image ? short(rec.image) : '?');
    if (created !== undefined)
      col.add({ ...base, ns: created, kind: 'container.created', desc: DESC.containerCreated, message: `container ${name} created from ${from}${c.image ? '' : rec.image ? ' (image gone)' : ''}${cmd ? `: ${cmd}` : ''}`, source: cfgSource, field: 'Created', attrs: { ...attrs } });
    const started = timeNs(st.StartedAt);
    if (started !== undefined) {
      const notes = [rec.restartCount > 0 ? `restart count ${rec.restartCount}` : '', st.Running ? `${st.Paused ? 'paused' : 'running'} when acquired, pid ${st.Pid}` : '', st.Restarting ? 'restarting' : ''].filter(Boolean);
      col.add({ ...base, ns: started, kind: 'container.started', desc: DESC.containerStarted, message: `container ${name} started${notes.length ? ` (${notes.join(', ')})` : ''}`, source: cfgSource, field: 'State.StartedAt', attrs: { ...attrs, running: st.Running, pid: st.Pid } });
    }
    const finished = timeNs(st.FinishedAt);
    if (finished !== undefined) {
      const notes = [st.OOMKilled ? 'OOM killed' : '', st.Error ? `error ${JSON.stringify(clip(st.Error))}` : '', st.Dead ? 'dead' : ''].filter(Boolean);
      col.add({
        ...base,
        ns: finished,
        kind: 'container.finished',
        desc: DESC.containerFinished,
        message: `container ${name} finished: exit code ${st.ExitCode}${notes.length ? `, ${notes.join(', ')}` : ''}`,
        source: cfgSource,
        field: 'State.FinishedAt',
        attrs: { ...attrs, exit_code: st.ExitCode, oom_killed: st.OOMKilled },
      });
    }
    const health = isObject(st.Health) && Array.isArray(st.Health.Log) ? st.Health.Log.slice(0, 50) : [];
    health.forEach((h, i) => {
      if (!isObject(h)) return;
      const ns = timeNs(str(h.Start));
      if (ns === undefined) return;
      const code = num(h.ExitCode);
      col.add({ ...base, ns, kind: 'container.health', desc: DESC.healthCheck, message: `health check of ${name}: exit code ${code ?? '?'}${str(h.Output) ? `: ${clip(str(h.Output)!.trim())}` : ''}`, source: cfgSource, field: `State.Health.Log[${i}].Start`, attrs: { exit_code: code ?? -1 } });
    });

    col.fileTimes(rec.dirStat, 'container.dir', paths.abs(dir), `container dir of ${name}`, base);
    col.fileTimes(rec.configStat, 'container.config-file', cfgSource, `config.v2.json of ${name}`, base);
    col.fileTimes(rec.hostConfig ? safeLstat(model.src, `${dir}/hostconfig.json`, f) : undefined, 'container.hostconfig-file', paths.abs(`${dir}/hostconfig.json`), `hostconfig.json of ${name}`, base);
    const gstore = c.store?.kind === 'graphdriver' ? c.store : undefined;
    if (gstore && c.mount) col.fileTimes(c.mount.dirStat, 'container.mount-dir', paths.abs(`${gstore.imageRoot}/layerdb/mounts/${c.id}`), `layerdb mount of ${name}`, base);
    if (gstore && c.init) col.fileTimes(c.init.stat, 'container.init-dir', paths.abs(`${gstore.dirs.home}/${c.init.id}`), `init layer dir of ${name}`, { ...base, driverDir: c.init.id });
    if (gstore && c.rw) {
      col.fileTimes(c.rw.stat, 'container.rw-dir', paths.abs(`${gstore.dirs.home}/${c.rw.id}`), `RW layer dir of ${name}`, { ...base, driverDir: c.rw.id });
      const upper = `${gstore.dirs.home}/${c.rw.id}/diff`;
      col.fileTimes(safeLstat(model.src, upper, f), 'container.upper-dir', paths.abs(upper), `upper dir (root of the container's changes) of ${name}`, { ...base, driverDir: c.rw.id });
    }
    const cstore = c.store?.kind === 'containerd' ? c.store : undefined;
    const rw = c.snapshots?.rw;
    if (cstore && rw) {
      const cr = rw.createdAt ? timeNs(rw.createdAt.iso) : undefined;
      if (cr !== undefined) col.add({ ...base, ns: cr, kind: 'container.rw-dir', desc: DESC.created, message: `RW snapshot ${rw.id ?? '?'} of ${name} created`, source: containerdPath(cstore, 'io.containerd.metadata.v1.bolt/meta.db', paths), field: 'createdat' });
      if (rw.fsDir) col.fileTimes(safeLstat(cstore.src, rw.fsDir, f), 'container.upper-dir', containerdPath(cstore, rw.fsDir, paths), `upper dir (root of the container's changes) of ${name}`, base);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Logs.

const DEFAULT_MAX_LOG_BYTES = 256 * 1024 * 1024;

function lineText(e: LogEntry): string {
  return clip(e.line.toString('utf8').replace(/\n$/, ''));
}

/** First entry of the oldest file docker reads, last entry of the newest non-empty one. */
export async function firstLastLogEntries(
  src: Source,
  plan: LogPlan,
  f: Findings,
  maxLogBytes = DEFAULT_MAX_LOG_BYTES,
): Promise<{ first?: LogEntry; last?: LogEntry }> {
  let first: LogEntry | undefined;
  for (const file of plan.files) {
    for await (const e of readLogEntries(src, { ...plan, files: [file] }, f)) {
      if (e.time.ns <= -62135596800n * 1_000_000_000n) continue;
      first = e;
      break;
    }
    if (first) break;
  }
  if (!first) return {};
  let last: LogEntry | undefined;
  for (const file of [...plan.files].reverse()) {
    if (file.size !== undefined && file.size > maxLogBytes) {
      f.add('info', 'timeline.log-too-big', `${file.size} bytes: not read for the last log entry (bound ${maxLogBytes})`, file.path);
      break;
    }
    for await (const e of readLogEntries(src, { ...plan, files: [file] }, f)) if (e.time.ns > -62135596800n * 1_000_000_000n) last = e;
    if (last) break;
  }
  return { first, last };
}

async function logEvents(col: Collector, f: Findings): Promise<void> {
  const { model, paths } = col;
  for (const c of model.containers.values()) {
    const scratch = new Findings();
    const plan = planLogs(model.src, c.record, scratch);
    if (plan.files.length === 0) continue;
    const { first, last } = await firstLastLogEntries(model.src, plan, scratch, col.opts.maxLogBytes);
    for (const x of scratch.list) if (x.severity === 'error' || x.code === 'timeline.log-too-big') f.list.push(x);
    const name = containerLabel(c);
    const base: Partial<TimelineEvent> = { containerId: c.id, containerName: name, imageId: c.record.image || undefined };
    const ev = (e: LogEntry, which: 'first' | 'last') =>
      col.add({
        ...base,
        ns: e.time.ns,
        kind: which === 'first' ? 'container.log-first' : 'container.log-last',
        desc: which === 'first' ? DESC.logFirst : DESC.logLast,
        message: `${which} log entry of ${name} (${e.stream || 'no stream'}): ${lineText(e)}`,
        source: paths.abs(e.file),
        field: `time @${e.offset}`,
        attrs: { stream: e.stream, log_format: plan.format ?? '' },
      });
    if (first) ev(first, 'first');
    if (last && (last.file !== first?.file || last.offset !== first?.offset)) ev(last, 'last');
  }
}

/**
 * The whole timeline, sorted. Findings (unreadable files, logs too big to read to the end) go to
 * `f`; only errors among the log reader's findings are kept, its other notes belong to `logs`.
 */
export async function buildTimeline(model: Model, paths: PathMap, opts: TimelineOptions = {}, f: Findings = model.findings): Promise<TimelineEvent[]> {
  const col = new Collector(model, paths, opts);
  imageEvents(col);
  layerEvents(col, f);
  containerEvents(col, f);
  for (const store of model.containerdStores) containerdEvents(col, store, f);
  if (opts.logs !== false) await logEvents(col, f);
  return col.events.sort(compareEvents);
}

// ---------------------------------------------------------------------------------------------
// Bodyfile entries: files of each container's upper dir, and Docker's own metadata files.

export interface BodyEntry {
  /** Path as it goes in the bodyfile (raw; the renderer escapes it). */
  name: string;
  stat: Stat;
  /** An overlay whiteout (char 0/0 in an upper dir): the lower file was deleted in the container. */
  whiteout?: boolean;
}

export interface BodyfileOptions {
  /** Bound on entries walked in total. */
  maxEntries?: number;
  /** Bound on directory depth. */
  maxDepth?: number;
  /** Include the containers' upper dirs (default true). */
  containers?: boolean;
  /** Include Docker's metadata files (default true). */
  metadata?: boolean;
}

/** Top-level dirs holding layer content: only their first two levels are metadata (`<driver>/<id>/{link,lower,diff…}`, `l/<link>`). */
const CONTENT_HOMES = new Set(['overlay2', 'fuse-overlayfs', 'overlay', 'aufs', 'vfs', 'btrfs', 'zfs', 'devicemapper', 'windowsfilter', 'volumes', 'rootfs']);

/** Whether a data-root directory holds content rather than Docker metadata (not walked below it). */
function isContentDir(rel: string): boolean {
  const parts = rel.split('/');
  if (CONTENT_HOMES.has(parts[0]!) && parts.length >= 3) return true;
  // plugins/<id>/rootfs, containerd snapshots' fs dirs
  if (parts[0] === 'plugins' && parts[parts.length - 1] === 'rootfs') return true;
  if (parts.length >= 3 && parts[parts.length - 1] === 'fs' && parts[parts.length - 3] === 'snapshots') return true;
  return false;
}

class Walker {
  count = 0;
  truncated = false;
  constructor(
    readonly f: Findings,
    readonly maxEntries: number,
    readonly maxDepth: number,
  ) {}

  /** Yields [rel, stat] for every entry under `root` (not root itself), depth first, sorted. */
  *walk(src: Source, root: string, prune: (rel: string) => boolean = () => false): Generator<[string, Stat]> {
    const stack: [string, number][] = [[root, 0]];
    while (stack.length > 0) {
      const [dir, depth] = stack.pop()!;
      let names: string[] | undefined;
      try {
        names = src.readdir(dir);
      } catch (e) {
        this.f.caught(e, 'timeline.unreadable', dir);
        continue;
      }
      const subdirs: [string, number][] = [];
      for (const name of names ?? []) {
        if (this.count >= this.maxEntries) {
          if (!this.truncated) this.f.add('warn', 'timeline.truncated', `bodyfile stopped after ${this.maxEntries} entries`, dir);
          this.truncated = true;
          return;
        }
        const rel = dir ? `${dir}/${name}` : name;
        let st: Stat | undefined;
        try {
          st = src.lstat(rel);
        } catch (e) {
          this.f.caught(e, 'timeline.unreadable', rel);
          continue;
        }
        if (!st) continue;
        this.count++;
        yield [rel, st];
        if (st.type === 'dir' && !prune(rel)) {
          if (depth + 1 >= this.maxDepth) this.f.add('warn', 'timeline.too-deep', `not walked below depth ${this.maxDepth}`, rel);
          else subdirs.push([rel, depth + 1]);
        }
      }
      for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
    }
  }
}

/** The name a container's files get in the bodyfile: `/<container name>` (its ID when unnamed). */
function containerPrefix(c: ContainerNode): string {
  return `/${containerLabel(c)}`;
}

export function* bodyfileEntries(model: Model, paths: PathMap, f: Findings = model.findings, opts: BodyfileOptions = {}): Generator<BodyEntry> {
  const w = new Walker(f, opts.maxEntries ?? 5_000_000, opts.maxDepth ?? 512);
  if (opts.containers !== false) {
    const list = [...model.containers.values()].sort((a, b) => (containerLabel(a) < containerLabel(b) ? -1 : containerLabel(a) > containerLabel(b) ? 1 : 0));
    for (const c of list) {
      let src: Source | undefined;
      let upper: string | undefined;
      if (c.store?.kind === 'graphdriver' && c.rw) {
        src = model.src;
        upper = `${c.store.dirs.home}/${c.rw.id}/diff`;
      } else if (c.store?.kind === 'containerd' && c.snapshots?.rw?.fsDir) {
        src = (c.store as ContainerdStore).src;
        upper = c.snapshots.rw.fsDir;
      }
      if (!src || !upper) continue;
      const top = safeLstat(src, upper, f);
      if (top?.type !== 'dir') continue;
      const prefix = containerPrefix(c);
      yield { name: prefix, stat: top };
      for (const [rel, st] of w.walk(src, upper)) {
        const inCtr = rel.slice(upper.length); // "/etc/passwd"
        yield { name: prefix + inCtr, stat: st, whiteout: st.type === 'char' && st.rdevMajor === 0 && st.rdevMinor === 0 };
      }
    }
  }
  if (opts.metadata !== false) {
    const root = safeLstat(model.src, '', f);
    if (root) yield { name: paths.abs(''), stat: root };
    for (const [rel, st] of w.walk(model.src, '', isContentDir)) yield { name: path.normalize(paths.abs(rel)), stat: st };
  }
}
