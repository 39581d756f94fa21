import type { Argv } from 'yargs';
import { API_VERSIONS, containerInspectForApi, type ApiVersion } from '../analysis/api-shape.js';
import { inspectContainer } from '../analysis/inspect.js';
import { mountReport } from '../analysis/mounts.js';
import { resolveContainer } from '../model/resolve.js';
import { answeredStatus, loadContext, print, printJson, run, type GlobalArgs } from './context.js';

export const command = 'container <ref>';
export const describe = 'Everything about one container; --mounts draws its layer stack and mount commands';
export const builder = (y: Argv<GlobalArgs>) =>
  y.positional('ref', { type: 'string', demandOption: true, describe: 'ID, ID prefix or name' }).option('mounts', { type: 'boolean', describe: 'layer stack, dirs and mount commands' })
    .option('api', { type: 'string', choices: API_VERSIONS, default: '1.45' as ApiVersion, describe: '--json in the inspect shape of this Engine API version (1.45 = Docker 26, 1.52 = Docker 29)' });

export const handler = (argv: GlobalArgs & { ref: string; mounts?: boolean; api?: ApiVersion }) =>
  run(async () => {
    const ctx = await loadContext(argv);
    const c = resolveContainer(ctx.model, argv.ref);
    const inspect = inspectContainer(ctx.model, c, ctx.paths);
    const mounts = mountReport(ctx.model, c, ctx.paths);
    if (ctx.json) {
      const shaped = containerInspectForApi(ctx.model, c, inspect, argv.api ?? '1.45');
      printJson(argv.mounts ? { ...shaped, Dockscope: { ...(shaped.Dockscope as object), Mounts: mounts } } : shaped);
    }
    else print(argv.mounts ? (await import('../render/views.js')).mountsText(mounts, ctx.style) : (await import('../render/container.js')).containerText(inspect, mounts, ctx.style));
    return answeredStatus(ctx);
  });
