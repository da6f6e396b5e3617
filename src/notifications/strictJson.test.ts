import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readJson, type JsonLimits, type JsonReadResult } from "./strictJson.ts";

const ROOMY: JsonLimits = { maxDepth: 64, maxValues: 100_000 };

function read(text: string, limits: JsonLimits = ROOMY): JsonReadResult {
  return readJson(text, limits);
}

function failure(text: string, limits: JsonLimits = ROOMY) {
  const result = read(text, limits);
  if (result.ok) throw new Error(`expected ${JSON.stringify(text.slice(0, 80))} to be refused`);
  return result;
}

describe("readJson on valid, exact documents", () => {
  it.each([
    '{"object":"event","id":"evt_1","data":{"items":[{"n":1},{"n":2.5}],"ok":true,"none":null}}',
    "  [1, -2, 3.25, 1e2, 1.0, 1.50, -0, 0e5, 0.0, true, false, null, \"\", {}, []]\n",
    '"just a string"',
    "42",
    "\t\r\n null \t\r\n",
    '{"a":{"b":1},"b":2}',
    '{"~/":"x","a/b":{"c~d":[[]]}}',
    '["\\ud800", "\\udc00x", "\\u0000", "a\\"b\\\\", "\\\\\\"", "\\/\\b\\f\\n\\r\\t", "\u2028"]',
  ])("returns what JSON.parse returns for %s", (text) => {
    expect(read(text)).toEqual({ ok: true, value: JSON.parse(text) });
  });

  const examples = join(import.meta.dirname, "..", "..", "examples", "events");
  it.each(readdirSync(examples))("returns the example event %s as JSON.parse does, pretty or compact", (file) => {
    const text = readFileSync(join(examples, file), "utf8");
    expect(read(text)).toEqual({ ok: true, value: JSON.parse(text) });
    const compact = JSON.stringify(JSON.parse(text));
    expect(read(compact)).toEqual({ ok: true, value: JSON.parse(text) });
  });

  it.each([
    "9007199254740991",
    "-9007199254740991",
    "1.5e300",
    "0.1",
    "1e-300",
    "5e-324",
    "1.7976931348623157e308",
    "-1.7976931348623157E+308",
    "2.2250738585072014e-308",
    "123456789012345000000000000000e-29",
    "0.30000000000000004",
    "100000000000000000000000",
    "0.000000000000000000000000000001e300",
    "0e99999999999999999999",
    "-0.0000000000000000000000e-400",
  ])("accepts the number %s, which survives as a double", (text) => {
    expect(read(`{"n":${text}}`)).toEqual({ ok: true, value: { n: Number(text) } });
    expect(read(text)).toEqual({ ok: true, value: Number(text) });
  });

  it("accepts lone surrogates and NUL escapes in keys too", () => {
    const text = '{"\\ud800":1,"\\udc00":2,"\\u0000":3,"":4}';
    expect(read(text)).toEqual({ ok: true, value: JSON.parse(text) });
  });
});

describe("readJson on numbers JSON.parse would change", () => {
  it.each([
    ["9007199254740993", "9007199254740992"],
    ["-9007199254740993", "-9007199254740992"],
    ["1e400", "Infinity"],
    ["-1e400", "-Infinity"],
    ["1.7976931348623159e308", "Infinity"],
    ["1e-400", "0"],
    ["2.4e-324", "0"],
    ["0.1000000000000000055511151231257827", "0.1"],
    ["123456789012345e300", "Infinity"],
    ["0.0000000001e-320", "0"],
    ["1.00000000000000000001", "1"],
  ])("refuses %s (read as %s)", (text, readAs) => {
    const result = failure(`{"n":${text}}`);
    expect(result.kind).toBe("not_exact");
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]!.path).toBe("/n");
    expect(result.problems[0]!.message).toContain(text);
    expect(result.problems[0]!.message).toContain(readAs);
  });

  it("names the path of a nested number", () => {
    const result = failure('{"data":{"items":[{"n":1},{"n":9007199254740993}]}}');
    expect(result).toMatchObject({ kind: "not_exact", problems: [{ path: "/data/items/1/n" }] });
  });

  it("uses / for a document that is a single number", () => {
    expect(failure("1e400")).toMatchObject({ kind: "not_exact", problems: [{ path: "/" }] });
  });

  it("escapes ~ and / in the path as RFC 6901 says", () => {
    const result = failure('{"a/b":{"c~d":[0,1e999]}}');
    expect(result.problems).toEqual([{ path: "/a~1b/c~0d/1", message: expect.stringContaining("1e999") }]);
  });

  it("reports every inexact value, up to 20", () => {
    const three = failure('[9007199254740993,1,{"x":1e400},[1e-400]]');
    expect(three.problems.map((p) => p.path)).toEqual(["/0", "/2/x", "/3/0"]);
    const many = failure(`[${Array.from({ length: 50 }, () => "1e400").join(",")}]`);
    expect(many.problems).toHaveLength(20);
  });

  it("still reports a syntax error found after the inexact values", () => {
    expect(failure('{"a":9007199254740993,"b":"\\x"}').kind).toBe("syntax");
    expect(failure('[1e400,{"a":1,"a":2},').kind).toBe("syntax");
  });
});

describe("readJson on duplicate keys", () => {
  it.each([
    ['{"a":1,"a":2}', "/", '"a"'],
    ['{"a":1,"\\u0061":2}', "/", '"a"'],
    ['{"\\/":1,"/":2}', "/", '"/"'],
    ['{"x":{"b":1,"c":{},"b\\u0000":3,"b":2}}', "/x", '"b"'],
    ['{"x":[{},{"k~/":1,"k\\u007e/":2}]}', "/x/1", '"k~/"'],
    ['{"a":{"b":1,"c":2},"a":3}', "/", '"a"'],
  ])("refuses %s at %s", (text, path, key) => {
    const result = failure(text);
    expect(result.kind).toBe("not_exact");
    expect(result.problems).toEqual([{ path, message: expect.stringContaining(key) }]);
  });

  it("finds duplicates in objects with many keys, around nested objects", () => {
    const members = Array.from({ length: 30 }, (_, n) => `"k${n}":{"k${n}":1,"inner":{"k0":0}}`);
    expect(read(`{${members.join(",")}}`).ok).toBe(true);
    const result = failure(`{${members.join(",")},"k3":0,"\\u006b29":1}`);
    expect(result.problems.map((p) => p.message)).toEqual([expect.stringContaining('"k3"'), expect.stringContaining('"k29"')]);
  });

  it("does not confuse keys of sibling or nested objects", () => {
    const text = '[{"a":1},{"a":2},{"a":{"a":{"a":3}}}]';
    expect(read(text)).toEqual({ ok: true, value: JSON.parse(text) });
  });
});

describe("readJson on syntax errors", () => {
  it.each([
    ["", "position 0"],
    ["{", "position 1"],
    ['{"a":1,}', "position 7"],
    ["[1 2]", "position 3"],
    ["[1,]", "position 3"],
    ['{"a" 1}', "position 5"],
    ['{1:2}', "position 1"],
    ["[1] x", "position 4"],
    ["{} {}", "position 3"],
    ["\uFEFF{}", "position 0"],
    ["01", "position 1"],
    ["-", "position 1"],
    ["1.", "position 2"],
    ["1e+", "position 3"],
    [".5", "position 0"],
    ["tru", "position 0"],
    ["NaN", "position 0"],
    ['"abc', "position 0"],
    ['{"a\\q":1}', "position 1"],
    ["[1,\n  }", "line 2 column 3"],
  ])("refuses %j (%s)", (text, where) => {
    const result = failure(text);
    expect(result.kind).toBe("syntax");
    expect(result.problems).toEqual([{ path: "/", message: expect.stringContaining(where) }]);
  });

  it.each(['"\\x"', '"a\nb"', '"\t"', '["\\u12"]', '{"a\u0001":1}'])("leaves string contents to JSON.parse: %j", (text) => {
    const result = failure(text);
    expect(result.kind).toBe("syntax");
    expect(result.problems[0]!.message).toMatch(/position/);
  });

  it("agrees with JSON.parse on which mutated documents are JSON", () => {
    const seed = '{"a":[1,-2.5e3,"x\\"y",true,null,{"b":{}}],"c":"\\u0041","d":[[]],"e":0.5}';
    const alphabet = '{}[]",:\\0123456789-+.eEtrufalsn \n';
    let state = 42;
    const random = (n: number) => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return state % n;
    };
    for (let round = 0; round < 5000; round++) {
      let text = seed;
      for (let edits = 1 + random(3); edits > 0; edits--) {
        const at = random(text.length + 1);
        const op = random(3);
        const ch = alphabet[random(alphabet.length)]!;
        text = op === 0 ? text.slice(0, at) + text.slice(at + 1) : op === 1 ? text.slice(0, at) + ch + text.slice(at) : text.slice(0, at) + ch + text.slice(at + 1);
      }
      let valid = true;
      try {
        JSON.parse(text);
      } catch {
        valid = false;
      }
      const result = read(text);
      expect({ text, syntax: !result.ok && result.kind === "syntax" }).toEqual({ text, syntax: !valid });
    }
  });
});

describe("readJson limits", () => {
  const nested = (levels: number) => "[".repeat(levels) + "]".repeat(levels);

  it("allows exactly maxDepth levels and refuses one more", () => {
    expect(read(nested(5), { maxDepth: 5, maxValues: 100 }).ok).toBe(true);
    expect(read('{"a":{"b":[1,{"c":{}}]}}', { maxDepth: 5, maxValues: 100 }).ok).toBe(true);
    expect(failure(nested(6), { maxDepth: 5, maxValues: 100 })).toEqual({
      ok: false,
      kind: "too_complex",
      problems: [{ path: "/0/0/0/0/0", message: expect.stringContaining("5 levels") }],
    });
    expect(failure('{"a":{"b":[1,{"c":{"d":{}}}]}}', { maxDepth: 5, maxValues: 100 }).problems[0]!.path).toBe("/a/b/1/c/d");
    expect(read("1", { maxDepth: 0, maxValues: 1 }).ok).toBe(true);
    expect(failure("[]", { maxDepth: 0, maxValues: 1 }).kind).toBe("too_complex");
  });

  it("allows exactly maxValues values, keys not counted, and refuses one more", () => {
    // 1 object + 2 strings + 1 array + 3 numbers + 1 literal = 8
    const text = '{"a":"x","b":"y","c":[1,2,3],"d":null}';
    expect(read(text, { maxDepth: 5, maxValues: 8 }).ok).toBe(true);
    expect(failure(text, { maxDepth: 5, maxValues: 7 })).toEqual({
      ok: false,
      kind: "too_complex",
      problems: [{ path: "/", message: expect.stringContaining("7 values") }],
    });
  });

  it("refuses 1.4 MB of empty objects quickly and without building them", () => {
    // Flat, as a body decoded from a Buffer is; a concatenated string would be copied on first read.
    const text = Buffer.from(`[${"{},".repeat(466_000)}{}]`).toString("utf8");
    expect(text.length).toBeGreaterThan(1_390_000);
    const heapBefore = process.memoryUsage().heapUsed;
    const started = performance.now();
    const result = read(text, { maxDepth: 64, maxValues: 10_000 });
    const elapsed = performance.now() - started;
    const grown = process.memoryUsage().heapUsed - heapBefore;
    expect(result).toMatchObject({ ok: false, kind: "too_complex" });
    expect(elapsed).toBeLessThan(200);
    // JSON.parse builds ~466k objects (about 30 MB); the scan allocates almost nothing.
    expect(grown).toBeLessThan(2 * 1024 * 1024);
  });
});

describe("readJson tells the sender exactly what is wrong and where", () => {
  const syntax = (message: string) => ({ ok: false, kind: "syntax", problems: [{ path: "/", message }] });
  const parseMessage = (text: string) => {
    try {
      JSON.parse(text);
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error(`${text} is valid JSON`);
  };

  it.each([
    // Truncated at each kind of token.
    ["", 'Unexpected end of input at position 0 (line 1 column 1); expected a value'],
    ["{", 'Unexpected end of input at position 1 (line 1 column 2); expected a string key'],
    ["[", 'Unexpected end of input at position 1 (line 1 column 2); expected a value'],
    ['{"a"', 'Unexpected end of input at position 4 (line 1 column 5); expected ":"'],
    ['{"a":', 'Unexpected end of input at position 5 (line 1 column 6); expected a value'],
    ['{"a":1', 'Unexpected end of input at position 6 (line 1 column 7); expected "," or "}"'],
    ["[1", 'Unexpected end of input at position 2 (line 1 column 3); expected "," or "]"'],
    ["[1,", 'Unexpected end of input at position 3 (line 1 column 4); expected a value'],
    ['"ab', "Unterminated string at position 0 (line 1 column 1); expected a closing quote"],
    ['["a\\"]', "Unterminated string at position 1 (line 1 column 2); expected a closing quote"],
    ['{"ab', "Unterminated string at position 1 (line 1 column 2); expected a closing quote"],
    ['{"a\\"', "Unterminated string at position 1 (line 1 column 2); expected a closing quote"],
    ["tru", 'Unexpected "t" at position 0 (line 1 column 1); expected a value'],
    ["nul", 'Unexpected "n" at position 0 (line 1 column 1); expected a value'],
    ["fals", 'Unexpected "f" at position 0 (line 1 column 1); expected a value'],
    ["-", 'Unexpected end of input at position 1 (line 1 column 2); expected a digit'],
    ["1.", 'Unexpected end of input at position 2 (line 1 column 3); expected a digit'],
    ["1e", 'Unexpected end of input at position 2 (line 1 column 3); expected a digit'],
    ["1e+", 'Unexpected end of input at position 3 (line 1 column 4); expected a digit'],
    // Characters that cannot continue a token.
    ["x", 'Unexpected "x" at position 0 (line 1 column 1); expected a value'],
    ["+1", 'Unexpected "+" at position 0 (line 1 column 1); expected a value'],
    ["-!", 'Unexpected "!" at position 1 (line 1 column 2); expected a digit'],
    ["-x", 'Unexpected "x" at position 1 (line 1 column 2); expected a digit'],
    ["1.!", 'Unexpected "!" at position 2 (line 1 column 3); expected a digit'],
    ["1.x", 'Unexpected "x" at position 2 (line 1 column 3); expected a digit'],
    ["1e!", 'Unexpected "!" at position 2 (line 1 column 3); expected a digit'],
    ["1ex", 'Unexpected "x" at position 2 (line 1 column 3); expected a digit'],
    ["1e-!", 'Unexpected "!" at position 3 (line 1 column 4); expected a digit'],
    ["{1:2}", 'Unexpected "1" at position 1 (line 1 column 2); expected a string key'],
    ['{"a" 1}', 'Unexpected "1" at position 5 (line 1 column 6); expected ":"'],
    ["[1 2]", 'Unexpected "2" at position 3 (line 1 column 4); expected "," or "]"'],
    ['{"a":1 "b":2}', 'Unexpected "\\"" at position 7 (line 1 column 8); expected "," or "}"'],
    ['{"a\\q":1}', "Invalid escape in the key at position 1 (line 1 column 2); expected only valid escapes"],
    // Leading zeros and trailing garbage.
    ["01", 'Unexpected "1" at position 1 (line 1 column 2); expected the end of the document'],
    ["-01", 'Unexpected "1" at position 2 (line 1 column 3); expected the end of the document'],
    ["[1] x", 'Unexpected "x" at position 4 (line 1 column 5); expected the end of the document'],
    ["truex", 'Unexpected "x" at position 4 (line 1 column 5); expected the end of the document'],
    ["nullx", 'Unexpected "x" at position 4 (line 1 column 5); expected the end of the document'],
    ["falsex", 'Unexpected "x" at position 5 (line 1 column 6); expected the end of the document'],
    ['"\\\\"x', 'Unexpected "x" at position 4 (line 1 column 5); expected the end of the document'],
    // Only space, tab, CR and LF are whitespace; lines and columns count LF.
    ["[\u000b1]", 'Unexpected "\\u000b" at position 1 (line 1 column 2); expected a value'],
    ["[\f1]", 'Unexpected "\\f" at position 1 (line 1 column 2); expected a value'],
    ["[\u00a01]", 'Unexpected "\u00a0" at position 1 (line 1 column 2); expected a value'],
    ["\n\n  x", 'Unexpected "x" at position 4 (line 3 column 3); expected a value'],
    ["\nx", 'Unexpected "x" at position 1 (line 2 column 1); expected a value'],
    ["x\n", 'Unexpected "x" at position 0 (line 1 column 1); expected a value'],
    ["-\n", 'Unexpected "\\n" at position 1 (line 1 column 2); expected a digit'],
    ["[1,\n  }", 'Unexpected "}" at position 6 (line 2 column 3); expected a value'],
  ])("refuses %j with the message %s", (text, message) => {
    expect(read(text)).toEqual(syntax(message));
  });

  it.each([
    '"\\x"',
    '{"a":9007199254740993,"b":"\\x"}',
    '"a\nb"',
    '{"a\u0001":1}',
  ])("passes on JSON.parse's own message for string contents it alone judges: %j", (text) => {
    expect(read(text)).toEqual(syntax(parseMessage(text)));
  });

  it.each([
    " [ 1 , { \"a\" : 2 } , [ ] , { } ] ",
    "\t[\t1\t,\t{\t\"a\"\t:\t2\t}\t,\t[\t]\t,\t{\t}\t]\t",
    "\r[\r1\r,\r{\r\"a\"\r:\r2\r}\r,\r[\r]\r,\r{\r}\r]\r",
    "\n[\n1\n,\n{\n\"a\"\n:\n2\n}\n,\n[\n]\n,\n{\n}\n]\n",
    "\r\n\t [\r\n\t 1\r\n\t ,\r\n\t {\r\n\t \"a\"\r\n\t :\r\n\t 2\r\n\t }\r\n\t ,\r\n\t [\r\n\t ]\r\n\t ,\r\n\t {\r\n\t }\r\n\t ]\r\n\t ",
  ])("accepts whitespace between every token: %j", (text) => {
    expect(read(text)).toEqual({ ok: true, value: [1, { a: 2 }, [], {}] });
  });

  it.each([
    ["1.9", 1.9],
    ["1.0", 1],
    ["-0", -0],
    ["1e0", 1],
    ["1E+09", 1e9],
    ["9e-9", 9e-9],
    ["[0,9,-9,10]", [0, 9, -9, 10]],
    ["9007199254740991", 9007199254740991],
    ["1e308", 1e308],
    ["true", true],
    ["null", null],
    ["false", false],
  ])("accepts %s", (text, value) => {
    expect(read(text)).toEqual({ ok: true, value });
  });

  it.each([
    ["1e309", "/", "1e309 is beyond the range of a double: JSON.parse reads it as Infinity, which is forwarded as null"],
    ['{"a":-1e309}', "/a", "-1e309 is beyond the range of a double: JSON.parse reads it as -Infinity, which is forwarded as null"],
    ["[1e-400]", "/0", "1e-400 is too small for a double: JSON.parse reads it as 0"],
    ["[0,[9007199254740993]]", "/1/0", "9007199254740993 is not exactly representable as a double: JSON.parse reads it as 9007199254740992"],
    ['{"a/b":{"c~d":[0,1e400]}}', "/a~1b/c~0d/1", "1e400 is beyond the range of a double: JSON.parse reads it as Infinity, which is forwarded as null"],
    // Reported as written up to 60 characters; longer ones are cut to 57 and "...".
    [`1${"0".repeat(58)}1`, "/", `1${"0".repeat(58)}1 is not exactly representable as a double: JSON.parse reads it as 1e+59`],
    [`1${"0".repeat(59)}1`, "/", `1${"0".repeat(56)}... is not exactly representable as a double: JSON.parse reads it as 1e+60`],
  ])("refuses the number in %s at %s: %s", (text, path, message) => {
    expect(read(text)).toEqual({ ok: false, kind: "not_exact", problems: [{ path, message }] });
  });

  const twice = (key: string) => `has the key ${key} more than once; JSON.parse would keep only the last`;

  it.each([
    ['{"a":1,"a":2}', "/", '"a"'],
    ['{"a":1,"\\u0061":2}', "/", '"a"'],
    ['{"a":[1],"a":2}', "/", '"a"'],
    ['{"a":{"b":{}},"a":2}', "/", '"a"'],
    ['[{"a":1},{"b":1,"b":2}]', "/1", '"b"'],
    ['{"x/y":{"~":{"k":1,"k":2}}}', "/x~1y/~0", '"k"'],
    [`{"${"k".repeat(58)}":1,"${"k".repeat(58)}":2}`, "/", `"${"k".repeat(58)}"`],
    [`{"${"k".repeat(59)}":1,"${"k".repeat(59)}":2}`, "/", `"${"k".repeat(56)}...`],
  ])("refuses the duplicate key in %s at %s", (text, path, key) => {
    expect(read(text)).toEqual({ ok: false, kind: "not_exact", problems: [{ path, message: twice(key) }] });
  });

  const keys = (count: number) => Array.from({ length: count }, (_, n) => `"k${n}":${n}`);

  it.each([1, 15, 16, 17, 40])("finds a repeat of any of %i keys, however many came before", (count) => {
    expect(read(`{${keys(count).join(",")}}`).ok).toBe(true);
    for (let n = 0; n < count; n++) {
      expect(read(`{${keys(count).join(",")},"k${n}":0}`)).toEqual({ ok: false, kind: "not_exact", problems: [{ path: "/", message: twice(`"k${n}"`) }] });
    }
  });

  it("does not mistake a key of a closed nested object for one of its parent, with few or many keys", () => {
    for (const count of [14, 15, 16, 17, 30]) {
      const text = `{${keys(count).join(",")},"n":{"z":1,"y":{"x":1}},"after":1,"z":2,"y":3,"x":4}`;
      expect(read(text)).toEqual({ ok: true, value: JSON.parse(text) });
    }
  });

  it("reports at most 20 duplicate keys and 20 problems in all", () => {
    const duplicates = `[${Array.from({ length: 25 }, () => '{"a":1,"a":2}').join(",")}]`;
    const result = read(duplicates);
    expect(result).toEqual({ ok: false, kind: "not_exact", problems: Array.from({ length: 20 }, (_, n) => ({ path: `/${n}`, message: twice('"a"') })) });
    const mixed = `[${Array.from({ length: 19 }, () => "1e400").join(",")},{"a":1,"a":2},1e400]`;
    const capped = failure(mixed);
    expect(capped.problems).toHaveLength(20);
    expect(capped.problems[19]).toEqual({ path: "/19", message: twice('"a"') });
  });

  it("refuses one value more than maxValues with an exact message, counting nothing for keys", () => {
    const text = '{"a":"x","b":[1,true]}'; // object, string, array, number, literal = 5
    expect(read(text, { maxDepth: 2, maxValues: 5 })).toEqual({ ok: true, value: JSON.parse(text) });
    expect(read(text, { maxDepth: 2, maxValues: 4 })).toEqual({ ok: false, kind: "too_complex", problems: [{ path: "/", message: "has more than 4 values" }] });
  });

  it("refuses one level more than maxDepth with an exact message and path", () => {
    const text = '{"a":[{"b":[]}]}';
    expect(read(text, { maxDepth: 4, maxValues: 10 })).toEqual({ ok: true, value: JSON.parse(text) });
    expect(read(text, { maxDepth: 3, maxValues: 10 })).toEqual({ ok: false, kind: "too_complex", problems: [{ path: "/a/0/b", message: "nests deeper than 3 levels" }] });
  });
});
