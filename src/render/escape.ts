/**
 * Evidence is attacker-written: a tag, label, name or log line may carry ANSI/OSC sequences that
 * would repaint or hijack the analyst's terminal, carriage returns or newlines that forge rows,
 * or bidi overrides that make text read differently than it is. Every evidence string passes
 * through escapeText before it reaches a terminal. Backslash is escaped too, so `\x1b` printed
 * by us can never be confused with the same four characters written by the attacker.
 */
// C0 controls, DEL, C1 controls, bidi marks/embeddings/overrides/isolates, line/paragraph
// separators, zero-width no-break space (BOM) and the Arabic letter mark.
const UNSAFE = /[\\\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]/gu;

function escapeChar(ch: string): string {
  if (ch === '\\') return '\\\\';
  if (ch === '\n') return '\\n';
  if (ch === '\r') return '\\r';
  if (ch === '\t') return '\\t';
  const cp = ch.codePointAt(0)!;
  return cp < 0x100 ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u{${cp.toString(16)}}`;
}

/**
 * Human output is bounded too: a crafted 10 MB label must not flood the terminal or stall a
 * renderer. Longer strings are cut with a marker; --json keeps every byte.
 */
export const HUMAN_TEXT_LIMIT = 64 * 1024;

export function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max)}…[${s.length - max} more characters; --json has all]` : s;
}

export function escapeText(s: string, max = HUMAN_TEXT_LIMIT): string {
  // Lone surrogates (invalid UTF-16 from decoded garbage) are shown as escapes too.
  return clip(s, max)
    .replace(UNSAFE, escapeChar)
    .replace(/[\ud800-\udfff]/g, (c) => `\\u{${c.charCodeAt(0).toString(16)}}`);
}

/** Double-quoted like Go's strconv.Quote (as `docker ps` prints COMMAND), escaped for the terminal. */
export function quoted(s: string): string {
  return `"${escapeText(s).replace(/"/g, '\\"')}"`;
}

/** JSON that keeps every string exact but can be printed safely: risky characters as \uXXXX. */
const JSON_UNSAFE = /[\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]/g;

export function safeJson(value: unknown, indent = 2): string {
  const text = JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), indent) ?? 'null';
  return text.replace(JSON_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
