import { createHash } from 'node:crypto';
import { isEvidenceError, type Source, type Stat } from '../source/types.js';
import { parseGoTime } from './jsonlog.js';
import type { Findings } from './findings.js';

/**
 * Partial downloads in containerd's local content store (FORMATS.md §9.2):
 * `io.containerd.content.v1.content/ingest/<hex(sha256(ref))>/{ref,data,startedat,updatedat,total}`
 * (containerd `plugins/content/local/store.go`: ingestRoot, readFileTimestamp/writeTimestampFile —
 * times are Go `time.MarshalText`, i.e. RFC 3339 with nanoseconds; `writer.go`: `total` is the
 * expected size in decimal, written only when the writer knew it). A finished download is renamed
 * into `blobs/` and its ingest dir removed, so whatever is here was interrupted or still running.
 */

export interface IngestTime {
  /** As written (RFC 3339 nano). */
  text: string;
  /** Nanoseconds since the epoch. */
  ns: bigint;
}

export interface Ingest {
  /** Directory name under `ingest/`. */
  dir: string;
  /** Path inside the containerd root. */
  path: string;
  /** Contents of `ref`: the writer's reference, e.g. `layer-sha256:…` or `manifest-sha256:…`. */
  ref?: string;
  /** The dir name is sha256(ref), as containerd names it. */
  refMatchesDir?: boolean;
  /** Digest the ref names (containerd/remotes refs end in the expected digest). */
  expected?: string;
  /** Bytes received so far (size of `data`). */
  size?: number;
  /** Expected total, when the writer knew it. */
  total?: number;
  startedAt?: IngestTime;
  updatedAt?: IngestTime;
  /** mtime of `data`: the last byte received. */
  dataStat?: Stat;
}

const SMALL = 4096;

function readSmall(src: Source, p: string, f: Findings, where: string): string | undefined {
  try {
    return src.readFile(p, SMALL).toString('utf8');
  } catch (e) {
    if (!isEvidenceError(e, 'ENOENT')) f.caught(e, 'containerd.ingest.unreadable', where);
    return undefined;
  }
}

function timeFile(src: Source, p: string, f: Findings, where: string): IngestTime | undefined {
  const t = readSmall(src, p, f, where);
  if (t === undefined) return undefined;
  const parsed = parseGoTime(t.trim());
  if (!parsed) {
    f.add('warn', 'containerd.ingest.bad-time', `not an RFC 3339 time: ${JSON.stringify(t.slice(0, 64))}`, where);
    return undefined;
  }
  return { text: t.trim(), ns: parsed.ns };
}

/**
 * Every ingest dir of a content store. `base` is the content plugin dir inside the containerd root;
 * `label(p)` turns a path inside the root into the one findings show. Bounded: at most `limit` dirs.
 */
export function listIngests(src: Source, base: string, f: Findings, label: (p: string) => string = (p) => p, limit = 10_000): Ingest[] {
  const root = `${base}/ingest`;
  let names: string[];
  try {
    names = src.readdir(root) ?? [];
  } catch (e) {
    if (!isEvidenceError(e, 'ENOENT')) f.caught(e, 'containerd.ingest.unreadable', label(root));
    return [];
  }
  if (names.length > limit) {
    f.add('warn', 'containerd.ingest.too-many', `${names.length} ingest dirs; only the first ${limit} are read`, label(root));
    names = names.slice(0, limit);
  }
  const out: Ingest[] = [];
  for (const dir of names.sort()) {
    const p = `${root}/${dir}`;
    let st: Stat | undefined;
    try {
      st = src.lstat(p);
    } catch (e) {
      f.caught(e, 'containerd.ingest.unreadable', label(p));
      continue;
    }
    if (st?.type !== 'dir') {
      f.add('warn', 'containerd.ingest.not-dir', `${st?.type ?? 'unknown'} where containerd keeps ingest directories`, label(p));
      continue;
    }
    const ing: Ingest = { dir, path: p };
    const ref = readSmall(src, `${p}/ref`, f, label(`${p}/ref`));
    if (ref !== undefined) {
      ing.ref = ref;
      ing.refMatchesDir = createHash('sha256').update(ref).digest('hex') === dir;
      if (!ing.refMatchesDir) f.add('warn', 'containerd.ingest.ref-mismatch', `ref ${JSON.stringify(ref.slice(0, 200))} does not hash to the directory name`, label(`${p}/ref`));
      const m = /(sha256:[a-f0-9]{64})$/.exec(ref);
      if (m) ing.expected = m[1];
    }
    try {
      const d = src.lstat(`${p}/data`);
      if (d) {
        ing.dataStat = d;
        ing.size = d.size;
      }
    } catch (e) {
      f.caught(e, 'containerd.ingest.unreadable', label(`${p}/data`));
    }
    const total = readSmall(src, `${p}/total`, f, label(`${p}/total`));
    if (total !== undefined) {
      if (/^\d{1,16}$/.test(total.trim())) ing.total = Number(total.trim());
      else f.add('warn', 'containerd.ingest.bad-total', `total ${JSON.stringify(total.slice(0, 64))} is not a byte count`, label(`${p}/total`));
    }
    ing.startedAt = timeFile(src, `${p}/startedat`, f, label(`${p}/startedat`));
    ing.updatedAt = timeFile(src, `${p}/updatedat`, f, label(`${p}/updatedat`));
    out.push(ing);
  }
  return out;
}
