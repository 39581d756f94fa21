#!/usr/bin/env node
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2)).catch((e) => {
  // A stack can quote evidence (a message built from a file name): control and bidi characters
  // are shown escaped, as everywhere else on the terminal.
  const text = String(e && e.stack ? e.stack : e).replace(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const n = c.codePointAt(0);
    return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u{${n.toString(16)}}`;
  });
  process.stderr.write(`dockscope: internal error: ${text}\n`);
  process.exitCode = 70;
});
