import { createHash } from 'node:crypto';
import type { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import type { ContainerdStore } from '../model/containerd.js';
import type { ImageLayer, ImageNode, LayerNode, Model } from '../model/graph.js';
import { TarReader, type TarHeader } from '../source/tar-reader.js';
import { isEvidenceError, type EntryType, type Source, type Stat } from '../source/types.js';
import { Findings } from '../store/findings.js';
import { cleanTarName } from '../store/tarsplit.js';
import { walkLayerTree, type ExtraFile, type FileReport, type FileStatus } from './reassemble.js';
import type { Check, LayerVerdict, Status, VerifyOptions } from './verify.js';

/**
 * verify for the containerd image store (FORMATS.md §9): there is no tar-split; the layer's own
 * blob in the content store is the reference. Per image: the target (index/manifest) and config
 * blobs hash to their digests and the config's diffIDs agree with the layer blobs'
 * `containerd.io/uncompressed` labels. Per layer: the compressed blob hashes to its digest, it
 * decompresses to a tar whose sha256 is the diffID, and the committed snapshot (`snapshots/<n>/fs`,
 * key = chainID) holds exactly that tar's entries, overlay whiteouts included. One pass over the
 * tar, constant memory apart from one name per entry (for the extras check) and the reports.
 */

const WH = '.wh.';
const WH_OPQ = '.wh..wh..opq';
const WH_META = '.wh..wh.';
const OPAQUE_XATTRS = ['trusted.overlay.opaque', 'user.overlay.opaque'];
/** Snapshot files up to this size are read whole. */
const SMALL_FILE = 256 << 10;
const MAX_REPORTS = 100_000;
const MAX_EXTRAS = 10_000;

/** One use of a layer by an image: which blob the manifest names for it. */
export interface LayerUse {
  chainID: string;
  diffID: string;
  blob?: ImageLayer['blob'];
}

function joinRel(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}
function parentOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
}
function baseOf(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}
function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

// -------------------------------------------------------------------------------------------------
// Images

/** Image-level checks: target/manifest/config blobs and diffIDs ↔ uncompressed labels. */
export function containerdImageChecks(store: ContainerdStore, img: ImageNode): Check[] {
  const checks: Check[] = [];
  const info = img.containerd;
  const blob = (check: string, digest: string, what: string): boolean => {
    const b = store.content.read(digest);
    if (!b) {
      checks.push({ check, status: 'missing', detail: `${what} ${digest} is not in the content store` });
      return false;
    }
    checks.push(
      b.verified
        ? { check, status: 'ok', detail: `${what} bytes hash to ${digest}` }
        : { check, status: 'mismatch', detail: `${what} ${digest}: bytes hash to ${b.actual}` },
    );
    return b.verified;
  };
  if (!info) return [{ check: 'target', status: 'missing', detail: 'no containerd image record' }];
  blob('target-digest', info.target.digest, info.index ? 'index' : 'manifest');
  const pm = info.inspectManifest;
  if (!pm) {
    checks.push({ check: 'manifest', status: 'missing', detail: img.dropReason ?? 'no manifest with a readable config' });
    return checks;
  }
  if (pm.desc.digest !== info.target.digest) blob('manifest', pm.desc.digest, 'manifest');
  if (!pm.configDigest) checks.push({ check: 'config-digest', status: 'missing', detail: 'the manifest names no config' });
  else blob('config-digest', pm.configDigest, 'config');
  if (!img.config) checks.push({ check: 'config', status: 'mismatch', detail: 'config does not parse' });
  const layers = pm.manifest?.layers ?? [];
  if (pm.manifest && layers.length !== pm.diffIDs.length)
    checks.push({ check: 'layer-count', status: 'mismatch', detail: `manifest lists ${layers.length} layers, the config ${pm.diffIDs.length} diffIDs` });
  for (const l of img.layers) {
    const u = l.blob?.uncompressed;
    if (!l.blob) continue;
    if (u === undefined) {
      // Uncompressed blobs are their own diffID; others need the label (checked by decompression anyway).
      if (l.blob.digest !== l.diffID && !/tar$/.test(l.blob.mediaType))
        checks.push({ check: `L${l.index} diff`, status: 'unchecked', detail: `blob ${l.blob.digest} has no containerd.io/uncompressed label` });
    } else if (u !== l.diffID) checks.push({ check: `L${l.index} diff`, status: 'mismatch', detail: `blob ${l.blob.digest} is labelled uncompressed ${u}, the config says ${l.diffID}` });
  }
  return checks;
}

// -------------------------------------------------------------------------------------------------
// Layers

type Decompress = { kind: 'gzip' | 'zstd' | 'none' } | { kind: 'unsupported'; why: string };

function decompressorFor(mediaType: string): Decompress {
  if (/zstd/.test(mediaType)) {
    const z = (zlib as unknown as { createZstdDecompress?: unknown }).createZstdDecompress;
    return typeof z === 'function' ? { kind: 'zstd' } : { kind: 'unsupported', why: `zstd blob and this Node (${process.version}) has no zstd decoder` };
  }
  if (/gzip/.test(mediaType)) return { kind: 'gzip' };
  if (/(\.tar|diff\.tar|\+tar)$/.test(mediaType) || /tar$/.test(mediaType)) return { kind: 'none' };
  return { kind: 'unsupported', why: `unknown layer media type ${JSON.stringify(mediaType)}` };
}

function makeDecompressor(d: Decompress): Transform | undefined {
  if (d.kind === 'gzip') return zlib.createGunzip();
  if (d.kind === 'zstd') return (zlib as unknown as { createZstdDecompress: () => Transform }).createZstdDecompress();
  return undefined;
}

const TAR_TYPE: Record<string, EntryType | undefined> = {
  file: 'file',
  'contiguous-file': 'file',
  link: 'file',
  symlink: 'symlink',
  directory: 'dir',
  'character-device': 'char',
  'block-device': 'block',
  fifo: 'fifo',
};

function isOpaque(src: Source, p: string): boolean | undefined {
  try {
    const x = src.xattrs(p);
    if (OPAQUE_XATTRS.some((k) => x.get(k)?.toString('latin1') === 'y')) return true;
  } catch {
    return undefined;
  }
  return src.hasXattrs ? false : undefined;
}

async function sha256Of(stream: AsyncIterable<unknown> | Iterable<unknown>): Promise<{ hex: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const c of stream) {
    const b = c as Buffer;
    size += b.length;
    h.update(b);
  }
  return { hex: h.digest('hex'), size };
}

interface CompareState {
  fs: Source;
  files: FileReport[];
  counts: Partial<Record<FileStatus, number>>;
  tarNames: Set<string>;
  position: number;
}

/** The sha256 and length of a file entry's data, hashed as the reader passes it by. */
interface Body {
  hex: string;
  size: number;
}

/** Compares one tar entry with the snapshot; `body` is the hash of its data (files only). */
async function compareEntry(st: CompareState, header: TarHeader, body: Body | undefined): Promise<void> {
  const position = st.position++;
  const type = header.type ?? 'file';
  const size = header.size;
  const clean = cleanTarName(header.name);
  const r: FileReport = { name: header.name, path: clean.path, position, check: size > 0 ? 'content' : 'presence', status: 'ok', size };
  const done = (status: FileStatus, detail?: string): void => {
    r.status = status;
    if (detail) r.detail = detail;
    st.counts[status] = (st.counts[status] ?? 0) + 1;
    if (status !== 'ok' && st.files.length < MAX_REPORTS) st.files.push(r);
  };
  const want = TAR_TYPE[type];
  if (want === undefined || clean.path === '') return;
  if (!clean.escapes) st.tarNames.add(clean.path);
  if (clean.escapes || clean.nul) {
    return done('unsafe', 'name leaves the snapshot directory or holds a NUL; not looked up');
  }
  const name = baseOf(clean.path);
  let lookup = clean.path;
  let wantType: EntryType = want;
  let whiteout: 'file' | 'opaque' | undefined;
  if (name.startsWith(WH)) {
    if (name === WH_OPQ) {
      lookup = parentOf(clean.path);
      wantType = 'dir';
      whiteout = 'opaque';
    } else if (name.startsWith(WH_META)) return; // aufs metadata: not applied
    else {
      lookup = joinRel(parentOf(clean.path), name.slice(WH.length));
      wantType = 'char';
      whiteout = 'file';
    }
    r.path = lookup;
  }
  let s: Stat | undefined;
  try {
    s = st.fs.lstat(lookup);
  } catch (e) {
    return done('unreadable', errMessage(e));
  }
  if (!s) {
    return done('missing', whiteout ? `expected ${whiteout === 'file' ? 'a whiteout char device 0:0' : 'an opaque directory'} at ${JSON.stringify(lookup)}` : undefined);
  }
  r.actualSize = s.size;
  if (s.type !== wantType) {
    return done('replaced', `expected ${wantType}, found ${s.type}`);
  }
  if (whiteout === 'file') {
    return s.rdevMajor === 0 && s.rdevMinor === 0 ? done('ok') : done('replaced', `expected a whiteout (char 0:0), found char ${s.rdevMajor}:${s.rdevMinor}`);
  }
  if (whiteout === 'opaque') {
    return isOpaque(st.fs, lookup) === false ? done('modified', 'directory is no longer marked opaque') : done('ok');
  }
  switch (type) {
    case 'symlink':
      return s.linkTarget === header.linkname ? done('ok') : done('modified', `points at ${JSON.stringify(s.linkTarget)}, the layer says ${JSON.stringify(header.linkname)}`);
    case 'character-device':
    case 'block-device':
      return s.rdevMajor === (header.devmajor ?? 0) && s.rdevMinor === (header.devminor ?? 0)
        ? done('ok')
        : done('modified', `device ${s.rdevMajor}:${s.rdevMinor}, the layer says ${header.devmajor ?? 0}:${header.devminor ?? 0}`);
    case 'link': {
      const target = cleanTarName(header.linkname ?? '');
      let t: Stat | undefined;
      try {
        t = target.escapes ? undefined : st.fs.lstat(target.path);
      } catch {
        t = undefined;
      }
      return t && t.inode === s.inode ? done('ok') : done('replaced', `not a hard link to ${JSON.stringify(target.path)}`);
    }
    case 'file':
    case 'contiguous-file': {
      const want = body ?? { hex: createHash('sha256').digest('hex'), size: 0 };
      let got: { hex: string; size: number };
      try {
        got = s.size <= SMALL_FILE ? await sha256Of([st.fs.readFile(lookup, SMALL_FILE)]) : await sha256Of(st.fs.createReadStream(lookup));
      } catch (e) {
        if (isEvidenceError(e, 'ETOOBIG')) got = await sha256Of(st.fs.createReadStream(lookup));
        else return done('unreadable', errMessage(e));
      }
      r.actualSize = got.size;
      if (got.size < want.size) return done('truncated', `${got.size} of ${want.size} bytes`);
      if (got.size > want.size) return done('grown', `${got.size} bytes, the layer has ${want.size}`);
      return got.hex === want.hex ? done('ok') : done('modified', `sha256 ${got.hex.slice(0, 16)}…, the layer's is ${want.hex.slice(0, 16)}…`);
    }
    default:
      return done('ok');
  }
}

/** Objects in the snapshot that the layer tar does not account for (dirs themselves excepted). */
function findExtras(fs: Source, tarNames: Set<string>, f: Findings, path: string): { extras: ExtraFile[]; total: number } {
  const extras: ExtraFile[] = [];
  let total = 0;
  for (const t of walkLayerTree(fs, { findings: f, path })) {
    const p = t.path;
    if (t.type === 'dir') {
      if (t.opaque && !tarNames.has(joinRel(p, WH_OPQ))) {
        total++;
        if (extras.length < MAX_EXTRAS) extras.push({ path: p, type: 'dir', tarName: joinRel(p, WH_OPQ) });
      }
      continue;
    }
    const tarName = t.type === 'char' && (t.rdevMajor ?? 0) === 0 && (t.rdevMinor ?? 0) === 0 ? joinRel(parentOf(p), WH + baseOf(p)) : p;
    if (!tarNames.has(tarName)) {
      total++;
      if (extras.length < MAX_EXTRAS) extras.push({ path: p, type: t.type, tarName });
    }
  }
  return { extras, total };
}

/** Verifies one containerd image layer: its snapshot, its blob, and the snapshot against the blob. */
export async function verifyContainerdLayer(model: Model, store: ContainerdStore, node: LayerNode | undefined, use: LayerUse, f: Findings, opts: VerifyOptions): Promise<LayerVerdict> {
  const checks: Check[] = [];
  const snap = node?.snapshot;
  const v: LayerVerdict = { chainID: use.chainID, diffID: use.diffID, status: 'ok', checks, files: [], extras: [] };
  if (snap?.id !== undefined) v.cacheID = String(snap.id);
  const where = (p: string) => (store.fromDataRoot ? `${store.fromDataRoot}/${p}` : `${store.src.label}:${p}`);

  // Snapshot: committed, keyed by the chainID, with its directory.
  let fs: Source | undefined;
  if (!snap) checks.push({ check: 'snapshot', status: 'missing', detail: `no snapshot keyed ${use.chainID} in the ${store.driver} snapshotter` });
  else if (snap.kind !== 'Committed') checks.push({ check: 'snapshot', status: 'mismatch', detail: `snapshot is ${snap.kind}, not Committed` });
  else if (!snap.fsDir || !snap.fsPresent) checks.push({ check: 'snapshot', status: 'missing', detail: `${snap.fsDir ?? 'snapshot directory'} does not exist` });
  else {
    try {
      fs = store.src.sub(snap.fsDir);
      checks.push({ check: 'snapshot', status: 'ok', detail: `${snap.fsDir} (committed)` });
    } catch (e) {
      f.caught(e, 'verify.unreadable', where(snap.fsDir));
      checks.push({ check: 'snapshot', status: 'unchecked', detail: `${snap.fsDir} cannot be opened` });
    }
  }

  // Blob: present and hashing to its digest.
  const b = use.blob;
  let blobOk = false;
  if (!b) checks.push({ check: 'blob', status: 'unchecked', detail: 'no manifest names a blob for this layer' });
  else if (!store.content.stat(b.digest)) {
    checks.push({
      check: 'blob',
      status: 'unchecked',
      detail: b.present
        ? `content record for ${b.digest} exists but its blob file is missing`
        : `layer blob ${b.digest} is not in the content store (garbage-collected after unpacking; only the snapshot is kept)`,
    });
  } else if (opts.noContent) {
    const size = store.content.stat(b.digest)!.size;
    checks.push(
      size === b.size
        ? { check: 'blob', status: 'ok', detail: `present, ${size} bytes (not hashed: --no-content)` }
        : { check: 'blob', status: 'mismatch', detail: `blob is ${size} bytes, the manifest says ${b.size}` },
    );
  } else {
    const r = await store.content.verifyBlob(b.digest);
    if (!r) checks.push({ check: 'blob', status: 'unchecked', detail: `blob ${b.digest} cannot be read` });
    else if (!r.ok) checks.push({ check: 'blob', status: 'mismatch', detail: `blob ${b.digest} hashes to ${r.actual}` });
    else if (r.size !== b.size) checks.push({ check: 'blob', status: 'mismatch', detail: `blob is ${r.size} bytes, the manifest says ${b.size}` });
    else {
      blobOk = true;
      checks.push({ check: 'blob', status: 'ok', detail: `${r.size} bytes hash to ${b.digest}` });
    }
  }

  const skip = (why: string) => {
    checks.push({ check: 'uncompressed', status: 'unchecked', detail: why });
    checks.push({ check: 'content', status: 'unchecked', detail: why });
  };
  if (opts.noContent) skip('skipped (--no-content)');
  else if (!b) skip('no layer blob to compare with');
  else if (!blobOk) skip(checks.find((c) => c.check === 'blob')!.status === 'mismatch' ? 'the layer blob is corrupt: nothing trustworthy to compare the snapshot with' : 'the layer blob is not available');
  else {
    const d = decompressorFor(b.mediaType);
    if (d.kind === 'unsupported') skip(d.why);
    else await compareWithBlob(store, b, d, use, fs, v, f, snap?.fsDir ? where(snap.fsDir) : where(''));
  }
  v.status = worstOf(checks.map((c) => c.status));
  return v;
}

const RANK: Record<Status, number> = { ok: 0, unchecked: 1, missing: 2, mismatch: 3 };
function worstOf(list: Status[]): Status {
  let w: Status = 'ok';
  for (const s of list) if (RANK[s] > RANK[w]) w = s;
  return w;
}

async function compareWithBlob(
  store: ContainerdStore,
  b: NonNullable<ImageLayer['blob']>,
  d: Decompress,
  use: LayerUse,
  fs: Source | undefined,
  v: LayerVerdict,
  f: Findings,
  snapPath: string,
): Promise<void> {
  const checks = v.checks;
  const blobPath = store.content.path(b.digest)!;
  const uHash = createHash('sha256');
  let bytes = 0;
  const st: CompareState | undefined = fs ? { fs, files: [], counts: {}, tarNames: new Set(), position: 0 } : undefined;
  let entries = 0;
  // The reader calls back synchronously; comparisons read the snapshot (big files as streams), so
  // they queue here and run between chunks, in archive order: at most one chunk's entries wait.
  const queue: { header: TarHeader; body?: Body }[] = [];
  const reader = new TarReader((header) => {
    entries++;
    if (!st) return undefined;
    const type = header.type ?? 'file';
    if (type !== 'file' && type !== 'contiguous-file') {
      queue.push({ header });
      return undefined;
    }
    const h = createHash('sha256');
    let size = 0;
    return {
      data(b, start, end) {
        h.update(b.subarray(start, end));
        size += end - start;
      },
      end() {
        queue.push({ header, body: { hex: h.digest('hex'), size } });
      },
    };
  });
  const compareQueued = async () => {
    while (queue.length) {
      const q = queue.shift()!;
      await compareEntry(st!, q.header, q.body);
    }
  };
  const consume = async (chunks: AsyncIterable<Buffer>) => {
    for await (const chunk of chunks) {
      uHash.update(chunk);
      bytes += chunk.length;
      reader.write(chunk);
      await compareQueued();
    }
    reader.end();
    await compareQueued();
  };
  const dec = makeDecompressor(d);
  const source: Readable = store.src.createReadStream(blobPath);
  let pipeErr: unknown;
  try {
    await (dec ? pipeline(source, dec, consume) : pipeline(source, consume));
  } catch (e) {
    pipeErr = e;
  }
  if (pipeErr) {
    const msg = `blob ${b.digest} does not decompress to a tar: ${errMessage(pipeErr)}`;
    f.add('error', 'verify.containerd.bad-layer', msg, store.content.where(b.digest));
    checks.push({ check: 'uncompressed', status: 'mismatch', detail: msg });
    checks.push({ check: 'content', status: 'unchecked', detail: 'the layer tar could not be read to the end' });
    return;
  }
  const diffID = `sha256:${uHash.digest('hex')}`;
  v.computedDiffID = diffID;
  v.bytes = bytes;
  checks.push(
    diffID === use.diffID
      ? { check: 'uncompressed', status: 'ok', detail: `${bytes} bytes of tar hash to the diffID` }
      : { check: 'uncompressed', status: 'mismatch', detail: `blob decompresses to ${diffID}, not the diffID ${use.diffID}` },
  );
  if (!st || !fs) {
    checks.push({ check: 'content', status: 'unchecked', detail: 'no snapshot directory to compare with' });
    return;
  }
  const ex = findExtras(fs, st.tarNames, f, snapPath);
  v.files = st.files;
  v.extras = ex.extras;
  const bad = Object.entries(st.counts).reduce((n, [k, c]) => (k === 'ok' ? n : n + (c ?? 0)), 0) + ex.total;
  if (bad === 0) checks.push({ check: 'content', status: 'ok', detail: `${entries} tar entries match the snapshot` });
  else {
    checks.push({ check: 'content', status: 'mismatch', detail: `${bad} of ${entries} entries differ from the snapshot${ex.total ? ` (${ex.total} extra)` : ''}` });
    f.add('warn', 'verify.containerd.snapshot-differs', `snapshot of layer ${use.chainID} differs from its blob in ${bad} entries`, snapPath);
  }
}
