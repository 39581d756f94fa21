/**
 * Rendering of container filesystem answers: `diff` (docker diff lines, the --long table), and the
 * `fs` views (ls table, stat fields, find lines, cat on a terminal). Every name and link target
 * is evidence and is escaped; table() and fields() escape their cells themselves.
 */
import type { Change, LongChange } from '../analysis/diff.js';
import { KIND_LETTER } from '../analysis/diff.js';
import type { ExportSummary } from '../analysis/export.js';
import type { EntryInfo } from '../analysis/mergedfs.js';
import { escapeText } from './escape.js';
import { humanSize, isoNanos } from './format.js';
import { fields, table } from './table.js';

const TYPE_CHAR: Record<EntryInfo['type'], string> = { file: '-', dir: 'd', symlink: 'l', char: 'c', block: 'b', fifo: 'p', socket: 's', other: '?' };

/** `ls -l` mode: type letter, rwx triplets with s/S, t/T. */
export function modeString(type: EntryInfo['type'], mode: number): string {
  const bit = (m: number, c: string) => (mode & m ? c : '-');
  const special = (x: number, s: number, lower: string, upper: string) => (mode & s ? (mode & x ? lower : upper) : mode & x ? 'x' : '-');
  return (
    TYPE_CHAR[type] +
    bit(0o400, 'r') +
    bit(0o200, 'w') +
    special(0o100, 0o4000, 's', 'S') +
    bit(0o040, 'r') +
    bit(0o020, 'w') +
    special(0o010, 0o2000, 's', 'S') +
    bit(0o004, 'r') +
    bit(0o002, 'w') +
    special(0o001, 0o1000, 't', 'T')
  );
}

function nsIso(ns: string | undefined): string {
  return ns === undefined ? '-' : isoNanos(BigInt(ns));
}

/** `docker diff` output: one `K /path` line per change. */
export function diffLines(changes: Change[]): string {
  return changes.map((c) => `${KIND_LETTER[c.Kind]} ${escapeText(c.Path)}`).join('\n');
}

/** The --long table. */
export function diffLongTable(rows: LongChange[]): string {
  return table(
    ['K', 'TYPE', 'MODE', 'OWNER', 'SIZE', 'MTIME', 'SHA256', 'PATH', 'FLAGS'],
    rows.map((r) => [
      r.kind,
      r.type ?? '-',
      r.type ? modeString(r.type, r.mode ?? 0) : '-',
      r.uid !== undefined ? `${r.uid}:${r.gid}` : '-',
      r.size !== undefined && r.type === 'file' ? String(r.size) : '-',
      nsIso(r.mtimeNs),
      r.sha256 ?? '-',
      r.Path + (r.linkTarget !== undefined ? ` -> ${r.linkTarget}` : ''),
      [...r.flags, ...(r.error ? [`error: ${r.error}`] : [])].join(',') || '-',
    ]),
  );
}

/** Warnings about a partial answer, for stderr. */
export function problemLines(problems: string[], max = 20): string {
  const lines = problems.slice(0, max).map((p) => `dockscope: warning: ${escapeText(p)}`);
  if (problems.length > max) lines.push(`dockscope: warning: … and ${problems.length - max} more`);
  return lines.join('\n');
}

/** `fs ls`: one row per entry. */
export function lsTable(entries: EntryInfo[]): string {
  return table(
    ['MODE', 'OWNER', 'SIZE', 'MTIME', 'LAYER', 'NAME'],
    entries.map((e) => [
      modeString(e.type, e.mode),
      `${e.uid}:${e.gid}`,
      e.rdev ? `${e.rdev.major},${e.rdev.minor}` : String(e.size),
      nsIso(e.mtimeNs),
      e.layer.label,
      (e.name || e.path) + (e.type === 'dir' ? '/' : '') + (e.linkTarget !== undefined ? ` -> ${e.linkTarget}` : ''),
    ]),
  );
}

export interface StatView {
  entry?: EntryInfo;
  /** Where a symlink leads inside the container ('(dangling)' / '(loop)' when it does not). */
  resolvesTo?: string;
  xattrs?: { name: string; value: string }[];
  versions: { layer: string; what: string; type: string; mode: number; size: number; mtimeNs: string; opaque?: boolean }[];
}

/** `fs stat`: the entry's fields, then what every layer holds at that path. */
export function statText(path: string, v: StatView): string {
  const out: string[] = [];
  const e = v.entry;
  if (e) {
    out.push(
      fields([
        ['Path', e.path],
        ['Type', e.type],
        ['Mode', `${(e.mode & 0o7777).toString(8).padStart(4, '0')} (${modeString(e.type, e.mode)})`],
        ['Owner', `${e.uid}:${e.gid}`],
        ['Size', e.type === 'file' ? `${e.size} (${humanSize(e.size)})` : String(e.size)],
        ['Device', e.rdev ? `${e.rdev.major},${e.rdev.minor}` : undefined],
        ['Link target', e.linkTarget],
        ['Resolves to', v.resolvesTo],
        ['Links', e.nlink],
        ['Modified', nsIso(e.mtimeNs)],
        ['Accessed', e.atimeNs !== undefined ? nsIso(e.atimeNs) : undefined],
        ['Changed', e.ctimeNs !== undefined ? nsIso(e.ctimeNs) : undefined],
        ['Layer', `${e.layer.label} (${e.layer.id})`],
        ['Evidence', e.layer.path],
        ['Opaque', e.opaque ? 'yes (lower layers hidden)' : undefined],
        ['Redirect', e.redirect],
        ['Data in', e.dataLayer ? `${e.dataLayer} (metacopy)` : undefined],
      ]),
    );
    if (v.xattrs?.length) out.push('Xattrs:', ...v.xattrs.map((x) => `  ${escapeText(x.name)}=${escapeText(x.value)}`));
  } else {
    out.push(`${escapeText(path)}: not in the merged view`);
  }
  if (v.versions.length) {
    out.push('', 'In the layers (top first):');
    out.push(
      table(
        ['LAYER', 'WHAT', 'MODE', 'SIZE', 'MTIME'],
        v.versions.map((x) => [
          x.layer,
          x.what === 'whiteout' ? 'whiteout (deleted here)' : x.opaque ? `${x.type} (opaque)` : x.type,
          x.what === 'whiteout' ? '-' : modeString(x.type as EntryInfo['type'], x.mode),
          x.what === 'whiteout' ? '-' : String(x.size),
          nsIso(x.mtimeNs),
        ]),
      ),
    );
  }
  return out.join('\n');
}

/** `fs find` plain output: one escaped path per line. */
export function findLines(paths: string[]): string {
  return paths.map((p) => escapeText(p)).join('\n');
}

/**
 * Text for a terminal: like escapeText, but newlines and tabs are kept so a text file reads as
 * one. Everything else that could drive the terminal is shown escaped.
 */
export function ttySafeText(s: string): string {
  return s
    .split('\n')
    .map((line) => line.split('\t').map((piece) => escapeText(piece, Infinity)).join('\t'))
    .join('\n');
}

export function exportSummaryText(s: ExportSummary, what: string, dest: string): string {
  return `exported ${escapeText(what)} to ${escapeText(dest)}: ${s.entries} entries (${s.files} files, ${humanSize(s.bytes)}, ${s.hardlinks} hard links${s.skipped.length ? `, ${s.skipped.length} skipped` : ''})`;
}
