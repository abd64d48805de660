// Reads a config, transform or schema file as text, bounded: a path that names a device, FIFO or directory
// (`/dev/zero`, a named pipe, a symbolic link to either) would block or never end, and bytes that are not UTF-8
// would be replaced by U+FFFD, silently changing a topic name or a key expression.
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { ChangecastError } from "../errors.js";

/** Far above any real config, transform or schema file. */
export const MAX_CONFIG_FILE_BYTES = 16 * 1024 * 1024;

/** Why a file could not be read as text, and at which line (1 when it is not about its content). */
export class TextFileProblem extends ChangecastError {
  readonly code = "CONFIG_FILE_UNREADABLE";
  override readonly name = "TextFileProblem";
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

/**
 * The file's text (a leading UTF-8 byte-order mark removed). Throws TextFileProblem when the path is not a
 * regular file, is larger than MAX_CONFIG_FILE_BYTES or is not valid UTF-8, and for the errors of opening it.
 */
export function readConfigText(file: string): string {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO with no writer must not block (it is refused below, as not a regular file)
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new TextFileProblem(openProblem(err), 1);
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) throw new TextFileProblem("is a directory, not a file", 1);
    if (!stat.isFile()) throw new TextFileProblem("is not a regular file (a device, FIFO or socket)", 1);
    if (stat.size > MAX_CONFIG_FILE_BYTES) {
      throw new TextFileProblem(`is ${stat.size} bytes; at most ${MAX_CONFIG_FILE_BYTES} are read`, 1);
    }
    const bytes = Buffer.alloc(stat.size);
    let read = 0;
    while (read < bytes.length) {
      const n = readSync(fd, bytes, read, bytes.length - read, read);
      if (n === 0) break;
      read += n;
    }
    return decodeUtf8(bytes.subarray(0, read));
  } finally {
    closeSync(fd);
  }
}

function openProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "not found";
  if (code === "EACCES" || code === "EPERM") return "cannot be read (permission denied)";
  if (code === "EISDIR") return "is a directory, not a file";
  return `cannot be read: ${(err as Error).message}`;
}

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });

function decodeUtf8(bytes: Buffer): string {
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    // LF never occurs inside a multi-byte character: the first line that does not decode is the one to name
    let line = 1;
    for (let start = 0; start < bytes.length; line++) {
      let end = bytes.indexOf(0x0a, start);
      if (end === -1) end = bytes.length;
      try {
        STRICT_UTF8.decode(bytes.subarray(start, end));
      } catch {
        break;
      }
      start = end + 1;
    }
    throw new TextFileProblem("is not valid UTF-8 text; save it as UTF-8", line);
  }
}
