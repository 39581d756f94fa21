import { describeKey, openBolt, type Bucket } from './bbolt.js';
import { decodeGoTime, decodeUvarint, decodeVarint, type GoTime } from './containerd-meta.js';
import { Findings, type Finding } from './findings.js';

/**
 * A containerd snapshotter's own database, `io.containerd.snapshotter.v1.<name>/metadata.db`
 * (FORMATS.md §9.4; containerd `core/snapshots/storage/bolt.go`):
 *
 *     v1/snapshots/<backend key>/{id uvarint, kind byte, parent, createdat, updatedat,
 *                                 inodes varint, size varint, labels/}
 *     v1/parents/<uvarint parent id> 0x00 <uvarint child id> = child backend key
 *
 * The snapshot's files live in `snapshots/<id>/` (overlayfs: `fs/` and `work/`).
 */

export type SnapshotKind = 'View' | 'Active' | 'Committed' | 'Unknown';

/** containerd snapshots.Kind: KindUnknown = 0, KindView, KindActive, KindCommitted. */
const KINDS: SnapshotKind[] = ['Unknown', 'View', 'Active', 'Committed'];

const MAX_RECORDS = 500_000;

export interface BackendSnapshot {
  /** Backend key, `<ns>/<seq>/<user key>` when written through the metadata layer. */
  name: string;
  /** Directory number under `snapshots/`; undefined when the id is missing or unreadable. */
  id?: number;
  kind: SnapshotKind;
  /** Backend key of the parent. */
  parent?: string;
  createdAt?: GoTime;
  updatedAt?: GoTime;
  /** Disk usage recorded at commit (Committed snapshots only). */
  size?: number;
  inodes?: number;
  labels: Record<string, string>;
}

export interface SnapshotterDb {
  snapshots: Map<string, BackendSnapshot>;
  /** Same snapshots by directory number. */
  byId: Map<number, BackendSnapshot>;
  findings: Finding[];
}

function text(b: Buffer): string {
  return b.toString('utf8');
}

function labels(b: Bucket | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!b) return out;
  let n = 0;
  for (const e of b.entries()) {
    if (++n > 10_000 || !e.value || e.key.length > 16384 || e.value.length > 16384) continue;
    Object.defineProperty(out, text(e.key), { value: text(e.value), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Parses metadata.db bytes of one snapshotter. Never throws. */
export function parseSnapshotterDb(buf: Buffer, opts: { path?: string } = {}): SnapshotterDb {
  const f = new Findings();
  const add = (sev: 'info' | 'warn' | 'error', code: string, msg: string) => f.add(sev, code, msg, opts.path);
  const out: SnapshotterDb = { snapshots: new Map(), byId: new Map(), findings: f.list };
  const { db, findings } = openBolt(buf, { path: opts.path });
  if (!db) {
    f.list.push(...findings);
    add('error', 'containerd.snapshots.unreadable', 'snapshotter metadata.db is not a readable bbolt file');
    return out;
  }
  const v1 = db.root().bucket('v1');
  const sb = v1?.bucket('snapshots');
  if (!v1 || !sb) {
    f.list.push(...findings);
    add('error', 'containerd.snapshots.no-v1', 'metadata.db has no v1/snapshots bucket: not a snapshotter database');
    return out;
  }
  let n = 0;
  for (const e of sb.entries()) {
    if (++n > MAX_RECORDS) {
      add('warn', 'containerd.snapshots.too-many', `more than ${MAX_RECORDS} snapshots; the rest are ignored`);
      break;
    }
    if (!e.bucket) continue;
    if (e.key.length > 16384) {
      add('warn', 'containerd.snapshots.bad-key', `snapshot key of ${e.key.length} bytes ignored`);
      continue;
    }
    const name = text(e.key);
    const b = e.bucket;
    const where = `snapshot ${JSON.stringify(name)}`;
    const s: BackendSnapshot = { name, kind: 'Unknown', labels: labels(b.bucket('labels')) };
    const id = b.get('id');
    if (id === undefined) add('error', 'containerd.snapshots.no-id', `${where} has no id; its directory cannot be found`);
    else {
      const d = decodeUvarint(id);
      if (!d || d.length !== id.length) add('error', 'containerd.snapshots.bad-id', `${where}: id ${describeKey(id)} is not a uvarint`);
      else s.id = d.value;
    }
    const kind = b.get('kind');
    if (kind === undefined || kind.length !== 1 || kind[0]! < 1 || kind[0]! > 3)
      add('warn', 'containerd.snapshots.bad-kind', `${where}: kind ${kind ? describeKey(kind) : 'missing'} is not View/Active/Committed`);
    else s.kind = KINDS[kind[0]!]!;
    const parent = b.get('parent');
    if (parent && parent.length > 0) s.parent = text(parent);
    for (const k of ['createdat', 'updatedat'] as const) {
      const v = b.get(k);
      if (!v) continue;
      const t = decodeGoTime(v);
      if (typeof t === 'string') add('warn', 'containerd.snapshots.bad-time', `${where} ${k}: ${t}`);
      else if (k === 'createdat') s.createdAt = t;
      else s.updatedAt = t;
    }
    for (const k of ['size', 'inodes'] as const) {
      const v = b.get(k);
      if (!v) continue;
      const d = decodeVarint(v);
      if (!d || d.value < 0) add('warn', 'containerd.snapshots.bad-usage', `${where} ${k}: ${describeKey(v)} is not a non-negative varint`);
      else s[k] = d.value;
    }
    if (s.id !== undefined) {
      const other = out.byId.get(s.id);
      if (other) add('error', 'containerd.snapshots.duplicate-id', `${where} and ${JSON.stringify(other.name)} both claim directory ${s.id}`);
      else out.byId.set(s.id, s);
    }
    out.snapshots.set(name, s);
  }
  for (const s of out.snapshots.values()) {
    if (s.parent !== undefined && !out.snapshots.has(s.parent))
      add('error', 'containerd.snapshots.missing-parent', `snapshot ${JSON.stringify(s.name)} names parent ${JSON.stringify(s.parent)}, which does not exist`);
  }
  // v1/parents index: each entry must name a child whose parent id is the one encoded in the key.
  const pb = v1.bucket('parents');
  let m = 0;
  for (const e of pb?.entries() ?? []) {
    if (++m > MAX_RECORDS) break;
    const p = decodeUvarint(e.key);
    const sep = p ? e.key[p.length] : undefined;
    const c = p && sep === 0 ? decodeUvarint(e.key, p.length + 1) : undefined;
    if (!p || !c || p.length + 1 + c.length !== e.key.length || !e.value) {
      add('warn', 'containerd.snapshots.bad-parent-index', `parents entry ${describeKey(e.key)} is not <uvarint> 0x00 <uvarint> = key`);
      continue;
    }
    const child = out.snapshots.get(text(e.value));
    const parent = out.byId.get(p.value);
    if (!child || child.id !== c.value || !parent || child.parent !== parent.name)
      add('warn', 'containerd.snapshots.bad-parent-index', `parents entry ${p.value}→${c.value} (${JSON.stringify(text(e.value).slice(0, 200))}) disagrees with the snapshots bucket`);
  }
  f.list.unshift(...findings);
  return out;
}
