import { createRequire } from 'node:module';

/**
 * tar-stream decodes every PAX record value as UTF-8, so binary xattr values (security.capability,
 * trusted.overlay.origin) lose every byte >= 0x80 to U+FFFD. Evidence needs them exact. This gives
 * tar-stream's PAX decoder one extra rule, applied once per process: values of SCHILY.xattr.* records
 * are kept as latin1 strings (one char per byte), which tar.ts turns back into the exact bytes.
 * Paths and other records stay UTF-8, as before.
 */
const require = createRequire(import.meta.url);
const headers = createRequire(require.resolve('tar-stream'))('./headers.js') as { decodePax: (b: Buffer) => Record<string, string>; __dockscopeRaw?: boolean };

const XATTR = 'SCHILY.xattr.';

export function decodePaxPreservingXattrs(buf: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let rest = buf;
  while (rest.length) {
    const sp = rest.indexOf(0x20);
    if (sp < 0) break;
    const len = parseInt(rest.subarray(0, sp).toString('latin1'), 10);
    if (!(len > sp + 1) || len > rest.length) break;
    const rec = rest.subarray(sp + 1, len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq < 0) break;
    const key = rec.subarray(0, eq).toString('utf8');
    out[key] = rec.subarray(eq + 1).toString(key.startsWith(XATTR) ? 'latin1' : 'utf8');
    rest = rest.subarray(len);
  }
  return out;
}

if (!headers.__dockscopeRaw) {
  headers.decodePax = decodePaxPreservingXattrs;
  headers.__dockscopeRaw = true;
}
