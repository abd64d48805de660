// parseJson / parseJsonIntegersAsBigint: no int64 precision loss, clear errors; checked against lossless-json.
import { parse as losslessParse } from "lossless-json";
import { describe, expect, it } from "vitest";
import { DecodeError } from "../../src/decode/change-event.js";
import { parseJson, parseJsonIntegersAsBigint, stringifyJson } from "../../src/decode/json-text.js";

describe("parseJson", () => {
  it("keeps unsafe integers exact as bigint, safe ones as number", () => {
    expect(parseJson('{"ts_ns":1710497311110402000,"id":1,"max":9223372036854775807}')).toEqual({
      ts_ns: 1710497311110402000n,
      id: 1,
      max: 9223372036854775807n,
    });
    expect(parseJson("9007199254740993")).toBe(9007199254740993n);
    expect(parseJson("9007199254740991")).toBe(9007199254740991);
    expect(parseJson("[-9223372036854775808]")).toEqual([-9223372036854775808n]);
  });

  it("leaves doubles and digit runs inside strings alone", () => {
    expect(parseJson("[1.2345678901234567E19, 0.12345678901234567, 1e300]")).toEqual([
      Number("1.2345678901234567E19"),
      Number("0.12345678901234567"),
      1e300,
    ]);
    expect(
      parseJson('{"s":"12345678901234567890","e":"a\\"12345678901234567890","n":12345678901234567890}'),
    ).toEqual({
      s: "12345678901234567890",
      e: 'a"12345678901234567890',
      n: 12345678901234567890n,
    });
  });

  it.each(["", "nope", "{", '{"a":1,}', "[1 2]", "1 2", "{'a':1}"])("rejects %j with DecodeError", (text) => {
    expect(() => parseJson(text)).toThrow(DecodeError);
    expect(() => parseJson(text)).toThrow(/not JSON/);
  });
});

describe("parseJsonIntegersAsBigint", () => {
  it("turns every integer literal into bigint and every other number into number", () => {
    expect(
      parseJsonIntegersAsBigint('{"a":1,"b":-0,"c":1.0,"d":1e3,"e":[2,2.5],"f":12345678901234567890}'),
    ).toEqual({
      a: 1n,
      b: 0n,
      c: 1,
      d: 1000,
      e: [2n, 2.5],
      f: 12345678901234567890n,
    });
  });

  it("decodes strings with escapes and unicode", () => {
    expect(parseJsonIntegersAsBigint('["a\\"b\\\\c\\u00e9\\n", "Zoë"]')).toEqual(['a"b\\cé\n', "Zoë"]);
  });

  it.each([
    ['{"a":1,"b":[1,2,{"c":-3}],"d":"x:1.5"}', { a: 1n, b: [1n, 2n, { c: -3n }], d: "x:1.5" }],
    ['{"a":"12:30.5","b":7}', { a: "12:30.5", b: 7n }],
    ['{"v":"2.7.3.Final","n":12, "m": [ 3.5]}', { v: "2.7.3.Final", n: 12n, m: [3.5] }],
    [" 5", 5n],
    ["5.5", 5.5],
  ])("reads %s exactly whether or not it takes the native parse", (text, value) => {
    expect(parseJsonIntegersAsBigint(text)).toEqual(value);
  });

  it('keeps a member named "__proto__" as data, not as the prototype', () => {
    const v = parseJsonIntegersAsBigint('{"__proto__":5,"x":{"__proto__":{"y":2}}}') as Record<
      string,
      unknown
    >;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(v, "__proto__")?.value).toBe(5n);
    const x = v.x as Record<string, unknown>;
    expect(Object.getPrototypeOf(x)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(x, "__proto__")?.value).toEqual({ y: 2n });
  });

  it.each(["", "[1,", '{"a" 1}', "01", "-", "1.", "tru", '"\\x"', "[1] x"])("rejects %j", (text) => {
    expect(() => parseJsonIntegersAsBigint(text)).toThrow(DecodeError);
  });
});

describe("against lossless-json on random documents", () => {
  // deterministic PRNG so a failure is reproducible
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const digits = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 10)).join("");
  const randomNumber = (): string => {
    const sign = rand() < 0.3 ? "-" : "";
    const int = rand() < 0.1 ? "0" : "1" + digits(Math.floor(rand() * 20));
    const kind = rand();
    if (kind < 0.6) return sign + int;
    if (kind < 0.8) return sign + int + "." + digits(1 + Math.floor(rand() * 18));
    return sign + int + "e" + Math.floor(rand() * 20);
  };
  const randomValue = (depth: number): string => {
    const r = rand();
    if (depth > 3 || r < 0.4) return randomNumber();
    if (r < 0.5) return JSON.stringify("x" + digits(Math.floor(rand() * 25)) + (rand() < 0.3 ? '"\\' : ""));
    if (r < 0.55) return ["true", "false", "null"][Math.floor(rand() * 3)] as string;
    if (r < 0.8)
      return (
        "[" + Array.from({ length: Math.floor(rand() * 5) }, () => randomValue(depth + 1)).join(", ") + "]"
      );
    const keys = Array.from(
      { length: Math.floor(rand() * 5) },
      (_, i) => `"k${i}": ${randomValue(depth + 1)}`,
    );
    return "{" + keys.join(",") + "}";
  };
  const docs = Array.from({ length: 400 }, () => randomValue(0));
  // short integers only (the native path), with number-like text inside strings
  const shortInts = docs.map((d) =>
    d.replace(/-?\d+(?:\.\d+)?(?:e\d+)?(?=[,\]} ]|$)/g, (m) => String(parseInt(m, 10) % 100000)),
  );
  shortInts.push('{"s":"a:1.5","t":"[2e3","n":[1, -2, {"k": 30}]}');

  it("parseJson matches (bigint only for unsafe integers)", () => {
    const exact = (s: string) => {
      if (!/^-?\d+$/.test(s)) return Number(s);
      return Number.isSafeInteger(Number(s)) ? Number(s) : BigInt(s);
    };
    for (const doc of docs) expect(parseJson(doc), doc).toEqual(losslessParse(doc, null, exact));
  });

  it("parseJsonIntegersAsBigint matches (bigint for every integer)", () => {
    const ints = (s: string) => (/^-?\d+$/.test(s) ? BigInt(s) : Number(s));
    for (const doc of [...docs, ...shortInts])
      expect(parseJsonIntegersAsBigint(doc), doc).toEqual(losslessParse(doc, null, ints));
  });
});

describe("stringifyJson", () => {
  it("writes bigints as integer literals that parse back exactly", () => {
    const value = { a: 12345678901234567890n, b: [1, "x", null, true], c: { d: -1n } };
    expect(stringifyJson(value)).toBe('{"a":12345678901234567890,"b":[1,"x",null,true],"c":{"d":-1}}');
    expect(parseJsonIntegersAsBigint(stringifyJson(value))).toEqual({ ...value, b: [1n, "x", null, true] });
  });
});
