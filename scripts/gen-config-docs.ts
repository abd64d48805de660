// Writes docs/configuration.md from the config declarations (src/config/reference.ts): `npm run docs:config`.
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { renderConfigurationReference } from "../src/config/reference.js";

const target = fileURLToPath(new URL("../docs/configuration.md", import.meta.url));
writeFileSync(target, renderConfigurationReference());
console.log(`wrote ${target}`);
