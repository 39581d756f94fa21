/**
 * `docker logs`, offline: which files hold a container's log and in what order docker reads them,
 * the entries in them, and docker's selection (--tail, --since, --until) and output rules.
 *
 * Facts this follows (moby 20.10 and 26, `daemon/logs.go`, `daemon/logger/loggerutils/logfile.go`,
 * `api/server/httputils/write_log_stream.go`, `container/container.go:StartLogger`):
 *  - The driver is `hostconfig.json` LogConfig.Type. json-file writes `<id>-json.log`, local writes
 *    `local-logs/container.log`; for drivers docker cannot read back (syslog, gelf, fluentd, …),
 *    20.10+ keeps a "dual logging" cache `container-cached.log` in the local format unless
 *    `cache-disabled` is set. journald's log is in the host journal; `none` keeps nothing.
 *  - Rotations are read oldest first: for i = max-file-1 … 1, `<file>.i` if it exists, else
 *    `<file>.i.gz`; then the live file. Files beyond max-file are not read (we say so).
 *  - --tail N counts stored entries (each piece of a split line is one) from the end; then --since
 *    drops entries before it until the first one at or after it (22.06+ forwarder), and the first
 *    entry after --until ends the output. Only entries whose stream is "stdout" or "stderr" are
 *    written, each exactly as stored, prefixed by its own time under --timestamps; pieces of a
 *    split line are *not* joined by docker.
 */
import zlib from 'node:zlib';
import type { Readable } from 'node:stream';
import type { ContainerRecord } from '../store/containers.js';
import type { Findings } from '../store/findings.js';
import { daysFromCivil, formatLogTime, readJsonLog, type LogEntry } from '../store/jsonlog.js';
import { readLocalLog } from '../store/locallog.js';
import { isObject, lstatOptional, readdirOptional, str } from '../store/read.js';
import { isEvidenceError, type Source } from '../source/types.js';
import { limits, limitsSet } from '../source/limits.js';

export interface LogFile {
  /** Evidence path, relative to the data root. */
  path: string;
  /** 0 for the live file, N for `.N` / `.N.gz`. */
  rotation: number;
  compressed: boolean;
  size?: number;
  /** Why docker logs would not read it (only in `ignored`). */
  reason?: string;
}

export interface LogPlan {
  containerId: string;
  /** LogConfig.Type as stored ('json-file' assumed when empty). */
  driver: string;
  /** Format of the files read; undefined when nothing here can be read. */
  format?: 'json-file' | 'local';
  /** 'driver': the driver's own files; 'cache': the dual-logging cache of a write-only driver. */
  origin?: 'driver' | 'cache';
  /** Files docker logs reads, oldest first. */
  files: LogFile[];
  /** Present, but docker logs would not read them. */
  ignored: LogFile[];
  /** max-file in effect (1 = no rotation). */
  maxFiles: number;
  /** Why there is nothing to read here, in plain words. */
  note?: string;
  /** Container has a TTY: docker sends everything to stdout. */
  tty: boolean;
  /**
   * Major version of the engine taken to read the logs (20 = 20.10 or older, 23 = 22.06–23.x,
   * 24 = 24 or newer when guessed): two reading rules changed on the way, see guessEngine.
   */
  engine: number;
  engineReason: string;
  /** local format: the last piece of a split line prints without "\n" (engines before 22.06). */
  legacyNewline: boolean;
  /** Bound on the decompressed size of one rotated `.gz` file. */
  inflateLimit: number;
}

export interface PlanOptions {
  /** Engine that would read the logs ("20.10", "26.1"); guessed from hostconfig.json otherwise. */
  engineVersion?: string;
  /** Also read rotations docker would not (beyond max-file). */
  allFiles?: boolean;
  inflateLimit?: number;
}

/** Drivers whose files docker reads back itself (LogReader). */
const READABLE = new Set(['json-file', 'local', 'journald', 'etwlogs']);

const MiB = 1024 * 1024;

/** go-units FromHumanSize (decimal: "2k" = 2000); undefined when it does not parse. */
export function fromHumanSize(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(s);
  if (!m) return undefined;
  const mult = { k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15 }[(m[2] ?? '').toLowerCase()] ?? 1;
  const v = Number.parseFloat(m[1]!) * mult;
  return Number.isFinite(v) ? Math.floor(v) : undefined;
}

/** Go strconv.ParseBool. */
function goBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}

/** Go strconv.Atoi for small values. */
function goInt(s: string): number | undefined {
  return /^[+-]?\d{1,9}$/.test(s) ? Number.parseInt(s, 10) : undefined;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Lists the rotations of `<dir>/<base>` the way LogFile.openRotatedFiles does and splits them into
 * what docker reads (oldest first, live file last) and what it leaves alone.
 */
function collectFiles(src: Source, dir: string, base: string, maxFiles: number, allFiles: boolean, f: Findings): { files: LogFile[]; ignored: LogFile[] } {
  const names = readdirOptional(src, dir, f, 'logs.unreadable');
  const re = new RegExp(`^${escapeRe(base)}\\.(\\d+)(\\.gz)?$`);
  const byN = new Map<number, { plain?: string; gz?: string }>();
  const ignored: LogFile[] = [];
  const stat = (name: string) => lstatOptional(src, `${dir}/${name}`, f, 'logs.unreadable');
  for (const name of names) {
    const m = re.exec(name);
    if (!m) {
      if (name.startsWith(base + '.') && name.endsWith('.tmp'))
        f.add('info', 'logs.stray-file', 'a decompressed copy dockerd made to read a rotated log and did not remove (it holds the same entries)', `${dir}/${name}`);
      continue;
    }
    const n = Number(m[1]);
    if (String(n) !== m[1] || n < 1) {
      ignored.push({ path: `${dir}/${name}`, rotation: n, compressed: m[2] !== undefined, size: stat(name)?.size, reason: 'not a name dockerd reads' });
      continue;
    }
    const slot = byN.get(n) ?? {};
    if (m[2]) slot.gz = name;
    else slot.plain = name;
    byN.set(n, slot);
  }
  const files: LogFile[] = [];
  for (const n of [...byN.keys()].sort((a, b) => b - a)) {
    const slot = byN.get(n)!;
    const beyond = n >= maxFiles;
    const chosen = slot.plain ?? slot.gz!;
    const file: LogFile = { path: `${dir}/${chosen}`, rotation: n, compressed: chosen === slot.gz, size: stat(chosen)?.size };
    if (slot.plain && slot.gz)
      ignored.push({ path: `${dir}/${slot.gz}`, rotation: n, compressed: true, size: stat(slot.gz)?.size, reason: `${slot.plain} exists and dockerd reads that one (a compression that did not finish?)` });
    if (beyond && !allFiles) ignored.push({ ...file, reason: `beyond max-file=${maxFiles}` });
    else files.push(file);
  }
  const cur = stat(base);
  if (cur) files.push({ path: `${dir}/${base}`, rotation: 0, compressed: false, size: cur.size });
  else f.add('info', 'logs.no-file', 'no live log file (docker would create an empty one when asked for logs)', `${dir}/${base}`);
  // dockerd writes plain files; a symlink is followed (inside the evidence only), anything else is not read
  const readable = files.filter((x) => {
    const st = stat(x.path.slice(dir.length + 1));
    if (!st || st.type === 'file') return true;
    if (st.type === 'symlink') {
      f.add('warn', 'logs.symlink', `log file is a symlink to ${JSON.stringify(st.linkTarget ?? '')}; followed inside the evidence only`, x.path);
      try {
        x.size = src.stat(x.path)?.size;
      } catch {
        x.size = undefined; // leads outside the evidence: reading it will be refused and reported
      }
      return true;
    }
    f.add('warn', 'logs.not-a-file', `log file is a ${st.type}; not read`, x.path);
    return false;
  });
  for (const x of ignored)
    f.add('warn', 'logs.unread-rotation', `present but docker logs would not read it: ${x.reason}${x.reason?.startsWith('beyond') ? ' (--all-files reads it)' : ''}`, x.path);
  return { files: readable, ignored };
}

function engineMajor(v: string): number | undefined {
  const m = /^v?(\d+)(?:\.(\d+))?/.exec(v);
  return m ? Number(m[1]) : undefined;
}

/**
 * Which engine reads the logs matters twice: before 22.06 the local driver ends the last piece of
 * a split line without "\n" (moby 990b0e28), and before 24.0 --since filters every entry rather
 * than only up to the first one that passes (moby e278d3f1). Without --engine-version the files
 * the engine last wrote tell: hostconfig.json always has KernelMemory up to 20.10 (omitempty from
 * 22.06), config.v2.json always has ImageManifest from 24.0.
 */
export function guessEngine(rec: ContainerRecord, version?: string): { major: number; reason: string } {
  const given = version !== undefined ? engineMajor(version) : undefined;
  if (given !== undefined) return { major: given, reason: `engine ${version} given` };
  const has = (o: Record<string, unknown> | undefined, k: string) => o !== undefined && Object.prototype.hasOwnProperty.call(o, k);
  if (has(rec.hostConfig, 'KernelMemory')) return { major: 20, reason: 'hostconfig.json has a KernelMemory key: written by engine 20.10 or older' };
  if (has(rec.raw, 'ImageManifest')) return { major: 24, reason: 'config.v2.json has an ImageManifest key: written by engine 24 or newer' };
  if (rec.hostConfig) return { major: 23, reason: 'neither KernelMemory in hostconfig.json nor ImageManifest in config.v2.json: engine 22.06 to 23' };
  return { major: 24, reason: 'no hostconfig.json: assuming a current engine' };
}

/** Decides what `docker logs` would read for this container. */
export function planLogs(src: Source, rec: ContainerRecord, f: Findings, opts: PlanOptions = {}): LogPlan {
  const id = rec.id;
  const dir = `containers/${rec.dirId}`;
  const hc = rec.hostConfig;
  const lc = isObject(hc?.LogConfig) ? hc.LogConfig : undefined;
  const cfg: Record<string, string> = {};
  if (isObject(lc?.Config)) for (const [k, v] of Object.entries(lc.Config)) if (typeof v === 'string') cfg[k] = v;
  let driver = str(lc?.Type) ?? '';
  if (!hc) f.add('warn', 'logs.no-hostconfig', 'no readable hostconfig.json: assuming the json-file driver', `${dir}/hostconfig.json`);
  else if (driver === '') f.add('info', 'logs.no-driver', 'LogConfig.Type is empty: assuming json-file (the daemon default unless daemon.json said otherwise)', `${dir}/hostconfig.json`);
  if (driver === '') driver = 'json-file';

  const engine = guessEngine(rec, opts.engineVersion);
  if (rec.state.Dead || rec.state.RemovalInProgress)
    f.add('info', 'logs.docker-would-refuse', `docker logs refuses a container that is ${rec.state.Dead ? 'dead' : 'marked for removal'}; shown anyway`, `${dir}/config.v2.json`);

  const plan: LogPlan = {
    containerId: id,
    driver,
    files: [],
    ignored: [],
    maxFiles: 1,
    tty: rec.config.Tty === true,
    engine: engine.major,
    engineReason: engine.reason,
    legacyNewline: engine.major < 22,
    inflateLimit: opts.inflateLimit ?? limits.logInflatedBytes,
  };

  const maxFilesOf = (dflt: number): number => {
    const raw = cfg['max-file'];
    if (raw === undefined) return dflt;
    const n = goInt(raw);
    if (n === undefined || n < 1) {
      f.add('warn', 'logs.bad-option', `max-file ${JSON.stringify(raw)} is not a positive integer (dockerd would refuse it); using ${dflt}`, `${dir}/hostconfig.json`);
      return dflt;
    }
    return n;
  };
  const inflateFor = (maxSize: number | undefined) => {
    if (opts.inflateLimit === undefined && !limitsSet.has('logInflatedBytes') && maxSize !== undefined) plan.inflateLimit = Math.max(4 * maxSize, 64 * MiB);
  };

  const jsonBase = `${id}-json.log`;
  const jsonPresent = src.lstat(`${dir}/${jsonBase}`) !== undefined;
  const localPresent = src.lstat(`${dir}/local-logs`) !== undefined;
  const cachePresent = src.lstat(`${dir}/container-cached.log`) !== undefined;

  if (driver === 'json-file') {
    plan.format = 'json-file';
    plan.origin = 'driver';
    plan.maxFiles = maxFilesOf(1);
    inflateFor(cfg['max-size'] !== undefined ? fromHumanSize(cfg['max-size']) : undefined);
    const lp = rec.logPath;
    if (lp !== '' && !lp.endsWith(`/${jsonBase}`))
      f.add('warn', 'logs.logpath-mismatch', `config.v2.json LogPath is ${JSON.stringify(lp)}; docker reads ${jsonBase} in the container directory regardless`, `${dir}/config.v2.json`);
    Object.assign(plan, collectFiles(src, dir, jsonBase, plan.maxFiles, opts.allFiles === true, f));
  } else if (driver === 'local') {
    plan.format = 'local';
    plan.origin = 'driver';
    plan.maxFiles = maxFilesOf(5);
    inflateFor(cfg['max-size'] !== undefined ? fromHumanSize(cfg['max-size']) : 20e6);
    Object.assign(plan, collectFiles(src, `${dir}/local-logs`, 'container.log', plan.maxFiles, opts.allFiles === true, f));
  } else if (driver === 'none') {
    plan.note = 'logging was disabled for this container (log driver "none"): Docker kept no log';
  } else if (driver === 'journald') {
    plan.note = `log driver "journald": the log is in the host's systemd journal (CONTAINER_ID=${id.slice(0, 12)}, CONTAINER_ID_FULL=${id}), not in the data root`;
  } else if (READABLE.has(driver)) {
    plan.note = `log driver "${driver}" keeps its log outside the data root`;
  } else {
    const disabled = cfg['cache-disabled'] !== undefined ? goBool(cfg['cache-disabled']) : false;
    if (cachePresent) {
      plan.format = 'local';
      plan.origin = 'cache';
      plan.maxFiles = maxFilesOf(5);
      inflateFor(cfg['max-size'] !== undefined ? fromHumanSize(cfg['max-size']) : 20e6);
      Object.assign(plan, collectFiles(src, dir, 'container-cached.log', plan.maxFiles, opts.allFiles === true, f));
      if (disabled) f.add('info', 'logs.cache-disabled', 'cache-disabled is set, yet a dual-logging cache is present (written before the option?); reading it', `${dir}/container-cached.log`);
    } else {
      plan.note =
        `log driver "${driver}" sends the log elsewhere and keeps no file here` +
        (disabled ? ' (dual-logging cache disabled with cache-disabled)' : ' (no dual-logging cache container-cached.log: engine before 20.10, or the container never logged)');
    }
  }
  if (driver !== 'json-file' && jsonPresent) f.add('info', 'logs.other-files', `a json-file log is present although the driver is "${driver}"; not read`, `${dir}/${jsonBase}`);
  if (driver !== 'local' && localPresent) f.add('info', 'logs.other-files', `local-driver logs are present although the driver is "${driver}"; not read`, `${dir}/local-logs`);
  if (plan.origin !== 'cache' && cachePresent) f.add('info', 'logs.other-files', `a dual-logging cache is present although the driver is "${driver}"; not read`, `${dir}/container-cached.log`);
  return plan;
}

// ---------------------------------------------------------------------------------------------
// Reading.

export interface ReadOptions {
  /** Longest json-file line accepted. */
  maxLine?: number;
  /** Largest local frame accepted. */
  maxFrame?: number;
}

/** Decompresses a rotated `.gz` with a bound on the inflated size (a gzip bomb stops at the bound). */
async function* inflate(src: Readable, limit: number, f: Findings, path: string): AsyncGenerator<Buffer> {
  const gz = zlib.createGunzip({ chunkSize: 64 * 1024 });
  src.on('error', (e) => gz.destroy(e));
  src.pipe(gz);
  let total = 0;
  try {
    for await (const c of gz as AsyncIterable<Buffer>) {
      if (total + c.length > limit) {
        if (limit > total) yield c.subarray(0, limit - total);
        f.add('error', 'logs.gzip-bomb', `decompresses to more than ${limit} bytes; read only the first ${limit} (raise the bound if this log is genuine)`, path);
        return;
      }
      total += c.length;
      yield c;
    }
  } catch (e) {
    if (isEvidenceError(e)) f.add('error', 'logs.unreadable', (e as Error).message, path);
    else f.add('error', 'logs.bad-gzip', `does not decompress (after ${total} bytes): ${(e as Error).message}`, path);
  } finally {
    src.unpipe(gz);
    src.destroy();
    gz.destroy();
  }
}

/** Every stored entry, in the order docker reads them: oldest rotation first, the live file last. */
export async function* readLogEntries(src: Source, plan: LogPlan, f: Findings, opts: ReadOptions = {}): AsyncGenerator<LogEntry> {
  for (const file of plan.files) {
    let stream: Readable;
    try {
      stream = src.createReadStream(file.path);
    } catch (e) {
      f.add('error', 'logs.unreadable', (e as Error).message, file.path);
      continue;
    }
    const input: AsyncIterable<Buffer> = file.compressed ? inflate(stream, plan.inflateLimit, f, file.path) : (stream as AsyncIterable<Buffer>);
    const gen =
      plan.format === 'local'
        ? readLocalLog(input, { path: file.path, findings: f, legacyNewline: plan.legacyNewline, maxFrame: opts.maxFrame })
        : readJsonLog(input, { path: file.path, findings: f, maxLine: opts.maxLine });
    try {
      yield* gen;
    } catch (e) {
      if (!(e instanceof Error)) throw e;
      f.add('error', 'logs.unreadable', `read failed: ${e.message}`, file.path);
    } finally {
      stream.destroy();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Selection: --tail, --since, --until.

export interface LogQuery {
  /** Last N entries; negative or undefined = all; 0 = none (as docker). */
  tail?: number;
  /** Nanoseconds since the epoch. */
  since?: bigint;
  until?: bigint;
  /**
   * Engines before 24.0 test --since on every entry; 24+ stop testing once one entry passes
   * (timestamps need not be monotonic). Default: the 24+ rule.
   */
  sinceEachEntry?: boolean;
}

/** docker's --tail value: a number, anything else ("all") means everything (daemon strconv.Atoi). */
export function parseTail(v: string | number | undefined): number {
  if (v === undefined) return -1;
  if (typeof v === 'number') return Number.isInteger(v) ? v : -1;
  return /^[+-]?\d{1,15}$/.test(v) ? Number.parseInt(v, 10) : -1;
}

export async function* selectEntries(entries: AsyncIterable<LogEntry>, q: LogQuery): AsyncGenerator<LogEntry> {
  const tail = q.tail ?? -1;
  if (tail === 0) return;
  let source: Iterable<LogEntry> | AsyncIterable<LogEntry> = entries;
  if (tail > 0) {
    // A ring of the last `tail` entries: memory is bounded by what is kept, not the log's size.
    const ring: LogEntry[] = [];
    let head = 0;
    for await (const e of entries) {
      ring.push(e);
      if (ring.length - head > tail) head++;
      if (head > 4096 && head * 2 > ring.length) {
        ring.splice(0, head);
        head = 0;
      }
    }
    source = ring.slice(head);
  }
  let since = q.since;
  for await (const e of source) {
    if (since !== undefined) {
      if (e.time.ns < since) continue;
      if (!q.sinceEachEntry) since = undefined; // 24+: once one passes, the rest pass too
    }
    if (q.until !== undefined && e.time.ns > q.until) return;
    yield e;
  }
}

// ---------------------------------------------------------------------------------------------
// docker's --since / --until values (docker CLI timetypes.GetTimestamp, then the daemon's
// ParseTimestamps). Deviation: a time without a zone is read as UTC, not the analyst's local zone.

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go time.ParseDuration, in nanoseconds; undefined when Go would refuse it. */
export function parseGoDuration(s: string): number | undefined {
  let rest = s;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest[0] === '-' ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0;
  const re = /^(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/u;
  while (rest !== '') {
    const m = re.exec(rest);
    if (!m || (m[1] === '' && (m[2] ?? '') === '')) return undefined;
    total += Number(`${m[1] || '0'}.${m[2] || '0'}`) * UNIT_NS[m[3]!]!;
    rest = rest.slice(m[0].length);
  }
  return sign * total;
}

const TIME_ARG = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?)?(Z|z|[+-]\d{2}:\d{2})?$/;

/**
 * A --since/--until value to nanoseconds since the epoch: a Go duration ("10m", "1h30m": that long
 * before `nowMs`, whole seconds like docker), an RFC 3339 date or time (partial forms as docker
 * accepts), or Unix seconds with an optional fraction. Throws with a reason otherwise.
 */
export function parseTimeArg(value: string, nowMs: number = Date.now()): bigint {
  const d = value !== '0' ? parseGoDuration(value) : undefined;
  if (d !== undefined) return BigInt(Math.floor((nowMs * 1e6 - d) / 1e9)) * 1_000_000_000n;
  const m = TIME_ARG.exec(value);
  if (m) {
    const [y, mo, da] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const [h, mi, se] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
    const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
    const monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1] ?? 0;
    if (mo < 1 || mo > 12 || da < 1 || da > monthDays || h > 23 || mi > 59 || se > 59) throw new Error(`${JSON.stringify(value)}: out of range`);
    let off = 0;
    const z = m[8];
    if (z && z !== 'Z' && z !== 'z') off = (z[0] === '-' ? -1 : 1) * (Number(z.slice(1, 3)) * 3600 + Number(z.slice(4, 6)) * 60);
    const secs = BigInt(daysFromCivil(y, mo, da) * 86400 + h * 3600 + mi * 60 + se - off);
    return secs * 1_000_000_000n + BigInt((m[7] ?? '').padEnd(9, '0') || '0');
  }
  if (value.includes('-') && !/^-\d/.test(value)) throw new Error(`${JSON.stringify(value)}: not an RFC 3339 time`);
  const u = /^([+-]?\d{1,19})(?:\.([+-]?\d{1,19}))?$/.exec(value);
  if (!u) throw new Error(`failed to parse value as time or duration: ${JSON.stringify(value)}`);
  const s = BigInt(u[1]!);
  let n = 0n;
  if (u[2] !== undefined) {
    const digits = u[2].replace(/^[+-]/, '').length;
    const v = BigInt(u[2]);
    n = digits <= 9 ? v * 10n ** BigInt(9 - digits) : v / 10n ** BigInt(digits - 9);
  }
  return s * 1_000_000_000n + n;
}

// ---------------------------------------------------------------------------------------------
// Output as docker logs writes it.

export interface OutputOptions {
  timestamps?: boolean;
  /** --details: the entry's attrs (sorted, query-escaped) and a space before the line. */
  details?: boolean;
  /** Which streams to write (docker's ShowStdout / ShowStderr). */
  stdout?: boolean;
  stderr?: boolean;
  /** TTY container: docker writes stderr entries to stdout. */
  tty?: boolean;
}

/** Go url.QueryEscape. */
function queryEscape(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** What docker logs writes before the line itself (timestamp, details). */
export function linePrefix(e: LogEntry, o: OutputOptions): string {
  let p = '';
  if (o.details) {
    const attrs = Object.entries(e.attrs ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    p = attrs.map(([k, v]) => `${queryEscape(k)}=${queryEscape(v)}`).join(',') + ' ';
  }
  if (o.timestamps) p = formatLogTime(e.time) + ' ' + p;
  return p;
}

/** The exact bytes docker logs writes for one entry. */
export function dockerBytes(e: LogEntry, o: OutputOptions): Buffer {
  const prefix = linePrefix(e, o);
  const parts = prefix ? [Buffer.from(prefix, 'utf8'), e.line] : [e.line];
  if (e.newline) parts.push(NL);
  return parts.length === 1 ? e.line : Buffer.concat(parts);
}

const NL = Buffer.from('\n');

/** Which output an entry goes to, or undefined when docker logs would not write it. */
export function routeEntry(e: LogEntry, o: OutputOptions): 'stdout' | 'stderr' | undefined {
  if (e.stream === 'stdout') return o.stdout === false ? undefined : 'stdout';
  if (e.stream === 'stderr') return o.stderr === false ? undefined : o.tty ? 'stdout' : 'stderr';
  return undefined;
}

export interface LogSink {
  write(to: 'stdout' | 'stderr', e: LogEntry): void | Promise<void>;
  /** True once nobody reads any more (closed pipe): reading stops. */
  stopped?(): boolean;
}

export interface WriteSummary {
  written: number;
  /** Entries with a stream other than stdout/stderr (docker writes none of them). */
  noStream: number;
}

/** Drives selected entries into a sink, as docker logs would route them. */
export async function writeDockerLogs(entries: AsyncIterable<LogEntry>, o: OutputOptions, sink: LogSink, f?: Findings): Promise<WriteSummary> {
  const sum: WriteSummary = { written: 0, noStream: 0 };
  let example: LogEntry | undefined;
  for await (const e of entries) {
    if (e.stream !== 'stdout' && e.stream !== 'stderr') {
      sum.noStream++;
      example ??= e;
      continue;
    }
    const to = routeEntry(e, o);
    if (!to) continue;
    await sink.write(to, e);
    sum.written++;
    if (sink.stopped?.()) break;
  }
  if (sum.noStream > 0 && f && example)
    f.add('warn', 'logs.no-stream', `${sum.noStream} entries have a stream other than stdout/stderr (first: ${JSON.stringify(example.stream.slice(0, 40))} at byte ${example.offset}); docker logs shows none of them (--json does)`, example.file);
  return sum;
}

// ---------------------------------------------------------------------------------------------
// Joined lines, for --json.

export interface LogLine {
  /** Time of the first piece, as docker --timestamps prints it. */
  time: string;
  stream: string;
  /** The line, pieces joined, without its ending newline (UTF-8; invalid bytes as U+FFFD). */
  line: string;
  /** The exact bytes when they are not valid UTF-8. */
  lineBase64?: string;
  /** The line was ended (false: the log stops mid-line, or a piece is missing). */
  complete: boolean;
  /** Number of stored entries joined (1 for an ordinary line). */
  partials: number;
  /** File of the first piece; `files` when pieces span rotations. */
  file: string;
  files?: string[];
  offset: number;
  attrs?: Record<string, string>;
}

interface Group {
  pieces: LogEntry[];
  size: number;
}

const fatal = new TextDecoder('utf-8', { fatal: true });

function toLine(g: Group, complete: boolean): LogLine {
  const first = g.pieces[0]!;
  const bytes = g.pieces.length === 1 ? first.line : Buffer.concat(g.pieces.map((p) => p.line), g.size);
  let text: string;
  let b64: string | undefined;
  try {
    text = fatal.decode(bytes);
  } catch {
    text = bytes.toString('utf8');
    b64 = bytes.toString('base64');
  }
  const files = [...new Set(g.pieces.map((p) => p.file))];
  const out: LogLine = { time: formatLogTime(first.time), stream: first.stream, line: text, complete, partials: g.pieces.length, file: first.file, offset: first.offset };
  if (b64 !== undefined) out.lineBase64 = b64;
  if (files.length > 1) out.files = files;
  if (first.attrs) out.attrs = first.attrs;
  return out;
}

/**
 * Joins the pieces of split lines: json-file pieces are consecutive entries of one stream without
 * a trailing newline; local pieces share a partial ID. Each line is emitted when its last piece
 * arrives; `maxJoined` bounds one line's size (a longer run is emitted in parts, marked incomplete).
 */
export async function* joinPartials(entries: AsyncIterable<LogEntry>, maxJoined = 16 * MiB): AsyncGenerator<LogLine> {
  const open = new Map<string, Group>();
  const keyOf = (e: LogEntry) => (e.partialId !== undefined ? `${e.stream}\0${e.partialId}` : e.stream);
  for await (const e of entries) {
    const key = keyOf(e);
    let g = open.get(key);
    if (!g) {
      if (e.partialId !== undefined) {
        // a new partial run on this stream leaves any other run of the stream unfinished
        for (const [k, other] of open)
          if (k.startsWith(`${e.stream}\0`)) {
            open.delete(k);
            yield toLine(other, false);
          }
      }
      if (e.eol) {
        yield toLine({ pieces: [e], size: e.line.length }, true);
        continue;
      }
      g = { pieces: [], size: 0 };
      open.set(key, g);
    }
    if (g.size + e.line.length > maxJoined && g.pieces.length > 0) {
      yield toLine(g, false);
      g.pieces = [];
      g.size = 0;
    }
    g.pieces.push(e);
    g.size += e.line.length;
    if (e.eol) {
      open.delete(key);
      yield toLine(g, true);
    }
  }
  for (const g of open.values()) yield toLine(g, false);
}
