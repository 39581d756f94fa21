import type { Source, Stat } from '../source/types.js';
import { HEX64, isDigest, sha256Hex } from './digest.js';
import type { Findings } from './findings.js';
import { parseImageConfig, type ImageConfig } from './imageconfig.js';
import { lstatOptional, prefetch, readdirOptional, readOptional } from './read.js';

export interface ImageRecord {
  /** 'sha256:<hex>' = the file name. */
  id: string;
  /** sha256 of the stored bytes; equals the id unless the config was altered. */
  computedId: string;
  config?: ImageConfig;
  /** metadata/parent: parent image ID (classic builder, commit). */
  parent?: string;
  /** metadata/lastUpdated, verbatim (RFC 3339). */
  lastUpdated?: string;
  /** metadata/builtLocally present (26.0+). */
  builtLocally: boolean;
  contentStat?: Stat;
  bytes: number;
}

/**
 * Reads `imagedb/` (FORMATS.md §1.2). Like Docker it only looks at 64-hex names, but unlike Docker
 * it keeps images whose bytes do not hash to their name, so the tampering can be reported.
 */
export function loadImageDb(src: Source, imageRoot: string, f: Findings): ImageRecord[] {
  const contentDir = `${imageRoot}/imagedb/content/sha256`;
  const metaDir = `${imageRoot}/imagedb/metadata/sha256`;
  const out: ImageRecord[] = [];
  prefetch(src, metaDir);
  for (const name of readdirOptional(src, contentDir, f, 'imagedb.unreadable')) {
    const path = `${contentDir}/${name}`;
    if (!HEX64.test(name)) {
      f.add('info', 'imagedb.stray', `ignored ${JSON.stringify(name)}: not an image ID`, path);
      continue;
    }
    const buf = readOptional(src, path, f, 'imagedb.unreadable');
    if (!buf) continue;
    const computed = sha256Hex(buf);
    if (computed !== name)
      f.add('error', 'imagedb.digest-mismatch', `config bytes hash to sha256:${computed}; Docker would drop this image`, path);
    const rec: ImageRecord = {
      id: `sha256:${name}`,
      computedId: `sha256:${computed}`,
      config: parseImageConfig(buf, path, f),
      builtLocally: false,
      contentStat: lstatOptional(src, path, f, 'imagedb.unreadable'),
      bytes: buf.length,
    };
    const meta = `${metaDir}/${name}`;
    prefetch(src, meta);
    const parent = readOptional(src, `${meta}/parent`, f, 'imagedb.unreadable')?.toString('utf8').trim();
    if (parent !== undefined) {
      if (isDigest(parent)) rec.parent = parent;
      else f.add('warn', 'imagedb.bad-parent', `parent is ${JSON.stringify(parent.slice(0, 100))}`, `${meta}/parent`);
    }
    const lu = readOptional(src, `${meta}/lastUpdated`, f, 'imagedb.unreadable')?.toString('utf8').trim();
    if (lu) rec.lastUpdated = lu;
    rec.builtLocally = readOptional(src, `${meta}/builtLocally`, f, 'imagedb.unreadable') !== undefined;
    out.push(rec);
  }
  const ids = new Set(out.map((r) => r.id));
  for (const name of readdirOptional(src, metaDir, f, 'imagedb.unreadable')) {
    if (HEX64.test(name) && !ids.has(`sha256:${name}`))
      f.add('info', 'imagedb.orphan-metadata', `metadata for an image whose config is gone`, `${metaDir}/${name}`);
  }
  return out;
}
