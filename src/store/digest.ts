import { createHash } from 'node:crypto';

export const HEX64 = /^[a-f0-9]{64}$/;
export const DIGEST = /^sha256:[a-f0-9]{64}$/;

export function isHex64(s: string): boolean {
  return HEX64.test(s);
}

export function isDigest(s: string): boolean {
  return DIGEST.test(s);
}

export function sha256Hex(buf: Buffer | string): string {
  return createHash('sha256').update(buf).digest('hex');
}

export function sha256Digest(buf: Buffer | string): string {
  return 'sha256:' + sha256Hex(buf);
}

/** 'sha256:abc…' or 'abc…' → 'abc…' (no validation). */
export function hexOf(id: string): string {
  return id.startsWith('sha256:') ? id.slice(7) : id;
}

/** The 12-character short form Docker prints. */
export function shortId(id: string): string {
  return hexOf(id).slice(0, 12);
}
