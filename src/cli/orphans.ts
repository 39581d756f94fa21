import type { Argv } from 'yargs';
import { findOrphans } from '../analysis/orphans.js';
import { humanSize, shortHex } from '../render/format.js';
import { table } from '../render/table.js';
import { answeredStatus, loadContext, print, printJson, run, type GlobalArgs } from './context.js';

export const command = 'orphans';
export const describe = 'What nothing references (left by deleted images and containers, interrupted pulls) and references to what is gone';
export const builder = (y: Argv<GlobalArgs>) => y;

export const handler = (argv: GlobalArgs) =>
  run(async () => {
    const ctx = await loadContext(argv);
    const { orphans } = findOrphans(ctx.model, ctx.paths);
    if (ctx.json) printJson(orphans);
    else if (orphans.length === 0) print('No orphans: everything in the store is referenced and every reference resolves.');
    else
      print(
        table(
          ['KIND', 'ID', 'SIZE', 'NEWEST', 'DETAIL'],
          orphans.map((o) => [o.kind, /^(sha256:)?[0-9a-f]{64}/.test(o.id) ? shortHex(o.id) : o.id, o.size === undefined ? '-' : humanSize(o.size), o.newest?.replace(/\.\d+Z$/, 'Z') ?? '-', o.detail]),
        ),
      );
    return answeredStatus(ctx);
  });
