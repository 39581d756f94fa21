import type { Source } from '../source/types.js';
import type { Findings } from './findings.js';
import { readdirOptional, readOptional } from './read.js';

/**
 * aufs driver bookkeeping (FORMATS.md §6): `aufs/layers/<id>` is a regular file listing the
 * ancestors, immediate parent first, one per line; empty for a base layer. Layer files are in
 * `aufs/diff/<id>/` with whiteouts stored literally as `.wh.` files.
 */
export interface AufsLayer {
  id: string;
  /** Ancestors, immediate parent first. */
  parents: string[];
  hasDiff: boolean;
  hasMnt: boolean;
}

const ID = /^[0-9a-f]{64}(-init)?$/;

export function parseAufsLayers(buf: Buffer, path: string, f: Findings): string[] {
  const out: string[] = [];
  for (const line of buf.toString('utf8').split('\n')) {
    const id = line.trim();
    if (id === '') continue;
    if (ID.test(id)) out.push(id);
    else f.add('warn', 'aufs.bad-parent', `ancestor ${JSON.stringify(id.slice(0, 80))} is not a layer id`, path);
  }
  return out;
}

export function loadAufs(src: Source, f: Findings): Map<string, AufsLayer> {
  const out = new Map<string, AufsLayer>();
  const diff = new Set(readdirOptional(src, 'aufs/diff', f, 'aufs.unreadable'));
  const mnt = new Set(readdirOptional(src, 'aufs/mnt', f, 'aufs.unreadable'));
  for (const name of readdirOptional(src, 'aufs/layers', f, 'aufs.unreadable')) {
    if (!ID.test(name)) {
      f.add('info', 'aufs.stray', `unexpected entry ${JSON.stringify(name)}`, `aufs/layers/${name}`);
      continue;
    }
    const buf = readOptional(src, `aufs/layers/${name}`, f, 'aufs.unreadable', 1 << 20);
    out.set(name, { id: name, parents: buf ? parseAufsLayers(buf, `aufs/layers/${name}`, f) : [], hasDiff: diff.has(name), hasMnt: mnt.has(name) });
  }
  for (const name of diff) if (ID.test(name) && !out.has(name)) f.add('warn', 'aufs.no-layers-entry', 'diff dir without aufs/layers entry', `aufs/diff/${name}`);
  return out;
}
