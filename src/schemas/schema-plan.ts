// `changecast schemas plan` / `schemas apply`: compare the desired schemas (from `schemas/`) with the
// registry per subject — unchanged, new subject, compatible (would become version N), incompatible (needs
// a dual-publish migration) — and register the ones that can be registered.
import type { CompatibilityLevel, SchemaRegistry } from "./registry.js";

export interface DesiredSchema {
  subject: string;
  /** the Avro schema text */
  schema: string;
  /** where it comes from (the .avsc file), for messages */
  origin: string;
}

export type SchemaPlanStatus = "unchanged" | "new-subject" | "compatible" | "incompatible";

export interface SchemaPlanEntry {
  subject: string;
  origin: string;
  status: SchemaPlanStatus;
  /** unchanged: the registered version; new-subject / compatible: the version registration would create */
  version?: number;
  messages: string[];
}

export interface AppliedSchema {
  subject: string;
  origin: string;
  id: number;
  version: number;
  /** true when the registration created the version (false: it was already there) */
  created: boolean;
}

/**
 * Plans each desired schema against the registry. Existing subjects are checked by the registry
 * under their own level (what registration will enforce); `level` is the level changecast sets on the
 * subjects it creates (registry.compatibility in changecast.yaml).
 */
export async function planSchemas(
  registry: SchemaRegistry,
  desired: DesiredSchema[],
  level?: CompatibilityLevel,
): Promise<SchemaPlanEntry[]> {
  const entries: SchemaPlanEntry[] = [];
  for (const want of desired) {
    const base = { subject: want.subject, origin: want.origin };
    const registered = await registry.lookup(want.subject, want.schema);
    if (registered) {
      entries.push({ ...base, status: "unchanged", version: registered.version, messages: [] });
      continue;
    }
    const versions = await registry.versions(want.subject);
    const latest = versions[versions.length - 1];
    if (!latest) {
      entries.push({
        ...base,
        status: "new-subject",
        version: 1,
        messages: level ? [`new subject, compatibility ${level}`] : [],
      });
      continue;
    }
    const result = await registry.testCompatibility(want.subject, want.schema);
    const subjectLevel = await registry.compatibility(want.subject);
    if (result.isCompatible) {
      entries.push({
        ...base,
        status: "compatible",
        version: latest.version + 1,
        messages: [`compatible with version ${latest.version} under ${subjectLevel}`],
      });
    } else {
      entries.push({
        ...base,
        status: "incompatible",
        messages:
          result.messages.length > 0
            ? result.messages
            : [`incompatible with the registered versions under ${subjectLevel}`],
      });
    }
  }
  return entries;
}

/**
 * Registers every planned schema that is not incompatible (in plan order) and returns their ids and
 * versions. With `level`, subjects the plan found new get that compatibility level first.
 */
export async function applySchemas(
  registry: SchemaRegistry,
  plan: SchemaPlanEntry[],
  desired: DesiredSchema[],
  level?: CompatibilityLevel,
): Promise<AppliedSchema[]> {
  const applied: AppliedSchema[] = [];
  for (const entry of plan) {
    if (entry.status === "incompatible") continue;
    const want = desired.find((d) => d.subject === entry.subject && d.origin === entry.origin);
    if (!want) throw new Error(`schemas apply: no desired schema for ${entry.subject} (${entry.origin})`);
    if (entry.status === "new-subject" && level) await registry.setCompatibility(level, entry.subject);
    const registered = await registry.register(want.subject, want.schema);
    applied.push({
      subject: registered.subject,
      origin: want.origin,
      id: registered.id,
      version: registered.version,
      created: entry.status !== "unchanged",
    });
  }
  return applied;
}

const LABELS: Record<SchemaPlanStatus, string> = {
  unchanged: "unchanged",
  "new-subject": "new subject",
  compatible: "compatible",
  incompatible: "INCOMPATIBLE",
};

/** The plan as the CLI prints it: one line per subject, reasons under incompatible ones, a summary. */
export function formatPlan(entries: SchemaPlanEntry[]): string {
  const lines: string[] = [];
  const width = Math.max(0, ...entries.map((e) => e.subject.length));
  for (const e of entries) {
    const label = LABELS[e.status].padEnd(12);
    const subject = e.subject.padEnd(width);
    switch (e.status) {
      case "unchanged":
        lines.push(`  ${label}  ${subject}  version ${e.version ?? "?"}  (${e.origin})`);
        break;
      case "new-subject":
        lines.push(`  ${label}  ${subject}  → version ${e.version ?? 1}  (${e.origin})`);
        break;
      case "compatible":
        lines.push(`  ${label}  ${subject}  → version ${e.version ?? "?"}  (${e.origin})`);
        break;
      case "incompatible":
        lines.push(`  ${label}  ${subject}  cannot be registered  (${e.origin})`);
        for (const m of e.messages) lines.push(`      - ${m}`);
        lines.push(
          `      this change needs a new major version published side by side: run \`changecast migrate plan\``,
        );
        break;
    }
  }
  const count = (s: SchemaPlanStatus) => entries.filter((e) => e.status === s).length;
  lines.push(
    `${entries.length} subject(s): ${count("unchanged")} unchanged, ${count("new-subject")} new, ` +
      `${count("compatible")} compatible, ${count("incompatible")} incompatible`,
  );
  return lines.join("\n") + "\n";
}
