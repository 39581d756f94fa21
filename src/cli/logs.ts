import type { Argv } from 'yargs';
import {
  joinPartials,
  linePrefix,
  parseTail,
  parseTimeArg,
  planLogs,
  readLogEntries,
  selectEntries,
  writeDockerLogs,
  dockerBytes,
  type LogQuery,
  type OutputOptions,
} from '../analysis/logs.js';
import { resolveContainer } from '../model/resolve.js';
import { escapeText, safeJson } from '../render/escape.js';
import { Findings } from '../store/findings.js';
import type { LogEntry } from '../store/jsonlog.js';
import { answeredStatus, loadContext, run, printErr, type GlobalArgs } from './context.js';
import { EXIT } from './exit.js';

export const command = 'logs <container>';
export const describe =
  'Container logs like `docker logs` (json-file, local, dual-logging cache; rotated and .gz files). ' +
  'Lines of the stdout stream go to stdout, stderr lines to stderr. Piped or redirected, the bytes are ' +
  'exactly what docker logs prints (evidence is not altered); on a terminal, control characters are ' +
  'escaped so a crafted log cannot drive the terminal. --json: one object per line, split pieces joined. ' +
  'Problems found in the log files are reported on stderr after the log, prefixed "dockscope:".';

export const builder = (y: Argv<GlobalArgs>) =>
  y
    .positional('container', { type: 'string', demandOption: true, describe: 'ID, ID prefix or name' })
    .option('since', { type: 'string', describe: 'entries at or after: RFC 3339 time, Unix seconds, or a duration before now (10m, 1h30m); no zone = UTC' })
    .option('until', { type: 'string', describe: 'stop at the first entry after this time (same forms as --since)' })
    .option('stream', { choices: ['stdout', 'stderr', 'all'] as const, default: 'all' as const, describe: 'which stream to show' })
    .option('timestamps', { alias: 't', type: 'boolean', describe: "each entry's stored time before it, as docker formats it" })
    .option('tail', { alias: 'n', type: 'string', default: 'all', describe: 'only the last N stored entries (each piece of a split line counts, as in docker)' })
    .option('details', { type: 'boolean', describe: 'extra attributes stored with each entry (--log-opt labels/env)' })
    .option('all-files', { type: 'boolean', describe: 'also read rotated files beyond max-file, which docker logs ignores' })
    .option('engine-version', {
      type: 'string',
      describe: 'engine that would read the logs (e.g. 20.10): changes whether the local driver ends a split line with a newline (<22.06) and how --since treats out-of-order times (<24). Default: guessed from the container files',
    });

interface LogsArgs extends GlobalArgs {
  container: string;
  since?: string;
  until?: string;
  stream?: 'stdout' | 'stderr' | 'all';
  timestamps?: boolean;
  tail?: string;
  details?: boolean;
  'all-files'?: boolean;
  'engine-version'?: string;
}

/** Buffered writer to one fd that honours backpressure and stops quietly when the reader goes away (EPIPE). */
class Out {
  private parts: Buffer[] = [];
  private size = 0;
  closed = false;
  constructor(private readonly s: NodeJS.WriteStream) {
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') this.closed = true;
      else throw e;
    });
  }
  get tty(): boolean {
    return this.s.isTTY === true;
  }
  async write(b: Buffer | string): Promise<void> {
    const buf = typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
    this.parts.push(buf);
    this.size += buf.length;
    if (this.size >= 64 * 1024) await this.flush();
  }
  async flush(): Promise<void> {
    if (this.size === 0 || this.closed) {
      this.parts = [];
      this.size = 0;
      return;
    }
    const data = Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    if (!this.s.write(data))
      await new Promise<void>((resolve) => {
        const done = () => {
          this.s.off('drain', done);
          this.s.off('error', done);
          resolve();
        };
        this.s.on('drain', done);
        this.s.on('error', done);
      });
  }
}

/** On a terminal: escaped text, with the entry's own newline kept so lines stay lines. */
export function forTerminal(e: LogEntry, o: OutputOptions): string {
  return linePrefix(e, o) + escapeText(e.line.toString('utf8')) + (e.newline ? '\n' : '');
}

function parseWhen(name: string, v: string | undefined): bigint | undefined | Error {
  if (v === undefined || v === '' || (name === 'until' && v === '0')) return undefined;
  try {
    return parseTimeArg(v);
  } catch (e) {
    return new Error(`invalid --${name}: ${(e as Error).message}`);
  }
}

export const handler = (argv: LogsArgs) =>
  run(async () => {
    const since = parseWhen('since', argv.since);
    const until = parseWhen('until', argv.until);
    for (const v of [since, until])
      if (v instanceof Error) {
        printErr(`dockscope: ${escapeText(v.message)}`);
        return EXIT.USAGE;
      }
    const ctx = await loadContext(argv);
    const c = resolveContainer(ctx.model, argv.container);
    const lf = new Findings();
    const plan = planLogs(ctx.model.src, c.record, lf, { engineVersion: argv['engine-version'], allFiles: argv['all-files'] === true });

    const stdout = new Out(process.stdout);
    const stderr = new Out(process.stderr);
    const finish = async (code?: number): Promise<number> => {
      await stdout.flush();
      await stderr.flush();
      for (const f of lf.list.filter((x) => x.severity !== 'info'))
        printErr(`dockscope: ${f.severity} ${escapeText(f.code)}${f.path ? ' ' + escapeText(f.path) : ''}: ${escapeText(f.message)}`);
      ctx.model.findings.list.push(...lf.list);
      return code ?? answeredStatus(ctx);
    };

    if (!plan.format) {
      printErr(`dockscope: ${escapeText(plan.note ?? `log driver ${plan.driver}: nothing to read`)}`);
      return finish(EXIT.ERROR);
    }

    const query: LogQuery = { tail: parseTail(argv.tail), since: since as bigint | undefined, until: until as bigint | undefined, sinceEachEntry: plan.engine < 24 };
    const o: OutputOptions = {
      timestamps: argv.timestamps === true,
      details: argv.details === true,
      stdout: argv.stream !== 'stderr',
      stderr: argv.stream !== 'stdout',
      tty: plan.tty,
    };
    const selected = selectEntries(readLogEntries(ctx.model.src, plan, lf), query);

    if (ctx.json) {
      const wanted = async function* () {
        for await (const e of selected) if ((e.stream === 'stdout' && o.stdout) || (e.stream === 'stderr' && o.stderr) || (e.stream !== 'stdout' && e.stream !== 'stderr')) yield e;
      };
      for await (const line of joinPartials(wanted())) {
        if (stdout.closed) break;
        await stdout.write(safeJson(line, 0) + '\n');
      }
      return finish();
    }

    let last: Out | undefined;
    const shared = stdout.tty && stderr.tty;
    await writeDockerLogs(
      selected,
      o,
      {
        async write(to, e) {
          const out = to === 'stdout' ? stdout : stderr;
          // keep the two streams' relative order when both show on a terminal
          if (shared && last && last !== out) await last.flush();
          last = out;
          await out.write(out.tty ? forTerminal(e, o) : dockerBytes(e, o));
        },
        stopped: () => stdout.closed || stderr.closed,
      },
      lf,
    );
    return finish();
  });
