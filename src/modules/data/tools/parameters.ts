/**
 * The parameters of a SQL tool: a JSON Schema of an object whose properties are the values bound
 * to `$1..$n`, in `order`. Only scalar types are allowed, because each value is bound as one real
 * query parameter (never spliced into the text).
 */
import { type Schema, Validator } from "@cfworker/json-schema";
import type { FieldError } from "../../../lib/errors";

export interface ToolParameters {
  schema: Schema;
  /** Property names in placeholder order: `order[0]` is `$1`. */
  order: string[];
}

const SCALAR_TYPES = new Set(["string", "integer", "number", "boolean"]);

/** The highest `$n` in the SQL and whether every placeholder from `$1` to it appears. */
function placeholders(sql: string): { count: number; missing: number[] } {
  const seen = new Set([...sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
  const count = seen.size === 0 ? 0 : Math.max(...seen);
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((n) => !seen.has(n));
  return { count, missing };
}

/**
 * Checks that the schema describes exactly the template's placeholders with scalar types.
 * `order` defaults to the order the schema's properties were written in.
 */
export function checkToolParameters(sql: string, schema: Schema | undefined, order: string[] | undefined): ToolParameters | FieldError[] {
  const { count, missing } = placeholders(sql);
  const errors: FieldError[] = [];
  if (missing.length > 0) errors.push({ path: "sql", message: `The SQL uses $${count} but not ${missing.map((n) => `$${n}`).join(", ")}` });
  const effective: Schema = schema ?? { type: "object", properties: {} };
  if (effective.type !== "object") errors.push({ path: "parameters.type", message: 'The parameters schema must have type "object"' });
  const properties = (effective.properties ?? {}) as Record<string, Schema>;
  const names = order ?? Object.keys(properties);
  if (names.length !== count) {
    errors.push({ path: "parameters", message: `The SQL has ${count} placeholder(s) ($1..$${count}) but ${names.length} parameter(s) are defined` });
  }
  for (const [index, name] of names.entries()) {
    const property = properties[name];
    if (!property) {
      errors.push({ path: `parameter_order.${index}`, message: `${name} is not a property of the parameters schema` });
    } else if (typeof property.type !== "string" || !SCALAR_TYPES.has(property.type)) {
      errors.push({ path: `parameters.properties.${name}.type`, message: "Each parameter must be a string, integer, number or boolean" });
    }
  }
  if (errors.length > 0) return errors;
  return { schema: { ...effective, additionalProperties: false }, order: names };
}

/** Validates `params` and returns them in placeholder order, or the reasons they do not fit. */
export function bindParameters(parameters: ToolParameters, params: unknown): { values: unknown[] } | { errors: FieldError[] } {
  const result = new Validator(parameters.schema, "2020-12", false).validate(params ?? {});
  if (!result.valid) {
    // The validator reports each failure and then its parents ("properties failed"): keep the leaves.
    const leaves = result.errors.filter((e) => e.keyword !== "properties" && e.keyword !== "$ref");
    const errors = (leaves.length > 0 ? leaves : result.errors).map((e) => ({
      path: `params${e.instanceLocation.replace(/^#/, "").replaceAll("/", ".")}`,
      message: e.error,
    }));
    return { errors };
  }
  const given = params as Record<string, unknown>;
  return { values: parameters.order.map((name) => given[name] ?? null) };
}
