import type { Argv } from 'yargs';
import { containerDiff, longChanges } from '../analysis/diff.js';
import { StackError } from '../analysis/mergedfs.js';
import { resolveContainer } from '../model/resolve.js';
import { diffLines, diffLongTable, problemLines } from '../render/diff.js';
import { escapeText } from '../render/escape.js';
import { answeredStatus, loadContext, print, printJson, run, printErr, type GlobalArgs } from './context.js';
import { EXIT } from './exit.js';

export const command = 'diff <container>';
export const describe =
  'What a container changed, like `docker diff`: A added, C changed, D deleted; the same set the engine reports, ' +
  'from the RW layer against its init and image layers. --long adds type, mode, owner, size, mtime, sha256 and flags ' +
  '(executables, ELF, setuid/setgid, hidden names, persistence paths, account files). --json: the Engine API shape ({Path, Kind}; Kind 0=C 1=A 2=D)';

export const builder = (y: Argv<GlobalArgs>) =>
  y
    .positional('container', { type: 'string', demandOption: true, describe: 'ID, ID prefix or name' })
    .option('long', { alias: 'l', type: 'boolean', describe: 'details, sha256 and flags for every change' })
    .option('no-hash', { type: 'boolean', describe: 'with --long: do not read file contents (no sha256, no ELF detection)' });

export const handler = (argv: GlobalArgs & { container: string; long?: boolean; 'no-hash'?: boolean }) =>
  run(async () => {
    const ctx = await loadContext(argv);
    const c = resolveContainer(ctx.model, argv.container);
    let d;
    try {
      d = containerDiff(ctx.model, c);
    } catch (e) {
      if (!(e instanceof StackError)) throw e;
      printErr(`dockscope: ${escapeText(e.message)}`);
      return EXIT.ERROR;
    }
    if (argv.long) {
      const rows = await longChanges(d, { hash: argv['no-hash'] !== true });
      if (ctx.json) printJson({ Id: d.container, Name: d.name, Driver: d.driver, Method: d.method, Changes: rows, Problems: d.problems });
      else if (rows.length) print(diffLongTable(rows));
    } else if (ctx.json) {
      printJson(d.changes);
    } else if (d.changes.length) {
      print(diffLines(d.changes));
    }
    if (d.problems.length) printErr(problemLines(d.problems));
    const status = answeredStatus(ctx);
    return d.problems.length && status === EXIT.OK ? EXIT.PARTIAL : status;
  });
