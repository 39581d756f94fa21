#!/usr/bin/env node
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`dockscope: internal error: ${e && e.stack ? e.stack : e}\n`);
  process.exitCode = 70;
});
