import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

/**
 * Extended attributes of files in a directory tree. Node has no xattr API, so this asks
 * `getfattr` (package attr) with -P -h: a physical walk that never follows a symlink, so a
 * planted link cannot point the reader outside the evidence. Bounded by the output size.
 */
const GETFATTR = ['/usr/bin/getfattr', '/bin/getfattr'].find((p) => fs.existsSync(p));
const MAX_OUTPUT = 256 << 20;

/** overlay markers live in trusted.*, readable by root only; user.* (rootless) by anyone. */
export const xattrReaderAvailable = GETFATTR !== undefined && process.getuid?.() === 0;

/** getfattr escapes names: `\ooo` octal for unprintable bytes, `\\` for backslash. */
function unescapeName(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && /^[0-7]{3}$/.test(s.slice(i + 1, i + 4))) {
      bytes.push(parseInt(s.slice(i + 1, i + 4), 8));
      i += 3;
    } else if (s[i] === '\\' && s[i + 1] === '\\') {
      bytes.push(0x5c);
      i++;
    } else bytes.push(...Buffer.from(s[i]!, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * Reads every xattr of `abs` (one path or many; under each, recursively, when asked) into a map keyed by
 * absolute path. Returns undefined when no reader is available.
 */
export function readXattrs(abs: string | readonly string[], recursive: boolean): Map<string, Map<string, Buffer>> | undefined {
  if (!GETFATTR) return undefined;
  const args = ['-P', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', ...(recursive ? ['-R'] : []), '--', ...(typeof abs === 'string' ? [abs] : abs)];
  const r = spawnSync(GETFATTR, args, { maxBuffer: MAX_OUTPUT, encoding: 'utf8' });
  if (r.error) return undefined;
  const out = new Map<string, Map<string, Buffer>>();
  let cur: Map<string, Buffer> | undefined;
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('# file: ')) {
      cur = new Map();
      out.set(unescapeName(line.slice(8)), cur);
    } else if (cur && line.includes('=')) {
      const eq = line.indexOf('=');
      const val = line.slice(eq + 1);
      cur.set(line.slice(0, eq), val.startsWith('0x') ? Buffer.from(val.slice(2), 'hex') : Buffer.from(val.replace(/^"|"$/g, ''), 'utf8'));
    }
  }
  return out;
}
