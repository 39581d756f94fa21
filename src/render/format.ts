/** Go's %.{p}g, which Docker's size printing (go-units) relies on, quirks included (e.g. "1e+03kB"). */
export function goG(v: number, p: number): string {
  if (v === 0) return '0';
  if (!Number.isFinite(v)) return String(v);
  const [mant, expStr] = v.toExponential(p - 1).split('e');
  const exp = Number(expStr);
  if (exp < -4 || exp >= p) {
    const m = mant!.includes('.') ? mant!.replace(/0+$/, '').replace(/\.$/, '') : mant!;
    return `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  const fixed = v.toFixed(Math.max(0, p - 1 - exp));
  return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
}

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

/** go-units HumanSizeWithPrecision(size, 3): decimal units, as `docker images` prints SIZE. */
export function humanSize(bytes: number, precision = 3): string {
  let size = bytes;
  let i = 0;
  while (size >= 1000 && i < UNITS.length - 1) {
    size /= 1000;
    i++;
  }
  return `${goG(size, precision)}${UNITS[i]}`;
}

/** Seconds since the epoch → "2024-01-01T00:00:00Z" (UTC, ISO 8601). */
export function isoSeconds(unix: number | undefined): string {
  if (unix === undefined || !Number.isFinite(unix)) return '-';
  const d = new Date(unix * 1000);
  return Number.isNaN(d.getTime()) ? '-' : d.toISOString().replace('.000Z', 'Z');
}

export { isoNanos } from '../model/time.js';

export function shortHex(id: string, n = 12): string {
  return (id.startsWith('sha256:') ? id.slice(7) : id).slice(0, n);
}
