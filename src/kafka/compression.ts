// Kafka record-batch compression for kafkajs: gzip, snappy, lz4 and zstd codecs, and errors that say which
// topic, partition, offset and codec a batch that cannot be decompressed came from.
//
// kafkajs 2.2.4 ships gzip only and throws "LZ4 compression not implemented" (etc.) for the others; its codec
// table (CompressionCodecs) is global to the process, so registering here serves every kafkajs client:
// the worker's consumer and producers, `migrate` readers and backfill.
//
// kafkajs decodes a whole Fetch response at once and a codec only sees bytes, so a codec error alone cannot
// say where the batch is. The Fetch response decoders are therefore wrapped (locateDecompressionFailure): when
// decoding fails in one of these codecs, the raw response is walked to find the batch; the records of that
// partition before it are still delivered, and the fetch that starts at the batch fails with a
// BatchDecompressionError. kafkajs does not retry it (retriable = false): the consumer crashes without restart
// and the transport stops the worker with that error.
import { createRequire } from "node:module";
import { promisify } from "node:util";
import { gzip, unzip, zstdCompress, zstdDecompress } from "node:zlib";
import kafkajs, { CompressionTypes } from "kafkajs";
import { compressFrame, decompressFrame } from "lz4-napi";
import type { KafkaCompression } from "../config/pipeline-config.js";
import { ChangecastError } from "../errors.js";

export type CodecName = Exclude<KafkaCompression, "none">;

/** The kafkajs compression type of a `kafka.compression` value (undefined: none). */
export function compressionType(compression: KafkaCompression): CompressionTypes | undefined {
  switch (compression) {
    case "none":
      return undefined;
    case "gzip":
      return CompressionTypes.GZIP;
    case "snappy":
      return CompressionTypes.Snappy;
    case "lz4":
      return CompressionTypes.LZ4;
    case "zstd":
      return CompressionTypes.ZSTD;
  }
}

/** Codec of a record batch's attributes (bits 0–2), as Kafka numbers them. */
const CODEC_BY_ID: Record<number, CodecName> = { 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd" };

/**
 * A codec failed on a batch. Not retriable: the same bytes fail again, so kafkajs must give up instead of
 * refetching them forever. The underlying error is in the message, not in `cause` (kafkajs replaces an
 * error by its cause when it wraps it, and the codec name would be lost).
 */
export class CompressionCodecError extends ChangecastError {
  override readonly name = "CompressionCodecError";
  readonly code = "PUBLISH_COMPRESSION_CODEC";
  constructor(
    readonly codec: CodecName,
    readonly operation: "compress" | "decompress",
    detail: string,
  ) {
    super(`${codec} ${operation === "compress" ? "compression" : "decompression"} failed: ${detail}`);
  }
}

/** A fetched record batch that cannot be decompressed, with where it is. */
export class BatchDecompressionError extends ChangecastError {
  override readonly name = "BatchDecompressionError";
  readonly code = "PUBLISH_BATCH_DECOMPRESSION";
  constructor(
    readonly topic: string,
    readonly partition: number,
    /** base offset of the batch */
    readonly offset: string,
    /** offset of its last record (when the batch header says) */
    readonly lastOffset: string | null,
    readonly codec: CodecName,
    readonly detail: string,
  ) {
    const range = lastOffset && lastOffset !== offset ? ` (records ${offset}–${lastOffset})` : "";
    super(
      `cannot decompress the record batch at topic ${topic} partition ${partition} offset ${offset}${range}, ` +
        `codec ${codec}: ${detail}. Nothing from this offset on was mapped or committed in this partition.`,
    );
  }
}

/** The first BatchDecompressionError in an error's cause chain (kafkajs wraps what it rethrows). */
export function findBatchDecompressionError(err: unknown): BatchDecompressionError | null {
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < 8; depth++) {
    if (e instanceof BatchDecompressionError) return e;
    e = e.cause;
  }
  return null;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const gzipAsync = promisify(gzip);
const unzipAsync = promisify(unzip);
const zstdCompressAsync = promisify(zstdCompress);
const zstdDecompressAsync = promisify(zstdDecompress);

/** zlib's asynchronous calls hop to the thread pool once per output chunk (16 KiB by default): fewer hops. */
const ZLIB_CHUNK = { chunkSize: 64 * 1024 };

interface SnappyCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}
// kafkajs-snappy (CommonJS, no types): raw snappy out; raw and xerial-framed (Java clients) snappy in
const snappy = (createRequire(import.meta.url)("kafkajs-snappy") as () => SnappyCodec)();

/**
 * The raw codecs (no kafkajs framing). All asynchronous: zlib and lz4-napi work off the main thread, so a big
 * batch does not hold up the consumer's heartbeats.
 *
 * lz4 is the LZ4 *frame* format, which Kafka (magic ≥ 1), librdkafka and the Java client use: version 1,
 * independent 64 KB blocks, no block or content checksum — what Kafka's Java Lz4BlockOutputStream writes and
 * the only block mode its reader accepts ("Dependent block stream is unsupported").
 */
const RAW: Record<
  CodecName,
  { compress(b: Buffer): Promise<Buffer>; decompress(b: Buffer): Promise<Buffer> }
> = {
  gzip: { compress: (b) => gzipAsync(b, ZLIB_CHUNK), decompress: (b) => unzipAsync(b, ZLIB_CHUNK) },
  snappy: {
    compress: (b) => snappy.compress({ buffer: b }),
    decompress: (b) => {
      checkSnappy(b);
      return snappy.decompress(b);
    },
  },
  lz4: {
    compress: (b) => compressFrame(b, { contentChecksum: false, blockChecksums: false }),
    decompress: (b) => decompressFrame(b),
  },
  zstd: {
    compress: (b) => zstdCompressAsync(b, ZLIB_CHUNK),
    decompress: (b) => zstdDecompressAsync(b, ZLIB_CHUNK),
  },
};

const XERIAL_HEADER = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);

/**
 * Checks the structure of a snappy batch before snappyjs decodes it: snappyjs writes past a short output or
 * stops early without a word, so a truncated or garbled block would come out as wrong bytes (which kafkajs
 * may then take for a partial batch and silently refetch forever). Raw snappy has no checksum; what can be
 * checked — and what librdkafka checks — is that every tag is complete, every copy points into the output
 * so far, and the block produces exactly its declared length. Xerial framing (Java clients): a 16-byte
 * header, then chunks of [int32 length][raw block], each complete.
 */
export function checkSnappy(data: Buffer): void {
  if (data.length >= 16 && data.subarray(0, 8).equals(XERIAL_HEADER)) {
    let pos = 16;
    while (pos < data.length) {
      if (pos + 4 > data.length) throw new Error("truncated xerial chunk header");
      const size = data.readInt32BE(pos);
      pos += 4;
      if (size < 0 || pos + size > data.length) throw new Error("truncated xerial chunk");
      checkSnappyBlock(data.subarray(pos, pos + size));
      pos += size;
    }
    return;
  }
  checkSnappyBlock(data);
}

function checkSnappyBlock(b: Buffer): void {
  let pos = 0;
  let declared = 0;
  for (let shift = 0; ; shift += 7) {
    if (pos >= b.length || shift > 28) throw new Error("invalid snappy length header");
    const c = b[pos++]!;
    declared += (c & 0x7f) * 2 ** shift;
    if (c < 0x80) break;
  }
  let out = 0;
  while (pos < b.length) {
    const tag = b[pos++]!;
    let len: number;
    if ((tag & 3) === 0) {
      len = tag >> 2;
      if (len >= 60) {
        const extra = len - 59;
        if (pos + extra > b.length) throw new Error("truncated snappy literal");
        len = b.readUIntLE(pos, extra);
        pos += extra;
      }
      len += 1;
      if (pos + len > b.length) throw new Error("truncated snappy literal");
      pos += len;
    } else {
      let offset: number;
      if ((tag & 3) === 1) {
        if (pos + 1 > b.length) throw new Error("truncated snappy copy");
        len = ((tag >> 2) & 7) + 4;
        offset = ((tag >> 5) << 8) | b[pos++]!;
      } else {
        const width = (tag & 3) === 2 ? 2 : 4;
        if (pos + width > b.length) throw new Error("truncated snappy copy");
        len = (tag >> 2) + 1;
        offset = b.readUIntLE(pos, width);
        pos += width;
      }
      if (offset === 0 || offset > out) throw new Error("snappy copy before the start of the output");
    }
    out += len;
    if (out > declared) throw new Error(`snappy block longer than its declared ${declared} bytes`);
  }
  if (out !== declared) throw new Error(`snappy block of ${out} bytes, ${declared} declared`);
}

/** Batches compressed / decompressed per codec in this process (what the tests check really happened). */
export interface CodecCounts {
  compressed: number;
  decompressed: number;
}
const counts: Record<CodecName, CodecCounts> = {
  gzip: { compressed: 0, decompressed: 0 },
  snappy: { compressed: 0, decompressed: 0 },
  lz4: { compressed: 0, decompressed: 0 },
  zstd: { compressed: 0, decompressed: 0 },
};
export function codecCounts(): Record<CodecName, CodecCounts> {
  return structuredClone(counts);
}

/** Compresses with a codec; errors name the codec. */
export async function compress(codec: CodecName, data: Buffer): Promise<Buffer> {
  try {
    const out = await RAW[codec].compress(data);
    counts[codec].compressed++;
    return out;
  } catch (err) {
    throw new CompressionCodecError(codec, "compress", message(err));
  }
}

/** Decompresses with a codec; errors name the codec. */
export async function decompress(codec: CodecName, data: Buffer): Promise<Buffer> {
  let out: Buffer;
  try {
    out = await RAW[codec].decompress(data);
  } catch (err) {
    throw new CompressionCodecError(codec, "decompress", message(err));
  }
  counts[codec].decompressed++;
  return out;
}

/** The codec object kafkajs expects: compress gets its Encoder, decompress the compressed records. */
function kafkajsCodec(codec: CodecName) {
  const impl = {
    compress: (encoder: { buffer: Buffer }) => compress(codec, encoder.buffer),
    decompress: (buffer: Buffer) => decompress(codec, buffer),
  };
  return () => impl;
}

let registered = false;

/** Registers the four codecs with kafkajs and wraps its Fetch response decoders. Idempotent. */
export function registerCompressionCodecs(): void {
  if (registered) return;
  // through the default export: Node's ESM loader does not see CompressionCodecs as a named export of kafkajs
  const { CompressionCodecs } = kafkajs;
  CompressionCodecs[CompressionTypes.GZIP] = kafkajsCodec("gzip");
  CompressionCodecs[CompressionTypes.Snappy] = kafkajsCodec("snappy");
  CompressionCodecs[CompressionTypes.LZ4] = kafkajsCodec("lz4");
  CompressionCodecs[CompressionTypes.ZSTD] = kafkajsCodec("zstd");
  wrapFetchDecoders();
  registered = true;
}

// ---------------------------------------------------------------------------------------------------------
// Locating a batch that cannot be decompressed in a raw Fetch response (versions 4–11, the ones kafkajs uses
// with brokers ≥ 0.11; all carry record batches).

interface FetchResponseModule {
  decode: (raw: Buffer) => Promise<unknown>;
}
const WRAPPED = Symbol.for("changecast.fetchDecodeWrapped");

function wrapFetchDecoders(): void {
  const require = createRequire(import.meta.url);
  for (let version = 4; version <= 11; version++) {
    const mod = require(`kafkajs/src/protocol/requests/fetch/v${version}/response.js`) as FetchResponseModule;
    const original = mod.decode as FetchResponseModule["decode"] & { [WRAPPED]?: true };
    if (original[WRAPPED]) continue;
    const wrapped = async (raw: Buffer): Promise<unknown> => {
      let current = raw;
      // each pass cuts one partition's records before its failing batch (at most one pass per partition)
      for (;;) {
        try {
          return await original(current);
        } catch (err) {
          if (!(err instanceof CompressionCodecError)) throw err;
          const cut = await locateDecompressionFailure(current, version);
          if (!cut) throw err;
          if (cut.kind === "stop") throw cut.error;
          current = cut.response;
        }
      }
    };
    Object.assign(wrapped, { [WRAPPED]: true });
    mod.decode = wrapped;
  }
}

/** Big-endian reader over a raw response; throws RangeError past the end (kafkajs decoded it already). */
class Reader {
  constructor(
    readonly buf: Buffer,
    public pos = 0,
  ) {}
  int16 = () => this.buf.readInt16BE(this.advance(2));
  int32 = () => this.buf.readInt32BE(this.advance(4));
  string(): string {
    const n = this.int16();
    return n < 0 ? "" : this.buf.toString("utf8", this.advance(n), this.pos);
  }
  skip(n: number): void {
    this.advance(n);
  }
  private advance(n: number): number {
    const at = this.pos;
    if (at + n > this.buf.length) throw new RangeError("fetch response ended early");
    this.pos += n;
    return at;
  }
}

/**
 * The compressed payload of the record batch (magic 2) or legacy wrapper message (magic 0/1) starting at
 * `pos` of `buf`, or null when it is not compressed or incomplete (the tail of a fetch may be cut).
 */
function entryAt(
  buf: Buffer,
  pos: number,
  end: number,
): { size: number; codec: CodecName | null; data: Buffer; offset: bigint; last: bigint | null } | null {
  if (end - pos < 12 + 5) return null;
  const offset = buf.readBigInt64BE(pos);
  const size = 12 + buf.readInt32BE(pos + 8);
  if (size < 17 || pos + size > end) return null;
  const magic = buf.readInt8(pos + 16);
  if (magic === 2) {
    if (size < 61) return null;
    const codec = CODEC_BY_ID[buf.readInt16BE(pos + 21) & 0x07] ?? null;
    const last = offset + BigInt(buf.readInt32BE(pos + 23));
    return { size, codec, data: buf.subarray(pos + 61, pos + size), offset, last };
  }
  // legacy message: crc int32, magic int8, attributes int8, [timestamp int64], key bytes, value bytes
  const codec = CODEC_BY_ID[buf.readInt8(pos + 17) & 0x07] ?? null;
  const r = new Reader(buf.subarray(0, pos + size), pos + 18 + (magic === 1 ? 8 : 0));
  const keyLength = r.int32();
  if (keyLength > 0) r.skip(keyLength);
  const valueLength = r.int32();
  const data = valueLength > 0 ? buf.subarray(r.pos, r.pos + valueLength) : Buffer.alloc(0);
  return { size, codec, data, offset, last: null };
}

type Cut = { kind: "stop"; error: BatchDecompressionError } | { kind: "cut"; response: Buffer };

/**
 * Walks a raw Fetch response (the layout of `version`) and decompresses its compressed batches in the order
 * kafkajs decodes them, up to the first that fails. If records of that partition precede it in the response,
 * returns the response with that partition's records cut just before the batch (they are delivered; the next
 * fetch of the partition starts at the batch); else returns the error naming the batch. Null if no batch fails
 * (the codec error came from elsewhere).
 */
export async function locateDecompressionFailure(raw: Buffer, version: number): Promise<Cut | null> {
  const r = new Reader(raw);
  r.skip(4); // throttle_time_ms
  if (version >= 7) r.skip(2 + 4); // error_code, session_id
  const topics = r.int32();
  for (let t = 0; t < topics; t++) {
    const topic = r.string();
    const partitions = r.int32();
    for (let p = 0; p < partitions; p++) {
      const partition = r.int32();
      r.skip(2 + 8 + 8); // error_code, high_watermark, last_stable_offset
      if (version >= 5) r.skip(8); // log_start_offset
      const aborted = r.int32();
      if (aborted > 0) r.skip(aborted * 16);
      if (version >= 11) r.skip(4); // preferred_read_replica
      const sizeAt = r.pos;
      const size = r.int32();
      if (size <= 0) continue;
      const start = r.pos;
      const end = start + size;
      r.skip(size);
      for (let pos = start; pos < end;) {
        const entry = entryAt(raw, pos, end);
        if (!entry) break;
        if (entry.codec) {
          try {
            await RAW[entry.codec].decompress(entry.data);
          } catch (err) {
            if (pos === start) {
              const last = entry.last === null ? null : entry.last.toString();
              const error = new BatchDecompressionError(
                topic,
                partition,
                entry.offset.toString(),
                last,
                entry.codec,
                message(err),
              );
              return { kind: "stop", error };
            }
            const length = Buffer.alloc(4);
            length.writeInt32BE(pos - start);
            const response = Buffer.concat([
              raw.subarray(0, sizeAt),
              length,
              raw.subarray(start, pos),
              raw.subarray(end),
            ]);
            return { kind: "cut", response };
          }
        }
        pos += entry.size;
      }
    }
  }
  return null;
}
