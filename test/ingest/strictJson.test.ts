import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { read, failure } from "../helpers/readJson.ts";

describe("readJson on valid, exact documents", () => {
  it.each([
    '{"object":"event","id":"evt_1","data":{"items":[{"n":1},{"n":2.5}],"ok":true,"none":null}}',
    '  [1, -2, 3.25, 1e2, 1.0, 1.50, -0, 0e5, 0.0, true, false, null, "", {}, []]\n',
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
    expect(result.problems.map((p) => p.message)).toEqual([
      expect.stringContaining('"k3"'),
      expect.stringContaining('"k29"'),
    ]);
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
    ["{1:2}", "position 1"],
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

  it.each(['"\\x"', '"a\nb"', '"\t"', '["\\u12"]', '{"a\u0001":1}'])(
    "leaves string contents to JSON.parse: %j",
    (text) => {
      const result = failure(text);
      expect(result.kind).toBe("syntax");
      expect(result.problems[0]!.message).toMatch(/position/);
    },
  );

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
        text =
          op === 0
            ? text.slice(0, at) + text.slice(at + 1)
            : op === 1
              ? text.slice(0, at) + ch + text.slice(at)
              : text.slice(0, at) + ch + text.slice(at + 1);
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
    expect(failure('{"a":{"b":[1,{"c":{"d":{}}}]}}', { maxDepth: 5, maxValues: 100 }).problems[0]!.path).toBe(
      "/a/b/1/c/d",
    );
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
