// What a reader knew of a record value when it made its bytes (kcat-fast.ts: a JsonConverter value whose escaped
// schema part equals the topic's previous one): the shared prefix `{"schema":S,"payload":` and the decoded rest
// of the value. The JsonConverter decoder (debezium-json.ts) then takes the rest as the payload text instead of
// searching the bytes for the split and decoding them to text again. Keyed by the very Buffer: a copy or a
// slice of it (a stripped byte-order mark) is not known, and takes the usual path.

/** A prefix shared by the values of a topic; `compiled` is the decoder's (its schema compiled once, or null). */
export interface ValuePrefix {
  /** the UTF-8 bytes of `{"schema":S,"payload":` */
  readonly bytes: Buffer;
  compiled?: unknown;
}

export interface ValueParts {
  prefix: ValuePrefix;
  /** the value's text after the prefix: the payload, the closing brace, any white space */
  rest: string;
}

const known = new WeakMap<Buffer, ValueParts>();

export function rememberValueParts(bytes: Buffer, parts: ValueParts): void {
  known.set(bytes, parts);
}

export function valueParts(bytes: Buffer): ValueParts | undefined {
  return known.get(bytes);
}
