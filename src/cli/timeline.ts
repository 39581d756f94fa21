import type { Argv } from 'yargs';
import { parseTimeArg } from '../analysis/logs.js';
import { bodyfileEntries, buildTimeline } from '../analysis/timeline.js';
import { escapeText } from '../render/escape.js';
import { bodyfileLine, timelineCsvHeader, timelineCsvRow, timelineJsonl, timelineTable } from '../render/timeline.js';
import { answeredStatus, loadContext, print, run, printErr, type GlobalArgs } from './context.js';
import { EXIT } from './exit.js';

export const command = 'timeline';
export const describe =
  'One sorted timeline: images created and built, tags, pulls, containers created/started/finished, first and last log entries, ' +
  'store file and directory times. jsonl/csv carry the fields Timesketch imports (datetime, timestamp_desc, message; ns in timestamp_ns); ' +
  'bodyfile is TSK 3.x for mactime: every container\'s upper dir as /<name>/path, plus Docker\'s metadata files';

type Format = 'table' | 'jsonl' | 'csv' | 'bodyfile';

export const builder = (y: Argv<GlobalArgs>) =>
  y
    .option('format', { alias: 'f', choices: ['table', 'jsonl', 'csv', 'bodyfile'] as const, describe: 'output format (default: table; jsonl with --json)' })
    .option('since', { type: 'string', describe: 'events at or after: RFC 3339 time, Unix seconds, or a duration before now (10m, 1h30m); no zone = UTC' })
    .option('until', { type: 'string', describe: 'events at or before (same forms as --since)' })
    .option('no-logs', { type: 'boolean', describe: "don't read container logs for their first and last entries" })
    .option('no-file-times', { type: 'boolean', describe: 'only times Docker recorded, not file system times of the store' })
    .option('no-trunc', { type: 'boolean', describe: "table: don't truncate messages" });

interface TimelineArgs extends GlobalArgs {
  format?: Format;
  since?: string;
  until?: string;
  'no-logs'?: boolean;
  'no-file-times'?: boolean;
  'no-trunc'?: boolean;
}

/** Writes to stdout in chunks with backpressure; stops quietly when the reader goes away. */
class Out {
  private buf = '';
  closed = false;
  constructor() {
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') this.closed = true;
      else throw e;
    });
  }
  async write(s: string): Promise<void> {
    this.buf += s;
    if (this.buf.length >= 64 * 1024) await this.flush();
  }
  async flush(): Promise<void> {
    if (this.closed || this.buf === '') {
      this.buf = '';
      return;
    }
    const ok = process.stdout.write(this.buf);
    this.buf = '';
    if (!ok && !this.closed)
      // not events.once: it rejects on 'error', and EPIPE (reader gone) is an ordinary end here
      await new Promise<void>((resolve) => {
        const done = () => {
          for (const ev of ['drain', 'close', 'error']) process.stdout.off(ev, done);
          resolve();
        };
        for (const ev of ['drain', 'close', 'error']) process.stdout.on(ev, done);
      });
  }
}

function timeArg(name: string, v: string | undefined): bigint | undefined {
  if (v === undefined) return undefined;
  try {
    return parseTimeArg(v);
  } catch (e) {
    printErr(`dockscope: --${name}: ${escapeText((e as Error).message)}`);
    process.exit(EXIT.USAGE);
  }
}

export const handler = (argv: TimelineArgs) =>
  run(async () => {
    const since = timeArg('since', argv.since);
    const until = timeArg('until', argv.until);
    const format: Format = argv.format ?? (argv.json ? 'jsonl' : 'table');
    const ctx = await loadContext(argv);
    const out = new Out();
    if (format === 'bodyfile') {
      // Files are filtered by --since/--until when any of their times falls in the window.
      for (const e of bodyfileEntries(ctx.model, ctx.paths)) {
        if (out.closed) break;
        if (since !== undefined || until !== undefined) {
          const times = [e.stat.mtimeNs, e.stat.atimeNs, e.stat.ctimeNs].filter((t): t is bigint => t !== undefined);
          if (!times.some((t) => (since === undefined || t >= since) && (until === undefined || t <= until))) continue;
        }
        await out.write(bodyfileLine(e) + '\n');
      }
      await out.flush();
      return answeredStatus(ctx);
    }
    const events = await buildTimeline(ctx.model, ctx.paths, { since, until, logs: argv['no-logs'] !== true, fileTimes: argv['no-file-times'] !== true });
    if (format === 'table') {
      print(events.length ? timelineTable(events, { noTrunc: argv['no-trunc'] === true }) : 'No events.');
      return answeredStatus(ctx);
    }
    if (format === 'csv') {
      const terminal = process.stdout.isTTY === true;
      await out.write(timelineCsvHeader());
      for (const e of events) {
        if (out.closed) break;
        await out.write(timelineCsvRow(e, terminal));
      }
    } else {
      for (const e of events) {
        if (out.closed) break;
        await out.write(timelineJsonl([e]));
      }
    }
    await out.flush();
    return answeredStatus(ctx);
  });
