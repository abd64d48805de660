// The bounded line reader of replay and embedded `run`: what each input line becomes.
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { HEAD_BYTES, readRecords, unreadableRecord, type InputItem } from "../../src/decode/line-reader.js";

async function read(input: string | Buffer | Iterable<Buffer>, maxRecordBytes = 1000): Promise<InputItem[]> {
  const stream =
    typeof input === "string" || Buffer.isBuffer(input) ? Readable.from([input]) : Readable.from(input);
  const items: InputItem[] = [];
  for await (const item of readRecords(stream, { maxRecordBytes })) items.push(item);
  return items;
}

/** The items in short form: record text, "skipped N", or "rejected <first>-<last>: message". */
function show(items: InputItem[]): string[] {
  return items.map((i) =>
    i.kind === "record"
      ? `${i.first}-${i.last}: ${i.text}`
      : i.kind === "skipped"
        ? `skipped ${i.line}`
        : `rejected ${i.first}-${i.last}: ${i.error.message}`,
  );
}

describe("line reader", () => {
  it("one record per LF-terminated line, the last line without LF too", async () => {
    expect(show(await read('{"a":1}\n{"b":2}\n{"c":3}'))).toEqual([
      '1-1: {"a":1}',
      '2-2: {"b":2}',
      '3-3: {"c":3}',
    ]);
  });

  it("blank lines (JSON white space only) are skipped items, with their line numbers", async () => {
    expect(show(await read('\n{"a":1}\n \t\r\n\n{"b":2}\n'))).toEqual([
      "skipped 1",
      '2-2: {"a":1}',
      "skipped 3",
      "skipped 4",
      '5-5: {"b":2}',
    ]);
  });

  it("a BOM is skipped, a CR is white space (CRLF ends, a bare CR between tokens), never a line break", async () => {
    const items = await read('\uFEFF{"a":1}\r\n{"b":\r2}\r\n');
    expect(show(items)).toEqual(['1-1: {"a":1}\r', '2-2: {"b":\r2}\r']);
    for (const i of items) if (i.kind === "record") expect(() => JSON.parse(i.text) as unknown).not.toThrow();
  });

  it("lines split across chunks anywhere (even inside a UTF-8 character) are joined exactly", async () => {
    const text = '{"name":"Zoë 😀"}\n{"b":2}\n';
    const bytes = Buffer.from(text, "utf8");
    const chunks = [...bytes].map((b) => Buffer.from([b]));
    expect(show(await read(chunks))).toEqual(['1-1: {"name":"Zoë 😀"}', '2-2: {"b":2}']);
  });

  it("a pretty-printed value is one record spanning its lines", async () => {
    const pretty = JSON.stringify(
      { topic: "t", payload: '{"x": "}"}', nested: { a: [1, { b: 2 }] } },
      null,
      2,
    );
    const items = await read(`${pretty}\n{"b":2}\n`);
    expect(items).toHaveLength(2);
    const first = items[0]!;
    expect(first.kind === "record" && JSON.parse(first.text)).toEqual(JSON.parse(pretty));
    expect([first.kind === "record" && first.first, first.kind === "record" && first.last]).toEqual([
      1,
      pretty.split("\n").length,
    ]);
    expect(show(items)[1]).toBe(`${pretty.split("\n").length + 1}-${pretty.split("\n").length + 1}: {"b":2}`);
  });

  it("a value never closed is one rejected item: at the end of input, or where a new value starts", async () => {
    expect(show(await read('{\n  "a": 1,\n  "b": [\n'))).toEqual([
      "rejected 1-3: line 1: the JSON value it opens is not closed at the end of the input " +
        "(input is one record per line, or a pretty-printed value whose lines are joined until it closes)",
    ]);
    const items = show(await read('{"a": 1,\n{"b":2}\n{"c":3}\n'));
    expect(items[0]).toMatch(/^rejected 1-1: line 1: the JSON value it opens is not closed before line 2/);
    expect(items.slice(1)).toEqual(['2-2: {"b":2}', '3-3: {"c":3}']);
  });

  it("a malformed single line stays one record (its JSON error is the decoder's)", async () => {
    expect(show(await read('{not json}\n"x\n]\n{"a":1}\n'))).toEqual([
      "1-1: {not json}",
      '2-2: "x',
      "3-3: ]",
      '4-4: {"a":1}',
    ]);
  });

  it("a line over maxRecordBytes is rejected while read, keeping only its head", async () => {
    const items = await read(`{"a":"${"x".repeat(5000)}"}\n{"b":2}\n`, 1000);
    expect(show(items)).toEqual([
      "rejected 1-1: line 1 of 5008 bytes exceeds limits.maxRecordBytes (1000)",
      '2-2: {"b":2}',
    ]);
    const rejected = items[0] as Extract<InputItem, { kind: "rejected" }>;
    expect(rejected.error.name).toBe("RecordTooLargeError");
    expect(rejected.bytes).toBe(5008);
    expect(rejected.head.toString()).toBe(`{"a":"${"x".repeat(5000)}"}`.slice(0, rejected.head.length));
  });

  it("a multi-line value over maxRecordBytes is one rejected item", async () => {
    const lines = [
      "{",
      ...Array.from({ length: 50 }, (_, i) => `  "k${i}": "${"v".repeat(40)}",`),
      '  "end": 1',
      "}",
    ];
    expect(show(await read(lines.join("\n") + '\n{"b":2}\n', 1000))).toEqual([
      `rejected 1-53: lines 1-53 of ${Buffer.byteLength(lines.join("\n"))} bytes exceeds limits.maxRecordBytes (1000)`,
      '54-54: {"b":2}',
    ]);
  });

  it("bytes that are not UTF-8 are rejected, the exact bytes kept", async () => {
    const bad = Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xe2, 0x28, 0xa1]), Buffer.from('"}')]);
    const items = await read(Buffer.concat([bad, Buffer.from('\n{"b":2}\n')]));
    expect(show(items)).toEqual([
      "rejected 1-1: line 1 is not valid UTF-8 text (at byte 7): decoding it would change the record",
      '2-2: {"b":2}',
    ]);
    expect((items[0] as Extract<InputItem, { kind: "rejected" }>).head.equals(bad)).toBe(true);
    // overlong encodings, surrogates and truncated sequences too
    for (const seq of [
      [0xc0, 0xaf],
      [0xed, 0xa0, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0xe2, 0x82],
    ]) {
      const [item] = await read(Buffer.concat([Buffer.from('{"a":"'), Buffer.from(seq), Buffer.from('"}')]));
      expect(item!.kind, seq.join(",")).toBe("rejected");
    }
  });

  it("UTF-16 input (its byte-order mark) is one rejected item, not one per line", async () => {
    const text = '{"a":1}\n{"b":2}\n{"c":3}\n';
    for (const bytes of [
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")]),
      Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, "utf16le").swap16()]),
    ]) {
      const items = await read(bytes);
      expect(show(items)).toEqual([
        expect.stringMatching(
          /^rejected 1-[34]: the input is UTF-16 \(it starts with a UTF-16 byte-order mark\): JSON lines are UTF-8 \(convert it, e\.g\. iconv -f UTF-16 -t UTF-8\)$/,
        ),
      ]);
      expect((items[0] as Extract<InputItem, { kind: "rejected" }>).bytes).toBe(bytes.length);
    }
  });

  it("a huge line is streamed past with bounded memory (never built as a string)", async () => {
    const chunk = Buffer.alloc(1024 * 1024, 0x78); // 1 MiB of "x"
    const total = 256; // a 256 MiB line
    function* chunks(): Generator<Buffer> {
      yield Buffer.from('{"a":"');
      for (let i = 0; i < total; i++) yield chunk;
      yield Buffer.from('"}\n{"b":2}\n');
    }
    const before = process.memoryUsage();
    let peak = 0;
    const items: InputItem[] = [];
    for await (const item of readRecords(Readable.from(chunks()), { maxRecordBytes: 8 * 1024 * 1024 })) {
      items.push(item);
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    const rejected = items[0] as Extract<InputItem, { kind: "rejected" }>;
    expect(rejected.kind).toBe("rejected");
    expect(rejected.bytes).toBe(total * 1024 * 1024 + 8);
    expect(rejected.head.length).toBe(HEAD_BYTES);
    expect(show(items.slice(1))).toEqual(['2-2: {"b":2}']);
    // far less than the line: nothing of it is kept beyond the head
    expect(peak - before.rss).toBeLessThan(100 * 1024 * 1024);
  });

  it("unreadable input is still a record: of the input's topic, at its line, carrying its error", async () => {
    const [item] = await read('{"a":"' + "x".repeat(2000) + '"}\n', 1000);
    const record = unreadableRecord(item as Exclude<InputItem, { kind: "skipped" }>, "replay-input");
    expect(record).toMatchObject({ topic: "replay-input", offset: "0", key: null });
    expect(record.rejected?.bytes).toBe(2008);
    expect(record.rejected?.error.message).toMatch(/maxRecordBytes/);
    const [text] = await read("[1,2]\n");
    const parsed = unreadableRecord(
      text as Exclude<InputItem, { kind: "skipped" }>,
      "t",
      new Error("not a kcat record: expected a JSON object, got array"),
    );
    expect(parsed.value?.toString()).toBe("[1,2]");
    expect(parsed.rejected?.error.message).toBe(
      "line 1: not a kcat record: expected a JSON object, got array",
    );
  });
});
