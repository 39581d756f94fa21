import yargs, { type CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import * as chain from './chain.js';
import * as container from './container.js';
import * as containers from './containers.js';
import { EXIT } from './exit.js';
import * as history from './history.js';
import * as image from './image.js';
import * as images from './images.js';
import * as info from './info.js';
import * as orphans from './orphans.js';
import * as save from './save.js';
import * as networks from './networks.js';
import * as volumes from './volumes.js';
import * as logs from './logs.js';
import * as audit from './audit.js';
import * as timeline from './timeline.js';
import * as diff from './diff.js';
import * as exportCmd from './export.js';
import * as fsCmd from './fs.js';
import * as verify from './verify.js';

const VERSION = '0.1.0';

export async function main(args: string[]): Promise<void> {
  const cmds = [info, images, image, history, chain, containers, container, verify, orphans, save, volumes, networks, logs, diff, fsCmd, exportCmd, timeline, audit] as unknown as CommandModule[];
  let y = yargs(args)
    .scriptName('dockscope')
    .usage('$0 <command> [options]\n\nRead-only forensic inspector for Docker data roots (a directory or a .tar/.tar.gz acquisition).')
    .option('root', {
      alias: 'r',
      type: 'string',
      default: process.env.DOCKSCOPE_ROOT ?? '/var/lib/docker',
      describe: 'data root: a directory, an archive, or archive:inner/path',
      global: true,
    })
    .option('containerd-root', {
      type: 'string',
      describe: "containerd's root for the containerd image store (default: containerd/ beside the data root in the evidence, else <data-root>/containerd/daemon)",
      global: true,
    })
    .option('json', { type: 'boolean', describe: 'machine-readable output', global: true })
    .option('as-root', { type: 'string', describe: 'prefix for paths printed (default: where the evidence is, or the original data root)', global: true })
    .option('no-color', { type: 'boolean', describe: 'no colour (default: colour when stdout is a terminal and NO_COLOR is unset)', global: true })
    // Docker's own flags are spelled --no-trunc: read "--no-x" as a flag of that name, not "x=false".
    .parserConfiguration({ 'boolean-negation': false })
    .version(VERSION)
    .strict()
    .demandCommand(1, 'name a command (see --help)')
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err, yy) => {
      if (err) throw err;
      process.stderr.write(`${yy.help() && ''}dockscope: ${msg}\nRun dockscope --help for usage.\n`);
      process.exit(EXIT.USAGE);
    });
  for (const c of cmds) y = y.command(c);
  await y.parseAsync(hideBin(['node', 'dockscope', ...args]));
}
