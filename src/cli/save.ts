import fs from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import { planSave, writeSave } from '../analysis/save.js';
import { resolveImage } from '../model/resolve.js';
import { escapeText } from '../render/escape.js';
import { loadContext, print, printJson, run, printErr, type GlobalArgs } from './context.js';
import { EXIT } from './exit.js';

export const command = 'save <ref>';
export const describe = 'Write a `docker save` archive of an image: layers rebuilt byte-exact from tar-split, or (containerd store) the content-store blobs verified by digest; refuses unless exact';
export const builder = (y: Argv<GlobalArgs>) =>
  y
    .positional('ref', { type: 'string', demandOption: true })
    .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'archive to write ("-" for stdout)' })
    .option('allow-mismatch', { type: 'boolean', describe: 'write even when a layer does not hash to its diffID (docker load will refuse it)' });

export const handler = (argv: GlobalArgs & { ref: string; output: string; 'allow-mismatch'?: boolean }) =>
  run(async () => {
    const ctx = await loadContext(argv);
    const img = resolveImage(ctx.model, argv.ref);
    const toStdout = argv.output === '-';
    if (!toStdout) {
      // Never write into the evidence.
      const out = path.resolve(argv.output);
      const ev = ctx.ev.top.kind === 'dir' ? ctx.ev.top.location : path.resolve(ctx.ev.spec.split(':')[0]!);
      if (out === ev || out.startsWith(ev.endsWith('/') ? ev : ev + '/')) {
        printErr(`dockscope: refusing to write ${escapeText(out)} inside the evidence`);
        return EXIT.USAGE;
      }
    }
    const plan = await planSave(ctx.model, img);
    if (!plan.exact && !argv['allow-mismatch']) {
      printErr(`dockscope: ${escapeText(img.id)} cannot be saved exactly; nothing written:`);
      if (plan.containerd) for (const p of plan.containerd.problems) printErr(`  ${escapeText(p)}`);
      else for (const l of plan.layers.filter((x) => !x.exact)) printErr(`  layer ${escapeText(l.diffID)}: ${escapeText(l.problem ?? 'unknown')}`);
      printErr('  (--allow-mismatch writes it anyway; docker load will then refuse the image)');
      return EXIT.TAMPERED;
    }
    const refs = img.repoTags.length ? img.repoTags : [];
    const out = toStdout ? process.stdout : fs.createWriteStream(argv.output, { flags: 'wx' });
    await writeSave(ctx.model, plan, out, refs);
    const summary = { Id: img.id, RepoTags: refs, Output: toStdout ? '-' : path.resolve(argv.output), Layers: plan.layers.map((l) => ({ DiffID: l.diffID, Digest: l.digest, Size: l.size, Exact: l.exact })), ...(plan.containerd ? { Target: plan.containerd.target, ...(plan.containerd.note ? { Note: plan.containerd.note } : {}) } : {}) };
    if (!toStdout) {
      if (ctx.json) printJson(summary);
      else {
        const how = plan.containerd ? (plan.exact ? ', every blob as the content store holds it, verified by digest' : ', NOT every blob verified') : plan.exact ? ', every one byte-exact' : ', NOT exact';
        print(`saved ${escapeText(img.id)} (${plan.layers.length} layers${how}) to ${escapeText(summary.Output)}`);
        if (plan.containerd?.note) print(`note: ${escapeText(plan.containerd.note)}`);
      }
    }
    return plan.exact ? EXIT.OK : EXIT.TAMPERED;
  });
