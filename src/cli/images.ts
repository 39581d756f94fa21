import type { Argv } from 'yargs';
import { listImages } from '../analysis/inspect.js';
import { answeredStatus, loadContext, print, printJson, run, type GlobalArgs } from './context.js';

export const command = ['images', 'image-ls'];
export const describe = 'List images like `docker image ls` (-a adds intermediate images)';
export const builder = (y: Argv<GlobalArgs>) =>
  y
    .option('all', { alias: 'a', type: 'boolean', describe: 'show intermediate images too' })
    .option('digests', { type: 'boolean', describe: 'show digests' })
    .option('no-trunc', { type: 'boolean', describe: 'full image IDs' });

export const handler = (argv: GlobalArgs & { all?: boolean; digests?: boolean; 'no-trunc'?: boolean }) =>
  run(async () => {
    const ctx = await loadContext(argv);
    const list = listImages(ctx.model, argv.all === true);
    if (ctx.json) printJson(list);
    // The table renderer (and cli-table3) is loaded only for a table.
    else print((await import('../render/views.js')).imagesTable(list, { digests: argv.digests === true, noTrunc: argv['no-trunc'] === true }));
    return answeredStatus(ctx);
  });
