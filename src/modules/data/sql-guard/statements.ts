import type { ParseTree } from "./parser";

/** Codes of statements the guard refuses, grouped by what they would do. */
export type StatementCode =
  | "data_modification"
  | "schema_change"
  | "privilege_change"
  | "transaction_control"
  | "session_command"
  | "copy"
  | "procedural_code"
  | "notification"
  | "prepared_statement"
  | "statement_not_allowed";

type Fields = { [key: string]: ParseTree };

const ONLY_READS = "only SELECT, VALUES and EXPLAIN statements are allowed";

const DATA_MODIFICATION = new Set(["InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt", "TruncateStmt"]);
const PRIVILEGE_CHANGE = new Set([
  "GrantStmt",
  "GrantRoleStmt",
  "AlterDefaultPrivilegesStmt",
  "CreateRoleStmt",
  "AlterRoleStmt",
  "AlterRoleSetStmt",
  "DropRoleStmt",
  "ReassignOwnedStmt",
  "DropOwnedStmt",
  "AlterPolicyStmt",
  "CreatePolicyStmt",
]);
const SCHEMA_CHANGE_PREFIXES = ["Create", "Alter", "Drop", "Define", "Rename", "Comment", "SecLabel", "ImportForeignSchema", "CompositeType"];
const SCHEMA_CHANGE = new Set(["IndexStmt", "ViewStmt", "RuleStmt", "CreatedbStmt", "DropdbStmt"]);
const SESSION_COMMAND = new Set(["VariableSetStmt", "VariableShowStmt", "DiscardStmt", "ConstraintsSetStmt", "AlterSystemStmt"]);
const PROCEDURAL_CODE = new Set(["DoStmt", "CallStmt"]);
const NOTIFICATION = new Set(["ListenStmt", "NotifyStmt", "UnlistenStmt"]);
const PREPARED_STATEMENT = new Set(["PrepareStmt", "ExecuteStmt", "DeallocateStmt"]);

const TRANSACTION_KEYWORDS: Record<string, string> = {
  TRANS_STMT_BEGIN: "BEGIN",
  TRANS_STMT_START: "START TRANSACTION",
  TRANS_STMT_COMMIT: "COMMIT",
  TRANS_STMT_ROLLBACK: "ROLLBACK",
  TRANS_STMT_SAVEPOINT: "SAVEPOINT",
  TRANS_STMT_RELEASE: "RELEASE SAVEPOINT",
  TRANS_STMT_ROLLBACK_TO: "ROLLBACK TO SAVEPOINT",
  TRANS_STMT_PREPARE: "PREPARE TRANSACTION",
  TRANS_STMT_COMMIT_PREPARED: "COMMIT PREPARED",
  TRANS_STMT_ROLLBACK_PREPARED: "ROLLBACK PREPARED",
};

// Node names whose words do not spell the SQL command.
const KEYWORD_OVERRIDES: Record<string, string> = {
  CreateStmt: "CREATE TABLE",
  IndexStmt: "CREATE INDEX",
  ViewStmt: "CREATE VIEW",
  RuleStmt: "CREATE RULE",
  CreatedbStmt: "CREATE DATABASE",
  DropdbStmt: "DROP DATABASE",
  CreateTrigStmt: "CREATE TRIGGER",
  CreatePLangStmt: "CREATE LANGUAGE",
  CreateFdwStmt: "CREATE FOREIGN DATA WRAPPER",
  CreateSeqStmt: "CREATE SEQUENCE",
  AlterSeqStmt: "ALTER SEQUENCE",
  RefreshMatViewStmt: "REFRESH MATERIALIZED VIEW",
  SecLabelStmt: "SECURITY LABEL",
  DefineStmt: "CREATE",
  DropStmt: "DROP",
  RenameStmt: "ALTER ... RENAME",
  LockStmt: "LOCK TABLE",
  DeclareCursorStmt: "DECLARE CURSOR",
  ClosePortalStmt: "CLOSE",
  CheckPointStmt: "CHECKPOINT",
  VariableShowStmt: "SHOW",
  ConstraintsSetStmt: "SET CONSTRAINTS",
  CreateTableAsStmt: "CREATE TABLE AS",
  AlterTableStmt: "ALTER TABLE",
  CompositeTypeStmt: "CREATE TYPE",
  CreateEnumStmt: "CREATE TYPE",
  CreateRangeStmt: "CREATE TYPE",
};

function text(value: ParseTree | undefined): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** The SQL command a statement node stands for, as a user would write it (`INSERT`, `CREATE TABLE`). */
export function statementKeyword(nodeType: string, fields: Fields): string {
  switch (nodeType) {
    case "TransactionStmt":
      return TRANSACTION_KEYWORDS[text(fields.kind) ?? ""] ?? "BEGIN";
    case "VariableSetStmt":
      return text(fields.kind)?.startsWith("VAR_RESET") ? "RESET" : "SET";
    case "GrantStmt":
    case "GrantRoleStmt":
      return fields.is_grant ? "GRANT" : "REVOKE";
    case "VacuumStmt":
      return fields.is_vacuumcmd ? "VACUUM" : "ANALYZE";
    case "FetchStmt":
      return fields.ismove ? "MOVE" : "FETCH";
    case "CreateTableAsStmt":
      return text(fields.objtype) === "OBJECT_MATVIEW" ? "CREATE MATERIALIZED VIEW" : "CREATE TABLE AS";
    case "CreateFunctionStmt":
      return fields.is_procedure ? "CREATE PROCEDURE" : "CREATE FUNCTION";
  }
  const override = KEYWORD_OVERRIDES[nodeType];
  if (override) return override;
  // AlterDomainStmt -> ALTER DOMAIN
  return nodeType
    .replace(/Stmt$/, "")
    .split(/(?=[A-Z][a-z])/)
    .join(" ")
    .toUpperCase();
}

/** Why a statement other than SELECT, VALUES or EXPLAIN is refused. */
export function refuseStatement(nodeType: string, fields: Fields): { code: StatementCode; message: string } {
  const keyword = statementKeyword(nodeType, fields);
  if (DATA_MODIFICATION.has(nodeType)) return { code: "data_modification", message: `${keyword} changes data; ${ONLY_READS}` };
  if (PRIVILEGE_CHANGE.has(nodeType)) return { code: "privilege_change", message: `${keyword} changes roles or privileges; ${ONLY_READS}` };
  if (nodeType === "TransactionStmt") {
    return { code: "transaction_control", message: `${keyword} is not allowed: every query already runs in its own read-only transaction` };
  }
  if (SESSION_COMMAND.has(nodeType))
    return { code: "session_command", message: `${keyword} is not allowed: queries cannot read or change server or session settings` };
  if (nodeType === "CopyStmt") {
    return { code: "copy", message: "COPY is not allowed: it moves data to or from files, programs or the connection; use SELECT to read data" };
  }
  if (PROCEDURAL_CODE.has(nodeType))
    return { code: "procedural_code", message: `${keyword} is not allowed: it runs procedural code, which the guard cannot check` };
  if (NOTIFICATION.has(nodeType)) return { code: "notification", message: `${keyword} is not allowed: queries cannot send or wait for notifications` };
  if (PREPARED_STATEMENT.has(nodeType)) {
    return { code: "prepared_statement", message: `${keyword} is not allowed: send the SELECT itself rather than a prepared statement` };
  }
  if (SCHEMA_CHANGE.has(nodeType) || SCHEMA_CHANGE_PREFIXES.some((prefix) => nodeType.startsWith(prefix))) {
    return { code: "schema_change", message: `${keyword} changes the database schema; ${ONLY_READS}` };
  }
  return { code: "statement_not_allowed", message: `${keyword} is not allowed; ${ONLY_READS}` };
}
