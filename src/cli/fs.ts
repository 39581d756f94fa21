import { isUtf8 } from 'node:buffer';
import { StringDecoder } from 'node:string_decoder';
import type { Argv } from 'yargs';
import { describeEntry, findEntries, openView, parseTimeNs, resolveTarget, StackError, layerLabel, type FindFilter, type MergedEntry, type MergedFs } from '../analysis/mergedfs.js';
import { escapeText } from '../render/escape.js';
import { findLines, lsTable, problemLines, statText, ttySafeText, type StatView } from '../render/diff.js';
import { isEvidenceError } from '../source/types.js';
import { answeredStatus, loadContext, print, printJson, run, printErr, type GlobalArgs } from './context.js';
import { EXIT } from './exit.js';

export const command = 'fs <ref> <op> [path]';
export const describe =
  'Browse the merged filesystem of a container or image without mounting it: ls, stat, cat, find. ' +
  'Layers are merged in userland with overlay/aufs whiteout and opaque rules; symlinks resolve inside the ' +
  "container's own root, never the analyst's. cat writes raw bytes to a pipe and escaped text to a terminal (binary is refused there).";

const OPS = ['ls', 'stat', 'cat', 'find'] as const;
type Op = (typeof OPS)[number];

export const builder = (y: Argv<GlobalArgs>) =>
  y
    .positional('ref', { type: 'string', demandOption: true, describe: 'container (ID, prefix, name) or image (reference, ID); containers are tried first' })
    .positional('op', { choices: OPS, demandOption: true, describe: 'what to do' })
    .positional('path', { type: 'string', default: '/', describe: 'path inside the container/image' })
    .option('image', { type: 'boolean', describe: 'read <ref> as an image even if a container matches' })
    .option('container', { type: 'boolean', describe: 'read <ref> as a container only' })
    .option('name', { type: 'string', describe: 'find: basename glob (*, ?, [..]); repeat for any-of' })
    .option('type', { type: 'string', describe: 'find: f d l c b p s (repeat, or comma-separated)' })
    .option('newer', { type: 'string', describe: 'find: modified after this time (ISO 8601, or Unix seconds)' })
    .option('newer-than', { type: 'string', describe: 'find: modified after this path (in the same view) was' })
    .option('older', { type: 'string', describe: 'find: modified at or before this time' })
    .option('layer', { type: 'string', describe: "find: only entries from this layer ('upper', 'init', 'image', 'L3')" })
    .option('max-depth', { type: 'number', describe: 'find: levels below the path to descend' })
    .option('long', { alias: 'l', type: 'boolean', describe: 'find: ls-style rows instead of paths' })
    .option('dereference', { alias: 'L', type: 'boolean', describe: 'stat: follow a final symlink' });

interface FsArgs extends GlobalArgs {
  ref: string;
  op: Op;
  path: string;
  image?: boolean;
  container?: boolean;
  name?: string | string[];
  type?: string | string[];
  newer?: string;
  'newer-than'?: string;
  older?: string;
  layer?: string;
  'max-depth'?: number;
  long?: boolean;
  dereference?: boolean;
}

function fail(msg: string, code: number = EXIT.ERROR): number {
  printErr(`dockscope: ${escapeText(msg)}`);
  return code;
}

/** Writes to stdout honouring backpressure; stops quietly when the reader goes away. */
async function writeOut(chunk: Buffer | string): Promise<boolean> {
  if (process.stdout.destroyed) return false;
  if (process.stdout.write(chunk)) return true;
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      process.stdout.off('drain', onDrain);
      process.stdout.off('error', onError);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onError = () => done(false);
    process.stdout.once('drain', onDrain);
    process.stdout.once('error', onError);
  });
}

/** Binary if a NUL appears or the bytes are not UTF-8 (a sequence cut at the end is allowed). */
function looksBinary(head: Buffer): boolean {
  if (head.includes(0)) return true;
  if (isUtf8(head)) return false;
  for (let cut = 1; cut <= 3 && cut < head.length; cut++) if (isUtf8(head.subarray(0, head.length - cut))) return false;
  return true;
}

async function cat(view: MergedFs, e: MergedEntry): Promise<number> {
  const tty = process.stdout.isTTY === true;
  process.stdout.on('error', () => undefined);
  const stream = view.open(e);
  if (!tty) {
    for await (const chunk of stream) if (!(await writeOut(chunk as Buffer))) break;
    return EXIT.OK;
  }
  // A terminal: text is shown with control characters escaped; binary is refused.
  const decoder = new StringDecoder('utf8');
  let first = true;
  for await (const chunk of stream) {
    const b = chunk as Buffer;
    if (first) {
      first = false;
      if (looksBinary(b.subarray(0, 8192))) {
        (stream as { destroy?: () => void }).destroy?.();
        return fail(`${e.path} is binary (${e.stat.size} bytes); not written to a terminal. Pipe it (| xxd) or redirect it to a file`);
      }
    }
    if (!(await writeOut(ttySafeText(decoder.write(b))))) return EXIT.OK;
  }
  const rest = decoder.end();
  if (rest) await writeOut(ttySafeText(rest));
  return EXIT.OK;
}

function statView(view: MergedFs, e: MergedEntry | undefined, path: string): StatView {
  const v: StatView = { versions: [] };
  if (e) {
    v.entry = describeEntry(view, e);
    if (e.stat.type === 'symlink') {
      try {
        v.resolvesTo = view.resolveLink(e)?.path ?? '(dangling)';
      } catch (err) {
        if (!isEvidenceError(err)) throw err;
        v.resolvesTo = `(${err.code === 'ELOOP' ? 'loop' : err.message})`;
      }
    }
    v.xattrs = [...view.xattrs(e)].map(([name, val]) => ({ name, value: /^[\x20-\x7e]*$/.test(val.toString('latin1')) ? val.toString('latin1') : `0x${val.toString('hex')}` }));
  }
  for (const x of view.versions(e?.path ?? path)) {
    v.versions.push({ layer: layerLabel(view.layers[x.layer]!), what: x.what, type: x.stat.type, mode: x.stat.mode, size: x.stat.size, mtimeNs: x.stat.mtimeNs.toString(), opaque: x.opaque });
  }
  return v;
}

export const handler = (argv: FsArgs) =>
  run(async () => {
    const ctx = await loadContext(argv);
    const only = argv.image ? 'image' : argv.container ? 'container' : undefined;
    const target = resolveTarget(ctx.model, argv.ref, only);
    let view: MergedFs;
    let problems: string[];
    try {
      const v = openView(ctx.model, target);
      view = v.view;
      problems = [...v.stack.problems];
    } catch (e) {
      if (!(e instanceof StackError)) throw e;
      return fail(e.message);
    }
    if (!view.opaqueKnown) problems.push('extended attributes are not readable from this source: opaque directories are unknown, lower files may show through');
    const finish = (code: number) => {
      const all = [...problems, ...view.notes];
      if (all.length) printErr(problemLines(all));
      if (code !== EXIT.OK) return code;
      const status = answeredStatus(ctx);
      return all.length && status === EXIT.OK ? EXIT.PARTIAL : status;
    };
    const path = argv.path || '/';
    let e: MergedEntry | undefined;
    try {
      e = view.lookup(path, argv.op !== 'stat' || argv.dereference === true);
    } catch (err) {
      if (!isEvidenceError(err)) throw err;
      return finish(fail(`${path}: ${err.message}`));
    }

    switch (argv.op) {
      case 'stat': {
        const v = statView(view, e, path);
        if (ctx.json) printJson({ Path: path, Entry: v.entry ?? null, ResolvesTo: v.resolvesTo, Xattrs: v.xattrs, Layers: v.versions });
        else print(statText(path, v));
        return finish(e ? EXIT.OK : EXIT.ERROR);
      }
      case 'ls': {
        if (!e) return finish(fail(`${path}: no such file or directory in ${target.kind} ${target.name}`));
        const entries = e.stat.type === 'dir' ? view.list(e) : [e];
        const infos = entries.map((x) => describeEntry(view, x));
        if (ctx.json) printJson(infos);
        else if (infos.length) print(lsTable(infos));
        return finish(EXIT.OK);
      }
      case 'cat': {
        if (!e) return finish(fail(`${path}: no such file or directory in ${target.kind} ${target.name}`));
        if (e.stat.type !== 'file') return finish(fail(`${e.path}: is a ${e.stat.type === 'dir' ? 'directory' : e.stat.type}, not a regular file`));
        try {
          return finish(await cat(view, e));
        } catch (err) {
          if (!isEvidenceError(err)) throw err;
          return finish(fail(`${e.path}: ${err.message}`));
        }
      }
      case 'find': {
        if (!e) return finish(fail(`${path}: no such file or directory in ${target.kind} ${target.name}`));
        // Repeated flags arrive as an array (yargs duplicate-arguments-array), a single one as a string.
        const list = (v: string | string[] | undefined) => (v === undefined ? undefined : ([] as string[]).concat(v).map(String));
        const filter: FindFilter = { names: list(argv.name), types: list(argv.type)?.flatMap((t) => t.split(',')), layer: argv.layer, maxDepth: argv['max-depth'] };
        try {
          if (argv.newer !== undefined) filter.newerThanNs = parseTimeNs(argv.newer);
          if (argv.older !== undefined) filter.olderThanNs = parseTimeNs(argv.older);
        } catch (err) {
          return finish(fail((err as Error).message, EXIT.USAGE));
        }
        if (argv['newer-than'] !== undefined) {
          const ref = view.lookup(argv['newer-than'], false);
          if (!ref) return finish(fail(`--newer-than ${argv['newer-than']}: no such path in ${target.kind} ${target.name}`, EXIT.USAGE));
          if (filter.newerThanNs === undefined || ref.stat.mtimeNs > filter.newerThanNs) filter.newerThanNs = ref.stat.mtimeNs;
        }
        const bad = filter.types?.find((t) => !/^[fdlcbps]$/.test(t));
        if (bad !== undefined) return finish(fail(`--type ${bad}: expected one of f d l c b p s`, EXIT.USAGE));
        if (ctx.json || argv.long) {
          const infos = [...findEntries(view, e, filter)].map((x) => describeEntry(view, x));
          if (ctx.json) printJson(infos);
          else if (infos.length) print(lsTable(infos.map((i) => ({ ...i, name: i.path }))));
        } else {
          // Streamed: a find over a large image prints as it walks.
          let batch: string[] = [];
          for (const x of findEntries(view, e, filter)) {
            batch.push(x.path);
            if (batch.length >= 256) {
              if (!(await writeOut(findLines(batch) + '\n'))) break;
              batch = [];
            }
          }
          if (batch.length) await writeOut(findLines(batch) + '\n');
        }
        return finish(EXIT.OK);
      }
    }
  });
