// Public API of the decode stage.
export * from "./change-event.js";
export { decodeDebeziumJson, type DebeziumJsonOptions } from "./debezium-json.js";
export { parseKcatLine } from "./kcat.js";
export { parseJson, parseJsonIntegersAsBigint, stringifyJson } from "./json-text.js";
export {
  decodeBase64Decimal,
  formatDecimal,
  formatEpochDay,
  formatEpochTimestamp,
  formatTimeOfDay,
  twosComplementToBigInt,
  type TimeUnit,
} from "./logical.js";
export { compileSchema, type ConnectSchema, type ValueDecoder } from "./connect-schema.js";
export { DebeziumAvroDecoder, type DebeziumAvroOptions } from "./debezium-avro.js";
