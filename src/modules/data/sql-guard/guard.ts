import { deniedFunctionReason } from "./denied-functions";
import type { ParseOutcome, ParseTree } from "./parser";
import { qualifyRelation, type RelationProblem, relationProblem, type SqlPolicy } from "./relations";
import { refuseStatement, type StatementCode, statementKeyword } from "./statements";

export type GuardReasonCode =
  | StatementCode
  | RelationProblem["code"]
  | "empty"
  | "parse_error"
  | "too_complex"
  | "multiple_statements"
  | "select_into"
  | "locking_clause"
  | "data_modifying_cte"
  | "explain_analyze"
  | "function_not_allowed";

export interface GuardReason {
  code: GuardReasonCode;
  /** A sentence for the person who wrote the SQL. */
  message: string;
  /** 1-based character offset in the SQL, for parse errors. */
  position?: number;
}

export interface GuardVerdict {
  allowed: boolean;
  /** `SELECT`, `VALUES`, `EXPLAIN`, or the refused command (`DELETE`, `CREATE TABLE`); null when there is no single statement. */
  statement_type: string | null;
  /** Every table or view read, schema-qualified; CTE names are not tables and are left out. */
  tables: string[];
  /** Every function called, as written (schema-qualified when it was). */
  functions: string[];
  reasons: GuardReason[];
}

type Fields = { [key: string]: ParseTree };

interface Scope {
  /** CTE names an unqualified table reference here may mean. */
  ctes: ReadonlySet<string>;
  /** The CTE whose query is being walked, if any. */
  inCte: string | null;
}

// Levels of the JSON tree (about three per nested operator): far deeper than any real query.
const MAX_TREE_DEPTH = 2_000;

const LOCK_STRENGTHS: Record<string, string> = {
  LCS_FORUPDATE: "FOR UPDATE",
  LCS_FORNOKEYUPDATE: "FOR NO KEY UPDATE",
  LCS_FORSHARE: "FOR SHARE",
  LCS_FORKEYSHARE: "FOR KEY SHARE",
};

// What Postgres's boolean option parser reads as false; anything else turns ANALYZE on or fails.
const FALSE_WORDS = new Set(["false", "f", "off", "no", "n", "0"]);

class TreeTooDeep extends Error {}

/**
 * The guard's rules, a pure function over libpg-query's raw parse tree: exactly one statement,
 * a SELECT (every CTE a SELECT too), VALUES, or EXPLAIN without ANALYZE, calling no denied
 * function and reading only tables the policy allows. The whole tree is walked, so sub-queries,
 * sub-links, LATERAL, set operations and CTEs at any depth are held to the same rules.
 */
export function judgeParse(outcome: ParseOutcome, policy: SqlPolicy = {}): GuardVerdict {
  if (!outcome.ok) {
    if (outcome.kind === "parser_failure") {
      return refused({ code: "too_complex", message: "The SQL is too deeply nested or too large to check" });
    }
    const at = outcome.position === null ? "" : ` (at character ${outcome.position})`;
    return refused({
      code: "parse_error",
      message: `The SQL does not parse: ${outcome.message}${at}`,
      ...(outcome.position === null ? {} : { position: outcome.position }),
    });
  }
  const { statements } = outcome;
  if (statements.length === 0) return refused({ code: "empty", message: "The SQL is empty; write one SELECT, VALUES or EXPLAIN statement" });

  const walk = new TreeWalk(policy);
  if (statements.length > 1) walk.refuse({ code: "multiple_statements", message: `Only one statement is allowed; found ${statements.length}` });
  let statementType: string | null = null;
  try {
    for (const { stmt } of statements) {
      const [nodeType, fields] = Object.entries(stmt)[0] as [string, Fields];
      statementType = walk.statement(nodeType, fields);
    }
  } catch (error) {
    // The depth limit should come first; running out of stack is the backstop.
    if (!(error instanceof TreeTooDeep || error instanceof RangeError)) throw error;
    walk.refuse({ code: "too_complex", message: "The SQL is too deeply nested to check" });
  }
  return {
    allowed: walk.reasons.size === 0,
    statement_type: statements.length === 1 ? statementType : null,
    tables: [...walk.tables],
    functions: [...walk.functions],
    reasons: [...walk.reasons.values()],
  };
}

function refused(reason: GuardReason): GuardVerdict {
  return { allowed: false, statement_type: null, tables: [], functions: [], reasons: [reason] };
}

function isNodeType(key: string): boolean {
  const first = key.charCodeAt(0);
  return first >= 65 && first <= 90;
}

function isFields(value: ParseTree | undefined): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The strings of a list of `{String: {sval}}` nodes (qualified names). */
function nameParts(list: ParseTree | undefined): string[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((item) => {
    const value = isFields(item) && isFields(item.String) ? item.String.sval : undefined;
    return typeof value === "string" ? [value] : [];
  });
}

class TreeWalk {
  readonly tables = new Set<string>();
  readonly functions = new Set<string>();
  /** Keyed by code and message, so a denied function called ten times is reported once. */
  readonly reasons = new Map<string, GuardReason>();
  private depth = 0;

  constructor(private readonly policy: SqlPolicy) {}

  refuse(reason: GuardReason) {
    this.reasons.set(`${reason.code}\n${reason.message}`, reason);
  }

  /** Judges one top-level statement and returns its type. */
  statement(nodeType: string, fields: Fields): string {
    const root: Scope = { ctes: new Set(), inCte: null };
    let type: string;
    if (nodeType === "SelectStmt") {
      type = Array.isArray(fields.valuesLists) ? "VALUES" : "SELECT";
    } else if (nodeType === "ExplainStmt") {
      type = "EXPLAIN";
      if (explainAnalyzes(fields)) this.refuse({ code: "explain_analyze", message: "EXPLAIN ANALYZE runs the statement; use EXPLAIN without ANALYZE" });
    } else {
      type = statementKeyword(nodeType, fields);
      this.refuse(refuseStatement(nodeType, fields));
    }
    this.visitFields(fields, root);
    return type;
  }

  private visit(value: ParseTree | undefined, scope: Scope) {
    if (typeof value !== "object" || value === null) return;
    if (++this.depth > MAX_TREE_DEPTH) throw new TreeTooDeep();
    try {
      if (Array.isArray(value)) for (const item of value) this.visit(item, scope);
      else this.visitFields(value, scope);
    } finally {
      this.depth--;
    }
  }

  /**
   * One object of the tree: either a `{NodeType: fields}` wrapper or a node's fields. Typed
   * fields (a DELETE's `relation`, a set operation's `larg`/`rarg`) hold nodes without the
   * wrapper, so the checks below look at which fields are present, not at the node's name.
   */
  private visitFields(fields: Fields, outer: Scope) {
    if (typeof fields.relname === "string") this.relation(fields, outer);
    if (Array.isArray(fields.lockingClause)) this.lockingClauses(fields.lockingClause);
    if (fields.intoClause) this.refuse({ code: "select_into", message: "SELECT INTO creates a table; remove INTO to just read the rows" });
    const scope = isFields(fields.withClause) ? this.withClause(fields.withClause, outer) : outer;
    for (const key in fields) {
      const value = fields[key];
      if (key === "withClause" || key === "intoClause" || typeof value !== "object" || value === null) continue;
      if (isNodeType(key)) this.node(key, value, scope);
      else {
        // CALL's procedure is a bare FuncCall.
        if (key === "funccall" && isFields(value)) this.functionCall(value);
        this.visit(value, scope);
      }
    }
  }

  private node(nodeType: string, value: ParseTree, scope: Scope) {
    if (!isFields(value)) return this.visit(value, scope);
    if (nodeType === "FuncCall") this.functionCall(value);
    else if (nodeType.endsWith("Stmt") && nodeType !== "SelectStmt") this.nestedStatement(nodeType, value, scope);
    this.visit(value, scope);
  }

  private nestedStatement(nodeType: string, fields: Fields, scope: Scope) {
    if (scope.inCte === null) return this.refuse(refuseStatement(nodeType, fields));
    this.refuse({
      code: "data_modifying_cte",
      message: `The WITH query "${scope.inCte}" runs ${statementKeyword(nodeType, fields)}; every query inside WITH must be a SELECT`,
    });
  }

  /** Walks each CTE with the names it may see, and returns the scope of the statement after WITH. */
  private withClause(withClause: Fields, outer: Scope): Scope {
    const ctes = (Array.isArray(withClause.ctes) ? withClause.ctes : []).flatMap((item) =>
      isFields(item) && isFields(item.CommonTableExpr) ? [item.CommonTableExpr] : [],
    );
    const names = ctes.map((cte) => (typeof cte.ctename === "string" ? cte.ctename : ""));
    const all = new Set([...outer.ctes, ...names]);
    ctes.forEach((cte, index) => {
      // A recursive WITH lets every CTE see all of them; otherwise a CTE sees only those before it.
      const visible = withClause.recursive === true ? all : new Set([...outer.ctes, ...names.slice(0, index)]);
      this.visit(cte, { ctes: visible, inCte: names[index] ?? null });
    });
    return { ctes: all, inCte: outer.inCte };
  }

  private relation(fields: Fields, scope: Scope) {
    const name = fields.relname as string;
    const schema = typeof fields.schemaname === "string" ? fields.schemaname : undefined;
    if (!schema && scope.ctes.has(name)) return;
    const qualified = qualifyRelation(schema, name, this.policy);
    this.tables.add(qualified);
    const problem = relationProblem(qualified, this.policy);
    if (problem) this.refuse(problem);
  }

  private functionCall(fields: Fields) {
    const parts = nameParts(fields.funcname);
    const name = parts.at(-1);
    if (!name) return;
    const written = parts.join(".");
    this.functions.add(written);
    const why = deniedFunctionReason(name);
    if (why) this.refuse({ code: "function_not_allowed", message: `${written} is not allowed: ${why}` });
  }

  private lockingClauses(clauses: ParseTree[]) {
    for (const clause of clauses) {
      const strength = isFields(clause) && isFields(clause.LockingClause) ? clause.LockingClause.strength : undefined;
      const keyword = LOCK_STRENGTHS[typeof strength === "string" ? strength : ""] ?? "FOR UPDATE";
      this.refuse({ code: "locking_clause", message: `${keyword} locks rows, which a read-only query must not do; remove the locking clause` });
    }
  }
}

/** Whether an EXPLAIN's options turn ANALYZE on (`ANALYZE`, `(ANALYZE)`, `(ANALYZE true)`, ...). */
function explainAnalyzes(fields: Fields): boolean {
  const options = Array.isArray(fields.options) ? fields.options : [];
  return options.some((option) => {
    const element = isFields(option) && isFields(option.DefElem) ? option.DefElem : undefined;
    if (element?.defname !== "analyze") return false;
    const arg = element.arg;
    if (arg === undefined) return true;
    if (isFields(arg) && isFields(arg.String) && typeof arg.String.sval === "string") return !FALSE_WORDS.has(arg.String.sval.toLowerCase());
    // Zero is left out of the JSON: `(ANALYZE 0)` arrives as `{Integer: {}}`.
    if (isFields(arg) && isFields(arg.Integer)) return Boolean(arg.Integer.ival);
    if (isFields(arg) && isFields(arg.Boolean)) return Boolean(arg.Boolean.boolval);
    return true;
  });
}
