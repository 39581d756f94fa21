import Table from 'cli-table3';
import { clip, escapeText } from './escape.js';

/** cli-table3 takes time quadratic in a cell's length (100k characters: about a minute). */
const CELL_LIMIT = 1000;

/** The colour codes cli-table3 leaves out of a cell's width (its own pattern). */
// eslint-disable-next-line no-control-regex
const SGR = /\u001b\[(?:\d*;){0,5}\d*m/g;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** A cell's width on the terminal when it is printable ASCII (colour codes aside), else undefined. */
function asciiWidth(s: string): number | undefined {
  const bare = s.includes('\u001b') ? s.replace(SGR, '') : s;
  return PRINTABLE_ASCII.test(bare) ? bare.length : undefined;
}

/**
 * A borderless, left-aligned table like Docker's own listings. Cells are escaped here, so no
 * caller can forget: a newline or escape sequence in evidence cannot forge a row.
 */
export function table(head: string[], rows: (string | number)[][], opts: { trusted?: number[] } = {}): string {
  const trusted = new Set(opts.trusted ?? []);
  const cells = rows.map((r) => r.map((c, i) => (trusted.has(i) ? clip(String(c), CELL_LIMIT) : escapeText(String(c), CELL_LIMIT))));
  const lines = padded(head, cells) ?? viaCliTable(head, cells);
  return lines.map((l) => l.replace(/\s+$/, '')).join('\n');
}

/**
 * The common case laid out directly: every cell printable ASCII and every row as wide as the
 * head. cli-table3 gives the same lines (a test holds the two together) but costs about 3 ms
 * a row on a 20,000-row verify table; undefined sends anything else to it.
 */
export function padded(head: string[], rows: string[][]): string[] | undefined {
  const all = [head, ...rows];
  const widths = head.map(() => 0);
  const cellWidths: number[][] = [];
  for (const r of all) {
    if (r.length !== head.length || head.length === 0) return undefined;
    const ws: number[] = [];
    for (let i = 0; i < r.length; i++) {
      const w = asciiWidth(r[i]!);
      if (w === undefined) return undefined;
      ws.push(w);
      if (w > widths[i]!) widths[i] = w;
    }
    cellWidths.push(ws);
  }
  return all.map((r, j) => r.map((c, i) => c + ' '.repeat(widths[i]! - cellWidths[j]![i]!)).join('   '));
}

export function viaCliTable(head: string[], rows: string[][]): string[] {
  const t = new Table({
    head,
    chars: {
      top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
      bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
      left: '', 'left-mid': '', mid: '', 'mid-mid': '',
      right: '', 'right-mid': '', middle: '   ',
    },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0, compact: true },
    wordWrap: false,
  });
  for (const r of rows) t.push(r);
  return t.toString().split('\n');
}

/** `key: value` lines with aligned keys; values escaped. */
export function fields(pairs: [string, string | number | boolean | null | undefined][], indent = ''): string {
  const w = Math.max(0, ...pairs.map(([k]) => k.length));
  return pairs
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${indent}${(k + ':').padEnd(w + 1)} ${escapeText(v === null ? '-' : String(v))}`)
    .join('\n');
}
