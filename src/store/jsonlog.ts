/**
 * The `json-file` log driver's files: `containers/<id>/<id>-json.log` and its rotations
 * (FORMATS.md §11; moby `daemon/logger/jsonfilelog`). One JSON object per line:
 *
 *   {"log":"<text incl. \n>","stream":"stdout|stderr","attrs":{…},"time":"<RFC3339Nano>"}
 *
 * The copier cuts lines longer than 16 KiB into pieces: every piece but the last has no trailing
 * "\n" in `log`, and a container's very last output may end without one too. `docker logs`
 * prints each piece as it is (with its own timestamp under --timestamps); joining them back into
 * one line is a presentation choice left to the caller (see analysis/logs.ts).
 *
 * Also home of what both log formats share: the entry shape, Go-compatible time parsing and
 * formatting, and a findings helper that keeps a hostile file from flooding the report.
 */
import type { Findings, Severity } from './findings.js';
import { tryJson } from './read.js';
import { limits } from '../source/limits.js';

/** An instant with nanosecond precision and the UTC offset it was written with. */
export interface LogTime {
  /** Nanoseconds since the Unix epoch. */
  ns: bigint;
  /** Seconds east of UTC the time was expressed in (Go keeps the zone it parsed; 0 for "Z"). */
  offset: number;
}

/** Go's zero time.Time (0001-01-01T00:00:00Z): what docker shows for an entry without a time. */
export const ZERO_TIME: LogTime = { ns: -62135596800n * 1_000_000_000n, offset: 0 };

/** One stored log message (one JSON line, one protobuf frame). */
export interface LogEntry {
  /** 'stdout' or 'stderr' as stored; anything else is never printed by docker logs. */
  stream: string;
  time: LogTime;
  /** The payload, without the newline that ends a complete line. */
  line: Buffer;
  /** docker logs prints a "\n" after `line` (json-file: `log` ended with one; local: see locallog.ts). */
  newline: boolean;
  /** The logical line ends with this entry (false for every piece of a split line but the last). */
  eol: boolean;
  /** local driver's partial metadata (json-file has none: consecutive pieces of one stream belong together). */
  partialId?: string;
  ordinal?: number;
  /** json-file `attrs` (labels/env requested with --log-opt labels=…/env=…). */
  attrs?: Record<string, string>;
  /** Evidence path of the file the entry came from, relative to the data root. */
  file: string;
  /** Byte offset of the entry in the (decompressed) file. */
  offset: number;
}

// ---------------------------------------------------------------------------------------------
// Time: Go's time.Time JSON decoding (RFC 3339) and docker's RFC3339NanoFixed output.

function floorDiv(a: number, b: number): number {
  return Math.floor(a / b);
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
export function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = floorDiv(y, 400);
  const yoe = y - era * 400;
  const doy = floorDiv(153 * (m + (m > 2 ? -3 : 9)) + 2, 5) + d - 1;
  const doe = yoe * 365 + floorDiv(yoe, 4) - floorDiv(yoe, 100) + doy;
  return era * 146097 + doe - 719468;
}

function civilFromDays(z: number): [number, number, number] {
  z += 719468;
  const era = floorDiv(z, 146097);
  const doe = z - era * 146097;
  const yoe = floorDiv(doe - floorDiv(doe, 1460) + floorDiv(doe, 36524) - floorDiv(doe, 146096), 365);
  const doy = doe - (365 * yoe + floorDiv(yoe, 4) - floorDiv(yoe, 100));
  const mp = floorDiv(5 * doy + 2, 153);
  const d = doy - floorDiv(153 * mp + 2, 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

function daysIn(m: number, y: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(m) ? 30 : 31;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Parses a time the way Go's time.Time.UnmarshalJSON does (strict RFC 3339: 'T' and 'Z' upper
 * case, '.' before the fraction, fraction truncated after 9 digits, ranges checked, offset kept).
 * Returns undefined when Go would refuse it.
 */
export function parseGoTime(s: string): LogTime | undefined {
  const m = RFC3339.exec(s);
  if (!m) return undefined;
  const y = +m[1]!;
  const mo = +m[2]!;
  const d = +m[3]!;
  const h = +m[4]!;
  const mi = +m[5]!;
  const se = +m[6]!;
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(mo, y) || h > 23 || mi > 59 || se > 59) return undefined;
  const f = m[7];
  const frac = f === undefined ? 0n : BigInt(f.length >= 9 ? f.slice(0, 9) : f.padEnd(9, '0'));
  let offset = 0;
  const z = m[8]!;
  if (z !== 'Z') {
    const oh = +z.slice(1, 3);
    const om = +z.slice(4, 6);
    if (oh > 23 || om > 59) return undefined;
    offset = (z[0] === '-' ? -1 : 1) * (oh * 3600 + om * 60);
  }
  const secs = daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset;
  return { ns: BigInt(secs) * 1_000_000_000n + frac, offset };
}

/**
 * Formats like Go's `t.Format(jsonmessage.RFC3339NanoFixed)` ("2006-01-02T15:04:05.000000000Z07:00"),
 * which is what `docker logs --timestamps` puts before each entry: always nine fraction digits,
 * in the zone the time was stored with ("Z" for UTC).
 */
let dayCache = { days: NaN, text: '' };

export function formatLogTime(t: LogTime): string {
  const wall = t.ns + BigInt(t.offset) * 1_000_000_000n;
  let secs = wall / 1_000_000_000n;
  let nanos = wall % 1_000_000_000n;
  if (nanos < 0n) {
    nanos += 1_000_000_000n;
    secs -= 1n;
  }
  const s = Number(secs);
  const days = floorDiv(s, 86400);
  const sod = s - days * 86400;
  if (dayCache.days !== days) {
    // consecutive entries nearly always share the day: compute its text once
    const [y, mo, d] = civilFromDays(days);
    const year = y < 0 ? '-' + String(-y).padStart(4, '0') : String(y).padStart(4, '0');
    dayCache = { days, text: `${year}-${p2(mo)}-${p2(d)}T` };
  }
  let zone = 'Z';
  if (t.offset !== 0) {
    const a = Math.abs(t.offset);
    zone = `${t.offset < 0 ? '-' : '+'}${p2(Math.floor(a / 3600))}:${p2(Math.floor((a % 3600) / 60))}`;
  }
  return `${dayCache.text}${p2(Math.floor(sod / 3600))}:${p2(Math.floor((sod % 3600) / 60))}:${p2(sod % 60)}.${nanos.toString().padStart(9, '0')}${zone}`;
}

function p2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

// ---------------------------------------------------------------------------------------------
// Findings with a per-file, per-code cap: a crafted or corrupted log can hold millions of bad
// records, and one finding each would drown the report (and memory).

export class FileFindings {
  private readonly counts = new Map<string, { severity: Severity; n: number; message: string }>();
  constructor(
    readonly findings: Findings,
    readonly path: string,
    readonly perCode = 20,
  ) {}
  add(severity: Severity, code: string, message: string): void {
    const c = this.counts.get(code) ?? { severity, n: 0, message: '' };
    c.n++;
    this.counts.set(code, c);
    if (c.n <= this.perCode) this.findings.add(severity, code, message, this.path);
    else c.message = message;
  }
  /** Adds one summary finding per code whose findings were capped. */
  flush(): void {
    for (const [code, c] of this.counts)
      if (c.n > this.perCode) this.findings.add(c.severity, code, `${c.n - this.perCode} more like this in this file (last: ${c.message})`, this.path);
    this.counts.clear();
  }
}

// ---------------------------------------------------------------------------------------------
// One JSON line.

export interface JsonLogRecord {
  log: string;
  stream: string;
  time?: string;
  attrs?: Record<string, string>;
}

/** Go's encoding/json matches object keys to struct fields case-insensitively; the last match wins. */
function goField(obj: Record<string, unknown>, name: string): unknown {
  let v: unknown;
  for (const k of Object.keys(obj)) if (k === name || k.toLowerCase() === name) v = obj[k];
  return v;
}

/**
 * Decodes one line into the fields docker reads (`jsonlog.JSONLog`), with Go's rules: null leaves
 * a field empty, a value of the wrong type is an error. Returns a problem string on failure.
 */
export function parseJsonLogLine(text: string): JsonLogRecord | string {
  const parsed = tryJson(text);
  if ('error' in parsed) return `invalid JSON: ${parsed.error}`;
  const doc = parsed.value;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return 'not a JSON object';
  const o = doc as Record<string, unknown>;
  const log = goField(o, 'log');
  const stream = goField(o, 'stream');
  const time = goField(o, 'time');
  const attrs = goField(o, 'attrs');
  if (log !== undefined && log !== null && typeof log !== 'string') return '"log" is not a string';
  if (stream !== undefined && stream !== null && typeof stream !== 'string') return '"stream" is not a string';
  if (time !== undefined && time !== null && typeof time !== 'string') return '"time" is not a string';
  let attrMap: Record<string, string> | undefined;
  if (attrs !== undefined && attrs !== null) {
    if (typeof attrs !== 'object' || Array.isArray(attrs)) return '"attrs" is not an object';
    attrMap = {};
    for (const [k, v] of Object.entries(attrs as Record<string, unknown>)) {
      if (v === null) continue;
      if (typeof v !== 'string') return `"attrs" value ${JSON.stringify(k)} is not a string`;
      attrMap[k] = v;
    }
  }
  return {
    log: typeof log === 'string' ? log : '',
    stream: typeof stream === 'string' ? stream : '',
    time: typeof time === 'string' ? time : undefined,
    attrs: attrMap,
  };
}

// ---------------------------------------------------------------------------------------------
// Streaming reader.

export interface JsonLogOptions {
  /** Evidence path, for entries and findings. */
  path: string;
  findings: Findings;
  /**
   * Longest line accepted (bytes). Docker writes ≤16 KiB of text per entry, which JSON escaping
   * can grow about sixfold; anything near this bound is not something dockerd wrote.
   */
  maxLine?: number;
}


const NEWLINE = 0x0a;
const utf8 = new TextDecoder('utf-8');

/**
 * Streams entries from a json-file log (already decompressed), line by line: memory stays bounded
 * by `maxLine` whatever the file's size. Blank lines are skipped (Go's decoder skips whitespace);
 * malformed lines, bad times and overlong lines become findings and the rest is still read.
 */
export async function* readJsonLog(input: AsyncIterable<Buffer | Uint8Array | string>, opts: JsonLogOptions): AsyncGenerator<LogEntry> {
  const maxLine = opts.maxLine ?? limits.logLineBytes;
  const ff = new FileFindings(opts.findings, opts.path);
  let parts: Buffer[] = [];
  let partLen = 0;
  /** Inside a line that went over the bound: drop bytes until its newline. */
  let skipping = false;
  let lineStart = 0;
  let pos = 0;

  const handle = (buf: Buffer, start: number): LogEntry | undefined => {
    let end = buf.length;
    while (end > 0 && (buf[end - 1] === 0x0d || buf[end - 1] === 0x20 || buf[end - 1] === 0x09)) end--;
    let s = 0;
    while (s < end && (buf[s] === 0x20 || buf[s] === 0x09 || buf[s] === 0x0d)) s++;
    if (s === end) return undefined;
    // A line that cannot be a JSON object is refused before decoding and parsing: a hostile log
    // of millions of such lines must stay cheap.
    if (buf[s] !== 0x7b || buf[end - 1] !== 0x7d) {
      const head = buf[s] !== 0x7b;
      const byte = head ? buf[s]! : buf[end - 1]!;
      ff.add('error', 'logs.bad-json', `line at byte ${start}: not a JSON object (${head ? 'starts' : 'ends'} with byte 0x${byte.toString(16).padStart(2, '0')})`);
      return undefined;
    }
    const text = utf8.decode(buf.subarray(s, end));
    const rec = parseJsonLogLine(text);
    if (typeof rec === 'string') {
      ff.add('error', 'logs.bad-json', `line at byte ${start}: ${rec}`);
      return undefined;
    }
    let time = ZERO_TIME;
    if (rec.time !== undefined) {
      const t = parseGoTime(rec.time);
      if (t) time = t;
      else ff.add('warn', 'logs.bad-time', `line at byte ${start}: time ${JSON.stringify(rec.time.slice(0, 64))} is not RFC 3339; shown as ${formatLogTime(ZERO_TIME)}`);
    } else ff.add('warn', 'logs.bad-time', `line at byte ${start}: no "time"; shown as ${formatLogTime(ZERO_TIME)}`);
    const ends = rec.log.endsWith('\n');
    const e: LogEntry = {
      stream: rec.stream,
      time,
      line: Buffer.from(ends ? rec.log.slice(0, -1) : rec.log, 'utf8'),
      newline: ends,
      eol: ends,
      file: opts.path,
      offset: start,
    };
    if (rec.attrs && Object.keys(rec.attrs).length > 0) e.attrs = rec.attrs;
    return e;
  };

  try {
    for await (const raw of input) {
      const chunk = typeof raw === 'string' ? Buffer.from(raw) : Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
      let at = 0;
      while (at < chunk.length) {
        const nl = chunk.indexOf(NEWLINE, at);
        const stop = nl < 0 ? chunk.length : nl;
        if (!skipping) {
          if (partLen + (stop - at) > maxLine) {
            ff.add('error', 'logs.line-too-long', `line at byte ${lineStart} is longer than ${maxLine} bytes; skipped`);
            skipping = true;
            parts = [];
            partLen = 0;
          } else if (stop > at) {
            parts.push(chunk.subarray(at, stop));
            partLen += stop - at;
          }
        }
        pos += stop - at;
        if (nl < 0) break;
        // a full line
        pos += 1;
        if (!skipping) {
          const line = parts.length === 1 ? parts[0]! : Buffer.concat(parts, partLen);
          const e = handle(line, lineStart);
          if (e) yield e;
        }
        parts = [];
        partLen = 0;
        skipping = false;
        lineStart = pos;
        at = nl + 1;
      }
    }
    if (!skipping && partLen > 0) {
      // Last line without its newline: docker writes "<json>\n" in one call, so this is a file
      // cut short (crash, copy of a live file) unless it still parses.
      const line = Buffer.concat(parts, partLen);
      const e = handle(line, lineStart);
      if (e) {
        ff.add('info', 'logs.no-final-newline', `last line (byte ${lineStart}) has no newline; read anyway`);
        yield e;
      }
    }
  } finally {
    ff.flush();
  }
}
