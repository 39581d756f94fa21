// Bundles the CLI entry (dist/src/cli/main.js, as tsc wrote it) with its npm packages into one
// file, dist/src/cli/main.bundle.js, which bin/dockscope.js loads. Why: Node 20 loads an ES
// module graph file by file, and yargs alone is ~25 modules: as one file it starts markedly faster
// (bench/RESULTS.md, start-up). Only packages are inlined: dockscope's own modules stay
// external imports, so the bundle and the lazily loaded commands share one instance of each
// (the --limit table in source/limits.js is state they must share).
import * as esbuild from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const entry = path.join(root, 'dist/src/cli/main.js');

await esbuild.build({
  entryPoints: [entry],
  outfile: path.join(root, 'dist/src/cli/main.bundle.js'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
  legalComments: 'inline',
  minify: true,
  plugins: [
    {
      name: 'own-modules-stay-external',
      setup(build) {
        build.onResolve({ filter: /^\.\.?\// }, (a) =>
          a.importer.includes(`${path.sep}node_modules${path.sep}`) ? undefined : { path: a.path, external: true },
        );
      },
    },
  ],
});
