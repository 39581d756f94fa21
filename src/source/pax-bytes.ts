/**
 * pax extended-header records (`<len> <key>=<value>\n`, POSIX.1-2001). Values are UTF-8, except those
 * of SCHILY.xattr.* records: binary xattr values (security.capability, trusted.overlay.origin) would
 * lose every byte >= 0x80 to U+FFFD, and evidence needs them exact, so they are kept as latin1
 * strings (one char per byte), which tar.ts turns back into the exact bytes.
 */
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
