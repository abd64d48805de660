// Small views on avsc types whose typings are incomplete (unions) or too loose (`any`).
import avro from "avsc";
import { CastLogicalType } from "./logical-types.js";

/** The branches of a union type; [] for any other type. */
export function unionBranches(type: avro.Type): readonly avro.Type[] {
  if (!type.typeName.startsWith("union")) return [];
  return (type as unknown as { readonly types: readonly avro.Type[] }).types;
}

/** Short label for listings and messages: "long", "decimal(12,2)", "union<null,string>", "array<Line>". */
export function typeLabel(type: avro.Type): string {
  if (type instanceof CastLogicalType) return type.label;
  switch (type.typeName) {
    case "abstract:long":
      return "long";
    case "array":
      return `array<${typeLabel((type as avro.types.ArrayType).itemsType)}>`;
    case "map":
      return `map<${typeLabel((type as avro.types.MapType).valuesType as avro.Type)}>`;
    case "record":
    case "error":
    case "enum":
    case "fixed":
      return type.name ?? type.typeName;
    default:
      if (type.typeName.startsWith("union")) return `union<${unionBranches(type).map(typeLabel).join(",")}>`;
      return type.typeName;
  }
}
