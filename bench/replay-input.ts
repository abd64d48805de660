// The input of the whole-command replay benchmark: the example captures of a flavour, repeated until `count`
// kcat lines, each repetition with distinct offsets, distinct row ids (keys) and distinct transaction ids, so that
// no two records are the same record and every repeated transaction is a transaction of its own (as in a real
// stream: with the ids of the first repetition, every later order was a late root published alone). Heartbeats,
// tombstones, transaction markers and the inventory tables keep their proportions.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { globSync } from "tinyglobby";

/** Id columns shifted per repetition (the key and the references to other tables' keys): all int32 columns. */
const ID_MEMBER =
  /(\\"(?:id|ID|customer_id|CUSTOMER_ID|purchaser|PURCHASER|product_id|PRODUCT_ID)\\":)(\d+)/g;
const OFFSET = /^(\{"topic":"[^"]*","partition":\d+,"offset":)(\d+)/;
const ID_STEP = 1_000_000;
/** Transaction ids (the only quoted `id` members): Postgres `txid:lsn`, Oracle 16 hex digits. */
const TX_ID = /(\\"id\\":\\")([0-9a-f]{16}|\d+:\d+)(\\")/g;

/** A transaction id of repetition `rep`, distinct from every id of the other repetitions. */
function repeatedTxId(id: string, rep: number): string {
  const colon = id.indexOf(":");
  if (colon > 0) return String(Number(id.slice(0, colon)) + rep * ID_STEP) + id.slice(colon);
  return (BigInt("0x" + id) + (BigInt(rep) << 48n)).toString(16).padStart(16, "0");
}

/** The lines of `captures/<flavour>/*.jsonl`, in the order the input repeats them. */
export function captureLines(root: string, flavour: string): string[] {
  return globSync(`captures/${flavour}/*.jsonl`, { cwd: root, absolute: true })
    .sort()
    .flatMap((f) => readFileSync(join(f), "utf8").split("\n").filter(Boolean));
}

/** Writes `count` kcat lines made from `captures/<flavour>/*.jsonl` to `file`; returns the line count. */
export function writeReplayInput(root: string, flavour: string, count: number, file: string): number {
  const lines = captureLines(root, flavour);
  const out: string[] = [];
  for (let rep = 0; out.length < count; rep++) {
    const shift = rep * ID_STEP;
    for (const line of lines) {
      if (out.length >= count) break;
      let l = line.replace(
        OFFSET,
        (_m, head: string, offset: string) => head + String(Number(offset) + shift),
      );
      if (rep > 0)
        l = l
          .replace(ID_MEMBER, (_m, name: string, id: string) => name + String(Number(id) + shift))
          .replace(
            TX_ID,
            (_m, head: string, id: string, tail: string) => head + repeatedTxId(id, rep) + tail,
          );
      out.push(l);
    }
  }
  writeFileSync(file, out.join("\n") + "\n");
  return out.length;
}
