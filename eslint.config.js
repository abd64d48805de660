import js from "@eslint/js";
import tseslint from "typescript-eslint";

/**
 * The layers of src/ (docs/architecture.md), upstream first. A folder may import itself, the neutral modules and
 * the folders before it — never one after it. Folders in one entry are peers and may not import each other.
 * Neutral modules may be imported by anything and import nothing but each other.
 */
export const NEUTRAL = ["errors.ts", "command-io.ts", "avro"];
export const LAYERS = [
  ["config"],
  ["state"],
  ["schemas"],
  ["decode"],
  ["encode"],
  ["map"],
  ["publish"],
  ["kafka", "embedded"],
  ["worker"],
  ["observe"],
  ["migrate"],
  ["sink"],
  ["cli"],
];

const ALL_LAYERS = LAYERS.flat();
const restrict = (folders, why) => ({
  rules: {
    "no-restricted-imports": [
      "error",
      { patterns: folders.map((f) => ({ group: [`**/${f}/**`], message: why })) },
    ],
  },
});
const layerRules = LAYERS.flatMap((layer, i) =>
  layer.map((folder) => ({
    files: [`src/${folder}/**/*.ts`],
    ...restrict(
      [...layer.filter((peer) => peer !== folder), ...LAYERS.slice(i + 1).flat()],
      `src/${folder} may import only itself, the neutral modules (${NEUTRAL.join(", ")}) and the layers before it (docs/architecture.md)`,
    ),
  })),
);
const neutralRules = {
  files: NEUTRAL.map((n) => (n.endsWith(".ts") ? `src/${n}` : `src/${n}/**/*.ts`)),
  ...restrict(ALL_LAYERS, "a neutral module imports only other neutral modules (docs/architecture.md)"),
};

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", ".changecast/", "coverage/", "test/infra/build/", "bench/results/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  ...layerRules,
  neutralRules,
  {
    files: ["**/*.js", "**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly" } },
  },
);
