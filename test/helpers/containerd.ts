/**
 * Test-only encoders for containerd's bbolt values (FORMATS.md §9.3/§9.4), so tests can write
 * meta.db / metadata.db files with bboltwriter and then corrupt single values.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { BoltTree, BoltValue } from './bboltwriter.js';

type Rec = Record<string, BoltValue>;

/** Go time.MarshalBinary (version 1, or 2 with offset seconds); offsetMin -1 = UTC. */
export function goTime(iso: string, opts: { version?: 1 | 2; offsetMin?: number; offsetSec?: number } = {}): Buffer {
  const m = /^(.*?)(?:\.(\d{1,9}))?Z$/.exec(iso);
  if (!m) throw new Error(`goTime: ${iso}`);
  const unix = BigInt(Date.parse(`${m[1]}Z`) / 1000);
  const nanos = Number((m[2] ?? '').padEnd(9, '0') || '0');
  const v = opts.version ?? 1;
  const b = Buffer.alloc(v === 1 ? 15 : 16);
  b[0] = v;
  b.writeBigInt64BE(unix + 62135596800n, 1);
  b.writeInt32BE(nanos, 9);
  b.writeInt16BE(opts.offsetMin ?? -1, 13);
  if (v === 2) b.writeInt8(opts.offsetSec ?? 0, 15);
  return b;
}

export function uvarint(n: number | bigint): Buffer {
  let x = BigInt(n);
  const out: number[] = [];
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
  return Buffer.from(out);
}

/** Go binary.PutVarint (zigzag). */
export function varint(n: number | bigint): Buffer {
  const x = BigInt(n);
  return uvarint(x < 0n ? (-x << 1n) - 1n : x << 1n);
}

export function sha256(b: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(b).digest('hex');
}

const T = '2026-01-02T03:04:05.123456789Z';

/** A meta.db image record. */
export function imageRec(target: { digest: string; mediaType: string; size: number }, labels: Record<string, string> = {}, at = T): Rec {
  return {
    createdat: goTime(at),
    updatedat: goTime(at),
    ...(Object.keys(labels).length ? { labels } : {}),
    target: { digest: target.digest, mediatype: target.mediaType, size: varint(target.size) },
  };
}

export function blobRec(size: number, labels: Record<string, string> = {}, at = T): Rec {
  return { createdat: goTime(at), updatedat: goTime(at), size: varint(size), ...(Object.keys(labels).length ? { labels } : {}) };
}

/** meta.db snapshot reference (user key → backend key). */
export function snapRef(name: string, parent?: string, at = T): Rec {
  return { name, ...(parent ? { parent } : {}), createdat: goTime(at), updatedat: goTime(at) };
}

/** Snapshotter metadata.db record. kind: 1 View, 2 Active, 3 Committed. */
export function backendSnap(id: number, kind: number, parent?: string, size?: number, at = T): Rec {
  return {
    id: uvarint(id),
    kind: Buffer.from([kind]),
    ...(parent ? { parent } : {}),
    createdat: goTime(at),
    updatedat: goTime(at),
    ...(size !== undefined ? { size: varint(size), inodes: varint(3) } : {}),
  };
}

/** Writes a blob into a content store dir; returns its descriptor. */
export function putBlob(croot: string, bytes: Buffer | string, mediaType: string): { digest: string; mediaType: string; size: number } {
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
  const digest = sha256(b);
  const dir = path.join(croot, 'io.containerd.content.v1.content/blobs/sha256');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, digest.slice(7)), b);
  return { digest, mediaType, size: b.length };
}
