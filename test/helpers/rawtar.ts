/**
 * Tar bytes written by hand, block by block: for hostile cases a tar library would refuse to write
 * (crafted size fields, directories with data sizes, pax records that contradict the header).
 */

/** One ustar header (checksum filled in); `sizeField` replaces the 12 bytes of the size field as they are. */
export function ustar(name: string, typeflag: string, size: number, o: { sizeField?: Buffer; mtimeField?: string; prefix?: string; linkname?: string } = {}): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  if (o.sizeField) o.sizeField.copy(h, 124);
  else h.write(size.toString(8).padStart(11, '0') + '\0', 124);
  h.write(o.mtimeField ?? '14000000000\0', 136);
  h.write('        ', 148);
  h.write(typeflag, 156);
  if (o.linkname) h.write(o.linkname, 157);
  h.write('ustar\0', 257);
  h.write('00', 263);
  if (o.prefix) h.write(o.prefix, 345);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}

export const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
export const file = (name: string, body: string | Buffer) => Buffer.concat([ustar(name, '0', Buffer.byteLength(body)), pad(Buffer.from(body))]);
/** The end-of-archive marker: two zero blocks. */
export const END = Buffer.alloc(1024);

export function paxRecord(key: string, value: string): Buffer {
  const body = `${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 2;
  while (`${len} ${body}`.length !== len) len = Buffer.byteLength(`${len} ${body}`);
  return Buffer.from(`${len} ${body}`);
}
export const paxHeader = (rec: Buffer) => Buffer.concat([ustar('PaxHeaders/x', 'x', rec.length), pad(rec)]);

/** A base-256 size field whose first byte is neither 0x80 nor 0xff: no number at all. */
export const BAD_BASE256 = Buffer.from('b0303030303030303030303020', 'hex').subarray(0, 12);
