#!/usr/bin/env node
// Runs the TypeScript CLI in this very process (tsx's ESM loader), so signals such as SIGTERM reach the worker.
import { register } from "tsx/esm/api";

register();
await import("../src/cli/main.ts");
