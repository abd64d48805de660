export { EventSchema, type EventField, type RenderedRecord } from "./event-schema.js";
export type { AvroRecordValue, AvroValue } from "./coerce.js";
export { CoercionError, SchemaError } from "./errors.js";
export type { RenderedJson } from "./render.js";
export { stringifyJson } from "./json.js";
export { toWireFormat, fromWireFormat, WireFormatError } from "../avro/wire.js";
