import type { ChalkInstance } from 'chalk';
import { choosePathMap, type PathMap } from '../analysis/paths.js';
import { loadModel, type Model } from '../model/graph.js';
import { ResolveError } from '../model/resolve.js';
import { openEvidence, type Evidence } from '../source/open.js';
import { isEvidenceError } from '../source/types.js';
import { escapeText, safeJson } from '../render/escape.js';
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

export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : text + '\n');
}

export function printJson(v: unknown): void {
  print(safeJson(v));
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
        process.stderr.write(`dockscope: ${escapeText(e.message)}\n`);
        for (const c of e.candidates.slice(0, 50)) process.stderr.write(`  ${escapeText(c)}\n`);
        process.exitCode = EXIT.ERROR;
      } else if (isEvidenceError(e)) {
        process.stderr.write(`dockscope: cannot read evidence: ${escapeText(e.message)}\n`);
        process.exitCode = EXIT.ERROR;
      } else {
        throw e;
      }
    },
  );
}
