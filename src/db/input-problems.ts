import { type AppError, Conflict, Unprocessable } from "../lib/errors";
import { sqlColumnOf, sqlStateOf } from "./errors";

/**
 * SQLSTATEs that mean the request's input, not the server, is at fault. Routes validate first;
 * these catch what slipped through, so a client never sees a 500 for its own bad data. The
 * problem never quotes Postgres' detail, which holds the offending values.
 */
const INPUT_ERRORS: Record<string, string> = {
  "22001": "A value is longer than its field allows",
  "22003": "A number is out of range",
  "22007": "A date or time is not valid",
  "22008": "A date or time is out of range",
  "22021": "Text holds a byte sequence that is not valid (such as NUL)",
  "22P02": "A value does not have the expected form",
  "22P05": "Text holds a character that cannot be stored",
  "23502": "A required value is missing",
  "23503": "A referenced record does not exist",
  "23514": "A value breaks a rule of its field",
};

/** A 409 or 422 problem for a database error caused by the request's input; undefined for any other error. */
export function inputProblemOf(error: unknown): AppError | undefined {
  const code = sqlStateOf(error);
  if (code === undefined) return undefined;
  if (code === "23505" || code === "23P01") return new Conflict("This conflicts with a record that already exists");
  // A foreign key refusing a delete: the record is still in use.
  if (code === "23503" && /still referenced/i.test(messageOf(error))) return new Conflict("The record is still in use by others");
  const message = INPUT_ERRORS[code];
  if (!message) return undefined;
  const column = code === "23502" ? sqlColumnOf(error) : undefined;
  return new Unprocessable([{ path: column ?? "(root)", message }], message);
}

function messageOf(error: unknown): string {
  let current: unknown = error;
  let text = "";
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const { message, detail } = current as { message?: unknown; detail?: unknown };
    text += `${typeof message === "string" ? message : ""} ${typeof detail === "string" ? detail : ""} `;
    current = (current as { cause?: unknown }).cause;
  }
  return text;
}
