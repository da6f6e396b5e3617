import { cutText, ERROR_LIMITS } from "../errors.ts";

/**
 * JSON for bodies the relay promises to forward unchanged and within bounded memory. `JSON.parse`
 * alone silently alters some documents (9007199254740993 becomes ...992, 1e400 Infinity and then
 * null, of two equal keys the first vanishes) and builds every object before anyone can count
 * them. So the text is checked first, in one linear pass that builds no values, and only then
 * handed to `JSON.parse`. The pass checks the structure exactly but only finds where strings
 * end: `JSON.parse` still judges their contents, which cannot change the structure it builds,
 * so the limits checked here bound its work too.
 */

export interface JsonLimits {
  /** Deepest nesting of objects/arrays allowed (a scalar is depth 0). */
  maxDepth: number;
  /** Most values (objects + arrays + strings + numbers + literals, keys not counted) in one document. */
  maxValues: number;
}

/** `path` is a JSON Pointer; the root is "/", as in the relay's other error details. */
export type JsonProblem = { path: string; message: string };

export type JsonReadResult =
  | { ok: true; value: unknown }
  | { ok: false; kind: "syntax" | "too_complex" | "not_exact"; problems: JsonProblem[] };

/** Enough to show a sender the pattern without making a hostile body cost a long report. */
const MAX_PROBLEMS = 20;
/** Objects with more keys than this get a Set; below it a scan of a few strings is cheaper. */
const LINEAR_KEYS = 16;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The value of `text`, or why forwarding it could not keep it exact or bounded; see the header. */
export function readJson(text: string, limits: JsonLimits): JsonReadResult {
  const { maxDepth, maxValues } = limits;
  const end = text.length;
  // One entry per open container, indexed by depth (1 = outermost). Paths are assembled from
  // these only when a problem is reported, so a clean document never builds one.
  const isObject: boolean[] = [];
  const indexAt: number[] = [];
  const keyAt: string[] = [];
  const keys = new KeyRegistry();
  const problems: JsonProblem[] = [];
  const path = (levels: number) => pointer(levels, isObject, keyAt, indexAt);

  let depth = 0;
  let values = 0;
  let expectKey = false;
  let i = 0;

  // Each step reads the character at i once and skips whitespace only when it finds some:
  // compact JSON, the common case, then costs one read per token.
  scan: for (;;) {
    let c = text.charCodeAt(i);
    if (c <= 0x20) {
      i = skipWhitespace(text, i);
      c = text.charCodeAt(i);
    }
    if (expectKey) {
      expectKey = false;
      if (c !== QUOTE) return syntaxError(text, i, "a string key");
      // Keys are short: a plain loop finds the end and notes escapes in one go.
      let close = i + 1;
      let escaped = false;
      for (let k = text.charCodeAt(close); k !== QUOTE; k = text.charCodeAt(++close)) {
        if (close >= end) return syntaxError(text, i, "a closing quote", "Unterminated string");
        if (k === BACKSLASH) {
          escaped = true;
          close++;
        }
      }
      let key = text.slice(i + 1, close++);
      if (escaped) {
        try {
          key = JSON.parse(text.slice(i, close)) as string;
        } catch {
          return syntaxError(text, i, "only valid escapes", "Invalid escape in the key");
        }
      }
      if (problems.length < MAX_PROBLEMS && keys.add(depth, key)) {
        problems.push({
          path: path(depth - 1),
          message: `has the key ${shorten(JSON.stringify(key))} more than once; JSON.parse would keep only the last`,
        });
      }
      keyAt[depth] = key;
      i = close;
      c = text.charCodeAt(i);
      if (c <= 0x20) {
        i = skipWhitespace(text, i);
        c = text.charCodeAt(i);
      }
      if (c !== 0x3a) return syntaxError(text, i, '":"');
      c = text.charCodeAt(++i);
      if (c <= 0x20) {
        i = skipWhitespace(text, i);
        c = text.charCodeAt(i);
      }
    }

    // A value starts at i.
    if (++values > maxValues)
      return {
        ok: false,
        kind: "too_complex",
        problems: [{ path: "/", message: `has more than ${maxValues} values` }],
      };
    if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) {
        return {
          ok: false,
          kind: "too_complex",
          problems: [{ path: path(depth - 1), message: `nests deeper than ${maxDepth} levels` }],
        };
      }
      const object = c === 0x7b;
      isObject[depth] = object;
      i = skipWhitespace(text, i + 1);
      if (text.charCodeAt(i) === (object ? 0x7d : 0x5d)) {
        depth--;
        i++;
      } else {
        if (object) keys.open(depth);
        else indexAt[depth] = 0;
        expectKey = object;
        continue;
      }
    } else if (c === QUOTE) {
      const close = stringEnd(text, i);
      if (close < 0) return syntaxError(text, i, "a closing quote", "Unterminated string");
      i = close;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      let d = c === 0x2d ? text.charCodeAt(++i) : c;
      if (d === 0x30) d = text.charCodeAt(++i);
      else if (d >= 0x31 && d <= 0x39)
        do d = text.charCodeAt(++i);
        while (d >= 0x30 && d <= 0x39);
      else return syntaxError(text, i, "a digit");
      let plain = true;
      if (d === 0x2e) {
        d = text.charCodeAt(++i);
        if (!(d >= 0x30 && d <= 0x39)) return syntaxError(text, i, "a digit");
        do d = text.charCodeAt(++i);
        while (d >= 0x30 && d <= 0x39);
      }
      if (d === 0x65 || d === 0x45) {
        plain = false;
        d = text.charCodeAt(++i);
        if (d === 0x2b || d === 0x2d) d = text.charCodeAt(++i);
        if (!(d >= 0x30 && d <= 0x39)) return syntaxError(text, i, "a digit");
        do d = text.charCodeAt(++i);
        while (d >= 0x30 && d <= 0x39);
      }
      // At most 15 characters and no exponent means at most 15 digits near 1: always exact.
      if ((!plain || i - start > 15) && problems.length < MAX_PROBLEMS) {
        const message = inexactNumber(text.slice(start, i));
        if (message !== undefined) problems.push({ path: path(depth), message });
      }
    } else if ((c === 0x74 && text.startsWith("true", i)) || (c === 0x6e && text.startsWith("null", i))) {
      i += 4;
    } else if (c === 0x66 && text.startsWith("false", i)) {
      i += 5;
    } else {
      return syntaxError(text, i, "a value");
    }

    // After a value: close finished containers, then move on to the next member.
    for (;;) {
      let d = text.charCodeAt(i);
      if (d <= 0x20) {
        i = skipWhitespace(text, i);
        d = text.charCodeAt(i);
      }
      if (depth === 0) {
        if (i !== end) return syntaxError(text, i, "the end of the document");
        break scan;
      }
      const object = isObject[depth] === true;
      if (d === 0x2c) {
        i++;
        if (object) expectKey = true;
        else indexAt[depth]!++;
        continue scan;
      }
      if (d !== (object ? 0x7d : 0x5d)) return syntaxError(text, i, object ? '"," or "}"' : '"," or "]"');
      if (object) keys.close(depth);
      depth--;
      i++;
    }
  }

  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, kind: "syntax", problems: [{ path: "/", message: (error as Error).message }] };
  }
  if (problems.length > 0) return { ok: false, kind: "not_exact", problems };
  return { ok: true, value };
}

function skipWhitespace(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    // Nearly every call finds a token at once; one comparison settles that.
    if (c > 0x20) return i;
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
    else return i;
  }
}

/**
 * Index just past the quote closing the string opened at `open`, or -1. A quote closes the
 * string when an even number of backslashes precede it; `indexOf` skips the contents natively.
 */
function stringEnd(text: string, open: number): number {
  let quote = open;
  for (;;) {
    quote = text.indexOf('"', quote + 1);
    if (quote < 0) return -1;
    let before = quote - 1;
    while (text.charCodeAt(before) === BACKSLASH) before--;
    if ((quote - 1 - before) % 2 === 0) return quote + 1;
  }
}

/** The keys of each open object, to find duplicates without building the objects. */
class KeyRegistry {
  // Keys of all open small objects, innermost last: a closing object drops its own tail.
  private readonly keys: string[] = [];
  private top = 0;
  private readonly from: number[] = [];
  private readonly sets: Array<Set<string> | undefined> = [];

  open(depth: number): void {
    this.from[depth] = this.top;
    this.sets[depth] = undefined;
  }

  close(depth: number): void {
    this.top = this.from[depth]!;
  }

  /** Records `key` for the object open at `depth`; true when it was there already. */
  add(depth: number, key: string): boolean {
    let set = this.sets[depth];
    if (set !== undefined) {
      if (set.has(key)) return true;
      set.add(key);
      return false;
    }
    const { keys } = this;
    const from = this.from[depth]!;
    for (let k = from; k < this.top; k++) if (keys[k] === key) return true;
    if (this.top - from < LINEAR_KEYS) {
      keys[this.top++] = key;
      return false;
    }
    set = new Set([key]);
    for (let k = from; k < this.top; k++) set.add(keys[k]!);
    this.sets[depth] = set;
    this.top = from;
    return false;
  }
}

/** A number's value as sign, significant digits and the power of ten of the first digit. */
type Decimal = { negative: boolean; digits: string; exponent: number };

/** Reads a JSON number or the output of `String(number)` (finite); zero has no digits. */
function decimalOf(s: string): Decimal {
  const negative = s.charCodeAt(0) === 0x2d;
  let e = s.indexOf("e");
  if (e < 0) e = s.indexOf("E");
  if (e < 0) e = s.length;
  const mantissa = s.slice(negative ? 1 : 0, e);
  const dot = mantissa.indexOf(".");
  const whole = dot < 0 ? mantissa.length : dot;
  const all = dot < 0 ? mantissa : mantissa.slice(0, dot) + mantissa.slice(dot + 1);
  let first = 0;
  while (first < all.length && all.charCodeAt(first) === 0x30) first++;
  let last = all.length;
  while (last > first && all.charCodeAt(last - 1) === 0x30) last--;
  if (first === last) return { negative: false, digits: "", exponent: 0 };
  // An absurd exponent may read as Infinity; then it cannot match a double's and is reported.
  const power = e < s.length ? Number(s.slice(e + 1)) : 0;
  return { negative, digits: all.slice(first, last), exponent: power + whole - first - 1 };
}

/** Why `JSON.parse` would not keep the value of the number `s`, or undefined when it would. */
function inexactNumber(s: string): string | undefined {
  const written = decimalOf(s);
  // Zero in any spelling (-0, 0e5, 0.000) is zero.
  if (written.digits === "") return undefined;
  // Up to 15 significant digits map one-to-one onto doubles across the normal range.
  if (written.digits.length <= 15 && Math.abs(written.exponent) <= 300) return undefined;
  const read = Number(s);
  const shown = shorten(s);
  if (!Number.isFinite(read))
    return `${shown} is beyond the range of a double: JSON.parse reads it as ${read}, which is forwarded as null`;
  if (read === 0) return `${shown} is too small for a double: JSON.parse reads it as 0`;
  const kept = decimalOf(String(read));
  if (kept.negative === written.negative && kept.digits === written.digits && kept.exponent === written.exponent)
    return undefined;
  return `${shown} is not exactly representable as a double: JSON.parse reads it as ${String(read)}`;
}

/**
 * The JSON Pointer of a problem, built only as far as an error will show it (ERROR_LIMITS.detailText):
 * a body with a 200 KB key must not cost 200 KB per problem.
 */
function pointer(levels: number, isObject: boolean[], keyAt: string[], indexAt: number[]): string {
  if (levels === 0) return "/";
  const max = ERROR_LIMITS.detailText + 1;
  let path = "";
  for (let level = 1; level <= levels && path.length < max; level++) {
    const segment = isObject[level]
      ? keyAt[level]!.slice(0, max).replace(/~/g, "~0").replace(/\//g, "~1")
      : String(indexAt[level]);
    path += `/${segment}`;
  }
  return cutText(path, ERROR_LIMITS.detailText);
}

function shorten(s: string): string {
  return s.length <= 60 ? s : `${s.slice(0, 57)}...`;
}

function syntaxError(text: string, at: number, expected: string, what?: string): JsonReadResult {
  let line = 1;
  let lineStart = 0;
  for (let n = text.indexOf("\n"); n >= 0 && n < at; n = text.indexOf("\n", n + 1), line++) lineStart = n + 1;
  const where = `at position ${at} (line ${line} column ${at - lineStart + 1})`;
  const found = at >= text.length ? "end of input" : JSON.stringify(text.charAt(at));
  const message = `${what ?? `Unexpected ${found}`} ${where}; expected ${expected}`;
  return { ok: false, kind: "syntax", problems: [{ path: "/", message }] };
}
