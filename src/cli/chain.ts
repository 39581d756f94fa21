import type { Argv } from 'yargs';
import { chainReport, findLayer } from '../analysis/chain.js';
import { mountReport } from '../analysis/mounts.js';
import { ResolveError } from '../model/resolve.js';
import { escapeText } from '../render/escape.js';
import { chainText, mountsText } from '../render/views.js';
import { answeredStatus, loadContext, print, printJson, run, type GlobalArgs } from './context.js';

export const command = 'chain <id>';
export const describe = 'Resolve any layer identifier (diffID, chainID, cache-id, l/ link, blob digest) to all the others';
export const builder = (y: Argv<GlobalArgs>) => y.positional('id', { type: 'string', demandOption: true });

export const handler = (argv: GlobalArgs & { id: string }) =>
  run(async () => {
    const ctx = await loadContext(argv);
    const matches = findLayer(ctx.model, argv.id);
    const chains = [...new Set(matches.flatMap((m) => (m.chainID ? [m.chainID] : [])))];
    const containers = [...new Set(matches.flatMap((m) => (m.containerId ? [m.containerId] : [])))];
    if (chains.length === 0 && containers.length === 0) {
      const blob = matches.find((m) => m.kind === 'registry blob');
      if (blob) throw new ResolveError(`registry blob ${blob.value} maps to a diffID no layer in layerdb has`);
      throw new ResolveError(`no layer ${JSON.stringify(argv.id)}: searched chainIDs, diffIDs, cache-ids, l/ links, registry blob digests and container mount-ids of ${ctx.model.layers.size} layers`);
    }
    // A diffID may sit in several chains (same content on different bases): that is an answer, not an ambiguity.
    const kinds = new Set(matches.map((m) => m.kind));
    const byDiffOnly = kinds.size === 1 && (kinds.has('diffID') || kinds.has('registry blob')) && new Set(matches.map((m) => m.value)).size === 1;
    if (chains.length + containers.length > 1 && !byDiffOnly)
      throw new ResolveError(`${JSON.stringify(argv.id)} is ambiguous`, matches.map((m) => `${m.kind} ${m.value}${m.chainID ? ` (layer ${m.chainID})` : ''}${m.containerId ? ` (container ${m.containerId})` : ''}`));
    const reports = chains.map((c) => chainReport(ctx.model, argv.id, c, matches.filter((m) => m.chainID === c), ctx.paths));
    const ctrs = containers.map((id) => {
      const c = ctx.model.containers.get(id)!;
      return { container: id, name: c.record.name, matches: matches.filter((m) => m.containerId === id), mounts: mountReport(ctx.model, c, ctx.paths) };
    });
    if (ctx.json) printJson([...reports, ...ctrs]);
    else {
      print(reports.map((r) => chainText(r, ctx.style)).join('\n\n'));
      for (const c of ctrs) print(`${ctx.style.bold(`RW layer of container ${escapeText(c.container)}`)} (${c.matches.map((m) => escapeText(m.kind)).join(', ')})\n${mountsText(c.mounts, ctx.style)}`);
    }
    return answeredStatus(ctx);
  });
