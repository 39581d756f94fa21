/**
 * Timeline writers: a table for people, JSON Lines and CSV for Timesketch, and the TSK 3.x
 * bodyfile for `mactime`.
 *
 * Timesketch (docs "Import from JSON or CSV"): every record needs `message`, `datetime` (ISO 8601)
 * and `timestamp_desc`; `timestamp` (microseconds since the epoch) is optional and any other
 * field becomes an attribute. `datetime` is written with all nine fraction digits and `+00:00`;
 * since JSON numbers past 2^53 are not exact, the nanoseconds are kept as a decimal string in
 * `timestamp_ns`.
 *
 * Bodyfile (TSK 3.x, as `fls -m` writes it and `mactime -b` reads it), one line per file:
 *
 *   MD5|name|inode|mode_as_string|UID|GID|size|atime|mtime|ctime|crtime
 *
 * times in whole seconds since the epoch (0 = unknown), MD5 `0` when not computed,
 * mode_as_string = name type `/` tsk_fs_meta_make_ls (e.g. `r/rrwxr-xr-x`, `d/drwxr-xr-x`,
 * `l/lrwxrwxrwx`), symlink names followed by ` -> target`. mactime splits on `|` and reads line
 * by line, so `|` and line breaks in names (evidence!) are escaped.
 */
import type { BodyEntry, TimelineEvent } from '../analysis/timeline.js';
import type { EntryType, Stat } from '../source/types.js';
import { formatLogTime } from '../store/jsonlog.js';
import { escapeText, safeJson } from './escape.js';
import { shortHex } from './format.js';
import { table } from './table.js';

/** ISO 8601 with nine fraction digits and an explicit +00:00 zone. */
export function isoDatetime(ns: bigint): string {
  return formatLogTime({ ns, offset: 0 }).replace(/Z$/, '+00:00');
}

/** Microseconds since the epoch, floored (Timesketch's `timestamp`). */
export function micros(ns: bigint): number {
  let us = ns / 1000n;
  if (ns < 0n && ns % 1000n !== 0n) us -= 1n;
  return Number(us);
}

/** Whole seconds since the epoch, floored (bodyfile). */
export function seconds(ns: bigint | undefined): string {
  if (ns === undefined) return '0';
  let s = ns / 1_000_000_000n;
  if (ns < 0n && ns % 1_000_000_000n !== 0n) s -= 1n;
  return s.toString();
}

/** One event as a flat record: Timesketch's fields first, then attributes. */
export function eventRecord(e: TimelineEvent): Record<string, string | number | boolean> {
  const r: Record<string, string | number | boolean> = {
    message: e.message,
    datetime: isoDatetime(e.ns),
    timestamp_desc: e.desc,
    timestamp: micros(e.ns),
    timestamp_ns: e.ns.toString(),
    data_type: `docker:${e.kind}`,
    event: e.kind,
  };
  const opt: [string, string | undefined][] = [
    ['container_id', e.containerId],
    ['container_name', e.containerName],
    ['image_id', e.imageId],
    ['image_ref', e.imageRef],
    ['chain_id', e.chainId],
    ['diff_id', e.diffId],
    ['driver_dir', e.driverDir],
    ['source_path', e.source],
    ['source_field', e.field],
  ];
  for (const [k, v] of opt) if (v !== undefined && v !== '') r[k] = v;
  for (const [k, v] of Object.entries(e.attrs ?? {})) if (!(k in r)) r[k] = v;
  return r;
}

/** JSON Lines: one object per event, every risky character escaped (safeJson). */
export function timelineJsonl(events: Iterable<TimelineEvent>): string {
  let out = '';
  for (const e of events) out += safeJson(eventRecord(e), 0) + '\n';
  return out;
}

/** Fixed CSV columns (Timesketch's three first); attributes not listed go into `attributes` as JSON. */
export const CSV_COLUMNS = [
  'message',
  'datetime',
  'timestamp_desc',
  'timestamp',
  'timestamp_ns',
  'data_type',
  'event',
  'container_id',
  'container_name',
  'image_id',
  'image_ref',
  'chain_id',
  'diff_id',
  'driver_dir',
  'source_path',
  'source_field',
  'attributes',
] as const;

/**
 * RFC 4180 field: quoted when it holds a quote, comma, CR or LF (or leading/trailing space),
 * quotes doubled. With `terminal` (only when the CSV goes straight to a terminal), the value is
 * shown as escapeText shows it: control and bidi characters, line breaks inside a value (a raw CR
 * would rewrite the row on screen, a raw LF forge one) and backslashes escaped, so one record is
 * one line and what is shown is unambiguous.
 */
export function csvField(v: string | number | boolean | undefined, terminal = false): string {
  if (v === undefined) return '';
  let s = String(v);
  if (terminal) s = escapeText(s, Infinity);
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function timelineCsvHeader(): string {
  return CSV_COLUMNS.join(',') + '\r\n';
}

export function timelineCsvRow(e: TimelineEvent, terminal = false): string {
  const r = eventRecord(e);
  const known = new Set<string>(CSV_COLUMNS);
  const extra: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(r)) if (!known.has(k)) extra[k] = v;
  const row = CSV_COLUMNS.map((c) => (c === 'attributes' ? (Object.keys(extra).length ? safeJson(extra, 0) : '') : r[c]));
  return row.map((v) => csvField(v, terminal)).join(',') + '\r\n';
}

export function timelineCsv(events: Iterable<TimelineEvent>, terminal = false): string {
  let out = timelineCsvHeader();
  for (const e of events) out += timelineCsvRow(e, terminal);
  return out;
}

function subject(e: TimelineEvent): string {
  if (e.containerName) return e.containerName;
  if (e.imageId) return e.imageRef?.split(' ')[0] ?? shortHex(e.imageId);
  if (e.chainId) return `layer ${shortHex(e.chainId)}`;
  if (e.diffId) return `layer ${shortHex(e.diffId)}`;
  return '-';
}

/** The table for people: every cell escaped by table(). */
export function timelineTable(events: TimelineEvent[], opts: { noTrunc?: boolean } = {}): string {
  const max = opts.noTrunc ? Infinity : 120;
  const cut = (s: string) => {
    const cs = [...s];
    return cs.length > max ? cs.slice(0, max - 1).join('') + '…' : s;
  };
  return table(
    ['TIME (UTC)', 'WHAT', 'SUBJECT', 'MESSAGE'],
    events.map((e) => [formatLogTime({ ns: e.ns, offset: 0 }), e.desc, subject(e), cut(e.message)]),
  );
}

// ---------------------------------------------------------------------------------------------
// Bodyfile.

/** tsk_fs_name_type_str: UNDEF -, FIFO p, CHR c, DIR d, BLK b, REG r, LNK l, SOCK s, SHAD h, WHT w, VIRT v. */
const NAME_TYPE: Record<EntryType, string> = { file: 'r', dir: 'd', symlink: 'l', char: 'c', block: 'b', fifo: 'p', socket: 's', other: '-' };
/** tsk_fs_meta_type_str: UNDEF -, REG r, DIR d, FIFO p, CHR c, BLK b, LNK l, SHAD s, SOCK h, WHT w, VIRT v. */
const META_TYPE: Record<EntryType, string> = { file: 'r', dir: 'd', symlink: 'l', char: 'c', block: 'b', fifo: 'p', socket: 'h', other: '-' };

/** tsk_fs_meta_make_ls: type char + rwx triplets with s/S and t/T. */
export function tskModeString(type: EntryType, mode: number, whiteout = false): string {
  const b = [META_TYPE[type]];
  const rwx = (r: number, w: number, x: number) => [mode & r ? 'r' : '-', mode & w ? 'w' : '-', mode & x ? 'x' : '-'];
  b.push(...rwx(0o400, 0o200, 0o100), ...rwx(0o040, 0o020, 0o010), ...rwx(0o004, 0o002, 0o001));
  if (mode & 0o4000) b[3] = mode & 0o100 ? 's' : 'S';
  if (mode & 0o2000) b[6] = mode & 0o010 ? 's' : 'S';
  if (mode & 0o1000) b[9] = mode & 0o001 ? 't' : 'T';
  return `${whiteout ? 'w' : NAME_TYPE[type]}/${b.join('')}`;
}

/** A name safe inside one bodyfile field: terminal/line-breaking characters escaped, `|` as \x7c. */
export function bodyName(s: string): string {
  return escapeText(s).replace(/\|/g, '\\x7c');
}

/** The inode number when the source knows one ("dev:ino" on a directory), else 0. */
function inodeNumber(st: Stat): string {
  const m = /^\d+:(\d+)$/.exec(st.inode);
  return m ? m[1]! : '0';
}

export function bodyfileLine(e: BodyEntry): string {
  const st = e.stat;
  let name = bodyName(e.name);
  if (st.type === 'symlink' && st.linkTarget !== undefined) name += ` -> ${bodyName(st.linkTarget)}`;
  if (e.whiteout) name += ' (whiteout)';
  return [
    '0',
    name,
    inodeNumber(st),
    tskModeString(st.type, st.mode, e.whiteout),
    String(st.uid),
    String(st.gid),
    String(st.size),
    seconds(st.atimeNs),
    seconds(st.mtimeNs),
    seconds(st.ctimeNs),
    '0',
  ].join('|');
}
