import type { IntrospectedTable } from "../../../db/schema";

/** Past this many tables the model sees only the most relevant ones (and what they join to). */
export const MAX_TABLES_IN_PROMPT = 12;

/** Lower-case words of three letters or more, with a crude singular: "invoices" also finds "invoice". */
function words(text: string): Set<string> {
  const found = new Set<string>();
  for (const word of text.toLowerCase().split(/[^a-z0-9]+/)) {
    if (word.length < 3) continue;
    found.add(word);
    if (word.endsWith("s")) found.add(word.slice(0, -1));
  }
  return found;
}

function tableWords(table: IntrospectedTable): Set<string> {
  return words([table.name, table.comment ?? "", ...table.columns.flatMap((c) => [c.name, c.comment ?? ""])].join(" "));
}

/**
 * The tables worth showing the model for `question`: all of them when the schema is small;
 * otherwise those sharing the most words with the question (a table's own name counts three
 * times its columns'), plus the tables they reference, so the joins the model needs are there.
 */
export function relevantTables(tables: IntrospectedTable[], question: string): IntrospectedTable[] {
  if (tables.length <= MAX_TABLES_IN_PROMPT) return tables;
  const asked = words(question);
  const scored = tables.map((table) => {
    const own = words(table.name);
    let score = 0;
    for (const word of tableWords(table)) if (asked.has(word)) score += own.has(word) ? 3 : 1;
    return { table, score };
  });
  scored.sort((a, b) => b.score - a.score || a.table.name.localeCompare(b.table.name));
  const chosen = new Map<string, IntrospectedTable>();
  const key = (schema: string, name: string) => `${schema}.${name}`;
  const byKey = new Map(tables.map((t) => [key(t.schema, t.name), t]));
  for (const { table } of scored.slice(0, Math.ceil(MAX_TABLES_IN_PROMPT / 2))) {
    chosen.set(key(table.schema, table.name), table);
    for (const fk of table.foreign_keys) {
      const target = byKey.get(key(fk.references.schema, fk.references.table));
      if (target && chosen.size < MAX_TABLES_IN_PROMPT) chosen.set(key(target.schema, target.name), target);
    }
    if (chosen.size >= MAX_TABLES_IN_PROMPT) break;
  }
  return [...chosen.values()];
}

/** Tables as compact DDL, which models read best: columns, keys, comments and row estimates. */
export function describeTables(tables: IntrospectedTable[]): string {
  return tables
    .map((table) => {
      const lines = table.columns.map((c) => `  ${c.name} ${c.type}${c.nullable ? "" : " NOT NULL"}${c.comment ? ` -- ${c.comment}` : ""}`);
      if (table.primary_key.length > 0) lines.push(`  PRIMARY KEY (${table.primary_key.join(", ")})`);
      for (const fk of table.foreign_keys) {
        lines.push(`  FOREIGN KEY (${fk.columns.join(", ")}) REFERENCES ${fk.references.schema}.${fk.references.table} (${fk.references.columns.join(", ")})`);
      }
      const notes = [
        table.kind !== "table" ? table.kind.replace("_", " ") : "",
        table.row_estimate !== null ? `about ${table.row_estimate} rows` : "",
        table.comment ?? "",
      ]
        .filter(Boolean)
        .join("; ");
      return `CREATE TABLE ${table.schema}.${table.name} (${notes ? ` -- ${notes}` : ""}\n${lines.join(",\n")}\n);`;
    })
    .join("\n\n");
}
