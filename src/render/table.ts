import Table from 'cli-table3';
import { clip, escapeText } from './escape.js';

/** cli-table3 takes time quadratic in a cell's length (100k characters: about a minute). */
const CELL_LIMIT = 1000;

/**
 * A borderless, left-aligned table like Docker's own listings. Cells are escaped here, so no
 * caller can forget: a newline or escape sequence in evidence cannot forge a row.
 */
export function table(head: string[], rows: (string | number)[][], opts: { trusted?: number[] } = {}): string {
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
  const trusted = new Set(opts.trusted ?? []);
  for (const r of rows) t.push(r.map((c, i) => (trusted.has(i) ? clip(String(c), CELL_LIMIT) : escapeText(String(c), CELL_LIMIT))));
  return t
    .toString()
    .split('\n')
    .map((l) => l.replace(/\s+$/, ''))
    .join('\n');
}

/** `key: value` lines with aligned keys; values escaped. */
export function fields(pairs: [string, string | number | boolean | null | undefined][], indent = ''): string {
  const w = Math.max(0, ...pairs.map(([k]) => k.length));
  return pairs
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${indent}${(k + ':').padEnd(w + 1)} ${escapeText(v === null ? '-' : String(v))}`)
    .join('\n');
}
