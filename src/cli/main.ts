import yargs, { type Argv, type CommandModule } from 'yargs';
import { setLimit } from '../source/limits.js';
import { EXIT } from './exit.js';

const VERSION = '0.1.0';

/** What a command module of src/cli exports (its `builder` and `handler` typed for its own options). */
interface CommandImpl {
  command: string | readonly string[];
  describe: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  builder: (y: Argv<any>) => Argv<any> | Promise<Argv<any>>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  handler: (argv: any) => void | Promise<void>;
}

/**
 * Every command, in --help order, with its name and description copied from its module so that --help and
 * --version need none of them: a module (and the model, sources and renderers it imports) is loaded only when
 * yargs has matched its command, from the async builder, which yargs awaits. `test/cli/lazy.test.ts` checks that
 * each entry says exactly what its module says.
 */
export const COMMANDS: readonly { command: string | readonly string[]; describe: string; load: () => Promise<CommandImpl> }[] = [
  {
    command: 'info',
    describe:
      "What the evidence holds: data root, layouts and drivers, counts, inferred original path, findings",
    load: () => import('./info.js') as Promise<CommandImpl>,
  },
  {
    command: ['images', 'image-ls'],
    describe:
      "List images like `docker image ls` (-a adds intermediate images)",
    load: () => import('./images.js') as Promise<CommandImpl>,
  },
  {
    command: 'image <ref>',
    describe:
      "Everything about one image: identity, config, history and its layer resolution",
    load: () => import('./image.js') as Promise<CommandImpl>,
  },
  {
    command: 'history <ref>',
    describe:
      "Image history like `docker history` (full text with --no-trunc)",
    load: () => import('./history.js') as Promise<CommandImpl>,
  },
  {
    command: 'chain <id>',
    describe:
      "Resolve any layer identifier (diffID, chainID, cache-id, l/ link, blob digest) to all the others",
    load: () => import('./chain.js') as Promise<CommandImpl>,
  },
  {
    command: ['containers', 'ps'],
    describe:
      "List containers like `docker ps` (-a for all)",
    load: () => import('./containers.js') as Promise<CommandImpl>,
  },
  {
    command: 'container <ref>',
    describe:
      "Everything about one container; --mounts draws its layer stack and mount commands",
    load: () => import('./container.js') as Promise<CommandImpl>,
  },
  {
    command: 'verify [refs..]',
    describe:
      "Prove the image store is what Docker wrote: config digests, chainIDs, sizes, overlay2 links, layer content re-hashed from tar-split; on the containerd store, blobs re-hashed and snapshots compared with their layer blobs",
    load: () => import('./verify.js') as Promise<CommandImpl>,
  },
  {
    command: 'orphans',
    describe:
      "What nothing references (left by deleted images and containers, interrupted pulls) and references to what is gone",
    load: () => import('./orphans.js') as Promise<CommandImpl>,
  },
  {
    command: 'save <ref>',
    describe:
      "Write a `docker save` archive of an image: layers rebuilt byte-exact from tar-split, or (containerd store) the content-store blobs verified by digest; refuses unless exact",
    load: () => import('./save.js') as Promise<CommandImpl>,
  },
  {
    command: ['volumes [name]', 'volume [name]'],
    describe:
      "Volumes like `docker volume ls` / `docker volume inspect <name>`, with data size, users and store mismatches",
    load: () => import('./volumes.js') as Promise<CommandImpl>,
  },
  {
    command: ['networks [name]', 'network [name]'],
    describe:
      "Networks like `docker network ls` / `docker network inspect <name>` from libnetwork's store, joined with the containers",
    load: () => import('./networks.js') as Promise<CommandImpl>,
  },
  {
    command: 'logs <container>',
    describe:
      "Container logs like `docker logs` (json-file, local, dual-logging cache; rotated and .gz files). Lines of the stdout stream go to stdout, stderr lines to stderr. Piped or redirected, the bytes are exactly what docker logs prints (evidence is not altered); on a terminal, control characters are escaped so a crafted log cannot drive the terminal. --json: one object per line, split pieces joined. Problems found in the log files are reported on stderr after the log, prefixed \"dockscope:\".",
    load: () => import('./logs.js') as Promise<CommandImpl>,
  },
  {
    command: 'diff <container>',
    describe:
      "What a container changed, like `docker diff`: A added, C changed, D deleted; the same set the engine reports, from the RW layer against its init and image layers. --long adds type, mode, owner, size, mtime, sha256 and flags (executables, ELF, setuid/setgid, hidden names, persistence paths, account files). --json: the Engine API shape ({Path, Kind}; Kind 0=C 1=A 2=D)",
    load: () => import('./diff.js') as Promise<CommandImpl>,
  },
  {
    command: 'fs <ref> <op> [path]',
    describe:
      "Browse the merged filesystem of a container or image without mounting it: ls, stat, cat, find. Layers are merged in userland with overlay/aufs whiteout and opaque rules; symlinks resolve inside the container's own root, never the analyst's. cat writes raw bytes to a pipe and escaped text to a terminal (binary is refused there).",
    load: () => import('./fs.js') as Promise<CommandImpl>,
  },
  {
    command: 'export <ref>',
    describe:
      "Write a container's (or an image's) merged filesystem as a tar, like `docker export`: same entries, owners, modes, times, symlinks, hard links and device nodes, streamed in constant memory. Never writes inside the evidence.",
    load: () => import('./export.js') as Promise<CommandImpl>,
  },
  {
    command: 'timeline',
    describe:
      "One sorted timeline: images created and built, tags, pulls, containers created/started/finished, first and last log entries, store file and directory times. jsonl/csv carry the fields Timesketch imports (datetime, timestamp_desc, message; ns in timestamp_ns); bodyfile is TSK 3.x for mactime: every container's upper dir as /<name>/path, plus Docker's metadata files",
    load: () => import('./timeline.js') as Promise<CommandImpl>,
  },
  {
    command: 'audit',
    describe:
      "Security findings with severity and MITRE ATT&CK technique: escape to host (T1611), deploy container (T1610), persistence by restart policy (T1543.005), exposed ports (T1133), secrets in environment variables (T1552.001). Exits 6 when anything of high severity is found",
    load: () => import('./audit.js') as Promise<CommandImpl>,
  },
];

function lazy(c: (typeof COMMANDS)[number]): CommandModule {
  return {
    command: c.command as string | string[],
    describe: c.describe,
    builder: async (y: Argv) => {
      const m = await c.load();
      return (await m.builder(y)) ?? y;
    },
    handler: async (argv) => {
      const m = await c.load();
      await m.handler(argv);
    },
  };
}


export async function main(args: string[]): Promise<void> {
  // A reader that goes away (`| head`) is an ordinary end, not an error to report.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? EXIT.OK);
    throw e;
  });
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
    .option('limit', {
      // not `array: true`, which would swallow the command after it; repeating the option gives an array
      type: 'string',
      describe: 'change a bound on reading the evidence, name=value (sizes take K/M/G): e.g. metadata-bytes=256M; the README lists them',
      global: true,
    })
    .middleware((argv) => {
      for (const spec of ([] as unknown[]).concat(argv.limit ?? []).map(String)) {
        const problem = setLimit(spec);
        if (problem) {
          process.stderr.write(`dockscope: ${problem}\nRun dockscope --help for usage.\n`);
          process.exit(EXIT.USAGE);
        }
      }
    })
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
  for (const c of COMMANDS) y = y.command(lazy(c));
  // hideBin(['node', 'dockscope', ...args]) is args under node; not importing yargs/helpers spares start-up a module graph.
  await y.parseAsync(args);
}
