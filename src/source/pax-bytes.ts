import { createRequire } from 'node:module';

/**
 * Corrections to tar-stream's header handling, applied once per process.
 *
 * tar-stream decodes every PAX record value as UTF-8, so binary xattr values (security.capability,
 * trusted.overlay.origin) lose every byte >= 0x80 to U+FFFD. Evidence needs them exact. This gives
 * tar-stream's PAX decoder one extra rule, applied once per process: values of SCHILY.xattr.* records
 * are kept as latin1 strings (one char per byte), which tar.ts turns back into the exact bytes.
 * Paths and other records stay UTF-8, as before.
 */
const require = createRequire(import.meta.url);
type Decode = (buf: Buffer, filenameEncoding?: string, allowUnknownFormat?: boolean) => { size?: number | null; type?: string | null } | null;
const headers = createRequire(require.resolve('tar-stream'))('./headers.js') as {
  decodePax: (b: Buffer) => Record<string, string>;
  decode: Decode;
  __dockscopeRaw?: boolean;
};

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

/**
 * tar-stream decodes a size field whose first byte has the high bit set but is neither 0x80 nor
 * 0xff (no valid base-256 marker) as null, and bad octal as NaN. null passes its `size >= 0` check:
 * the entry's data stream then never ends and extraction waits forever (a crafted header hung
 * `TarSource.open`); on a PAX or GNU long-name header it silently desynchronises the parse. Such a
 * header is refused here, as GNU tar refuses it, and tar-stream reports it as a stream error.
 */
export function checkedDecode(decode: Decode): Decode {
  return (buf, filenameEncoding, allowUnknownFormat) => {
    const h = decode(buf, filenameEncoding, allowUnknownFormat);
    if (h && !(typeof h.size === 'number' && Number.isSafeInteger(h.size) && h.size >= 0)) {
      throw new Error(`Invalid tar header: unreadable size field (${buf.subarray(124, 136).toString('hex')})`);
    }
    return h;
  };
}

/**
 * tar-stream never reads data after a directory header (the next block is the next header), but it
 * hands out the entry stream with the header's size, and a stream with a size > 0 and no data never
 * ends: whoever drains a directory entry (`for await (const _ of entry)`) waits forever. A crafted
 * size field or PAX `size` record on a directory did that. The size is made 0 once the long headers
 * are applied, which is what tar-stream reads for it anyway.
 */
type Header = { size?: number | null; type?: string | null };
type ExtractProto = { _applyLongHeaders?: (this: { _header: Header | null }) => void };

function patchDirectorySize(proto: ExtractProto): boolean {
  const apply = proto._applyLongHeaders;
  if (typeof apply !== 'function') return false;
  proto._applyLongHeaders = function (this: { _header: Header | null }) {
    apply.call(this);
    if (this._header?.type === 'directory') this._header.size = 0;
  };
  return true;
}

if (!headers.__dockscopeRaw) {
  headers.decodePax = decodePaxPreservingXattrs;
  headers.decode = checkedDecode(headers.decode);
  const tarStream = require('tar-stream') as { extract: () => object };
  patchDirectorySize(Object.getPrototypeOf(tarStream.extract()) as ExtractProto);
  headers.__dockscopeRaw = true;
}
