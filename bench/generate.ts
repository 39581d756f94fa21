/**
 * Synthetic overlay2 data roots for the benchmark, laid out the way the engine lays them out
 * (FORMATS.md §1, §2, §4), modelled file by file on the real-engine fixture
 * `fixtures/overlay2-20.10`:
 *
 *  - every layer's diffID is the sha256 of the layer tar it came from, its chainID is computed from
 *    the diffIDs, and its `tar-split.json.gz` reassembles, with the files in its
 *    `overlay2/<cache-id>/diff/`, to exactly that tar (segments = padding + header blocks, file
 *    entries = CRC-64/GO-ISO of the body), so `verify` can check them like real layers;
 *  - image IDs are the sha256 of the config bytes; base layers are shared; classic-builder builds
 *    leave intermediate images with `metadata/parent`; pulls leave repo digests and
 *    `distribution/` metadata; tags live in `repositories.json`;
 *  - overlay2 dirs have `link`, `l/<link>` symlinks, `lower` chains, `work/`, and `committed` in
 *    every dir that has a child; containers have `-init` and RW dirs, `layerdb/mounts/<id>/`,
 *    `config.v2.json` + `hostconfig.json` shaped like 20.10's, and running ones a `merged/`;
 *  - whiteouts are char devices 0:0 and opaque dirs carry `trusted.overlay.opaque=y`, as on a real
 *    overlay2 host (only when run as root: both need privileges; otherwise none are planned).
 *
 * Everything comes from a seeded PRNG, so a spec always yields the same IDs, files and archives.
 * Large file content is streamed (AES-CTR keystream from the seed), never held whole in memory.
 *
 *   node dist/bench/generate.js [--out /tmp/dockscope-bench] [--sizes small,medium,...] [--force]
 *
 * Stores are cached under `--out/<size>/`; one is rebuilt only when its spec or this generator
 * (the compiled file's own bytes) changed, or with --force.
 */
import { spawnSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { Crc64 } from '../src/store/crc64.js';

/** Bump on any change of output that the file-hash part of the cache key might not catch. */
export const GENERATOR_VERSION = 1;

// ------------------------------------------------------------------------------------------------
// Specs

export interface ContentLayerSpec {
  /** Files in the layer. */
  files: number;
  /** Bytes per file. */
  fileSize: number;
}

export interface StoreSpec {
  name: string;
  seed: number;
  /** Images in imagedb (intermediate images included), approximately. */
  images: number;
  /** Distinct read-only layers, approximately. */
  layers: number;
  containers: number;
  running: number;
  /** Content store: one image per entry, each with one layer of large, streamed files. */
  content?: ContentLayerSpec[];
}

export const SPECS: Record<string, StoreSpec> = {
  small: { name: 'small', seed: 101, images: 10, layers: 30, containers: 8, running: 2 },
  medium: { name: 'medium', seed: 202, images: 100, layers: 1000, containers: 100, running: 8 },
  large: { name: 'large', seed: 303, images: 500, layers: 5000, containers: 500, running: 25 },
  huge: { name: 'huge', seed: 404, images: 2000, layers: 20000, containers: 2000, running: 60 },
  content: {
    name: 'content',
    seed: 505,
    images: 5,
    layers: 5,
    containers: 2,
    running: 1,
    content: [
      { files: 1, fileSize: 1 << 30 },
      { files: 64, fileSize: 4 << 20 },
      { files: 10_000, fileSize: 4096 },
    ],
  },
};

export const DEFAULT_OUT = '/tmp/dockscope-bench';
/** The data root path the synthetic engine "ran" with; it appears in LogPath, volume sources… */
export const ORIGINAL_ROOT = '/var/lib/docker';
/** Where the data root sits in the store dir and in the archives (like the real fixtures). */
export const ROOT_IN_ARCHIVE = 'var/lib/docker';

// ------------------------------------------------------------------------------------------------
// Deterministic randomness and time

/** sfc32: small, fast, good enough, and reproducible everywhere. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.u32();
  }
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
  /** 0 ≤ n < max. */
  int(max: number): number {
    return Math.floor((this.u32() / 4294967296) * max);
  }
  /** lo ≤ n ≤ hi. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
  /** 2·bytes lowercase hex digits. */
  hex(bytes: number): string {
    let s = '';
    for (let i = 0; i < bytes; i += 4) s += this.u32().toString(16).padStart(8, '0');
    return s.slice(0, bytes * 2);
  }
  /** overlay2 short link: 26 chars of base32 (A–Z2–7), as overlayutils.GenerateID. */
  link(): string {
    const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    let s = '';
    for (let i = 0; i < 26; i++) s += A[this.u32() & 31];
    return s;
  }
  word(): string {
    const syl = ['ka', 'lo', 'mi', 'nu', 'pe', 'ra', 'si', 'to', 'vu', 'xe', 'zo', 'be', 'da', 'fi', 'go', 'hu'];
    let s = '';
    const n = this.range(2, 4);
    for (let i = 0; i < n; i++) s += this.pick(syl);
    return s;
  }
}

/** Go's time.RFC3339Nano in UTC: fractional seconds without trailing zeros. */
export function goTime(ns: bigint): string {
  const sec = ns / 1_000_000_000n;
  const frac = ns % 1_000_000_000n;
  const base = new Date(Number(sec) * 1000).toISOString().slice(0, 19);
  const f = frac === 0n ? '' : '.' + frac.toString().padStart(9, '0').replace(/0+$/, '');
  return `${base}${f}Z`;
}

class Clock {
  constructor(
    public ns: bigint,
    private readonly rng: Rng,
  ) {}
  /** Moves on by lo..hi seconds plus a random fraction; returns the new time. */
  tick(lo: number, hi: number): bigint {
    this.ns += BigInt(this.rng.range(lo, hi)) * 1_000_000_000n + BigInt(this.rng.int(1_000_000_000));
    return this.ns;
  }
}

// ------------------------------------------------------------------------------------------------
// JSON as Go's encoding/json writes it

/** Go escapes <, >, & and U+2028/2029 in strings (HTML-safe by default). */
export function goJson(v: unknown): string {
  return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

function sha256Hex(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

// ------------------------------------------------------------------------------------------------
// Layer tars

/**
 * How a layer tar was written:
 *  - 'go': Go's archive/tar as the engine (classic builder, commit) and BuildKit write it: names
 *    without './', mode with the c_IS* type bits, uname/gname 'root', ends right after the two
 *    zero blocks;
 *  - 'rootfs': a root filesystem tarball (`docker import`, base images): './' names, permission
 *    bits only, no user names, padded to a 10240-byte record.
 */
export type TarStyle = 'go' | 'rootfs';

type Body = { kind: 'text'; seed: number } | { kind: 'stream'; seed: number };

export type Entry =
  | { t: 'dir'; p: string; mode: number; uid: number; gid: number; opaque?: boolean }
  | { t: 'file'; p: string; mode: number; uid: number; gid: number; size: number; body: Body }
  | { t: 'symlink'; p: string; target: string }
  | { t: 'hardlink'; p: string; target: string }
  /** A deletion of `p`: char device 0:0 on disk, `.wh.<name>` in the tar. */
  | { t: 'whiteout'; p: string };

const ZERO = Buffer.alloc(10240);

function putStr(b: Buffer, off: number, len: number, s: string): void {
  const src = Buffer.from(s, 'utf8');
  if (src.length > len) throw new Error(`tar field too long: ${s}`);
  src.copy(b, off);
}

function putOctal(b: Buffer, off: number, len: number, n: number): void {
  putStr(b, off, len, n.toString(8).padStart(len - 1, '0') + '\0');
}

export interface TarHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname?: string;
  uname: string;
  gname: string;
}

/** One USTAR header block exactly as Go's archive/tar writes it (checksum "%06o\0 "). */
export function tarHeader(h: TarHeader): Buffer {
  const b = Buffer.alloc(512);
  putStr(b, 0, 100, h.name);
  putOctal(b, 100, 8, h.mode);
  putOctal(b, 108, 8, h.uid);
  putOctal(b, 116, 8, h.gid);
  putOctal(b, 124, 12, h.size);
  putOctal(b, 136, 12, h.mtime);
  b.fill(0x20, 148, 156);
  b.write(h.typeflag, 156, 'latin1');
  if (h.linkname) putStr(b, 157, 100, h.linkname);
  b.write('ustar\u000000', 257, 'latin1');
  putStr(b, 265, 32, h.uname);
  putStr(b, 297, 32, h.gname);
  putOctal(b, 329, 8, 0);
  putOctal(b, 337, 8, 0);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += b[i]!;
  putStr(b, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return b;
}

const TEXT = Buffer.from('abcdefghijklmnopqrstuvwxyz_=./ \n', 'latin1');

/** Text-like, somewhat compressible bytes (5 bits of entropy each). */
function textBody(seed: number, n: number): Buffer {
  const r = new Rng(seed);
  const b = Buffer.allocUnsafe(n);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const x = r.u32();
    b[i] = TEXT[x & 31]!;
    b[i + 1] = TEXT[(x >>> 5) & 31]!;
    b[i + 2] = TEXT[(x >>> 10) & 31]!;
    b[i + 3] = TEXT[(x >>> 15) & 31]!;
  }
  for (; i < n; i++) b[i] = TEXT[r.u32() & 31]!;
  return b;
}

const STREAM_CHUNK = 1 << 20;

/**
 * Large file content, streamed: AES-128-CTR keystream of the seed, with the second half of every
 * 64 KiB block zeroed (binaries compress about 2:1; pure noise would make .tar.gz packing crawl).
 */
function* streamBody(seed: number, size: number): Generator<Buffer> {
  const key = createHash('sha256').update(`dockscope-bench-content-${seed}`).digest();
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  const zeros = Buffer.alloc(STREAM_CHUNK);
  let left = size;
  while (left > 0) {
    const n = Math.min(left, STREAM_CHUNK);
    const out = cipher.update(zeros.subarray(0, n));
    for (let off = 32768; off < n; off += 65536) out.fill(0, off, Math.min(off + 32768, n));
    left -= n;
    yield out;
  }
}

function typeBits(t: 'dir' | 'file' | 'symlink'): number {
  return t === 'dir' ? 0o40000 : t === 'file' ? 0o100000 : 0o120000;
}

function parentDir(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
}

function baseName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

export interface WrittenLayer {
  diffID: string;
  /** What overlay2's ApplyDiff returns: Lstat sizes of non-directories, hard links once. */
  size: number;
  tarSplit: Buffer;
  tarBytes: number;
  files: number;
  contentBytes: number;
}

/** Deferred privileged operations, run in one helper process at the end. */
interface Deferred {
  mknod: string[];
  opaque: string[];
  chown: [string, number, number][];
}

/**
 * Writes a layer's files into `diffDir` and, in the same pass, the tar stream they came from:
 * its sha256 (the diffID) and its tar-split (FORMATS.md §4), without ever building the tar.
 */
function writeLayer(diffDir: string, entries: Entry[], style: TarStyle, mtime: number, deferred: Deferred, isRoot: boolean): WrittenLayer {
  const hash = createHash('sha256');
  const lines: string[] = [];
  let pos = 0;
  let pad = 0;
  let tarBytes = 0;
  let size = 0;
  let files = 0;
  let contentBytes = 0;
  const modes = new Map<string, number>();
  const seg = (b: Buffer) => {
    lines.push(`{"type":2,"payload":"${b.toString('base64')}","position":${pos++}}\n`);
    hash.update(b);
    tarBytes += b.length;
  };
  const fileLine = (name: string, n: number, crc: string | null) => {
    lines.push(`{"type":1,"name":${goJson(name)},${n > 0 ? `"size":${n},` : ''}"payload":${crc === null ? 'null' : `"${crc}"`},"position":${pos++}}\n`);
  };
  const header = (h: Omit<TarHeader, 'uname' | 'gname' | 'mtime'> & { mtime?: number }) => {
    const hdr = tarHeader({
      ...h,
      mtime: h.mtime ?? mtime,
      uname: style === 'go' && h.uid === 0 ? 'root' : '',
      gname: style === 'go' && h.gid === 0 ? 'root' : '',
    });
    seg(pad > 0 ? Buffer.concat([ZERO.subarray(0, pad), hdr]) : hdr);
    pad = 0;
  };
  const tname = (p: string, dir = false) => (style === 'rootfs' ? (p === '' ? './' : `./${p}${dir ? '/' : ''}`) : `${p}${dir ? '/' : ''}`);
  const owned = (abs: string, uid: number, gid: number) => {
    if (isRoot && (uid !== 0 || gid !== 0)) deferred.chown.push([abs, uid, gid]);
  };

  if (style === 'rootfs') {
    header({ name: './', mode: 0o755, uid: 0, gid: 0, size: 0, typeflag: '5' });
    fileLine('./', 0, null);
  }
  for (const e of entries) {
    const abs = path.join(diffDir, e.p);
    switch (e.t) {
      case 'dir': {
        const name = tname(e.p, true);
        header({ name, mode: (style === 'go' ? typeBits('dir') : 0) | e.mode, uid: e.uid, gid: e.gid, size: 0, typeflag: '5' });
        fileLine(name, 0, null);
        fs.mkdirSync(abs, { mode: e.mode });
        owned(abs, e.uid, e.gid);
        if (e.opaque) {
          // go-archive ConvertWrite: the dir, then a `.wh..wh..opq` file with the dir's permissions.
          const wh = tname(`${e.p}/.wh..wh..opq`);
          header({ name: wh, mode: e.mode, uid: e.uid, gid: e.gid, size: 0, typeflag: '0', mtime: 0 });
          fileLine(wh, 0, null);
          deferred.opaque.push(abs);
        }
        break;
      }
      case 'file': {
        const name = tname(e.p);
        header({ name, mode: (style === 'go' ? typeBits('file') : 0) | e.mode, uid: e.uid, gid: e.gid, size: e.size, typeflag: '0' });
        const crc = new Crc64();
        if (e.body.kind === 'text' || e.size <= STREAM_CHUNK) {
          const body = e.body.kind === 'text' ? textBody(e.body.seed, e.size) : Buffer.concat([...streamBody(e.body.seed, e.size)]);
          crc.update(body);
          hash.update(body);
          fs.writeFileSync(abs, body, { mode: e.mode });
        } else {
          const fd = fs.openSync(abs, 'w', e.mode);
          try {
            for (const chunk of streamBody(e.body.seed, e.size)) {
              crc.update(chunk);
              hash.update(chunk);
              let off = 0;
              while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
            }
          } finally {
            fs.closeSync(fd);
          }
        }
        fileLine(name, e.size, e.size > 0 ? crc.base64() : null);
        modes.set(e.p, e.mode);
        tarBytes += e.size;
        pad = (512 - (e.size % 512)) % 512;
        size += e.size;
        files++;
        contentBytes += e.size;
        owned(abs, e.uid, e.gid);
        break;
      }
      case 'symlink': {
        const name = tname(e.p);
        header({ name, mode: (style === 'go' ? typeBits('symlink') : 0) | 0o777, uid: 0, gid: 0, size: 0, typeflag: '2', linkname: e.target });
        fileLine(name, 0, null);
        fs.symlinkSync(e.target, abs);
        size += Buffer.byteLength(e.target);
        break;
      }
      case 'hardlink': {
        const name = tname(e.p);
        header({ name, mode: (style === 'go' ? typeBits('file') : 0) | (modes.get(e.target) ?? 0o644), uid: 0, gid: 0, size: 0, typeflag: '1', linkname: tname(e.target) });
        fileLine(name, 0, null);
        fs.linkSync(path.join(diffDir, e.target), abs);
        break;
      }
      case 'whiteout': {
        // go-archive ConvertWrite: the char device 0:0 becomes an empty `.wh.<name>`, mode 0600.
        const dir = parentDir(e.p);
        const name = tname(`${dir ? dir + '/' : ''}.wh.${baseName(e.p)}`);
        header({ name, mode: 0o600, uid: 0, gid: 0, size: 0, typeflag: '0' });
        fileLine(name, 0, null);
        deferred.mknod.push(abs);
        break;
      }
    }
  }
  // End of archive: the last body's padding and two zero blocks; a rootfs tarball also pads to its
  // record size, which tar-split keeps as one more segment. Docker's packer then adds an empty one.
  seg(Buffer.concat([ZERO.subarray(0, pad), ZERO.subarray(0, 1024)]));
  if (style === 'rootfs') {
    const rest = (10240 - (tarBytes % 10240)) % 10240;
    if (rest > 0) seg(ZERO.subarray(0, rest));
  }
  lines.push(`{"type":2,"payload":"","position":${pos++}}\n`);
  return {
    diffID: 'sha256:' + hash.digest('hex'),
    size,
    tarSplit: zlib.gzipSync(Buffer.from(lines.join(''), 'utf8')),
    tarBytes,
    files,
    contentBytes,
  };
}

// ------------------------------------------------------------------------------------------------
// The synthetic engine

interface Layer {
  chainID: string;
  diffID: string;
  cacheID: string;
  link: string;
  /** Content of `lower` ('' for a base layer, which has none). */
  lower: string;
  parent?: Layer;
  depth: number;
  committed: boolean;
  tarBytes: number;
}

/** A driver dir that is not a layerdb layer (container init and RW dirs). */
interface DriverDirRef {
  id: string;
  link: string;
  lower: string;
  committed: boolean;
}

interface ImageCfg {
  [k: string]: unknown;
  config: Record<string, unknown>;
  history: Record<string, unknown>[];
  rootfs: { type: 'layers'; diff_ids: string[] };
}

interface Image {
  id: string;
  cfg: ImageCfg;
  top?: Layer;
  parentId?: string;
  refs: string[];
  kind: 'base' | 'pulled' | 'built' | 'content';
  /** Familiar repository name of the pull (for distribution metadata and references). */
  repo?: string;
  /** Fully qualified repository, as distribution metadata records it. */
  sourceRepo?: string;
}

export interface StoreManifest {
  generator: string;
  spec: StoreSpec;
  /** Whiteouts and opaque dirs were made (needs root). */
  privileged: boolean;
  /** Relative to the store dir. */
  dir: string;
  dataRoot: string;
  tar: string;
  tgz: string;
  counts: {
    images: number;
    taggedImages: number;
    layers: number;
    containers: number;
    running: number;
    volumes: number;
    layerFiles: number;
    contentBytes: number;
    tarBytes: number;
  };
  /** References the benchmark resolves: a tagged image with a deep chain, a running container. */
  refs: { image: string; imageId: string; container: string; containerId: string };
  /**
   * Content-store images, one per content layer: the image reference, its top layer, and its whole
   * chain bottom first (what `verify <image>` re-hashes), for the verify and export baselines.
   */
  contentLayers: {
    image: string;
    chainID: string;
    diffID: string;
    cacheID: string;
    tarBytes: number;
    chain: { chainID: string; diffID: string; cacheID: string; tarBytes: number }[];
  }[];
  seconds: { generate: number; pack: number };
}

class Engine {
  readonly rng: Rng;
  readonly clock: Clock;
  readonly layers = new Map<string, Layer>();
  readonly images: Image[] = [];
  /** familiar name → ref → image ID. */
  readonly repos = new Map<string, Map<string, string>>();
  /** diffID hex → v2 metadata entries. */
  readonly v2meta = new Map<string, { Digest: string; SourceRepository: string; HMAC: string }[]>();
  readonly blobOf = new Map<string, string>();
  readonly deferred: Deferred = { mknod: [], opaque: [], chown: [] };
  readonly volumes: string[] = [];
  readonly contentLayers: StoreManifest['contentLayers'] = [];
  containers = 0;
  running = 0;
  madeWhiteout = false;
  madeOpaque = false;
  layerFiles = 0;
  contentBytes = 0;
  tarBytes = 0;
  runningRef?: { name: string; id: string };
  anyContainer?: { name: string; id: string };

  constructor(
    readonly root: string,
    readonly spec: StoreSpec,
    readonly isRoot: boolean,
  ) {
    this.rng = new Rng(spec.seed);
    // 2024-03-01T00:00:00Z, then every event moves the clock on.
    this.clock = new Clock(1_709_251_200_000_000_000n, this.rng);
  }

  p(...parts: string[]): string {
    return path.join(this.root, ...parts);
  }

  write(rel: string, data: string | Buffer, mode: number): void {
    fs.writeFileSync(this.p(rel), data, { mode });
  }

  mkdir(rel: string, mode: number): void {
    fs.mkdirSync(this.p(rel), { mode });
  }

  init(): void {
    fs.mkdirSync(this.root, { recursive: true, mode: 0o710 });
    for (const [d, m] of [
      ['containers', 0o710],
      ['image', 0o700],
      ['image/overlay2', 0o700],
      ['image/overlay2/imagedb', 0o700],
      ['image/overlay2/imagedb/content', 0o700],
      ['image/overlay2/imagedb/content/sha256', 0o700],
      ['image/overlay2/imagedb/metadata', 0o700],
      ['image/overlay2/imagedb/metadata/sha256', 0o700],
      ['image/overlay2/layerdb', 0o700],
      ['image/overlay2/layerdb/sha256', 0o755],
      ['image/overlay2/layerdb/mounts', 0o755],
      ['image/overlay2/layerdb/tmp', 0o755],
      ['image/overlay2/distribution', 0o700],
      ['image/overlay2/distribution/diffid-by-digest', 0o700],
      ['image/overlay2/distribution/diffid-by-digest/sha256', 0o700],
      ['image/overlay2/distribution/v2metadata-by-diffid', 0o700],
      ['image/overlay2/distribution/v2metadata-by-diffid/sha256', 0o700],
      ['overlay2', 0o710],
      ['overlay2/l', 0o700],
      ['volumes', 0o701],
      ['tmp', 0o700],
      ['runtimes', 0o700],
      ['trust', 0o700],
    ] as const)
      this.mkdir(d, m);
  }

  // --- layers -----------------------------------------------------------------------------------

  /** Plans the entries of an ordinary small layer. */
  planEntries(opts: { extra?: boolean } = {}): Entry[] {
    const r = this.rng;
    const top = r.pick(['usr/local/lib', 'usr/share', 'opt', 'etc', 'var/lib', 'srv', 'app', 'usr/lib']);
    const prefix = `${top}/${r.word()}`;
    const ents = new Map<string, Entry>();
    const files: string[] = [];
    const nFiles = r.range(1, 6);
    for (let i = 0; i < nFiles; i++) {
      // Subdirs end in '.d' and files never do, so no file is ever also a directory.
      const sub = r.chance(0.4) ? `/${r.word()}.d` : '';
      const p = `${prefix}${sub}/${r.word()}${r.pick(['', '.so', '.conf', '.py', '.js', '.txt', '.json'])}`;
      if (ents.has(p)) continue;
      const x = r.u32() / 4294967296;
      const size = x < 0.7 ? r.range(0, 1024) : x < 0.95 ? r.range(1025, 8192) : r.range(8193, 65536);
      const exec = r.chance(0.15);
      ents.set(p, { t: 'file', p, mode: exec ? 0o755 : 0o644, uid: 0, gid: 0, size, body: { kind: 'text', seed: r.u32() } });
      files.push(p);
    }
    if (opts.extra !== false) {
      if (r.chance(0.25) && files.length > 0) {
        const p = `${prefix}/current`;
        if (!ents.has(p)) ents.set(p, { t: 'symlink', p, target: r.chance(0.5) ? baseName(files[0]!) : `/${files[0]!}` });
      }
      if (r.chance(0.08) && files.length > 0) {
        const p = `${parentDir(files[0]!)}/${r.word()}.hl`;
        if (!ents.has(p)) ents.set(p, { t: 'hardlink', p, target: files[0]! });
      }
      // Every store gets at least one of each (from its third layer on), however small it is.
      const early = this.layers.size >= 2;
      const wantWhiteout = r.chance(0.12) || (early && !this.madeWhiteout);
      const wantOpaque = r.chance(0.04) || (early && !this.madeOpaque);
      const owner = r.chance(0.1) ? 1000 : 0;
      if (wantWhiteout && this.isRoot) {
        const p = `${r.pick(['etc', 'usr/share', 'var/lib'])}/${r.word()}.old`;
        if (!ents.has(p)) ents.set(p, { t: 'whiteout', p });
        this.madeWhiteout = true;
      }
      if (wantOpaque && this.isRoot) {
        const p = `home/${r.word()}`;
        ents.set(p, { t: 'dir', p, mode: 0o755, uid: owner, gid: owner, opaque: true });
        const f = `${p}/.profile`;
        ents.set(f, { t: 'file', p: f, mode: 0o644, uid: owner, gid: owner, size: r.range(10, 200), body: { kind: 'text', seed: r.u32() } });
        this.madeOpaque = true;
      }
    }
    return withParents(ents);
  }

  /** Creates a layer the way the engine registers one: driver dir first, then layerdb. */
  createLayer(parent: Layer | undefined, entries: Entry[], style: TarStyle, mtime: number): Layer {
    const r = this.rng;
    const cacheID = r.hex(32);
    const link = r.link();
    const dir = `overlay2/${cacheID}`;
    this.mkdir(dir, 0o710);
    this.mkdir(`${dir}/diff`, 0o755);
    const w = writeLayer(this.p(dir, 'diff'), entries, style, mtime, this.deferred, this.isRoot);
    const chainID = parent ? 'sha256:' + sha256Hex(`${parent.chainID} ${w.diffID}`) : w.diffID;
    const existing = this.layers.get(chainID);
    if (existing) {
      // Same parent, same content: the engine would have found the layer and not made a dir.
      fs.rmSync(this.p(dir), { recursive: true, force: true });
      this.deferred.mknod = this.deferred.mknod.filter((x) => !x.startsWith(this.p(dir) + '/'));
      this.deferred.opaque = this.deferred.opaque.filter((x) => !x.startsWith(this.p(dir) + '/'));
      this.deferred.chown = this.deferred.chown.filter((x) => !x[0].startsWith(this.p(dir) + '/'));
      return existing;
    }
    this.write(`${dir}/link`, link, 0o644);
    fs.symlinkSync(`../${cacheID}/diff`, this.p('overlay2/l', link));
    let lower = '';
    if (parent) {
      lower = parent.lower ? `l/${parent.link}:${parent.lower}` : `l/${parent.link}`;
      this.write(`${dir}/lower`, lower, 0o644);
      this.mkdir(`${dir}/work`, 0o700);
      this.commit(parent);
    }
    const ldb = `image/overlay2/layerdb/sha256/${chainID.slice(7)}`;
    this.mkdir(ldb, 0o700);
    this.write(`${ldb}/cache-id`, cacheID, 0o644);
    this.write(`${ldb}/diff`, w.diffID, 0o644);
    if (parent) this.write(`${ldb}/parent`, parent.chainID, 0o644);
    this.write(`${ldb}/size`, String(w.size), 0o644);
    this.write(`${ldb}/tar-split.json.gz`, w.tarSplit, 0o644);
    const layer: Layer = { chainID, diffID: w.diffID, cacheID, link, lower, parent, depth: (parent?.depth ?? 0) + 1, committed: false, tarBytes: w.tarBytes };
    this.layers.set(chainID, layer);
    this.layerFiles += w.files;
    this.contentBytes += w.contentBytes;
    this.tarBytes += w.tarBytes;
    return layer;
  }

  /** overlay2 create(): a parent gets an empty `committed` (0600) when its first child is made. */
  commit(d: { committed: boolean; cacheID?: string; id?: string }): void {
    if (d.committed) return;
    this.write(`overlay2/${d.cacheID ?? d.id}/committed`, '', 0o600);
    d.committed = true;
  }

  // --- images -----------------------------------------------------------------------------------

  storeImage(img: Omit<Image, 'id'>, bytes: Buffer, lastUpdated?: bigint): Image {
    const id = 'sha256:' + sha256Hex(bytes);
    const hex = id.slice(7);
    this.write(`image/overlay2/imagedb/content/sha256/${hex}`, bytes, 0o600);
    if (img.parentId || lastUpdated !== undefined) {
      const meta = `image/overlay2/imagedb/metadata/sha256/${hex}`;
      this.mkdir(meta, 0o700);
      if (lastUpdated !== undefined) this.write(`${meta}/lastUpdated`, goTime(lastUpdated), 0o600);
      if (img.parentId) this.write(`${meta}/parent`, img.parentId, 0o600);
    }
    const full: Image = { ...img, id };
    this.images.push(full);
    for (const ref of img.refs) this.tag(ref, id);
    return full;
  }

  tag(ref: string, id: string): void {
    const at = ref.indexOf('@');
    const name = at >= 0 ? ref.slice(0, at) : ref.slice(0, ref.lastIndexOf(':'));
    let m = this.repos.get(name);
    if (!m) this.repos.set(name, (m = new Map()));
    m.set(ref, id);
  }

  blob(diffID: string): string {
    let b = this.blobOf.get(diffID);
    if (!b) this.blobOf.set(diffID, (b = 'sha256:' + sha256Hex(`compressed:${diffID}`)));
    return b;
  }

  /** The registry manifest digest a pull by tag records as the repo digest. */
  manifestDigest(configBytes: Buffer, id: string, layers: Layer[]): string {
    const m = {
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: configBytes.length, digest: id },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: Math.ceil(l.tarBytes / 2), digest: this.blob(l.diffID) })),
    };
    return 'sha256:' + sha256Hex(JSON.stringify(m, null, 3));
  }

  recordPull(layers: Layer[], sourceRepo: string): void {
    for (const l of layers) {
      const hex = l.diffID.slice(7);
      const list = this.v2meta.get(hex) ?? [];
      if (!list.some((e) => e.SourceRepository === sourceRepo)) {
        list.push({ Digest: this.blob(l.diffID), SourceRepository: sourceRepo, HMAC: '' });
        if (list.length > 50) list.shift();
      }
      this.v2meta.set(hex, list);
    }
  }

  chainOf(top: Layer | undefined): Layer[] {
    const out: Layer[] = [];
    for (let l = top; l; l = l.parent) out.unshift(l);
    return out;
  }

  /**
   * A pulled image: `own` new layers (or content layers) on top of `from`, a registry config
   * (BuildKit-shaped history), tags plus the repo digest, distribution metadata.
   */
  pull(opts: { from?: Image; own: number; content?: ContentLayerSpec; repo: string; sourceRepo: string; tags: string[]; kind: Image['kind']; style: TarStyle }): Image {
    const r = this.rng;
    const built = this.clock.tick(3600, 86400 * 20);
    let top = opts.from?.top;
    const history = opts.from ? structuredClone(opts.from.cfg.history) : [];
    const diffIDs = opts.from ? [...opts.from.cfg.rootfs.diff_ids] : [];
    const created = (k: number) => goTime(built + BigInt(k) * 1_000_000_000n + BigInt(r.int(1e9)));
    let k = 0;
    if (opts.from) history.push({ created: created(k++), created_by: `ARG VERSION=${r.range(1, 9)}.${r.range(0, 30)}`, comment: 'buildkit.dockerfile.v0', empty_layer: true });
    for (let i = 0; i < opts.own; i++) {
      const mtime = Number(built / 1_000_000_000n) + i;
      const entries = opts.content ? contentEntries(r, opts.content) : opts.kind === 'base' ? baseEntries(r, i) : this.planEntries();
      top = this.createLayer(top, entries, opts.style, mtime);
      diffIDs.push(top.diffID);
      if (opts.kind === 'base')
        history.push({ created: created(k++), created_by: `/bin/sh -c #(nop) ADD file:${r.hex(32)} in / ` });
      else
        history.push({
          created: created(k++),
          created_by: opts.content ? `COPY blobs/ /data/ # buildkit` : `RUN /bin/sh -c ${r.pick(['apk add --no-cache', 'pip install', 'npm ci', 'make install', 'cp -r build'])} ${r.word()} # buildkit`,
          comment: 'buildkit.dockerfile.v0',
        });
      if (r.chance(0.3)) history.push({ created: created(k++), created_by: `ENV ${r.word().toUpperCase()}=${r.word()}`, comment: 'buildkit.dockerfile.v0', empty_layer: true });
    }
    const baseCfg = opts.from?.cfg.config ?? {};
    const env = [...((baseCfg.Env as string[] | undefined) ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'])];
    if (opts.kind !== 'base') env.push(`${opts.repo.split('/').pop()!.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_VERSION=${r.range(1, 9)}.${r.range(0, 20)}`);
    const config: Record<string, unknown> =
      opts.kind === 'base'
        ? { Env: env, Cmd: ['/bin/sh'] }
        : {
            ExposedPorts: r.chance(0.5) ? { [`${r.pick([80, 443, 3000, 5432, 6379, 8080, 9090])}/tcp`]: {} } : undefined,
            Env: env,
            Entrypoint: r.chance(0.3) ? ['/usr/local/bin/entrypoint.sh'] : null,
            Cmd: [r.pick(['/app/server', 'python3', 'node', 'nginx']), r.pick(['--serve', 'app.py', 'index.js', '-g', 'run'])],
            WorkingDir: r.pick(['/app', '/srv', '/']),
            Labels: { 'org.opencontainers.image.source': `https://git.example/${opts.repo}`, 'org.opencontainers.image.revision': r.hex(20) },
            OnBuild: null,
          };
    if (opts.kind !== 'base') history.push({ created: created(k++), created_by: `CMD ${JSON.stringify(config.Cmd)}`, comment: 'buildkit.dockerfile.v0', empty_layer: true });
    else history.push({ created: created(k++), created_by: '/bin/sh -c #(nop)  CMD ["/bin/sh"]', empty_layer: true });
    const cfg: ImageCfg = {
      architecture: 'amd64',
      config: JSON.parse(goJson(config)) as Record<string, unknown>,
      created: created(k),
      history,
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: diffIDs },
    };
    const bytes = Buffer.from(goJson(cfg));
    const id = 'sha256:' + sha256Hex(bytes);
    const chain = this.chainOf(top);
    const pulledAt = this.clock.tick(1, 600);
    const refs = [...opts.tags, `${opts.repo}@${this.manifestDigest(bytes, id, chain)}`];
    this.recordPull(chain, opts.sourceRepo);
    return this.storeImage({ cfg, top, refs, kind: opts.kind, repo: opts.repo, sourceRepo: opts.sourceRepo }, bytes, opts.tags.length > 0 ? pulledAt : undefined);
  }

  /**
   * A classic-builder build (DOCKER_BUILDKIT=0) from `from`: one image per instruction, each with
   * `metadata/parent`; RUN/COPY/WORKDIR add a layer. Only the last image is tagged.
   */
  build(from: Image, tag: string, steps: number): Image[] {
    const r = this.rng;
    const out: Image[] = [];
    let parent = from;
    for (let s = 0; s < steps; s++) {
      const last = s === steps - 1;
      const t = this.clock.tick(0, 3);
      const kind = last ? 'CMD' : s === 0 ? r.pick(['ENV', 'LABEL', 'WORKDIR']) : r.pick(['RUN', 'RUN', 'RUN', 'COPY', 'ENV', 'EXPOSE']);
      const cfgIn = structuredClone(parent.cfg.config) as Record<string, unknown>;
      const config: Record<string, unknown> = {
        Hostname: '',
        Domainname: '',
        User: '',
        AttachStdin: false,
        AttachStdout: false,
        AttachStderr: false,
        ExposedPorts: cfgIn.ExposedPorts,
        Tty: false,
        OpenStdin: false,
        StdinOnce: false,
        Env: cfgIn.Env ?? null,
        Cmd: cfgIn.Cmd ?? null,
        Image: parent.id,
        Volumes: null,
        WorkingDir: cfgIn.WorkingDir ?? '',
        Entrypoint: cfgIn.Entrypoint ?? null,
        OnBuild: null,
        Labels: cfgIn.Labels ?? null,
      };
      let createdBy: string;
      let top = parent.top;
      const diffIDs = [...parent.cfg.rootfs.diff_ids];
      let layer = false;
      const mtime = Number(t / 1_000_000_000n);
      switch (kind) {
        case 'ENV': {
          const kv = `${r.word().toUpperCase()}=${r.word()}`;
          config.Env = [...((config.Env as string[] | null) ?? []), kv];
          createdBy = `/bin/sh -c #(nop)  ENV ${kv}`;
          break;
        }
        case 'LABEL': {
          const k = `org.example.${r.word()}`;
          const v = r.word();
          config.Labels = { ...((config.Labels as Record<string, string> | null) ?? {}), [k]: v };
          createdBy = `/bin/sh -c #(nop)  LABEL ${k}=${v}`;
          break;
        }
        case 'EXPOSE': {
          const port = `${r.range(1000, 9999)}/tcp`;
          config.ExposedPorts = { ...((config.ExposedPorts as Record<string, object> | undefined) ?? {}), [port]: {} };
          createdBy = `/bin/sh -c #(nop)  EXPOSE ${port}`;
          break;
        }
        case 'WORKDIR': {
          const dir = `/${r.word()}`;
          config.WorkingDir = dir;
          createdBy = `/bin/sh -c #(nop) WORKDIR ${dir}`;
          top = this.createLayer(top, [{ t: 'dir', p: dir.slice(1), mode: 0o755, uid: 0, gid: 0 }], 'go', mtime);
          layer = true;
          break;
        }
        case 'RUN':
          createdBy = `/bin/sh -c ${r.pick(['apk add --no-cache', 'make -j4 &&', 'echo built >', 'pip install -r'])} ${r.word()}`;
          top = this.createLayer(top, this.planEntries(), 'go', mtime);
          layer = true;
          break;
        case 'COPY':
          createdBy = `/bin/sh -c #(nop) COPY file:${r.hex(32)} in /app/ `;
          top = this.createLayer(top, this.planEntries({ extra: false }), 'go', mtime);
          layer = true;
          break;
        default: {
          const cmd = ['/bin/sh', '-c', `exec ${r.word()}`];
          config.Cmd = cmd;
          createdBy = `/bin/sh -c #(nop)  CMD ${JSON.stringify(cmd).replace(/,/g, ' ')}`;
        }
      }
      if (layer) diffIDs.push(top!.diffID);
      const containerId = r.hex(32);
      const containerConfig = {
        ...config,
        Hostname: containerId.slice(0, 12),
        Cmd: createdBy.startsWith('/bin/sh -c #(nop)') ? ['/bin/sh', '-c', '#(nop) ', createdBy.slice('/bin/sh -c #(nop) '.length).trimStart()] : ['/bin/sh', '-c', createdBy.slice('/bin/sh -c '.length)],
      };
      const hist: Record<string, unknown> = { created: goTime(t), created_by: createdBy };
      if (!layer) hist.empty_layer = true;
      // Image.MarshalJSON: keys sorted, compact.
      const cfg: ImageCfg = {
        architecture: 'amd64',
        config: JSON.parse(goJson(dropUndefined(config))) as Record<string, unknown>,
        container: containerId,
        container_config: JSON.parse(goJson(dropUndefined(containerConfig))) as Record<string, unknown>,
        created: goTime(t),
        docker_version: '20.10.24+dfsg1',
        history: [...structuredClone(parent.cfg.history), hist],
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: diffIDs },
      };
      const bytes = Buffer.from(goJson(cfg));
      const img = this.storeImage({ cfg, top, parentId: parent.id, refs: last ? [tag] : [], kind: 'built' }, bytes, last ? this.clock.tick(0, 2) : undefined);
      out.push(img);
      parent = img;
    }
    return out;
  }

  // --- containers -------------------------------------------------------------------------------

  createContainer(img: Image, name: string, state: 'created' | 'running' | 'paused' | 'exited', volume?: string): void {
    const r = this.rng;
    const id = r.hex(32);
    const mountID = r.hex(32);
    const created = this.clock.tick(1, 3600);
    const top = img.top!;
    // layerdb/mounts/<id>: mount-id, init-id, parent (the image's top chainID).
    const mdir = `image/overlay2/layerdb/mounts/${id}`;
    this.mkdir(mdir, 0o755);
    this.write(`${mdir}/init-id`, `${mountID}-init`, 0o644);
    this.write(`${mdir}/mount-id`, mountID, 0o644);
    this.write(`${mdir}/parent`, top.chainID, 0o644);
    // <mountID>-init: initlayer.Setup's placeholders, on the image top.
    const init: DriverDirRef = { id: `${mountID}-init`, link: r.link(), lower: top.lower ? `l/${top.link}:${top.lower}` : `l/${top.link}`, committed: false };
    this.driverDir(init, true);
    this.commit(top);
    const idiff = this.p('overlay2', init.id, 'diff');
    for (const d of ['dev', 'dev/pts', 'dev/shm', 'etc']) fs.mkdirSync(path.join(idiff, d), { mode: 0o755 });
    for (const f of ['.dockerenv', 'dev/console', 'etc/hostname', 'etc/hosts', 'etc/resolv.conf']) fs.writeFileSync(path.join(idiff, f), '', { mode: 0o755 });
    fs.symlinkSync('/proc/mounts', path.join(idiff, 'etc/mtab'));
    // <mountID>: the container's upper dir.
    const rw: DriverDirRef = { id: mountID, link: r.link(), lower: `l/${init.link}:${init.lower}`, committed: false };
    this.driverDir(rw, true);
    this.commit(init);
    const started = state !== 'created';
    const live = state === 'running' || state === 'paused';
    if (live) this.mkdir(`overlay2/${mountID}/merged`, 0o700);
    if (started) {
      const udiff = this.p('overlay2', mountID, 'diff');
      const n = r.range(0, 4);
      const made = new Set<string>();
      for (let i = 0; i < n; i++) {
        const dir = r.pick(['tmp', 'var/log', 'root', 'run']);
        if (!made.has(dir)) {
          fs.mkdirSync(path.join(udiff, dir), { recursive: true, mode: 0o755 });
          made.add(dir);
        }
        fs.writeFileSync(path.join(udiff, dir, `${r.word()}.log`), textBody(r.u32(), r.range(0, 4096)), { mode: 0o644 });
      }
      if (r.chance(0.15) && this.isRoot) {
        fs.mkdirSync(path.join(udiff, 'etc'), { recursive: true, mode: 0o755 });
        this.deferred.mknod.push(path.join(udiff, 'etc', `${r.word()}.conf`));
      }
    }
    // containers/<id>/
    const cdir = `containers/${id}`;
    const abs = `${ORIGINAL_ROOT}/${cdir}`;
    this.mkdir(cdir, 0o710);
    this.mkdir(`${cdir}/checkpoints`, 0o700);
    const startedAt = started ? this.clock.tick(0, 5) : undefined;
    const finishedAt = state === 'exited' ? this.clock.tick(1, 86400) : undefined;
    const logLines: string[] = [];
    if (started) {
      const n = r.range(0, 20);
      let t = startedAt!;
      for (let i = 0; i < n; i++) {
        t += BigInt(r.int(2e9));
        logLines.push(goJson({ log: `${r.word()} ${r.word()} ${i}\n`, stream: r.chance(0.8) ? 'stdout' : 'stderr', time: goTime(t) }) + '\n');
      }
    }
    this.write(`${cdir}/${id}-json.log`, logLines.join(''), 0o640);
    if (started) {
      this.mkdir(`${cdir}/mounts`, 0o710);
      this.write(`${cdir}/hostname`, `${id.slice(0, 12)}\n`, 0o644);
      const hosts = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n';
      this.write(`${cdir}/hosts`, hosts, 0o644);
      const resolv = 'nameserver 10.255.255.53\n';
      this.write(`${cdir}/resolv.conf`, resolv, 0o644);
      this.write(`${cdir}/resolv.conf.hash`, `sha256:${sha256Hex(resolv)}`, 0o644);
    }
    const icfg = img.cfg.config;
    const entrypoint = (icfg.Entrypoint as string[] | null | undefined) ?? [];
    const cmd = (icfg.Cmd as string[] | null | undefined) ?? [];
    const argv = [...entrypoint, ...cmd];
    const ref = img.refs.find((x) => !x.includes('@')) ?? img.id.slice(7, 19);
    const exitCode = state === 'exited' ? r.pick([0, 0, 0, 1, 2, 137, 143]) : 0;
    const mountPoints: Record<string, unknown> = {};
    if (volume) {
      mountPoints['/data'] = {
        Source: `${ORIGINAL_ROOT}/volumes/${volume}/_data`,
        Destination: '/data',
        RW: true,
        Name: volume,
        Driver: 'local',
        Type: 'volume',
        Relabel: 'z',
        Spec: { Type: 'volume', Source: volume, Target: '/data' },
        SkipMountpointCreation: false,
      };
    }
    const network = {
      IPAMConfig: null,
      Links: null,
      Aliases: null,
      NetworkID: started ? r.hex(32) : '',
      EndpointID: live ? r.hex(32) : '',
      Gateway: live ? '172.17.0.1' : '',
      IPAddress: live ? `172.17.${r.range(0, 255)}.${r.range(2, 254)}` : '',
      IPPrefixLen: live ? 16 : 0,
      IPv6Gateway: '',
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      MacAddress: live ? `02:42:ac:11:${r.hex(1)}:${r.hex(1)}` : '',
      DriverOpts: null,
      IPAMOperational: false,
    };
    const sandbox = live ? r.hex(32) : '';
    const doc = {
      StreamConfig: {},
      State: {
        Running: live,
        Paused: state === 'paused',
        Restarting: false,
        OOMKilled: false,
        RemovalInProgress: false,
        Dead: false,
        Pid: live ? r.range(1000, 4_000_000) : 0,
        ExitCode: exitCode,
        Error: '',
        StartedAt: startedAt ? goTime(startedAt) : '0001-01-01T00:00:00Z',
        FinishedAt: finishedAt ? goTime(finishedAt) : '0001-01-01T00:00:00Z',
        Health: null,
      },
      ID: id,
      Created: goTime(created),
      Managed: false,
      Path: argv[0] ?? '',
      Args: argv.slice(1),
      Config: {
        Hostname: id.slice(0, 12),
        Domainname: '',
        User: '',
        AttachStdin: false,
        AttachStdout: false,
        AttachStderr: false,
        ExposedPorts: icfg.ExposedPorts,
        Tty: false,
        OpenStdin: false,
        StdinOnce: false,
        Env: [...((icfg.Env as string[] | undefined) ?? []), ...(r.chance(0.3) ? [`INSTANCE=${name}`] : [])],
        Cmd: icfg.Cmd ?? null,
        Image: ref,
        Volumes: volume ? { '/data': {} } : null,
        WorkingDir: icfg.WorkingDir ?? '',
        Entrypoint: icfg.Entrypoint ?? null,
        OnBuild: null,
        Labels: { ...((icfg.Labels as Record<string, string> | null | undefined) ?? {}), ...(r.chance(0.4) ? { 'com.docker.compose.project': `proj${r.range(1, 9)}`, 'com.docker.compose.service': name } : {}) },
      },
      Image: img.id,
      NetworkSettings: {
        Bridge: '',
        SandboxID: sandbox,
        HairpinMode: false,
        LinkLocalIPv6Address: '',
        LinkLocalIPv6PrefixLen: 0,
        Networks: { bridge: network },
        Service: null,
        Ports: live ? {} : null,
        SandboxKey: live ? `/var/run/docker/netns/${sandbox.slice(0, 12)}` : '',
        SecondaryIPAddresses: null,
        SecondaryIPv6Addresses: null,
        IsAnonymousEndpoint: false,
        HasSwarmEndpoint: false,
      },
      LogPath: started ? `${abs}/${id}-json.log` : '',
      Name: `/${name}`,
      Driver: 'overlay2',
      OS: 'linux',
      MountLabel: '',
      ProcessLabel: '',
      RestartCount: 0,
      HasBeenStartedBefore: started,
      HasBeenManuallyStopped: state === 'exited' && exitCode === 143,
      MountPoints: mountPoints,
      SecretReferences: null,
      ConfigReferences: null,
      AppArmorProfile: started ? 'docker-default' : '',
      HostnamePath: started ? `${abs}/hostname` : '',
      HostsPath: started ? `${abs}/hosts` : '',
      ShmPath: '',
      ResolvConfPath: started ? `${abs}/resolv.conf` : '',
      SeccompProfile: '',
      NoNewPrivileges: false,
      LocalLogCacheMeta: { HaveNotifyEnabled: false },
    };
    this.write(`${cdir}/config.v2.json`, goJson(dropUndefined(doc)) + '\n', 0o600);
    const restart = r.pick(['no', 'no', 'always', 'unless-stopped', 'on-failure']);
    const host = {
      Binds: volume ? [`${volume}:/data:z`] : null,
      ContainerIDFile: '',
      LogConfig: { Type: 'json-file', Config: {} },
      NetworkMode: 'default',
      PortBindings: {},
      RestartPolicy: { Name: restart, MaximumRetryCount: restart === 'on-failure' ? 3 : 0 },
      AutoRemove: false,
      VolumeDriver: '',
      VolumesFrom: null,
      CapAdd: null,
      CapDrop: null,
      CgroupnsMode: 'host',
      Dns: [],
      DnsOptions: [],
      DnsSearch: [],
      ExtraHosts: null,
      GroupAdd: null,
      IpcMode: 'private',
      Cgroup: '',
      Links: null,
      OomScoreAdj: 0,
      PidMode: '',
      Privileged: false,
      PublishAllPorts: false,
      ReadonlyRootfs: false,
      SecurityOpt: null,
      UTSMode: '',
      UsernsMode: '',
      ShmSize: 67108864,
      Runtime: 'runc',
      ConsoleSize: [0, 0],
      Isolation: '',
      CpuShares: 0,
      Memory: 0,
      NanoCpus: 0,
      CgroupParent: '',
      BlkioWeight: 0,
      BlkioWeightDevice: [],
      BlkioDeviceReadBps: [],
      BlkioDeviceWriteBps: [],
      BlkioDeviceReadIOps: [],
      BlkioDeviceWriteIOps: [],
      CpuPeriod: 0,
      CpuQuota: 0,
      CpuRealtimePeriod: 0,
      CpuRealtimeRuntime: 0,
      CpusetCpus: '',
      CpusetMems: '',
      Devices: [],
      DeviceCgroupRules: null,
      DeviceRequests: null,
      KernelMemory: 0,
      KernelMemoryTCP: 0,
      MemoryReservation: 0,
      MemorySwap: 0,
      MemorySwappiness: null,
      OomKillDisable: false,
      PidsLimit: null,
      Ulimits: [],
      CpuCount: 0,
      CpuPercent: 0,
      IOMaximumIOps: 0,
      IOMaximumBandwidth: 0,
      MaskedPaths: ['/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware'],
      ReadonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    };
    this.write(`${cdir}/hostconfig.json`, goJson(host) + '\n', 0o644);
    this.containers++;
    if (live) {
      this.running++;
      this.runningRef ??= { name, id };
    }
    this.anyContainer ??= { name, id };
  }

  /** A container driver dir: diff/, link, l/<link>, lower, work/work (the kernel's, mode 0). */
  driverDir(d: DriverDirRef, mounted: boolean): void {
    const dir = `overlay2/${d.id}`;
    this.mkdir(dir, 0o710);
    this.mkdir(`${dir}/diff`, 0o755);
    this.write(`${dir}/link`, d.link, 0o644);
    fs.symlinkSync(`../${d.id}/diff`, this.p('overlay2/l', d.link));
    this.write(`${dir}/lower`, d.lower, 0o644);
    this.mkdir(`${dir}/work`, 0o700);
    if (mounted) {
      this.mkdir(`${dir}/work/work`, 0o700);
      fs.chmodSync(this.p(dir, 'work/work'), 0);
    }
  }

  volume(name: string): void {
    this.mkdir(`volumes/${name}`, 0o701);
    this.mkdir(`volumes/${name}/_data`, 0o755);
    fs.writeFileSync(this.p('volumes', name, '_data', 'state.db'), textBody(this.rng.u32(), this.rng.range(100, 3000)));
    this.volumes.push(name);
  }

  // --- finishing --------------------------------------------------------------------------------

  finish(): void {
    // repositories.json: json.Marshal of the map, keys sorted at both levels, no newline.
    const repos: Record<string, Record<string, string>> = {};
    for (const name of [...this.repos.keys()].sort()) {
      const inner: Record<string, string> = {};
      const m = this.repos.get(name)!;
      for (const ref of [...m.keys()].sort()) inner[ref] = m.get(ref)!;
      repos[name] = inner;
    }
    this.write('image/overlay2/repositories.json', goJson({ Repositories: repos }), 0o600);
    for (const [hex, list] of this.v2meta) {
      this.write(`image/overlay2/distribution/v2metadata-by-diffid/sha256/${hex}`, goJson(list), 0o600);
      for (const e of list) this.write(`image/overlay2/distribution/diffid-by-digest/sha256/${e.Digest.slice(7)}`, `sha256:${hex}`, 0o600);
    }
    this.write('volumes/metadata.db', volumesDb(this.volumes), 0o600);
    runPrivileged(this.deferred);
  }
}

function dropUndefined<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** Adds every ancestor directory as an entry and sorts as the engine's change walk does. */
function withParents(ents: Map<string, Entry>): Entry[] {
  for (const e of [...ents.values()]) {
    for (let d = parentDir(e.p); d !== ''; d = parentDir(d)) if (!ents.has(d)) ents.set(d, { t: 'dir', p: d, mode: 0o755, uid: 0, gid: 0 });
  }
  const order = [...ents.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  // Go's tar writer emits the first path of an inode as the file and later ones as links to it.
  const groups = new Map<string, string[]>();
  for (const e of ents.values()) if (e.t === 'hardlink') groups.set(e.target, [...(groups.get(e.target) ?? []), e.p]);
  for (const [file, links] of groups) {
    const all = [file, ...links].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const fe = ents.get(file);
    if (all[0] === file || fe?.t !== 'file') continue;
    ents.set(all[0]!, { ...fe, p: all[0]! });
    for (const p of all.slice(1)) ents.set(p, { t: 'hardlink', p, target: all[0]! });
  }
  return order.map((p) => ents.get(p)!);
}

/** A base image's root filesystem layer: the usual top-level dirs and a few files in each. */
function baseEntries(r: Rng, index: number): Entry[] {
  const ents = new Map<string, Entry>();
  const dirs = index === 0 ? ['bin', 'etc', 'lib', 'usr/bin', 'usr/lib', 'var/log', 'root', 'tmp', 'home', 'etc/apk', 'usr/share/misc'] : ['usr/lib', `usr/lib/${r.word()}`, 'etc', 'usr/share/doc'];
  for (const d of dirs) ents.set(d, { t: 'dir', p: d, mode: d === 'root' ? 0o700 : d === 'tmp' ? 0o1777 : 0o755, uid: 0, gid: 0 });
  for (const d of dirs) {
    const n = r.range(0, 5);
    for (let i = 0; i < n; i++) {
      const p = `${d}/${r.word()}`;
      if (!ents.has(p)) ents.set(p, { t: 'file', p, mode: d.endsWith('bin') ? 0o755 : 0o644, uid: 0, gid: 0, size: r.range(0, 20000), body: { kind: 'text', seed: r.u32() } });
    }
  }
  if (index === 0) {
    ents.set('bin/sh', { t: 'symlink', p: 'bin/sh', target: '/bin/busybox' });
    ents.set('bin/busybox', { t: 'file', p: 'bin/busybox', mode: 0o755, uid: 0, gid: 0, size: r.range(30000, 60000), body: { kind: 'text', seed: r.u32() } });
    for (const tool of ['ls', 'cat', 'cp']) ents.set(`bin/${tool}`, { t: 'hardlink', p: `bin/${tool}`, target: 'bin/busybox' });
  }
  return withParents(ents);
}

/** One content-store layer: `files` files of `fileSize` streamed bytes under data/. */
function contentEntries(r: Rng, c: ContentLayerSpec): Entry[] {
  const ents = new Map<string, Entry>();
  const per = 1000;
  for (let i = 0; i < c.files; i++) {
    const dir = c.files > per ? `data/d${String(Math.floor(i / per)).padStart(3, '0')}` : 'data';
    const p = `${dir}/f${String(i).padStart(6, '0')}.bin`;
    ents.set(p, { t: 'file', p, mode: 0o644, uid: 0, gid: 0, size: c.fileSize, body: { kind: 'stream', seed: r.u32() } });
  }
  return withParents(ents);
}

/** volumes/metadata.db: bbolt with bucket `volumes`, key = name, value = JSON (FORMATS.md §1.8). */
function volumesDb(names: string[]): Buffer {
  return buildBolt(new Map([['volumes', new Map(names.map((n) => [n, goJson({ Name: n, Driver: 'local', Labels: null, Options: null })]))]]));
}

/**
 * A minimal valid bbolt file (4 KiB pages): two metas, a freelist, a root leaf holding one bucket
 * per key, each bucket inline or on its own leaf page. Enough for Docker's small volumes db; keys
 * per bucket must fit one leaf (a big store spills into several leaves under a branch).
 */
function buildBolt(buckets: Map<string, Map<string, string>>): Buffer {
  const PAGE = 4096;
  const pages: Buffer[] = [];
  const newPage = (): number => {
    pages.push(Buffer.alloc(PAGE));
    return pages.length - 1;
  };
  newPage(); // meta 0
  newPage(); // meta 1
  const freelist = newPage();
  const rootLeaf = newPage();
  /** Leaf page bytes for sorted key/values (flags 0) or buckets (flags 1). */
  const leaf = (items: [Buffer, Buffer, number][], id: number, count = 1): Buffer => {
    const b = Buffer.alloc(PAGE * count);
    b.writeBigUInt64LE(BigInt(id), 0);
    b.writeUInt16LE(0x02, 8);
    b.writeUInt16LE(items.length, 10);
    b.writeUInt32LE(count - 1, 12);
    let data = 16 + 16 * items.length;
    items.forEach(([k, v, flags], i) => {
      const el = 16 + 16 * i;
      b.writeUInt32LE(flags, el);
      b.writeUInt32LE(data - el, el + 4);
      b.writeUInt32LE(k.length, el + 8);
      b.writeUInt32LE(v.length, el + 12);
      k.copy(b, data);
      v.copy(b, data + k.length);
      data += k.length + v.length;
    });
    return b;
  };
  const rootItems: [Buffer, Buffer, number][] = [];
  for (const name of [...buckets.keys()].sort()) {
    const kv = [...buckets.get(name)!].sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0]))).map(([k, v]) => [Buffer.from(k), Buffer.from(v), 0] as [Buffer, Buffer, number]);
    const bytes = kv.reduce((n, [k, v]) => n + 16 + k.length + v.length, 16);
    const hdr = Buffer.alloc(16);
    if (bytes <= PAGE / 4) {
      // Inline bucket: header with root 0, then the leaf page bytes.
      const inline = leaf(kv, 0).subarray(0, bytes);
      rootItems.push([Buffer.from(name), Buffer.concat([hdr, inline]), 1]);
    } else {
      const count = Math.ceil(bytes / PAGE);
      const id = pages.length;
      const l = leaf(kv, id, count);
      for (let i = 0; i < count; i++) pages.push(l.subarray(i * PAGE, (i + 1) * PAGE));
      hdr.writeBigUInt64LE(BigInt(id), 0);
      rootItems.push([Buffer.from(name), hdr, 1]);
    }
  }
  pages[rootLeaf] = leaf(rootItems, rootLeaf);
  const fl = pages[freelist]!;
  fl.writeBigUInt64LE(BigInt(freelist), 0);
  fl.writeUInt16LE(0x10, 8);
  const highWater = pages.length;
  for (const [i, txid] of [
    [0, 2],
    [1, 3],
  ] as const) {
    const m = pages[i]!;
    m.writeBigUInt64LE(BigInt(i), 0);
    m.writeUInt16LE(0x04, 8);
    const o = 16;
    m.writeUInt32LE(0xed0cdaed, o);
    m.writeUInt32LE(2, o + 4);
    m.writeUInt32LE(PAGE, o + 8);
    m.writeUInt32LE(0, o + 12);
    m.writeBigUInt64LE(BigInt(rootLeaf), o + 16);
    m.writeBigUInt64LE(0n, o + 24);
    m.writeBigUInt64LE(BigInt(freelist), o + 32);
    m.writeBigUInt64LE(BigInt(highWater), o + 40);
    m.writeBigUInt64LE(BigInt(txid), o + 48);
    m.writeBigUInt64LE(fnv1a64(m.subarray(o, o + 56)), o + 56);
  }
  return Buffer.concat(pages);
}

function fnv1a64(b: Buffer): bigint {
  let h = 0xcbf29ce484222325n;
  for (const x of b) {
    h ^= BigInt(x);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h;
}

/**
 * mknod of whiteouts and the opaque xattr need root (CAP_MKNOD, CAP_SYS_ADMIN for trusted.*);
 * Node has no mknod, so one helper process does them all: python3 if present, else sh.
 */
function runPrivileged(d: Deferred): void {
  if (d.mknod.length + d.opaque.length + d.chown.length === 0) return;
  const py = spawnSync(
    'python3',
    [
      '-c',
      'import json,os,stat,sys\nd=json.load(sys.stdin)\nfor p in d["mknod"]: os.mknod(p, stat.S_IFCHR|0o600, os.makedev(0,0))\nfor p in d["opaque"]: os.setxattr(p, "trusted.overlay.opaque", b"y", follow_symlinks=False)\nfor p,u,g in d["chown"]: os.lchown(p,u,g)\n',
    ],
    { input: JSON.stringify(d), stdio: ['pipe', 'inherit', 'pipe'] },
  );
  if (py.error === undefined && py.status === 0) return;
  if (py.error === undefined) throw new Error(`privileged helper failed: ${py.stderr.toString()}`);
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const script = [
    'set -e',
    ...d.mknod.map((p) => `mknod -m 600 ${q(p)} c 0 0`),
    ...d.opaque.map((p) => `setfattr -n trusted.overlay.opaque -v y ${q(p)}`),
    ...d.chown.map(([p, u, g]) => `chown -h ${u}:${g} ${q(p)}`),
  ].join('\n');
  const sh = spawnSync('sh', ['-c', script], { stdio: ['ignore', 'inherit', 'pipe'] });
  if (sh.status !== 0) throw new Error(`privileged helper (sh) failed: ${sh.stderr?.toString()}`);
}

// ------------------------------------------------------------------------------------------------
// Store layout plan

function populate(e: Engine): void {
  const { rng: r, spec } = e;
  const nBases = spec.content ? 1 : Math.max(2, Math.round(spec.images / 25));
  const bases: Image[] = [];
  for (let b = 0; b < nBases; b++) {
    const name = `osbase${b}`;
    const ver = `3.${b + 10}`;
    bases.push(e.pull({ own: r.range(1, 3), repo: name, sourceRepo: `docker.io/library/${name}`, tags: [`${name}:${ver}`, `${name}:latest`], kind: 'base', style: 'rootfs' }));
  }
  const pulled: Image[] = [];
  const finals: Image[] = [...bases];
  if (spec.content) {
    spec.content.forEach((c, i) => {
      const repo = `bench/content${i}`;
      const img = e.pull({ from: bases[0], own: 1, content: c, repo, sourceRepo: `docker.io/${repo}`, tags: [`${repo}:1`], kind: 'content', style: 'go' });
      const top = img.top!;
      const chain = e.chainOf(top).map((l) => ({ chainID: l.chainID, diffID: l.diffID, cacheID: l.cacheID, tarBytes: l.tarBytes }));
      e.contentLayers.push({ image: `${repo}:1`, chainID: top.chainID, diffID: top.diffID, cacheID: top.cacheID, tarBytes: top.tarBytes, chain });
      finals.push(img);
    });
  } else {
    // Classic-builder builds: ~40% of the images (intermediates included), 3–6 steps each.
    const buildSteps: number[] = [];
    let builtImages = 0;
    const builtTarget = Math.round(spec.images * 0.4);
    while (builtImages < builtTarget) {
      const s = r.range(3, 6);
      buildSteps.push(s);
      builtImages += s;
    }
    const nPulled = Math.max(1, spec.images - nBases - builtImages);
    const baseLayers = e.layers.size;
    const builtLayers = Math.round(builtImages * 0.45);
    const budget = Math.max(nPulled, spec.layers - baseLayers - builtLayers);
    const weights = Array.from({ length: nPulled }, () => 0.4 + r.int(1000) / 800);
    const wsum = weights.reduce((a, b) => a + b, 0);
    for (let i = 0; i < nPulled; i++) {
      const own = Math.max(1, Math.min(40, Math.round((budget * weights[i]!) / wsum)));
      // A third build on another pulled image (an app on a runtime image), sharing all its layers.
      const onPulled = pulled.filter((p) => p.top!.depth < 40);
      const from = onPulled.length > 0 && r.chance(0.3) ? r.pick(onPulled) : r.pick(bases);
      const team = `team${r.range(1, Math.max(2, Math.round(spec.images / 40)))}`;
      const repo = `registry.bench.example/${team}/svc${i}`;
      const tags = r.chance(0.9) ? [`${repo}:${r.range(1, 5)}.${r.range(0, 12)}`] : [];
      if (tags.length && r.chance(0.3)) tags.push(`${repo}:latest`);
      const img = e.pull({ from, own, repo, sourceRepo: repo, tags, kind: 'pulled', style: 'go' });
      pulled.push(img);
      if (tags.length) finals.push(img);
    }
    buildSteps.forEach((steps, k) => {
      const from = r.pick(pulled.length > 0 ? pulled : bases);
      const imgs = e.build(from, `local/app${k}:${r.range(1, 20)}`, steps);
      finals.push(imgs[imgs.length - 1]!);
    });
  }
  // Containers: mostly on tagged images; a few running, some created, the rest exited.
  const nVolumes = Math.round(spec.containers * 0.1);
  for (let v = 0; v < nVolumes; v++) e.volume(`vol${v}-${r.word()}`);
  const runningAt = new Set<number>();
  while (runningAt.size < Math.min(spec.running, spec.containers)) runningAt.add(r.int(spec.containers));
  for (let c = 0; c < spec.containers; c++) {
    const img = r.pick(finals);
    const state = runningAt.has(c) ? (r.chance(0.1) ? 'paused' : 'running') : r.chance(0.12) ? 'created' : 'exited';
    const vol = e.volumes.length > 0 && r.chance(0.1) ? r.pick(e.volumes) : undefined;
    e.createContainer(img, `${r.word()}_${r.word()}_${c}`, state, vol);
  }
  e.finish();
}

// ------------------------------------------------------------------------------------------------
// Cache, packing, entry points

let ownHash: string | undefined;

/** Cache key: the version constant plus the compiled generator's own bytes. */
export function generatorId(): string {
  if (ownHash === undefined) {
    try {
      ownHash = sha256Hex(fs.readFileSync(fileURLToPath(import.meta.url))).slice(0, 12);
    } catch {
      ownHash = 'unknown';
    }
  }
  return `${GENERATOR_VERSION}-${ownHash}`;
}

export function isRootUser(): boolean {
  return process.getuid?.() === 0;
}

function readManifest(storeDir: string): StoreManifest | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(storeDir, 'manifest.json'), 'utf8')) as StoreManifest;
  } catch {
    return undefined;
  }
}

/** Whether `storeDir` holds a complete store of `spec` made by this generator. */
export function isCurrent(storeDir: string, spec: StoreSpec, archives = true): StoreManifest | undefined {
  const m = readManifest(storeDir);
  if (!m || m.generator !== generatorId() || JSON.stringify(m.spec) !== JSON.stringify(spec) || m.privileged !== isRootUser()) return undefined;
  if (!fs.existsSync(path.join(storeDir, m.dataRoot))) return undefined;
  if (archives && !(fs.existsSync(path.join(storeDir, m.tar)) && fs.existsSync(path.join(storeDir, m.tgz)))) return undefined;
  return m;
}

function run(cmd: string, args: string[], opts: { stdout?: number } = {}): void {
  const res = spawnSync(cmd, args, { stdio: ['ignore', opts.stdout ?? 'inherit', 'pipe'] });
  if (res.error) throw res.error;
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${res.status}): ${res.stderr?.toString()}`);
}

/**
 * Packs the store like an acquisition: `tar --numeric-owner` with xattrs (opaque dirs), paths
 * `var/lib/docker/…`, then gzip. Sorted names, one mtime and no PAX times: the same store always
 * gives the same bytes.
 */
export function pack(storeDir: string, tarName = 'data-root.tar'): void {
  const tarPath = path.join(storeDir, tarName);
  run('tar', [
    '--create',
    '--file',
    tarPath,
    '--directory',
    path.join(storeDir, 'dir'),
    '--format=posix',
    '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
    '--sort=name',
    '--numeric-owner',
    '--mtime=@1709251200',
    '--xattrs',
    '--xattrs-include=*',
    ROOT_IN_ARCHIVE,
  ]);
  const fd = fs.openSync(`${tarPath}.gz`, 'w');
  try {
    run('gzip', ['-n', '-c', tarPath], { stdout: fd });
  } finally {
    fs.closeSync(fd);
  }
}

export interface GenerateOptions {
  /** Also write .tar and .tar.gz (default true). */
  archives?: boolean;
  force?: boolean;
  log?: (msg: string) => void;
}

/** Generates (or finds cached) the store for `spec` under `outDir/<spec.name>/`. */
export function generateStore(spec: StoreSpec, outDir: string = DEFAULT_OUT, opts: GenerateOptions = {}): StoreManifest {
  const archives = opts.archives ?? true;
  const storeDir = path.join(outDir, spec.name);
  if (!opts.force) {
    const hit = isCurrent(storeDir, spec, archives);
    if (hit) return hit;
  }
  const log = opts.log ?? (() => {});
  fs.rmSync(storeDir, { recursive: true, force: true });
  fs.mkdirSync(storeDir, { recursive: true });
  const t0 = process.hrtime.bigint();
  const dataRoot = path.join('dir', ROOT_IN_ARCHIVE);
  const engine = new Engine(path.join(storeDir, dataRoot), spec, isRootUser());
  engine.init();
  populate(engine);
  const t1 = process.hrtime.bigint();
  log(`  ${spec.name}: ${engine.images.length} images, ${engine.layers.size} layers, ${engine.containers} containers in ${(Number(t1 - t0) / 1e9).toFixed(1)} s`);
  if (archives) pack(storeDir);
  const t2 = process.hrtime.bigint();
  if (archives) log(`  ${spec.name}: packed .tar and .tar.gz in ${(Number(t2 - t1) / 1e9).toFixed(1)} s`);
  const deepest = engine.images
    .filter((i) => i.refs.some((x) => !x.includes('@')) && i.top)
    .sort((a, b) => b.top!.depth - a.top!.depth || (a.id < b.id ? -1 : 1))[0]!;
  const live = engine.runningRef ?? engine.anyContainer;
  const m: StoreManifest = {
    generator: generatorId(),
    spec,
    privileged: engine.isRoot,
    dir: 'dir',
    dataRoot,
    tar: 'data-root.tar',
    tgz: 'data-root.tar.gz',
    counts: {
      images: engine.images.length,
      taggedImages: engine.images.filter((i) => i.refs.some((x) => !x.includes('@'))).length,
      layers: engine.layers.size,
      containers: engine.containers,
      running: engine.running,
      volumes: engine.volumes.length,
      layerFiles: engine.layerFiles,
      contentBytes: engine.contentBytes,
      tarBytes: engine.tarBytes,
    },
    refs: { image: deepest.refs.find((x) => !x.includes('@'))!, imageId: deepest.id, container: live?.name ?? '', containerId: live?.id ?? '' },
    contentLayers: engine.contentLayers,
    seconds: { generate: Number(t1 - t0) / 1e9, pack: Number(t2 - t1) / 1e9 },
  };
  fs.writeFileSync(path.join(storeDir, 'manifest.json'), JSON.stringify(m, null, 2) + '\n');
  return m;
}

function parseArgs(argv: string[]): { out: string; sizes: string[]; force: boolean; archives: boolean } {
  let out = DEFAULT_OUT;
  let sizes = ['small', 'medium', 'large', 'huge'];
  let force = false;
  let archives = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = () => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--out' || a.startsWith('--out=')) out = val();
    else if (a === '--sizes' || a.startsWith('--sizes=')) sizes = val().split(',').filter(Boolean);
    else if (a === '--force') force = true;
    else if (a === '--no-archives') archives = false;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(`usage: node dist/bench/generate.js [--out DIR] [--sizes ${Object.keys(SPECS).join(',')}] [--force] [--no-archives]\n`);
      process.exit(0);
    } else if (!a.startsWith('-')) out = a;
    else throw new Error(`unknown option ${a}`);
  }
  for (const s of sizes) if (!SPECS[s]) throw new Error(`unknown size ${s} (known: ${Object.keys(SPECS).join(', ')})`);
  return { out, sizes, force, archives };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = parseArgs(process.argv.slice(2));
  for (const s of args.sizes) {
    const spec = SPECS[s]!;
    const m = generateStore(spec, args.out, { force: args.force, archives: args.archives, log: (x) => process.stdout.write(x + '\n') });
    process.stdout.write(
      `${s}: ${path.join(args.out, s)} — ${m.counts.images} images (${m.counts.taggedImages} tagged), ${m.counts.layers} layers, ${m.counts.containers} containers (${m.counts.running} running), ${(m.counts.contentBytes / 1e6).toFixed(1)} MB of layer files\n`,
    );
  }
}
