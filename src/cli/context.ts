import type { ChalkInstance } from 'chalk';
import { choosePathMap, type PathMap } from '../analysis/paths.js';
import { loadModel, type Model } from '../model/graph.js';
import { ResolveError } from '../model/resolve.js';
import { openEvidence, type Evidence } from '../source/open.js';
import { isEvidenceError } from '../source/types.js';
import { escapeText, safeJson, terminalSafe } from '../render/escape.js';
import { makeStyle } from '../render/style.js';
import { EXIT } from './exit.js';

export interface GlobalArgs {
  root: string;
  json?: boolean;
  'as-root'?: string;
  /** containerd's root: a path inside the evidence (or, for directory evidence, on this machine). */
  'containerd-root'?: string;
  'no-color'?: boolean;
}

export interface Context {
  ev: Evidence;
  model: Model;
  paths: PathMap;
  style: ChalkInstance;
  json: boolean;
}

export async function loadContext(argv: GlobalArgs): Promise<Context> {
  const ev = await openEvidence(argv.root);
  const model = await loadModel(ev, { containerdRoot: argv['containerd-root'] });
  for (const p of ev.problems) model.findings.add('error', 'source.problem', p);
  return { ev, model, paths: choosePathMap(ev, model, argv['as-root']), style: makeStyle(argv['no-color'] ? false : undefined), json: argv.json === true };
}

/**
 * The human-output sinks. Renderers escape every evidence string themselves; these escape
 * whatever raw control or bidi character is left anyway (see terminalSafe), so a renderer that
 * forgets cannot hand the terminal to the evidence. Only our own colour sequences pass, and only
 * when the stream is a terminal (makeStyle colours nothing else).
 */
export function print(text: string): void {
  const safe = terminalSafe(text, process.stdout.isTTY === true);
  process.stdout.write(safe.endsWith('\n') ? safe : safe + '\n');
}

/** A message for stderr (warnings, errors, notes): the same guard as print. */
export function printErr(text: string): void {
  const safe = terminalSafe(text, process.stderr.isTTY === true);
  process.stderr.write(safe.endsWith('\n') ? safe : safe + '\n');
}

/** JSON is exact (every string as in the evidence); safeJson writes risky characters as \\uXXXX. */
export function printJson(v: unknown): void {
  const text = safeJson(v);
  process.stdout.write(text + '\n');
}

/** Exit status for an answered command: partial when the store had unreadable parts. */
export function answeredStatus(ctx: Context): number {
  return ctx.model.findings.hasErrors ? EXIT.PARTIAL : EXIT.OK;
}

/**
 * Runs a command body, mapping failures to exit codes. Messages that quote evidence or user
 * input are escaped: a crafted reference must not reach the terminal raw either.
 */
export function run(body: () => Promise<number>): Promise<void> {
  return body().then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      if (e instanceof ResolveError) {
        printErr(`dockscope: ${escapeText(e.message)}`);
        for (const c of e.candidates.slice(0, 50)) printErr(`  ${escapeText(c)}`);
        process.exitCode = EXIT.ERROR;
      } else if (isEvidenceError(e)) {
        printErr(`dockscope: cannot read evidence: ${escapeText(e.message)}`);
        process.exitCode = EXIT.ERROR;
      } else {
        // A bug, but its message may quote evidence (a key, a value): escaped, lines kept.
        const text = e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e);
        printErr(`dockscope: internal error: ${text.split('\n').map((l) => escapeText(l)).join('\n')}`);
        process.exitCode = EXIT.INTERNAL;
      }
    },
  );
}
