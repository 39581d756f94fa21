import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { REPO } from './fixtures.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The real binary's command line under this node. */
export const BIN = [path.join(REPO, 'bin/dockscope.js')];

/** The real binary with stdout kept as bytes (logs, export, cat), stdin optionally fed. */
export function cliBytes(args: string[], input?: Buffer): { code: number; stdout: Buffer; stderr: string } {
  const r = spawnSync(process.execPath, [...BIN, ...args], { env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 256 << 20, input });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}

/** Runs the real binary, as an analyst would, with colour forced off. */
export function cli(args: string[], env: Record<string, string> = {}): CliResult {
  const r = spawnSync(process.execPath, [path.join(REPO, 'bin/dockscope.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...env },
    maxBuffer: 64 << 20,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function cliJson<T = any>(args: string[]): T {
  const r = cli([...args, '--json']);
  if (r.code !== 0) throw new Error(`dockscope ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
