import type { Argv } from 'yargs';
import { API_VERSIONS, imageInspectForApi, type ApiVersion } from '../analysis/api-shape.js';
import { imageHistory, inspectImage } from '../analysis/inspect.js';
import { resolveImage } from '../model/resolve.js';
import { answeredStatus, loadContext, print, printJson, run, type GlobalArgs } from './context.js';

export const command = 'image <ref>';
export const describe = 'Everything about one image: identity, config, history and its layer resolution';
export const builder = (y: Argv<GlobalArgs>) =>
  y
    .positional('ref', { type: 'string', demandOption: true, describe: 'ID, ID prefix, name[:tag] or name@digest' })
    .option('api', { type: 'string', choices: API_VERSIONS, default: '1.45' as ApiVersion, describe: '--json in the inspect shape of this Engine API version (1.45 = Docker 26, 1.52 = Docker 29)' })
    .option('manifests', { type: 'boolean', describe: 'with --api 1.52: every manifest of the image (GET /images/{name}/json?manifests=1)' });

export const handler = (argv: GlobalArgs & { ref: string; api?: ApiVersion; manifests?: boolean }) =>
  run(async () => {
    const ctx = await loadContext(argv);
    const img = resolveImage(ctx.model, argv.ref);
    const inspect = inspectImage(ctx.model, img, ctx.paths);
    if (ctx.json) printJson(imageInspectForApi(ctx.model, img, inspect, argv.api ?? '1.45', { manifests: argv.manifests }));
    else print((await import('../render/views.js')).imageText({ inspect, history: imageHistory(ctx.model, img) }, ctx.style));
    return answeredStatus(ctx);
  });
