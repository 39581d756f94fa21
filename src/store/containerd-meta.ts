import { describeKey, openBolt, type Bucket } from './bbolt.js';
import { Findings, type Finding, type Severity } from './findings.js';

/**
 * containerd's metadata database, `io.containerd.metadata.v1.bolt/meta.db` (FORMATS.md §9.3;
 * containerd `core/metadata/buckets.go`, `boltutil/helpers.go`): images, containers, snapshot
 * references, content records and leases of one namespace (Docker's is `moby`).
 *
 * Everything here is evidence: names, digests, sizes and timestamps are checked, anything odd is
 * a finding and the record is kept with what could be read. Nothing throws on bad input.
 */

/** containerd caps a label (key + value) at 4096 bytes (labels.Validate); we allow some slack. */
const MAX_STRING = 16 * 1024;
/** Records per bucket we look at; a real store has thousands at most. */
const MAX_RECORDS = 200_000;
/** Go's time.Time seconds from 0001-01-01 to 1970-01-01. */
const GO_UNIX_OFFSET = 62135596800n;

// -------------------------------------------------------------------------------------------------
// Encodings

/** A Go time.Time decoded from MarshalBinary. */
export interface GoTime {
  /** RFC 3339 with nanoseconds as Go prints it (trailing zeros dropped, 'Z' for UTC). */
  iso: string;
  /** Seconds since the epoch (Time.Unix()). */
  unix: number;
  nanos: number;
  /** Zone offset in seconds; undefined for UTC. */
  offset?: number;
}

function pad(n: number, w: number): string {
  return String(n).padStart(w, '0');
}

/** Formats unix seconds + nanos in a zone offset like Go's time.RFC3339Nano. */
export function formatGoTime(unix: number, nanos: number, offset = 0): string | undefined {
  const local = unix + offset;
  const ms = local * 1000;
  const d = new Date(ms);
  if (!Number.isFinite(ms) || Number.isNaN(d.getTime())) return undefined;
  const y = d.getUTCFullYear();
  if (y < 0 || y > 9999) return undefined;
  const frac = nanos ? '.' + pad(nanos, 9).replace(/0+$/, '') : '';
  let zone = 'Z';
  if (offset !== 0) {
    const a = Math.abs(offset);
    zone = `${offset < 0 ? '-' : '+'}${pad(Math.floor(a / 3600), 2)}:${pad(Math.floor((a % 3600) / 60), 2)}`;
  }
  return `${pad(y, 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}T${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}${frac}${zone}`;
}

/**
 * Go's time.Time.MarshalBinary: version 1 = [1][sec int64 BE since 0001-01-01][nsec int32 BE]
 * [offset minutes int16 BE, -1 = UTC]; version 2 appends one byte of offset seconds.
 * Returns a reason string when the bytes are not such a time.
 */
export function decodeGoTime(b: Buffer): GoTime | string {
  if (b.length === 0) return 'empty';
  const version = b[0];
  if (version !== 1 && version !== 2) return `unknown time encoding version ${version}`;
  const want = version === 1 ? 15 : 16;
  if (b.length !== want) return `${b.length} bytes, version ${version} times are ${want}`;
  const sec = b.readBigInt64BE(1);
  const nanos = b.readInt32BE(9);
  const offMin = b.readInt16BE(13);
  let offset: number | undefined = offMin === -1 ? undefined : offMin * 60;
  if (version === 2) offset = (offset ?? 0) + b.readInt8(15);
  if (nanos < 0 || nanos > 999_999_999) return `nanoseconds ${nanos} out of range`;
  const unixBig = sec - GO_UNIX_OFFSET;
  if (unixBig < -62135596800n || unixBig > 253402300799n) return `seconds ${sec} outside years 1-9999`;
  const unix = Number(unixBig);
  const iso = formatGoTime(unix, nanos, offset ?? 0);
  if (iso === undefined) return `seconds ${sec} outside years 1-9999`;
  return offset === undefined ? { iso, unix, nanos } : { iso, unix, nanos, offset };
}

/** Go's binary.Uvarint; undefined when truncated, overlong or beyond 2^53. */
export function decodeUvarint(b: Buffer, at = 0): { value: number; length: number } | undefined {
  let x = 0n;
  let shift = 0n;
  for (let i = 0; i < 10 && at + i < b.length; i++) {
    const c = b[at + i]!;
    if (i === 9 && c > 1) return undefined; // overflows 64 bits
    x |= BigInt(c & 0x7f) << shift;
    if (c < 0x80) {
      if (x > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
      return { value: Number(x), length: i + 1 };
    }
    shift += 7n;
  }
  return undefined;
}

/** Go's binary.Varint (zigzag); undefined when truncated, overlong or beyond ±2^53. */
export function decodeVarint(b: Buffer, at = 0): { value: number; length: number } | undefined {
  let x = 0n;
  let shift = 0n;
  for (let i = 0; i < 10 && at + i < b.length; i++) {
    const c = b[at + i]!;
    if (i === 9 && c > 1) return undefined;
    x |= BigInt(c & 0x7f) << shift;
    if (c < 0x80) {
      const v = x & 1n ? -(x >> 1n) - 1n : x >> 1n;
      if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) return undefined;
      return { value: Number(v), length: i + 1 };
    }
    shift += 7n;
  }
  return undefined;
}

const DIGEST_RE = /^(sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$/;

/** The digests containerd's local content store can hold (go-digest's registered algorithms). */
export function isContentDigest(s: string): boolean {
  return DIGEST_RE.test(s);
}

// -------------------------------------------------------------------------------------------------
// Records

export interface MetaDescriptor {
  digest: string;
  mediaType: string;
  size: number;
}

export interface MetaImage {
  /** Bucket key: a full normalised reference or `moby-dangling@<digest>`. */
  name: string;
  createdAt?: GoTime;
  updatedAt?: GoTime;
  /** Undefined when the target bucket is missing or its digest is unusable. */
  target?: MetaDescriptor;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface MetaContainer {
  id: string;
  createdAt?: GoTime;
  updatedAt?: GoTime;
  image: string;
  snapshotter: string;
  snapshotKey: string;
  runtime?: string;
  sandboxId?: string;
  labels: Record<string, string>;
  /** The spec's protobuf Any type URL and value size (the OCI runtime spec JSON). */
  specType?: string;
  specBytes?: number;
}

/** A snapshot as the namespace sees it: user key → backend key in the snapshotter's own db. */
export interface MetaSnapshot {
  snapshotter: string;
  key: string;
  /** Backend key `<ns>/<seq>/<key>`. */
  name?: string;
  /** User key of the parent. */
  parent?: string;
  children: string[];
  labels: Record<string, string>;
  createdAt?: GoTime;
  updatedAt?: GoTime;
}

export interface MetaBlob {
  digest: string;
  size?: number;
  labels: Record<string, string>;
  createdAt?: GoTime;
  updatedAt?: GoTime;
}

export interface MetaLease {
  id: string;
  createdAt?: GoTime;
  labels: Record<string, string>;
  /** snapshotter → user keys. */
  snapshots: Record<string, string[]>;
  content: string[];
  ingests: string[];
}

export interface MetaNamespace {
  name: string;
  labels: Record<string, string>;
  /** In bucket (name) order, as containerd's List returns them. */
  images: MetaImage[];
  containers: MetaContainer[];
  /** snapshotter → user key → snapshot. */
  snapshots: Map<string, Map<string, MetaSnapshot>>;
  blobs: Map<string, MetaBlob>;
  ingests: string[];
  leases: MetaLease[];
}

export interface MetaDb {
  /** `v1/version`: the schema minor (3 in containerd 1.x, 4 in 2.x). */
  schemaVersion?: number;
  /** Every namespace bucket under v1. */
  namespaces: string[];
  /** The namespace asked for, when present. */
  ns?: MetaNamespace;
  findings: Finding[];
}

// -------------------------------------------------------------------------------------------------
// Reader

class Reader {
  readonly f = new Findings();
  constructor(readonly path: string | undefined) {}

  add(sev: Severity, code: string, msg: string): void {
    this.f.add(sev, code, msg, this.path);
  }

  /** A key or value as text; bounded, and reported when it is not clean UTF-8. */
  text(b: Buffer, what: string): string | undefined {
    if (b.length > MAX_STRING) {
      this.add('warn', 'containerd.meta.too-long', `${what} is ${b.length} bytes; ignored`);
      return undefined;
    }
    const s = b.toString('utf8');
    if (!Buffer.from(s, 'utf8').equals(b)) this.add('warn', 'containerd.meta.bad-utf8', `${what} is not valid UTF-8: ${describeKey(b)}`);
    return s;
  }

  time(b: Bucket, key: string, where: string): GoTime | undefined {
    const v = b.get(key);
    if (v === undefined) return undefined;
    const t = decodeGoTime(v);
    if (typeof t === 'string') {
      this.add('warn', 'containerd.meta.bad-time', `${where} ${key}: ${t}`);
      return undefined;
    }
    return t;
  }

  str(b: Bucket, key: string, where: string): string | undefined {
    const v = b.get(key);
    return v === undefined ? undefined : this.text(v, `${where} ${key}`);
  }

  /** boltutil ReadLabels: a sub-bucket of string pairs. */
  labels(b: Bucket | undefined, where: string): Record<string, string> {
    const out: Record<string, string> = {};
    if (!b) return out;
    let n = 0;
    for (const e of b.entries()) {
      if (++n > MAX_RECORDS) {
        this.add('warn', 'containerd.meta.too-many', `${where}: more than ${MAX_RECORDS} labels; the rest are ignored`);
        break;
      }
      if (!e.value) {
        this.add('warn', 'containerd.meta.bad-label', `${where}: label ${describeKey(e.key)} is a bucket, not a value`);
        continue;
      }
      const k = this.text(e.key, `${where} label key`);
      const v = this.text(e.value, `${where} label ${describeKey(e.key)}`);
      if (k === undefined || v === undefined) continue;
      // A plain object must not let a crafted key touch its prototype.
      Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }

  /** Size values are binary.PutVarint (signed, zigzag). */
  varint(b: Bucket, key: string, where: string): number | undefined {
    const v = b.get(key);
    if (v === undefined) return undefined;
    const d = decodeVarint(v);
    if (!d) {
      this.add('warn', 'containerd.meta.bad-varint', `${where} ${key}: ${describeKey(v)} is not a varint`);
      return undefined;
    }
    if (d.length !== v.length) this.add('warn', 'containerd.meta.bad-varint', `${where} ${key}: ${v.length - d.length} trailing bytes after the varint`);
    return d.value;
  }

  /** Entries of a bucket that are themselves buckets, bounded; plain values are reported. */
  *buckets(b: Bucket | undefined, where: string): Generator<{ key: Buffer; name: string; bucket: Bucket }> {
    if (!b) return;
    let n = 0;
    for (const e of b.entries()) {
      if (++n > MAX_RECORDS) {
        this.add('warn', 'containerd.meta.too-many', `${where}: more than ${MAX_RECORDS} entries; the rest are ignored`);
        return;
      }
      const name = this.text(e.key, `${where} key`);
      if (name === undefined) continue;
      if (!e.bucket) {
        if (e.value) this.add('warn', 'containerd.meta.unexpected-value', `${where}: ${describeKey(e.key)} is a value where a bucket was expected`);
        continue;
      }
      yield { key: e.key, name, bucket: e.bucket };
    }
  }

  /** Keys of a bucket whose entries are markers (value empty), e.g. children, lease resources. */
  keys(b: Bucket | undefined, where: string): string[] {
    const out: string[] = [];
    if (!b) return out;
    for (const e of b.entries()) {
      if (out.length >= MAX_RECORDS) {
        this.add('warn', 'containerd.meta.too-many', `${where}: more than ${MAX_RECORDS} entries; the rest are ignored`);
        break;
      }
      const k = this.text(e.key, `${where} key`);
      if (k !== undefined) out.push(k);
    }
    return out;
  }
}

function readImage(r: Reader, name: string, b: Bucket): MetaImage {
  const where = `image ${JSON.stringify(name)}`;
  const img: MetaImage = {
    name,
    createdAt: r.time(b, 'createdat', where),
    updatedAt: r.time(b, 'updatedat', where),
    labels: r.labels(b.bucket('labels'), `${where} labels`),
    annotations: r.labels(b.bucket('annotations'), `${where} annotations`),
  };
  const t = b.bucket('target');
  if (!t) {
    r.add('error', 'containerd.meta.no-target', `${where} has no target; containerd cannot use it`);
    return img;
  }
  const digest = r.str(t, 'digest', `${where} target`);
  const mediaType = r.str(t, 'mediatype', `${where} target`) ?? '';
  const size = r.varint(t, 'size', `${where} target`);
  if (digest === undefined || !isContentDigest(digest)) {
    r.add('error', 'containerd.meta.bad-digest', `${where} target digest ${JSON.stringify(digest?.slice(0, 150) ?? null)} is not a digest`);
    return img;
  }
  if (size === undefined || size < 0) r.add('warn', 'containerd.meta.bad-size', `${where} target size is ${size ?? 'missing'}`);
  img.target = { digest, mediaType, size: size !== undefined && size >= 0 ? size : 0 };
  return img;
}

/** The `spec` value is a protobuf Any: field 1 = type URL (string), field 2 = value (bytes). */
function anyTypeUrl(v: Buffer): { type?: string; bytes?: number } {
  const out: { type?: string; bytes?: number } = {};
  let at = 0;
  for (let fields = 0; at < v.length && fields < 16; fields++) {
    const tag = decodeUvarint(v, at);
    if (!tag || (tag.value & 7) !== 2) break;
    at += tag.length;
    const len = decodeUvarint(v, at);
    if (!len) break;
    at += len.length;
    if (at + len.value > v.length) break;
    if (tag.value >> 3 === 1 && len.value <= 1024) out.type = v.subarray(at, at + len.value).toString('utf8');
    if (tag.value >> 3 === 2) out.bytes = len.value;
    at += len.value;
  }
  return out;
}

function readContainer(r: Reader, id: string, b: Bucket): MetaContainer {
  const where = `container ${JSON.stringify(id)}`;
  const c: MetaContainer = {
    id,
    createdAt: r.time(b, 'createdat', where),
    updatedAt: r.time(b, 'updatedat', where),
    image: r.str(b, 'image', where) ?? '',
    snapshotter: r.str(b, 'snapshotter', where) ?? '',
    snapshotKey: r.str(b, 'snapshotKey', where) ?? '',
    sandboxId: r.str(b, 'sandboxid', where),
    labels: r.labels(b.bucket('labels'), `${where} labels`),
  };
  const rt = b.bucket('runtime');
  if (rt) c.runtime = r.str(rt, 'name', `${where} runtime`);
  const spec = b.get('spec');
  if (spec) {
    const a = anyTypeUrl(spec);
    c.specType = a.type;
    c.specBytes = a.bytes;
  }
  return c;
}

function readSnapshots(r: Reader, snapshotter: string, b: Bucket): Map<string, MetaSnapshot> {
  const out = new Map<string, MetaSnapshot>();
  for (const { name: key, bucket } of r.buckets(b, `snapshots/${snapshotter}`)) {
    const where = `snapshot ${snapshotter}/${JSON.stringify(key)}`;
    const s: MetaSnapshot = {
      snapshotter,
      key,
      name: r.str(bucket, 'name', where),
      parent: r.str(bucket, 'parent', where) || undefined,
      children: r.keys(bucket.bucket('children'), `${where} children`),
      labels: r.labels(bucket.bucket('labels'), `${where} labels`),
      createdAt: r.time(bucket, 'createdat', where),
      updatedAt: r.time(bucket, 'updatedat', where),
    };
    if (!s.name) r.add('error', 'containerd.meta.no-backend-key', `${where} has no backend key (name); its data cannot be found`);
    out.set(key, s);
  }
  return out;
}

function readBlobs(r: Reader, b: Bucket | undefined): Map<string, MetaBlob> {
  const out = new Map<string, MetaBlob>();
  for (const { name: digest, bucket } of r.buckets(b, 'content/blob')) {
    const where = `content ${digest.slice(0, 80)}`;
    if (!isContentDigest(digest)) {
      r.add('warn', 'containerd.meta.bad-digest', `content record ${JSON.stringify(digest.slice(0, 150))} is not named by a digest`);
      continue;
    }
    const size = r.varint(bucket, 'size', where);
    if (size !== undefined && size < 0) r.add('warn', 'containerd.meta.bad-size', `${where}: size is ${size}`);
    out.set(digest, {
      digest,
      size: size !== undefined && size >= 0 ? size : undefined,
      labels: r.labels(bucket.bucket('labels'), `${where} labels`),
      createdAt: r.time(bucket, 'createdat', where),
      updatedAt: r.time(bucket, 'updatedat', where),
    });
  }
  return out;
}

function readLeases(r: Reader, b: Bucket | undefined): MetaLease[] {
  const out: MetaLease[] = [];
  for (const { name: id, bucket } of r.buckets(b, 'leases')) {
    const where = `lease ${JSON.stringify(id)}`;
    const snapshots: Record<string, string[]> = {};
    for (const { name: sn, bucket: sb } of r.buckets(bucket.bucket('snapshots'), `${where} snapshots`)) {
      Object.defineProperty(snapshots, sn, { value: r.keys(sb, `${where} snapshots/${sn}`), enumerable: true, writable: true, configurable: true });
    }
    out.push({
      id,
      createdAt: r.time(bucket, 'createdat', where),
      labels: r.labels(bucket.bucket('labels'), `${where} labels`),
      snapshots,
      content: r.keys(bucket.bucket('content'), `${where} content`),
      ingests: r.keys(bucket.bucket('ingests'), `${where} ingests`),
    });
  }
  return out;
}

function readNamespace(r: Reader, name: string, b: Bucket): MetaNamespace {
  const ns: MetaNamespace = {
    name,
    labels: r.labels(b.bucket('labels'), `namespace ${name} labels`),
    images: [],
    containers: [],
    snapshots: new Map(),
    blobs: new Map(),
    ingests: [],
    leases: [],
  };
  for (const { name: n, bucket } of r.buckets(b.bucket('images'), 'images')) ns.images.push(readImage(r, n, bucket));
  for (const { name: id, bucket } of r.buckets(b.bucket('containers'), 'containers')) ns.containers.push(readContainer(r, id, bucket));
  for (const { name: sn, bucket } of r.buckets(b.bucket('snapshots'), 'snapshots')) ns.snapshots.set(sn, readSnapshots(r, sn, bucket));
  const content = b.bucket('content');
  ns.blobs = readBlobs(r, content?.bucket('blob'));
  ns.ingests = r.keys(content?.bucket('ingests'), 'content/ingests');
  ns.leases = readLeases(r, b.bucket('leases'));
  return ns;
}

/**
 * Parses meta.db bytes. `namespace` (default `moby`) is read in full; the others are only listed.
 * Never throws: an unreadable file yields no namespaces and an error finding.
 */
export function parseMetaDb(buf: Buffer, opts: { path?: string; namespace?: string } = {}): MetaDb {
  const r = new Reader(opts.path);
  const want = opts.namespace ?? 'moby';
  const { db, findings } = openBolt(buf, { path: opts.path });
  const out: MetaDb = { namespaces: [], findings: r.f.list };
  if (!db) {
    r.f.list.push(...findings);
    r.add('error', 'containerd.meta.unreadable', 'meta.db is not a readable bbolt file');
    return out;
  }
  const v1 = db.root().bucket('v1');
  if (!v1) {
    r.f.list.push(...findings);
    r.add('error', 'containerd.meta.no-v1', 'meta.db has no v1 bucket: not a containerd metadata database (or an unknown schema)');
    return out;
  }
  const version = v1.get('version');
  if (version) {
    const d = decodeVarint(version);
    if (d) out.schemaVersion = d.value;
    else r.add('warn', 'containerd.meta.bad-varint', `v1/version ${describeKey(version)} is not a varint`);
  }
  let n = 0;
  for (const e of v1.entries()) {
    if (++n > MAX_RECORDS) break;
    if (!e.bucket) {
      if (!e.key.equals(Buffer.from('version'))) r.add('warn', 'containerd.meta.unexpected-value', `v1: ${describeKey(e.key)} is a value where a namespace bucket was expected`);
      continue;
    }
    const name = r.text(e.key, 'namespace name');
    if (name === undefined) continue;
    out.namespaces.push(name);
    if (name === want) out.ns = readNamespace(r, name, e.bucket);
  }
  // bbolt's own findings (damaged pages met while reading) come first.
  r.f.list.unshift(...findings);
  return out;
}
