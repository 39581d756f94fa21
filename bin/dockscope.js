#!/usr/bin/env node
import { main } from '../dist/src/cli/main.bundle.js';

main(process.argv.slice(2)).catch(async (e) => {
  const text = String(e && e.stack ? e.stack : e);
  // A stack can quote evidence (a message built from a file name): it goes through the same
  // terminal guard as every other line, loaded only now so start-up does not pay for it.
  const { terminalSafe } = await import('../dist/src/render/escape.js');
  process.stderr.write(`dockscope: internal error: ${terminalSafe(text)}\n`);
  process.exitCode = 70;
});
