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

/** A surrogate that is not half of a pair: invalid UTF-16 from decoded garbage. A pair is one
 * ordinary character (an emoji) and is left alone. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export function escapeText(s: string, max = HUMAN_TEXT_LIMIT): string {
  // Lone surrogates (invalid UTF-16 from decoded garbage) are shown as escapes too.
  return clip(s, max)
    .replace(UNSAFE, escapeChar)
    .replace(LONE_SURROGATE, (c) => `\\u{${c.charCodeAt(0).toString(16)}}`);
}

/** Double-quoted like Go's strconv.Quote (as `docker ps` prints COMMAND), escaped for the terminal. */
export function quoted(s: string): string {
  return `"${escapeText(s).replace(/"/g, '\\"')}"`;
}

/** JSON that keeps every string exact but can be printed safely: risky characters as \uXXXX. */
const JSON_UNSAFE = /[\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]/g;

export function safeJson(value: unknown, indent = 2): string {
  const text = jsonText(value, indent) ?? 'null';
  return text.replace(JSON_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const bigintAsString = (_k: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);

/**
 * JSON.stringify (BigInts as decimal strings), for values of any depth. Evidence JSON is parsed
 * by V8's iterative parser, so an image config may hold a `Cmd` nested 10,000 deep; the native
 * JSON.stringify recurses and overflows the stack on it (RangeError, found by test/fuzz). The
 * native serializer runs first; only when it runs out of stack is the value written again by an
 * explicit-stack serializer that produces the same values. Nothing is cut: `--json` stays exact.
 * Pretty-printing would make that text quadratic in the depth (10,000 deep: 100 M spaces, past
 * V8's string limit), so the explicit-stack serializer indents only the first PRETTY_LEVELS
 * levels and writes what is nested deeper compactly: insignificant whitespace, same JSON value.
 * Returns undefined where JSON.stringify does (a bare undefined, function or symbol).
 */
export function jsonText(value: unknown, indent = 0): string | undefined {
  try {
    return JSON.stringify(value, bigintAsString, indent);
  } catch (e) {
    if (!(e instanceof RangeError) || !/call stack/i.test(e.message)) throw e;
  }
  return deepJson(value, indent);
}

interface Frame {
  /** the array or object being written */
  v: Record<string, unknown> | unknown[];
  keys: string[] | undefined;
  i: number;
  /** an object's `{` is written with its first member: a members-all-undefined object is `{}` */
  open: boolean;
  level: number;
}

/** SerializeJSONProperty's first steps (ECMA-262 25.5.2.2): toJSON, the replacer, wrapper objects. */
function prepare(holder: unknown, key: string, v: unknown): unknown {
  if ((typeof v === 'object' && v !== null) || typeof v === 'bigint') {
    const toJSON = (v as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') v = toJSON.call(v, key);
  }
  v = bigintAsString.call(holder, key, v);
  if (v instanceof Number) v = Number(v);
  else if (v instanceof String) v = String(v);
  else if (v instanceof Boolean) v = v.valueOf();
  return v;
}

/** The text of a scalar, or undefined for a container (pushed as a frame) or an unwritable value. */
function scalar(v: unknown): string | undefined {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return Number.isFinite(v) ? JSON.stringify(v) : 'null';
    case 'boolean':
      return v ? 'true' : 'false';
    default:
      return undefined;
  }
}

/** Levels the explicit-stack serializer indents; deeper content is written without whitespace. */
export const PRETTY_LEVELS = 64;

/** @internal the explicit-stack serializer (exported for tests: it must agree with JSON.stringify) */
export function deepJson(root: unknown, indent: number): string | undefined {
  const gap = ' '.repeat(Math.max(0, Math.min(10, Math.floor(indent))));
  /** Line break and indent before an item of a container whose items are at `level`, or its closing bracket. */
  const nl = (level: number, closing = false) => (gap && level <= PRETTY_LEVELS ? '\n' + gap.repeat(closing ? level - 1 : level) : '');
  const out: string[] = [];
  const stack: Frame[] = [];
  const onStack = new Set<object>();
  /** Writes a prepared value; false when it is not writable (undefined, function, symbol). */
  const write = (v: unknown, level: number): boolean => {
    const s = scalar(v);
    if (s !== undefined) {
      out.push(s);
      return true;
    }
    if (typeof v !== 'object' || v === null) return false;
    if (onStack.has(v)) throw new TypeError('Converting circular structure to JSON');
    if (Array.isArray(v)) {
      if (v.length === 0) {
        out.push('[]');
        return true;
      }
      out.push('[');
      stack.push({ v, keys: undefined, i: 0, open: true, level: level + 1 });
    } else stack.push({ v: v as Record<string, unknown>, keys: Object.keys(v), i: 0, open: false, level: level + 1 });
    onStack.add(v);
    return true;
  };
  if (!write(prepare({ '': root }, '', root), 0)) return undefined;
  while (stack.length) {
    const f = stack[stack.length - 1]!;
    if (f.keys === undefined) {
      const a = f.v as unknown[];
      if (f.i < a.length) {
        const i = f.i++;
        out.push((i > 0 ? ',' : '') + nl(f.level));
        if (!write(prepare(a, String(i), a[i]), f.level)) out.push('null');
        continue;
      }
      out.push(nl(f.level, true) + ']');
    } else {
      const o = f.v as Record<string, unknown>;
      let wrote = false;
      while (f.i < f.keys.length && !wrote) {
        const k = f.keys[f.i++]!;
        const v = prepare(o, k, o[k]);
        if (scalar(v) === undefined && (typeof v !== 'object' || v === null)) continue;
        out.push((f.open ? ',' : '{') + nl(f.level) + JSON.stringify(k) + (gap && f.level <= PRETTY_LEVELS ? ': ' : ':'));
        f.open = true;
        write(v, f.level);
        wrote = true;
      }
      if (wrote) continue;
      out.push(f.open ? nl(f.level, true) + '}' : '{}');
    }
    stack.pop();
    onStack.delete(f.v);
  }
  return out.join('');
}

const SGR_OURS = /^\x1b\[(?:1|2|22|31|32|33|36|39)m$/;
const SINK_UNSAFE = new RegExp(`\\x1b\\[[0-9;]*m|[\\u0000-\\u0009\\u000b-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u2069\\ufeff\\ufff9-\\ufffb]|${LONE_SURROGATE.source}`, 'g');

/**
 * The last line of defence at the text sinks (print, printErr): whatever raw control, bidi or
 * lone-surrogate character is still in finished human output is shown escaped. Renderers escape
 * each evidence string themselves (escapeText also escapes `\`, so theirs is the unambiguous
 * form); this only catches what a renderer forgot, so a missed call can cost ambiguity but never
 * control of the terminal. Line feeds are kept; with `colour`, so are the few SGR sequences our
 * own styling (chalk: bold, dim, red, green, yellow, cyan and their resets) emits.
 */
export function terminalSafe(text: string, colour = false): string {
  return text.replace(SINK_UNSAFE, (m) => {
    if (m.length > 1 && m.charCodeAt(0) === 0x1b) return colour && SGR_OURS.test(m) ? m : '\\x1b' + m.slice(1);
    const cp = m.charCodeAt(0);
    if (cp >= 0xd800 && cp <= 0xdfff) return `\\u{${cp.toString(16)}}`;
    return escapeChar(m);
  });
}
