import { createHash } from 'node:crypto';
import { isEvidenceError, type Source, type Stat } from '../source/types.js';
import { isContentDigest } from './containerd-meta.js';
import type { Findings } from './findings.js';
import { isObject, num, str, tryJson } from './read.js';

/**
 * containerd's local content store, `io.containerd.content.v1.content/blobs/<alg>/<hex>`
 * (FORMATS.md §9.2; containerd `plugins/content/local/store.go`): every blob is named by the
 * digest of its bytes. Manifests, indexes and configs are small JSON documents read whole (bounded)
 * and checked against their name; layer blobs are only stat'ed here and hashed by `verifyBlob`.
 */

/** Indexes, manifests and configs: Docker itself refuses manifests over 4 MiB when pulling. */
export const JSON_BLOB_LIMIT = 8 * 1024 * 1024;
/** A crafted index could list any number of manifests; nobody ships more than a few dozen. */
const MAX_CHILDREN = 4096;

export const MT = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
} as const;

export function isIndexType(mt: string): boolean {
  return mt === MT.ociIndex || mt === MT.dockerList;
}

export function isManifestType(mt: string): boolean {
  return mt === MT.ociManifest || mt === MT.dockerManifest;
}

/** containerd images.IsLayerType. */
export function isLayerType(mt: string): boolean {
  return (
    mt.startsWith('application/vnd.oci.image.layer.') ||
    mt.startsWith('application/vnd.docker.image.rootfs.') ||
    mt === 'application/vnd.docker.container.image.rootfs.diff+x-gtar'
  );
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  osVersion?: string;
}

export interface OciDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations: Record<string, string>;
}

export interface ParsedManifest {
  mediaType?: string;
  config?: OciDescriptor;
  layers: OciDescriptor[];
}

export interface ParsedIndex {
  mediaType?: string;
  manifests: OciDescriptor[];
}

function strMapOf(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObject(v)) return out;
  for (const [k, x] of Object.entries(v)) if (typeof x === 'string') Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true });
  return out;
}

export function parsePlatform(v: unknown): Platform | undefined {
  if (!isObject(v)) return undefined;
  const os = str(v.os);
  const architecture = str(v.architecture);
  if (os === undefined || architecture === undefined) return undefined;
  const p: Platform = { os, architecture };
  const variant = str(v.variant);
  if (variant) p.variant = variant;
  const osVersion = str(v['os.version']);
  if (osVersion) p.osVersion = osVersion;
  return p;
}

/** An OCI descriptor from JSON; undefined (with a reason) when unusable. */
export function parseDescriptor(v: unknown): OciDescriptor | string {
  if (!isObject(v)) return 'not an object';
  const digest = str(v.digest);
  if (digest === undefined || !isContentDigest(digest)) return `digest ${JSON.stringify(v.digest)?.slice(0, 100)} is not a digest`;
  const size = num(v.size);
  if (size === undefined || size < 0 || !Number.isSafeInteger(size)) return `size ${JSON.stringify(v.size)?.slice(0, 40)} is not a byte count`;
  const d: OciDescriptor = { mediaType: str(v.mediaType) ?? '', digest, size, annotations: strMapOf(v.annotations) };
  const p = parsePlatform(v.platform);
  if (p) d.platform = p;
  return d;
}

function descriptors(v: unknown, where: string, path: string, f: Findings): OciDescriptor[] {
  const out: OciDescriptor[] = [];
  if (!Array.isArray(v)) return out;
  for (const [i, x] of v.slice(0, MAX_CHILDREN).entries()) {
    const d = parseDescriptor(x);
    if (typeof d === 'string') f.add('warn', 'containerd.content.bad-descriptor', `${where}[${i}]: ${d}`, path);
    else out.push(d);
  }
  if (v.length > MAX_CHILDREN) f.add('warn', 'containerd.content.too-many', `${where} lists ${v.length} descriptors; the first ${MAX_CHILDREN} are used`, path);
  return out;
}

function parseJsonDoc(buf: Buffer, path: string, f: Findings): Record<string, unknown> | undefined {
  const parsed = tryJson(buf.toString('utf8'));
  if ('error' in parsed) {
    f.add('error', 'containerd.content.bad-json', `invalid JSON: ${parsed.error}`, path);
    return undefined;
  }
  const doc = parsed.value;
  if (!isObject(doc)) {
    f.add('error', 'containerd.content.bad-json', 'not a JSON object', path);
    return undefined;
  }
  return doc;
}

export function parseManifest(buf: Buffer, path: string, f: Findings): ParsedManifest | undefined {
  const doc = parseJsonDoc(buf, path, f);
  if (!doc) return undefined;
  const m: ParsedManifest = { mediaType: str(doc.mediaType), layers: descriptors(doc.layers, 'layers', path, f) };
  if (doc.config !== undefined) {
    const c = parseDescriptor(doc.config);
    if (typeof c === 'string') f.add('error', 'containerd.content.bad-descriptor', `config: ${c}`, path);
    else m.config = c;
  } else f.add('error', 'containerd.content.no-config', 'manifest has no config descriptor', path);
  return m;
}

export function parseIndex(buf: Buffer, path: string, f: Findings): ParsedIndex | undefined {
  const doc = parseJsonDoc(buf, path, f);
  if (!doc) return undefined;
  return { mediaType: str(doc.mediaType), manifests: descriptors(doc.manifests, 'manifests', path, f) };
}

export interface BlobRead {
  bytes: Buffer;
  /** The bytes hash to the name. */
  verified: boolean;
  /** Digest of the bytes as read. */
  actual: string;
}

/**
 * The content store of one containerd root, read through a contained view of that root.
 * Reads are cached; a blob whose bytes do not hash to its name is still returned (containerd
 * would serve it too) with an error finding, so the tampering shows.
 */
export class ContentStore {
  private readonly cache = new Map<string, BlobRead | null>();

  constructor(
    private readonly src: Source,
    private readonly f: Findings,
    /** Content plugin dir inside the containerd root. */
    readonly base = 'io.containerd.content.v1.content',
    /** Prefix for finding paths (the containerd root as seen from the data root). */
    private readonly label = '',
  ) {}

  /** Path of a blob inside the containerd root; undefined for a malformed digest. */
  path(digest: string): string | undefined {
    if (!isContentDigest(digest)) return undefined;
    const i = digest.indexOf(':');
    return `${this.base}/blobs/${digest.slice(0, i)}/${digest.slice(i + 1)}`;
  }

  where(digest: string): string {
    const p = this.path(digest) ?? `${this.base}/blobs/?`;
    return this.label ? `${this.label}/${p}` : p;
  }

  stat(digest: string): Stat | undefined {
    const p = this.path(digest);
    if (!p) return undefined;
    try {
      return this.src.lstat(p);
    } catch (e) {
      this.f.caught(e, 'containerd.content.unreadable', this.where(digest));
      return undefined;
    }
  }

  /** Whole blob, bounded; undefined when absent or unreadable (a finding says which). */
  read(digest: string, limit = JSON_BLOB_LIMIT): BlobRead | undefined {
    const hit = this.cache.get(digest);
    if (hit !== undefined) return hit ?? undefined;
    const p = this.path(digest);
    let out: BlobRead | undefined;
    if (p) {
      try {
        const bytes = this.src.readFile(p, limit);
        const alg = digest.slice(0, digest.indexOf(':'));
        const actual = `${alg}:${createHash(alg).update(bytes).digest('hex')}`;
        const verified = actual === digest;
        if (!verified) this.f.add('error', 'containerd.content.digest-mismatch', `blob bytes hash to ${actual}, not to the name they are stored under`, this.where(digest));
        out = { bytes, verified, actual };
      } catch (e) {
        if (!isEvidenceError(e, 'ENOENT')) this.f.caught(e, 'containerd.content.unreadable', this.where(digest));
      }
    }
    this.cache.set(digest, out ?? null);
    return out;
  }

  /**
   * Streams a blob of any size through its hash (for verify); resolves to the actual digest and
   * size, or undefined when the blob cannot be read.
   */
  async verifyBlob(digest: string): Promise<{ actual: string; size: number; ok: boolean } | undefined> {
    const p = this.path(digest);
    if (!p) return undefined;
    const alg = digest.slice(0, digest.indexOf(':'));
    try {
      const h = createHash(alg);
      let size = 0;
      for await (const chunk of this.src.createReadStream(p)) {
        h.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
      const actual = `${alg}:${h.digest('hex')}`;
      if (actual !== digest) this.f.add('error', 'containerd.content.digest-mismatch', `blob bytes hash to ${actual}, not to the name they are stored under`, this.where(digest));
      return { actual, size, ok: actual === digest };
    } catch (e) {
      if (!isEvidenceError(e, 'ENOENT')) this.f.caught(e, 'containerd.content.unreadable', this.where(digest));
      return undefined;
    }
  }

  /** Digests of the blobs on disk (sha256 only: the algorithm containerd writes). */
  list(): string[] {
    try {
      return (this.src.readdir(`${this.base}/blobs/sha256`) ?? []).filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
    } catch (e) {
      this.f.caught(e, 'containerd.content.unreadable', this.label ? `${this.label}/${this.base}/blobs/sha256` : `${this.base}/blobs/sha256`);
      return [];
    }
  }
}
