import { chainIDOf } from '../model/chainid.js';
import type { ImageNode, LayerNode, Model } from '../model/graph.js';
import type { Stat } from '../source/types.js';
import { Findings } from '../store/findings.js';
import { openTarSplit } from '../store/tarsplit.js';
import { treeStats } from './dirsize.js';
import { hasShortLinks, LEGACY_CHAIN_NOTE, noLinksNote } from './inspect.js';
import { hashLayer, layerFilesFromSource, walkLayerTree, type ExtraFile, type FileReport, type WhiteoutStyle } from './reassemble.js';
import { containerdImageChecks, verifyContainerdLayer, type LayerUse } from './verify-containerd.js';

/**
 * Proves (or disproves) that the layer store is what Docker wrote. Docker itself re-hashes
 * nothing when it loads (FORMATS.md §1.3), so a file swapped in a base layer's diff/ is invisible
 * to it; here every layer is reassembled from its tar-split and hashed against its diffID.
 */
export type Status = 'ok' | 'mismatch' | 'missing' | 'unchecked';

export interface Check {
  check: string;
  status: Status;
  detail: string;
}

export interface LayerVerdict {
  chainID: string;
  diffID?: string;
  /** Graph driver: the driver dir's cache-id. containerd: the snapshot's directory number. */
  cacheID?: string;
  /** The store the layer is in (absent = graph driver, for older readers). */
  store?: 'containerd';
  status: Status;
  checks: Check[];
  /** Files that differ from the tar-split (modified, truncated, missing, …). */
  files: FileReport[];
  extras: ExtraFile[];
  computedDiffID?: string;
  bytes?: number;
  /** Checks that do not apply to this layer's store, with why (shown as "n/a", never as a failure). */
  na?: Record<string, string>;
}

export interface ImageVerdict {
  id: string;
  tags: string[];
  status: Status;
  checks: Check[];
  layers: string[];
}

export interface VerifyReport {
  status: Status;
  images: ImageVerdict[];
  layers: LayerVerdict[];
  store: Check[];
  findings: Findings;
}

const RANK: Record<Status, number> = { ok: 0, unchecked: 1, missing: 2, mismatch: 3 };

/*
 * The report is written only once every layer is verified, so each verdict lives to the end: on a
 * store of 20,000 layers, checks that read alike on every layer (and the empty file lists of
 * --no-content) were tens of thousands of equal objects. Those are shared, frozen: nothing edits a
 * verdict once made, and JSON writes a shared object like any other.
 */
const CHAINID_OK: Check = Object.freeze({ check: 'chainid', status: 'ok', detail: 'sha256(parent + " " + diff) names this layerdb entry' });
const COMMITTED_OK: Check = Object.freeze({ check: 'committed', status: 'ok', detail: 'parent of other layers, marked committed' });
const CONTENT_SKIPPED: Check = Object.freeze({ check: 'content', status: 'unchecked', detail: 'skipped (--no-content)' });
const NO_FILES: FileReport[] = Object.freeze([]) as unknown as FileReport[];
const NO_EXTRAS: ExtraFile[] = Object.freeze([]) as unknown as ExtraFile[];
/** `lower` ok, by the number of lower dirs (at most a chain's depth). */
const lowerOk = new Map<number, Check>();
function lowerOkCheck(n: number): Check {
  let c = lowerOk.get(n);
  if (c === undefined) lowerOk.set(n, (c = Object.freeze({ check: 'lower', status: 'ok', detail: `${n} lower dirs` })));
  return c;
}
/** `L<index>` check names of image verdicts: one string per index, not per image and layer. */
const layerNames: string[] = [];
function layerCheckName(i: number): string {
  return (layerNames[i] ??= `L${i}`);
}

export function worst(list: Iterable<Status>): Status {
  let w: Status = 'ok';
  for (const s of list) if (RANK[s] > RANK[w]) w = s;
  return w;
}

export interface VerifyOptions {
  /** Skip content reassembly (metadata checks only). */
  noContent?: boolean;
  onLayer?: (done: number, total: number, chainID: string) => void;
}

/** Layers something is built on: other layers' parents and containers' image tops. */
function layersWithChildren(model: Model): Set<string> {
  const out = new Set<string>();
  for (const n of model.layers.values()) if (n.record?.parent) out.add(n.record.parent);
  for (const c of model.containers.values()) if (c.mount?.parent) out.add(c.mount.parent);
  return out;
}

interface StoreFacts {
  withChildren: Set<string>;
  /** The engine writes `committed` into parents (19.03.5+): some parent in this store has one. */
  writesCommitted: boolean;
}

/**
 * Where a driver keeps the files of one layer, and how they hold the layer tar's whiteouts.
 * `fullTree`: the dir is the whole image up to this layer (overlay v1 `root/`, vfs, btrfs), so a
 * non-base layer's dir also holds its parents' files: its size and extras cannot be checked, but
 * every file the tar-split names is there to be re-hashed. `undefined`: the content is not in the
 * data root (zfs datasets, devicemapper thin devices).
 */
export function layerContentDir(driver: string, home: string, id: string): { path: string; whiteouts: WhiteoutStyle; fullTree: boolean } | undefined {
  switch (driver) {
    case 'overlay2':
      return { path: `${home}/${id}/diff`, whiteouts: 'overlay', fullTree: false };
    case 'fuse-overlayfs':
      // ApplyDiff uses the AUFS whiteout format (FORMATS.md §5).
      return { path: `${home}/${id}/diff`, whiteouts: 'literal', fullTree: false };
    case 'aufs':
      return { path: `aufs/diff/${id}`, whiteouts: 'literal', fullTree: false };
    case 'overlay':
      return { path: `overlay/${id}/root`, whiteouts: 'none', fullTree: true };
    case 'vfs':
      return { path: `vfs/dir/${id}`, whiteouts: 'none', fullTree: true };
    case 'btrfs':
      return { path: `btrfs/subvolumes/${id}`, whiteouts: 'none', fullTree: true };
    default:
      return undefined;
  }
}

/** aufs' own branch metadata (`.wh..wh.aufs`, `.wh..wh.plnk/`, `.wh..wh.orph/`): never layer content. */
function isAufsMeta(path: string): boolean {
  const first = path.split('/').find((c) => c !== '' && c !== '.') ?? '';
  return first.startsWith('.wh..wh.') && first !== '.wh..wh..opq';
}

async function verifyLayer(model: Model, node: LayerNode, f: Findings, opts: VerifyOptions, facts: StoreFacts): Promise<LayerVerdict> {
  const r = node.record!;
  const store = node.store.kind === 'graphdriver' ? node.store : model.stores[0]!;
  const legacy = store.legacy !== undefined;
  const checks: Check[] = [];
  const v: LayerVerdict = { chainID: node.chainID, diffID: r.diffID, cacheID: r.cacheID, status: 'ok', checks, files: NO_FILES, extras: NO_EXTRAS };
  const na = (check: string, why: string) => ((v.na ??= {})[check] = why);
  const ldb = legacy ? `graph/${node.chainID}` : `${store.imageRoot}/layerdb/sha256/${node.chainID.slice(7)}`;
  const tarSplitPath = legacy ? `${ldb}/tar-data.json.gz` : `${ldb}/tar-split.json.gz`;

  if (legacy) {
    na('chainid', LEGACY_CHAIN_NOTE);
    if (r.loadError) checks.push({ check: 'v1-json', status: 'mismatch', detail: r.loadError });
  } else if (r.diffID) {
    const recomputed = chainIDOf(r.parent, r.diffID);
    checks.push(
      recomputed === node.chainID
        ? CHAINID_OK
        : { check: 'chainid', status: 'mismatch', detail: `parent + diff give ${recomputed}, not the directory name` },
    );
  } else checks.push({ check: 'chainid', status: 'unchecked', detail: 'no valid diff file' });
  if (r.parent) {
    const p = model.layers.get(r.parent);
    checks.push(p?.record ? { check: 'parent', status: 'ok', detail: r.parent } : { check: 'parent', status: 'missing', detail: `parent ${r.parent} is not in layerdb` });
  }

  const dir = node.dir;
  const home = store.dirs.home;
  const content = r.cacheID ? layerContentDir(store.driver, home, r.cacheID) : undefined;
  if (!hasShortLinks(store.driver)) {
    na('link', noLinksNote(store.driver));
    na('lower', `n/a (${store.driver} keeps no lower files)`);
    na('committed', `n/a (${store.driver} writes no committed markers)`);
  }
  if (r.cacheID && !content) {
    const why = `the ${store.driver} driver keeps layer content outside the data root (${store.driver === 'zfs' ? 'zfs datasets: the pool' : store.driver === 'devicemapper' ? 'thin devices: the thin pool' : 'driver storage'} is needed)`;
    checks.push({ check: 'content', status: 'unchecked', detail: why });
  } else if (!r.cacheID || !dir || !content) {
    checks.push({ check: 'driver-dir', status: 'missing', detail: r.cacheID ? `${content?.path ?? `${home}/${r.cacheID}`} does not exist` : 'no cache-id' });
  } else {
    const diff = content.path;
    // A full tree holds the parents' files too: only a base layer's size and extras are its own.
    const ownTree = !content.fullTree || !r.parent;
    const sizeCheck = (stats: { size: number; truncated: boolean }): Check =>
      stats.truncated
        ? { check: 'size', status: 'unchecked', detail: 'tree too large to size' }
        : stats.size === r.size
          ? { check: 'size', status: 'ok', detail: `${r.size} bytes` }
          : { check: 'size', status: 'mismatch', detail: `layerdb says ${r.size} bytes, ${diff} holds ${stats.size}` };
    // The size (directory.Size of the dir) and the extras check after re-hashing walk the same tree:
    // when the content is re-hashed, the size comes from the extras walk (one lstat per object, not
    // two). If that walk leaves anything out or does not run to its end, treeStats walks the tree as
    // before, with its findings, before the layer's own findings are added (the order they had).
    const hashes = ownTree && !opts.noContent && r.hasTarSplit && (!!r.diffID || legacy) && isDir(model, diff);
    const sized = hashes ? new WalkSize() : undefined;
    const sizeAt = checks.length;
    const finishSize = (): void => {
      if (!sized || sized.settled) return;
      sized.settled = true;
      const stats = sized.usable() ? { size: sized.size, truncated: false } : treeStats(model.src, diff, f, { newest: false });
      if (r.size !== undefined) checks.splice(sizeAt, 0, sizeCheck(stats));
    };
    const stats = ownTree && !sized ? treeStats(model.src, diff, f, { newest: false }) : { size: 0, truncated: false };
    if (r.size === undefined) checks.push({ check: 'size', status: 'unchecked', detail: 'size file unusable' });
    else if (!ownTree) na('size', `n/a (${store.driver} keeps each layer as the whole image up to it: a layer's own size cannot be measured in its dir)`);
    else if (!sized) checks.push(sizeCheck(stats));
    // overlay2 bookkeeping: link ↔ l/ ↔ dir, lower = parent's link + parent's lower.
    if (home === 'overlay2' || home === 'fuse-overlayfs') {
      if (!dir.link) checks.push({ check: 'link', status: 'missing', detail: `${home}/${dir.id}/link missing or invalid` });
      else {
        const sl = node.shortLink;
        checks.push(
          sl?.id === dir.id
            ? { check: 'link', status: 'ok', detail: `l/${dir.link} → ../${dir.id}/diff` }
            : { check: 'link', status: sl ? 'mismatch' : 'missing', detail: sl ? `l/${dir.link} points at ${sl.target}` : `l/${dir.link} does not exist` },
        );
      }
      const parent = r.parent ? model.layers.get(r.parent) : undefined;
      const pdir = parent?.dir;
      if (r.parent && pdir) {
        const want = pdir.link ? [`l/${pdir.link}`, ...(pdir.lower ?? [])] : undefined;
        const got = dir.lower;
        if (!want) checks.push({ check: 'lower', status: 'unchecked', detail: 'parent has no link' });
        else
          checks.push(
            got && got.join(':') === want.join(':')
              ? lowerOkCheck(got.length)
              : { check: 'lower', status: got ? 'mismatch' : 'missing', detail: got ? `lower is ${got.join(':')}, expected ${want.join(':')}` : 'no lower file' },
          );
      } else if (!r.parent && dir.lower && dir.lower.length > 0) {
        checks.push({ check: 'lower', status: 'mismatch', detail: 'a base layer with a lower file' });
      }
      if (facts.withChildren.has(node.chainID) && facts.writesCommitted)
        checks.push(
          dir.committed
            ? COMMITTED_OK
            : { check: 'committed', status: 'mismatch', detail: 'other layers are built on it but it has no committed marker, unlike the rest of this store' },
        );
    }
    if (opts.noContent) checks.push(CONTENT_SKIPPED);
    else if (!r.hasTarSplit) checks.push({ check: 'content', status: 'unchecked', detail: `no ${tarSplitPath.split('/').pop()}` });
    else if (!r.diffID && !legacy) checks.push({ check: 'content', status: 'unchecked', detail: 'no diffID to compare with' });
    else {
      const lf = new Findings();
      let files;
      try {
        files = model.src.sub(diff);
      } catch (e) {
        lf.caught(e, 'verify.unreadable', diff);
      }
      if (!files) checks.push({ check: 'content', status: 'unchecked', detail: `${diff} cannot be opened` });
      else {
        const h = await hashLayer(openTarSplit(model.src, tarSplitPath, lf), layerFilesFromSource(files), {
          findings: lf,
          path: diff,
          whiteouts: content.whiteouts,
          tree: ownTree ? (sized ? sized.walk(walkLayerTree(files, { findings: lf, path: diff, onStat: (_p, st) => sized.add(st), onIncomplete: () => sized.incomplete() })) : walkLayerTree(files, { findings: lf, path: diff })) : undefined,
          expectedDiffID: r.diffID,
        });
        v.computedDiffID = h.diffID;
        v.bytes = h.bytes;
        v.files = h.files.filter((x) => x.status !== 'ok');
        v.extras = store.driver === 'aufs' ? h.extras.filter((x) => !isAufsMeta(x.path)) : h.extras;
        const extrasTotal = h.extrasTotal - (h.extras.length - v.extras.length);
        const bad = v.files.length + extrasTotal;
        if (!ownTree) na('extras', `${diff} holds the parents' files too: files the tar-split lacks cannot be told apart`);
        if (!r.diffID) {
          // pre-1.10 without a 1.10 migration: nothing recorded the layer tar's sha256. The per-file
          // CRC-64s in tar-data.json.gz still prove each file; the checksum file is checked below.
          if (!h.complete && bad === 0) checks.push({ check: 'content', status: 'unchecked', detail: 'tar-data.json.gz could not be read to the end' });
          else if (bad === 0) checks.push({ check: 'content', status: 'ok', detail: `every file matches its CRC-64 in tar-data.json.gz; reassembled ${h.bytes} bytes hash to ${h.diffID} (no diffID recorded before 1.10)` });
          else checks.push({ check: 'content', status: 'mismatch', detail: `${bad} entries differ from tar-data.json.gz; reassembled layer hashes to ${h.diffID}` });
          const sum = legacyChecksum(model, node.chainID, h.diffID, h.complete && bad === 0);
          if (sum && 'na' in sum) na('checksum', sum.na);
          else if (sum) checks.push(sum);
        } else if (h.matches && bad === 0) checks.push({ check: 'content', status: 'ok', detail: `reassembled ${h.bytes} bytes hash to the diffID` });
        else if (h.matches)
          checks.push({ check: 'content', status: 'mismatch', detail: `diffID matches, but ${bad} entries differ in ways the hash cannot see (empty files, extras)` });
        else if (!h.complete && bad === 0) checks.push({ check: 'content', status: 'unchecked', detail: 'tar-split could not be read to the end' });
        else checks.push({ check: 'content', status: 'mismatch', detail: `reassembled layer hashes to ${h.diffID}; ${bad} entries differ` });
        finishSize();
        for (const x of lf.list) f.list.push(x);
      }
    }
    finishSize();
  }
  v.status = worst(checks.map((c) => c.status));
  return v;
}

function isDir(model: Model, path: string): boolean {
  try {
    return model.src.lstat(path)?.type === 'dir';
  } catch {
    return false;
  }
}

/** treeStats' bound on objects: past it the size is a lower bound ("tree too large to size"). */
const TREE_MAX_ENTRIES = 5_000_000;

/**
 * A layer's size (Docker's directory.Size: Lstat sizes of non-directories, each hard-linked inode
 * once, as treeStats sums it) gathered from the extras walk's lstat answers. Usable only when that
 * walk met every object: it ran to its end and nothing was unreadable or over a bound.
 */
class WalkSize {
  size = 0;
  entries = 0;
  settled = false;
  private finished = false;
  private complete = true;
  private readonly seen = new Set<string>();

  add(st: Stat): void {
    this.entries++;
    if (st.type === 'dir') return;
    if (st.nlink <= 1 || !this.seen.has(st.inode)) {
      if (st.nlink > 1) this.seen.add(st.inode);
      this.size += st.size;
    }
  }

  incomplete(): void {
    this.complete = false;
  }

  usable(): boolean {
    return this.finished && this.complete && this.entries <= TREE_MAX_ENTRIES;
  }

  /** Passes a walk through, noting whether its consumer took it to the end. */
  *walk<T>(it: Iterable<T>): Generator<T> {
    yield* it;
    this.finished = true;
  }
}

/**
 * `graph/<v1ID>/checksum` (FORMATS.md §7.1): a registry blob digest `sha256:…` (of the
 * *compressed* layer as pushed or pulled) or an older `tarsum.v1+sha256:…`. Neither can be
 * recomputed from the uncompressed layer: gzip output is not reproducible, and TarSum is not
 * implemented here. That is a note, not a failure (the per-file CRC-64s prove the content); a
 * checksum equal to the reassembled tar's sha256 is a real check.
 */
function legacyChecksum(model: Model, v1ID: string, computed: string, contentOk: boolean): Check | { na: string } | undefined {
  const sum = model.images.get(v1ID)?.legacy?.checksum;
  if (!sum) return undefined;
  if (sum === computed) return { check: 'checksum', status: contentOk ? 'ok' : 'mismatch', detail: `${sum} is the digest of the reassembled (uncompressed) layer` };
  if (sum.startsWith('tarsum.')) return { na: 'not recomputed (graph/<id>/checksum is a TarSum, which dockscope does not implement; content is proven by the CRC-64s in tar-data.json.gz)' };
  return { na: 'not recomputable (graph/<id>/checksum is the registry digest of the compressed blob and gzip output is not reproducible; content is proven by the CRC-64s in tar-data.json.gz)' };
}

/** Verifies the given images (all when none given) and every layer they use, each layer once. */
export async function verify(model: Model, images: ImageNode[], opts: VerifyOptions = {}): Promise<VerifyReport> {
  const f = new Findings();
  const store: Check[] = [];
  const st = model.stores[0];
  for (const e of st?.repositories ?? []) {
    const img = model.images.get(e.id);
    if (!img) store.push({ check: 'repositories', status: 'missing', detail: `${e.ref} → ${e.id}: no such image` });
  }
  if (store.length === 0 && st) store.push({ check: 'repositories', status: 'ok', detail: `${st.repositories.length} references point at existing images` });

  // Keyed by store and chainID: a migrated host can hold the same chainID in both kinds of store.
  const layerSet = new Map<string, { chainID: string; node?: LayerNode }>();
  /** containerd-store layers: the first image layer naming each chainID (with its blob). */
  const cdUses = new Map<string, { img: ImageNode; use: LayerUse }>();
  for (const img of images)
    for (const l of img.layers) {
      const key = verdictKey(img, l.chainID);
      if (!layerSet.has(key)) layerSet.set(key, { chainID: l.chainID, node: l.layer });
      if (img.store.kind !== 'containerd') continue;
      const prior = cdUses.get(key);
      // Prefer a use whose blob is on disk: the same layer may be named by several blobs (compressions).
      if (!prior || (!prior.use.blob?.present && l.blob?.present)) cdUses.set(key, { img, use: { chainID: l.chainID, diffID: l.diffID, blob: l.blob } });
    }
  const verdicts = new Map<string, LayerVerdict>();
  const withChildren = layersWithChildren(model);
  const facts: StoreFacts = { withChildren, writesCommitted: [...withChildren].some((id) => model.layers.get(id)?.dir?.committed) };
  let done = 0;
  for (const [key, { chainID, node }] of layerSet) {
    opts.onLayer?.(done, layerSet.size, chainID);
    const cd = cdUses.get(key);
    if (cd && cd.img.store.kind === 'containerd')
      verdicts.set(key, { ...(await verifyContainerdLayer(model, cd.img.store, node, cd.use, f, opts)), store: 'containerd' });
    else if (!node?.record) verdicts.set(key, { chainID, status: 'missing', checks: [{ check: 'layerdb', status: 'missing', detail: 'no layerdb entry' }], files: [], extras: [] });
    else verdicts.set(key, await verifyLayer(model, node, f, opts, facts));
    done++;
  }
  opts.onLayer?.(done, layerSet.size, '');

  const imageVerdicts: ImageVerdict[] = images.map((img) => {
    if (img.store.kind === 'containerd') return containerdImageVerdict(img, verdicts);
    const checks: Check[] = [];
    if (img.legacy) {
      // A v1 image ID is random: no config digest to check, only that its json parses.
      if (!img.config) checks.push({ check: 'config', status: 'mismatch', detail: `graph/${img.id}/json does not parse` });
      for (const l of img.layers) checks.push({ check: layerCheckName(l.index), status: verdicts.get(verdictKey(img, l.chainID))!.status, detail: l.chainID });
      return { id: img.id, tags: img.repoTags, status: worst(checks.map((c) => c.status)), checks, layers: img.layers.map((l) => l.chainID) };
    }
    checks.push(
      img.record.computedId === img.id
        ? { check: 'config-digest', status: 'ok', detail: 'image ID = sha256 of the config bytes' }
        : { check: 'config-digest', status: 'mismatch', detail: `config bytes hash to ${img.record.computedId}` },
    );
    if (!img.config) checks.push({ check: 'config', status: 'mismatch', detail: 'config does not parse' });
    for (const l of img.layers) {
      const v = verdicts.get(verdictKey(img, l.chainID))!;
      if (l.layer?.record && !l.diffMatches) checks.push({ check: `L${l.index} diff`, status: 'mismatch', detail: `layerdb diff ${l.layer.record.diffID} ≠ rootfs ${l.diffID}` });
      if (l.layer?.record && !l.parentMatches) checks.push({ check: `L${l.index} parent`, status: 'mismatch', detail: `layerdb parent ${l.layer.record.parent ?? '(none)'} ≠ recomputed chain` });
      checks.push({ check: layerCheckName(l.index), status: v.status, detail: l.chainID });
    }
    return { id: img.id, tags: img.repoTags, status: worst(checks.map((c) => c.status)), checks, layers: img.layers.map((l) => l.chainID) };
  });
  const layers = [...verdicts.values()];
  const status = worst([...imageVerdicts.map((i) => i.status), ...layers.map((l) => l.status), ...store.map((s) => s.status)]);
  return { status, images: imageVerdicts, layers, store, findings: f };
}

function verdictKey(img: ImageNode, chainID: string): string {
  return img.store.kind === 'containerd' ? `containerd:${chainID}` : chainID;
}

/** A containerd-store image: its blobs and labels (verify-containerd.ts), then its layers' verdicts. */
function containerdImageVerdict(img: ImageNode, verdicts: Map<string, LayerVerdict>): ImageVerdict {
  const checks = img.store.kind === 'containerd' ? containerdImageChecks(img.store, img) : [];
  for (const l of img.layers) {
    const v = verdicts.get(verdictKey(img, l.chainID))!;
    if (l.layer?.snapshot && !l.parentMatches)
      checks.push({ check: `L${l.index} parent`, status: 'mismatch', detail: `snapshot ${l.chainID}'s parent chain does not lead to ${l.index === 0 ? 'no layer' : img.layers[l.index - 1]!.chainID}` });
    checks.push({ check: layerCheckName(l.index), status: v.status, detail: l.chainID });
  }
  return { id: img.id, tags: img.repoTags, status: worst(checks.map((c) => c.status)), checks, layers: img.layers.map((l) => l.chainID) };
}
