import type { Source, Stat } from '../source/types.js';
import { HEX64, isDigest, sha256Hex } from './digest.js';
import { Findings } from './findings.js';
import { parseImageConfig, type HistoryEntry, type ImageConfig } from './imageconfig.js';
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
 * An image's history is read again from its config when asked for (history, image, timeline):
 * it is most of what a parsed config keeps (on the huge bench store 13 of 24 MB), and a listing
 * never shows it. Its findings were reported by the first parse. Should the file no longer hash
 * as it did, the history is empty rather than another file's.
 */
function historyOnDemand(cfg: ImageConfig, src: Source, path: string, hex: string): void {
  let history: HistoryEntry[] | undefined;
  Object.defineProperty(cfg, 'history', {
    enumerable: true,
    configurable: true,
    get(): HistoryEntry[] {
      if (history === undefined) {
        const quiet = new Findings();
        const buf = readOptional(src, path, quiet, 'imagedb.unreadable');
        history = buf && sha256Hex(buf) === hex ? (parseImageConfig(buf, path, quiet)?.history ?? []) : [];
      }
      return history;
    },
    set(v: HistoryEntry[]) {
      history = v;
    },
  });
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
    const id = `sha256:${name}`;
    const rec: ImageRecord = {
      id,
      computedId: computed === name ? id : `sha256:${computed}`,
      config: parseImageConfig(buf, path, f),
      builtLocally: false,
      contentStat: lstatOptional(src, path, f, 'imagedb.unreadable'),
      bytes: buf.length,
    };
    if (rec.config) historyOnDemand(rec.config, src, path, computed);
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
