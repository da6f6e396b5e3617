import { describe, expect, it } from "vitest";
import { read, failure } from "../helpers/readJson.ts";

// The exact result a sender sees for each kind of problem (strictJson.test.ts: the behaviour).
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
    ["", "Unexpected end of input at position 0 (line 1 column 1); expected a value"],
    ["{", "Unexpected end of input at position 1 (line 1 column 2); expected a string key"],
    ["[", "Unexpected end of input at position 1 (line 1 column 2); expected a value"],
    ['{"a"', 'Unexpected end of input at position 4 (line 1 column 5); expected ":"'],
    ['{"a":', "Unexpected end of input at position 5 (line 1 column 6); expected a value"],
    ['{"a":1', 'Unexpected end of input at position 6 (line 1 column 7); expected "," or "}"'],
    ["[1", 'Unexpected end of input at position 2 (line 1 column 3); expected "," or "]"'],
    ["[1,", "Unexpected end of input at position 3 (line 1 column 4); expected a value"],
    ['"ab', "Unterminated string at position 0 (line 1 column 1); expected a closing quote"],
    ['["a\\"]', "Unterminated string at position 1 (line 1 column 2); expected a closing quote"],
    ['{"ab', "Unterminated string at position 1 (line 1 column 2); expected a closing quote"],
    ['{"a\\"', "Unterminated string at position 1 (line 1 column 2); expected a closing quote"],
    ["tru", 'Unexpected "t" at position 0 (line 1 column 1); expected a value'],
    ["nul", 'Unexpected "n" at position 0 (line 1 column 1); expected a value'],
    ["fals", 'Unexpected "f" at position 0 (line 1 column 1); expected a value'],
    ["-", "Unexpected end of input at position 1 (line 1 column 2); expected a digit"],
    ["1.", "Unexpected end of input at position 2 (line 1 column 3); expected a digit"],
    ["1e", "Unexpected end of input at position 2 (line 1 column 3); expected a digit"],
    ["1e+", "Unexpected end of input at position 3 (line 1 column 4); expected a digit"],
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

  it.each(['"\\x"', '{"a":9007199254740993,"b":"\\x"}', '"a\nb"', '{"a\u0001":1}'])(
    "passes on JSON.parse's own message for string contents it alone judges: %j",
    (text) => {
      expect(read(text)).toEqual(syntax(parseMessage(text)));
    },
  );

  it.each([
    ' [ 1 , { "a" : 2 } , [ ] , { } ] ',
    '\t[\t1\t,\t{\t"a"\t:\t2\t}\t,\t[\t]\t,\t{\t}\t]\t',
    '\r[\r1\r,\r{\r"a"\r:\r2\r}\r,\r[\r]\r,\r{\r}\r]\r',
    '\n[\n1\n,\n{\n"a"\n:\n2\n}\n,\n[\n]\n,\n{\n}\n]\n',
    '\r\n\t [\r\n\t 1\r\n\t ,\r\n\t {\r\n\t "a"\r\n\t :\r\n\t 2\r\n\t }\r\n\t ,\r\n\t [\r\n\t ]\r\n\t ,\r\n\t {\r\n\t }\r\n\t ]\r\n\t ',
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
    [
      "1e309",
      "/",
      "1e309 is beyond the range of a double: JSON.parse reads it as Infinity, which is forwarded as null",
    ],
    [
      '{"a":-1e309}',
      "/a",
      "-1e309 is beyond the range of a double: JSON.parse reads it as -Infinity, which is forwarded as null",
    ],
    ["[1e-400]", "/0", "1e-400 is too small for a double: JSON.parse reads it as 0"],
    [
      "[0,[9007199254740993]]",
      "/1/0",
      "9007199254740993 is not exactly representable as a double: JSON.parse reads it as 9007199254740992",
    ],
    [
      '{"a/b":{"c~d":[0,1e400]}}',
      "/a~1b/c~0d/1",
      "1e400 is beyond the range of a double: JSON.parse reads it as Infinity, which is forwarded as null",
    ],
    // Reported as written up to 60 characters; longer ones are cut to 57 and "...".
    [
      `1${"0".repeat(58)}1`,
      "/",
      `1${"0".repeat(58)}1 is not exactly representable as a double: JSON.parse reads it as 1e+59`,
    ],
    [
      `1${"0".repeat(59)}1`,
      "/",
      `1${"0".repeat(56)}... is not exactly representable as a double: JSON.parse reads it as 1e+60`,
    ],
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
      expect(read(`{${keys(count).join(",")},"k${n}":0}`)).toEqual({
        ok: false,
        kind: "not_exact",
        problems: [{ path: "/", message: twice(`"k${n}"`) }],
      });
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
    expect(result).toEqual({
      ok: false,
      kind: "not_exact",
      problems: Array.from({ length: 20 }, (_, n) => ({ path: `/${n}`, message: twice('"a"') })),
    });
    const mixed = `[${Array.from({ length: 19 }, () => "1e400").join(",")},{"a":1,"a":2},1e400]`;
    const capped = failure(mixed);
    expect(capped.problems).toHaveLength(20);
    expect(capped.problems[19]).toEqual({ path: "/19", message: twice('"a"') });
  });

  it("refuses one value more than maxValues with an exact message, counting nothing for keys", () => {
    const text = '{"a":"x","b":[1,true]}'; // object, string, array, number, literal = 5
    expect(read(text, { maxDepth: 2, maxValues: 5 })).toEqual({ ok: true, value: JSON.parse(text) });
    expect(read(text, { maxDepth: 2, maxValues: 4 })).toEqual({
      ok: false,
      kind: "too_complex",
      problems: [{ path: "/", message: "has more than 4 values" }],
    });
  });

  it("refuses one level more than maxDepth with an exact message and path", () => {
    const text = '{"a":[{"b":[]}]}';
    expect(read(text, { maxDepth: 4, maxValues: 10 })).toEqual({ ok: true, value: JSON.parse(text) });
    expect(read(text, { maxDepth: 3, maxValues: 10 })).toEqual({
      ok: false,
      kind: "too_complex",
      problems: [{ path: "/a/0/b", message: "nests deeper than 3 levels" }],
    });
  });
});
