// The sink's errors (docs/errors.md, stage SINK): each one is an event's dead letter, or the stop of a sink with
// errors.tolerance none.
import { ChangecastError } from "../errors.js";

/** A published record the sink cannot read: not the Confluent wire format, a schema id the registry lacks, no ce_type. */
export class SinkDecodeError extends ChangecastError {
  readonly code = "SINK_DECODE";
  override readonly name = "SinkDecodeError";
}

/** A projection's `when`, key or column failed for an event (a CEL error, a missing field, an evaluation limit). */
export class SinkProjectionError extends ChangecastError {
  readonly code = "SINK_PROJECT";
  override readonly name = "SinkProjectionError";
}

/** The target database refused an event's row: a constraint violation, a value its column type does not take. */
export class SinkApplyError extends ChangecastError {
  readonly code = "SINK_APPLY";
  override readonly name = "SinkApplyError";
}

/** errors.tolerance none: the sink stopped at a dead letter, committing nothing past it. */
export class SinkStoppedError extends ChangecastError {
  readonly code = "SINK_STOPPED";
  override readonly name = "SinkStoppedError";
}
