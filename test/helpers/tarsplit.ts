import zlib from 'node:zlib';
import { crc64Base64 } from '../../src/store/crc64.js';

/**
 * The tar-split JSON lines vbatts/tar-split's disassembler would write for a plain ustar archive
 * (FORMATS.md §4): a segment with the previous padding and each header, a file entry with the
 * body's CRC-64, the end-of-archive blocks in the last segment. Gzipped, as Docker stores it in
 * `tar-split.json.gz` / pre-1.10 `tar-data.json.gz`. Only for tars without PAX or long names.
 */
export function tarSplitOf(tar: Buffer): Buffer {
  const lines: object[] = [];
  let pos = 0;
  let pending: Buffer[] = [];
  let off = 0;
  const octal = (b: Buffer) => parseInt(b.toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
  while (off + 512 <= tar.length) {
    const header = tar.subarray(off, off + 512);
    if (header.every((x) => x === 0)) break;
    pending.push(header);
    lines.push({ type: 2, payload: Buffer.concat(pending).toString('base64'), position: pos++ });
    pending = [];
    const nameEnd = header.indexOf(0);
    const name = header.subarray(0, nameEnd < 0 || nameEnd > 100 ? 100 : nameEnd).toString('utf8');
    const prefixRaw = header.subarray(345, 500);
    const prefix = prefixRaw.subarray(0, prefixRaw.indexOf(0) < 0 ? 155 : prefixRaw.indexOf(0)).toString('utf8');
    const size = octal(header.subarray(124, 136));
    const body = tar.subarray(off + 512, off + 512 + size);
    lines.push({ type: 1, name: prefix ? `${prefix}/${name}` : name, size, payload: size > 0 ? crc64Base64(body) : null, position: pos++ });
    const padded = Math.ceil(size / 512) * 512;
    pending.push(tar.subarray(off + 512 + size, off + 512 + padded));
    off += 512 + padded;
  }
  pending.push(tar.subarray(off));
  lines.push({ type: 2, payload: Buffer.concat(pending).toString('base64'), position: pos++ });
  return zlib.gzipSync(Buffer.from(lines.map((l) => JSON.stringify(l) + '\n').join('')));
}
