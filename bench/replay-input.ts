// The input of the whole-command replay benchmark: the example captures of a flavour, repeated until `count`
// kcat lines, each repetition with distinct offsets and distinct row ids (keys), so that no two records are the
// same record. Heartbeats, tombstones and the four inventory tables keep their proportions.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { globSync } from "tinyglobby";

/** Id columns shifted per repetition (the key and the references to other tables' keys): all int32 columns. */
const ID_MEMBER =
  /(\\"(?:id|ID|customer_id|CUSTOMER_ID|purchaser|PURCHASER|product_id|PRODUCT_ID)\\":)(\d+)/g;
const OFFSET = /^(\{"topic":"[^"]*","partition":\d+,"offset":)(\d+)/;
const ID_STEP = 1_000_000;

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
        l = l.replace(ID_MEMBER, (_m, name: string, id: string) => name + String(Number(id) + shift));
      out.push(l);
    }
  }
  writeFileSync(file, out.join("\n") + "\n");
  return out.length;
}
