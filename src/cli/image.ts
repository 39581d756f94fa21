import type { Argv } from 'yargs';
import { imageHistory, inspectImage } from '../analysis/inspect.js';
import { resolveImage } from '../model/resolve.js';
import { imageText } from '../render/views.js';
import { answeredStatus, loadContext, print, printJson, run, type GlobalArgs } from './context.js';

export const command = 'image <ref>';
export const describe = 'Everything about one image: identity, config, history and its layer resolution';
export const builder = (y: Argv<GlobalArgs>) => y.positional('ref', { type: 'string', demandOption: true, describe: 'ID, ID prefix, name[:tag] or name@digest' });

export const handler = (argv: GlobalArgs & { ref: string }) =>
  run(async () => {
    const ctx = await loadContext(argv);
    const img = resolveImage(ctx.model, argv.ref);
    const inspect = inspectImage(ctx.model, img, ctx.paths);
    if (ctx.json) printJson(inspect);
    else print(imageText({ inspect, history: imageHistory(ctx.model, img) }, ctx.style));
    return answeredStatus(ctx);
  });
