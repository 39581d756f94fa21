import fs from 'node:fs';
import path from 'node:path';
import tty from 'node:tty';
import type { Argv } from 'yargs';
import { unsafeOutput, writeExport } from '../analysis/export.js';
import { openView, resolveTarget, StackError } from '../analysis/mergedfs.js';
import { exportSummaryText, problemLines } from '../render/diff.js';
import { escapeText } from '../render/escape.js';
import { answeredStatus, loadContext, printJson, run, printErr, type GlobalArgs } from './context.js';
import { EXIT } from './exit.js';

export const command = 'export <ref>';
export const describe =
  "Write a container's (or an image's) merged filesystem as a tar, like `docker export`: same entries, owners, modes, " +
  'times, symlinks, hard links and device nodes, streamed in constant memory. Never writes inside the evidence.';

export const builder = (y: Argv<GlobalArgs>) =>
  y
    .positional('ref', { type: 'string', demandOption: true, describe: 'container (ID, prefix, name) or image; containers are tried first' })
    .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'tar to write ("-" for stdout, which must not be a terminal)' })
    .option('image', { type: 'boolean', describe: 'read <ref> as an image even if a container matches' })
    .option('force', { type: 'boolean', describe: 'overwrite an existing output file' });

interface ExportArgs extends GlobalArgs {
  ref: string;
  output: string;
  image?: boolean;
  force?: boolean;
}

const { O_WRONLY, O_CREAT, O_TRUNC, O_EXCL, O_NOFOLLOW } = fs.constants;

export const handler = (argv: ExportArgs) =>
  run(async () => {
    const ctx = await loadContext(argv);
    const toStdout = argv.output === '-';
    if (toStdout && tty.isatty(1)) {
      printErr('dockscope: refusing to write a tar to a terminal; redirect it or use -o FILE');
      return EXIT.USAGE;
    }
    if (!toStdout) {
      const why = unsafeOutput(argv.output, { kind: ctx.ev.top.kind, location: ctx.ev.top.location, spec: ctx.ev.spec });
      if (why) {
        printErr(`dockscope: refusing to write: ${escapeText(why)}`);
        return EXIT.USAGE;
      }
    }
    const target = resolveTarget(ctx.model, argv.ref, argv.image ? 'image' : undefined);
    let opened;
    try {
      opened = openView(ctx.model, target);
    } catch (e) {
      if (!(e instanceof StackError)) throw e;
      printErr(`dockscope: ${escapeText(e.message)}`);
      return EXIT.ERROR;
    }
    const { view, stack } = opened;
    const dest = toStdout ? '-' : path.resolve(argv.output);
    // Written synchronously to the descriptor, not through process.stdout's stream: see PIPE_CHUNK.
    let fd = 1;
    if (toStdout) {
      // Node leaves a pipe on stdout non-blocking once process.stdout exists (the renderer asks
      // it isTTY): make it blocking, or every full pipe would be a failed write and a retry.
      (process.stdout as unknown as { _handle?: { setBlocking?(on: boolean): number } })._handle?.setBlocking?.(true);
    } else {
      try {
        // O_NOFOLLOW: a symlink planted at the output path is not written through.
        fd = fs.openSync(dest, O_WRONLY | O_CREAT | O_NOFOLLOW | (argv.force ? O_TRUNC : O_EXCL), 0o644);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        printErr(`dockscope: cannot create ${escapeText(dest)}: ${code === 'EEXIST' ? 'it exists (--force overwrites)' : escapeText(String(code ?? e))}`);
        return EXIT.USAGE;
      }
    }
    let summary;
    try {
      summary = await writeExport(view, { fd });
    } catch (e) {
      // The reader of stdout went away: stop quietly, as `docker export | head` would.
      if ((e as NodeJS.ErrnoException).code === 'EPIPE') return EXIT.OK;
      throw e;
    } finally {
      if (fd !== 1) fs.closeSync(fd);
    }
    const problems = [...stack.problems, ...summary.problems];
    if (!view.opaqueKnown) problems.push('extended attributes are not readable from this source: opaque directories are unknown, lower files may show through');
    const what = `${target.kind} ${target.name}`;
    if (!toStdout && ctx.json) printJson({ Kind: target.kind, Id: target.id, Name: target.name, Output: dest, Entries: summary.entries, Files: summary.files, Bytes: summary.bytes, Hardlinks: summary.hardlinks, Skipped: summary.skipped, Problems: problems });
    else printErr(exportSummaryText(summary, what, dest));
    // Skipped sockets are what the engine leaves out too: told, but the answer is complete.
    for (const s of summary.skipped.slice(0, 20)) printErr(`dockscope: note: ${escapeText(s.path)} skipped: ${escapeText(s.reason)}`);
    if (problems.length) printErr(problemLines(problems));
    const status = answeredStatus(ctx);
    return problems.length && status === EXIT.OK ? EXIT.PARTIAL : status;
  });
