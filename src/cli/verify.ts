import type { Argv } from 'yargs';
import { verify, type Status } from '../analysis/verify.js';
import { resolveImage } from '../model/resolve.js';
import { jsonPieces, verifyText } from '../render/verify.js';
import { loadContext, print, run, type GlobalArgs } from './context.js';
import { EXIT } from './exit.js';

export const command = 'verify [refs..]';
export const describe = 'Prove the image store is what Docker wrote: config digests, chainIDs, sizes, overlay2 links, layer content re-hashed from tar-split; on the containerd store, blobs re-hashed and snapshots compared with their layer blobs';
export const builder = (y: Argv<GlobalArgs>) =>
  y
    .positional('refs', { type: 'string', array: true, describe: 'images to verify (default: all)' })
    .option('all', { type: 'boolean', describe: 'every image Docker would restore (the default without refs)' })
    .option('no-content', { type: 'boolean', describe: 'metadata checks only, skip re-hashing layer content' });

const EXIT_FOR: Record<Status, number> = { ok: EXIT.OK, unchecked: EXIT.UNCHECKED, missing: EXIT.TAMPERED, mismatch: EXIT.TAMPERED };

export const handler = (argv: GlobalArgs & { refs?: string[]; all?: boolean; 'no-content'?: boolean }) =>
  run(async () => {
    const ctx = await loadContext(argv);
    const refs = argv.refs ?? [];
    const images = refs.length && !argv.all ? refs.map((r) => resolveImage(ctx.model, r)) : [...ctx.model.images.values()].filter((i) => i.loadable || i.record.computedId !== i.id);
    const tty = process.stderr.isTTY === true && !ctx.json;
    const report = await verify(ctx.model, images, {
      noContent: argv['no-content'] === true,
      onLayer: tty ? (done, total) => process.stderr.write(`\rverifying layer ${done}/${total}${done === total ? '\n' : ''}`) : undefined,
    });
    if (ctx.json) writeJson({ ...report, findings: report.findings.list });
    else print(verifyText(report, ctx.style));
    return EXIT_FOR[report.status];
  });

/** printJson's bytes, written in pieces of about 1 MB (see jsonPieces). */
function writeJson(value: Record<string, unknown>): void {
  let buf: string[] = [];
  let len = 0;
  for (const piece of jsonPieces(value)) {
    buf.push(piece);
    len += piece.length;
    if (len >= 1 << 20) {
      process.stdout.write(buf.join(''));
      buf = [];
      len = 0;
    }
  }
  buf.push('\n');
  process.stdout.write(buf.join(''));
}
