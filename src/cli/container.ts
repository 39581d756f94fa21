import type { Argv } from 'yargs';
import { inspectContainer } from '../analysis/inspect.js';
import { mountReport } from '../analysis/mounts.js';
import { resolveContainer } from '../model/resolve.js';
import { containerText } from '../render/container.js';
import { mountsText } from '../render/views.js';
import { answeredStatus, loadContext, print, printJson, run, type GlobalArgs } from './context.js';

export const command = 'container <ref>';
export const describe = 'Everything about one container; --mounts draws its layer stack and mount commands';
export const builder = (y: Argv<GlobalArgs>) =>
  y.positional('ref', { type: 'string', demandOption: true, describe: 'ID, ID prefix or name' }).option('mounts', { type: 'boolean', describe: 'layer stack, dirs and mount commands' });

export const handler = (argv: GlobalArgs & { ref: string; mounts?: boolean }) =>
  run(async () => {
    const ctx = await loadContext(argv);
    const c = resolveContainer(ctx.model, argv.ref);
    const inspect = inspectContainer(ctx.model, c, ctx.paths);
    const mounts = mountReport(ctx.model, c, ctx.paths);
    if (ctx.json) printJson(argv.mounts ? { ...inspect, Dockscope: { ...inspect.Dockscope, Mounts: mounts } } : inspect);
    else print(argv.mounts ? mountsText(mounts, ctx.style) : containerText(inspect, mounts, ctx.style));
    return answeredStatus(ctx);
  });
