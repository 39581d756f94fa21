import { limits } from '../source/limits.js';
import { isEvidenceError, type Source } from '../source/types.js';
import type { Findings } from './findings.js';

/**
 * Reads a metadata file through the source. Absence is not a finding (callers decide whether a
 * file is required); any other failure (escape, too big, unreadable) is recorded and yields
 * undefined so the caller carries on with the rest of the store.
 */
export function readOptional(src: Source, path: string, f: Findings, code: string, limit = limits.metadataBytes): Buffer | undefined {
  try {
    return src.readFileIfPresent ? src.readFileIfPresent(path, limit) : src.readFile(path, limit);
  } catch (e) {
    if (isEvidenceError(e, 'ENOENT')) return undefined;
    f.caught(e, code, path);
    return undefined;
  }
}

export function readdirOptional(src: Source, path: string, f: Findings, code: string): string[] {
  try {
    return src.readdir(path) ?? [];
  } catch (e) {
    f.caught(e, code, path);
    return [];
  }
}

/** Source.prefetch where the backend offers it (see there): the reads in `dir` follow. */
export function prefetch(src: Source, dir: string): void {
  src.prefetch?.(dir);
}

export function lstatOptional(src: Source, path: string, f: Findings, code: string) {
  try {
    return src.lstat(path);
  } catch (e) {
    f.caught(e, code, path);
    return undefined;
  }
}

/**
 * JSON.parse for evidence: malformed text gives its problem as a string instead of a thrown
 * error with a stack trace, which costs twice as much (hostile logs and tar-splits have millions
 * of lines, bbolt files thousands of stale records). Every parser's JSON goes through here.
 */
export function tryJson(text: string): { value: unknown } | { error: string } {
  const traces = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return { value: JSON.parse(text) };
  } catch (e) {
    return { error: (e as Error).message };
  } finally {
    Error.stackTraceLimit = traces;
  }
}

/** Parses JSON, recording a finding on failure. Duplicate keys keep the last, as Go does. */
export function parseJson(buf: Buffer, path: string, f: Findings, code: string): unknown {
  const r = tryJson(buf.toString('utf8'));
  if ('value' in r) return r.value;
  f.add('error', code, `invalid JSON: ${r.error}`, path);
  return undefined;
}

/** Plain-object guard: evidence JSON may hold any type in any field. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export function bool(v: unknown): boolean | undefined {
  return typeof v === 'boolean' ? v : undefined;
}

export function strArray(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
}

export function strMap(v: unknown): Record<string, string> | undefined {
  if (!isObject(v)) return undefined;
  return Object.values(v).every((x) => typeof x === 'string') ? (v as Record<string, string>) : undefined;
}

/**
 * A short preview of an evidence value for a finding's message: scalars as JSON, containers cut at
 * a few levels and a few hundred items. `JSON.stringify` on the raw value is unsafe twice over: a
 * value nested a few thousand deep overflows the stack (RangeError), and a huge one lands whole in
 * the message. Found by test/fuzz (corpus/repositories, corpus/imageconfig).
 */
export function preview(v: unknown, max = 100): string {
  const depth = new Map<object, number>();
  let budget = 200;
  let s: string | undefined;
  try {
    s = JSON.stringify(v, function (this: unknown, _k: string, val: unknown) {
      const d = typeof this === 'object' && this !== null ? (depth.get(this) ?? 0) + 1 : 1;
      if (--budget < 0) return '…';
      if (typeof val === 'object' && val !== null) {
        if (d > 4) return Array.isArray(val) ? '[…]' : '{…}';
        depth.set(val, d);
      } else if (typeof val === 'string' && val.length > max) return val.slice(0, max) + '…';
      return val;
    });
  } catch {
    s = undefined;
  }
  if (s === undefined) s = String(v);
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}
