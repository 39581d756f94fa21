import type { Argv } from 'yargs';
import { listContainers } from '../analysis/inspect.js';
import { isoSeconds, shortHex } from '../render/format.js';
import { quoted } from '../render/escape.js';
import { answeredStatus, loadContext, print, printJson, run, type GlobalArgs } from './context.js';

export const command = ['containers', 'ps'];
export const describe = 'List containers like `docker ps` (-a for all)';
export const builder = (y: Argv<GlobalArgs>) =>
  y.option('all', { alias: 'a', type: 'boolean', describe: 'show all containers, not only running' }).option('no-trunc', { type: 'boolean' });

export const handler = (argv: GlobalArgs & { all?: boolean; 'no-trunc'?: boolean }) =>
  run(async () => {
    const ctx = await loadContext(argv);
    const list = listContainers(ctx.model, argv.all === true, ctx.paths);
    if (ctx.json) printJson(list);
    else {
      const full = argv['no-trunc'] === true;
      // The table renderer (and cli-table3) is loaded only for a table.
      const { table } = await import('../render/table.js');
      print(
        table(
          ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'NAMES'],
          list.map((c) => {
            const image = c.Image.startsWith('sha256:') && !full ? shortHex(c.Image) : c.Image;
            const cmd = full ? c.Command : c.Command.length > 20 ? c.Command.slice(0, 19) + '…' : c.Command;
            return [full ? c.Id : shortHex(c.Id), image, quoted(cmd), isoSeconds(c.Created), c.Status, c.Names.map((n) => n.replace(/^\//, '')).join(',')];
          }),
          { trusted: [2] },
        ),
      );
    }
    return answeredStatus(ctx);
  });
