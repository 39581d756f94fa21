/** Go's zero time, which Docker prints for "never". */
export const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * Re-formats an RFC 3339 time the way Go's time.Format(time.RFC3339Nano) prints it: trailing
 * zeros of the fraction dropped, a zero offset printed as 'Z'. Unparseable text is returned as is.
 */
export function goRFC3339Nano(s: string): string {
  const m = RFC3339.exec(s);
  if (!m) return s;
  const frac = (m[2] ?? '').slice(0, 9).replace(/0+$/, '');
  const zone = m[3]!.toUpperCase() === 'Z' || m[3] === '+00:00' || m[3] === '-00:00' ? 'Z' : m[3]!;
  return `${m[1]}${frac ? '.' + frac : ''}${zone}`;
}

/** Seconds since the epoch (floor), as Go's Time.Unix(); undefined when unparseable. */
export function unixSeconds(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const m = RFC3339.exec(s);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]!.toUpperCase() === 'Z' ? 'Z' : m[3]}`);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/** Nanoseconds since the epoch as a bigint, keeping the full fraction. */
export function unixNanos(s: string | undefined): bigint | undefined {
  const sec = unixSeconds(s);
  if (sec === undefined) return undefined;
  const frac = (RFC3339.exec(s!)![2] ?? '').slice(0, 9).padEnd(9, '0');
  return BigInt(sec) * 1_000_000_000n + BigInt(frac);
}

export function isZeroTime(s: string | undefined): boolean {
  return !s || s.startsWith('0001-01-01T00:00:00');
}

/** Nanoseconds (bigint) → ISO 8601 UTC with the full fraction. */
export function isoNanos(ns: bigint | undefined): string {
  if (ns === undefined) return '-';
  const sec = ns / 1_000_000_000n;
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  const d = new Date(Number(sec) * 1000);
  if (Number.isNaN(d.getTime())) return '-';
  return d.toISOString().replace('.000Z', frac ? `.${frac}Z` : 'Z');
}
