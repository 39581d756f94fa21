import type { Argv } from 'yargs';
import { imageHistory } from '../analysis/inspect.js';
import { resolveImage } from '../model/resolve.js';
import { historyTable } from '../render/views.js';
import { answeredStatus, loadContext, print, printJson, run, type GlobalArgs } from './context.js';

export const command = 'history <ref>';
export const describe = 'Image history like `docker history` (full text with --no-trunc)';
export const builder = (y: Argv<GlobalArgs>) =>
  y.positional('ref', { type: 'string', demandOption: true }).option('no-trunc', { type: 'boolean', describe: "don't truncate" });

export const handler = (argv: GlobalArgs & { ref: string; 'no-trunc'?: boolean }) =>
  run(async () => {
    const ctx = await loadContext(argv);
    const items = imageHistory(ctx.model, resolveImage(ctx.model, argv.ref));
    if (ctx.json) printJson(items);
    else print(historyTable(items, argv['no-trunc'] === true));
    return answeredStatus(ctx);
  });
