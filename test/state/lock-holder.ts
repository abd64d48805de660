// A process that takes the state writer lock and holds it until killed: `node --import tsx lock-holder.ts
// <state url> <base dir> <mode> <command> [scope]`. Prints "locked" once it holds the lock.
import { openStateStore } from "../../src/state/store.js";
import { acquireStateLock, type StateLockMode } from "../../src/state/writer-lock.js";

const [url = "", baseDir = ".", mode = "exclusive", command = "run", scope] = process.argv.slice(2);
const store = await openStateStore(url, baseDir);
await acquireStateLock(store, { mode: mode as StateLockMode, command, ...(scope ? { scope } : {}) });
process.stdout.write("locked\n");
setInterval(() => undefined, 60_000);
