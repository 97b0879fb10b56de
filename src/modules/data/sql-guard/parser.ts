import type { PgQueryRuntime } from "libpg-query/wasm/libpg-query.js";
import parserWasm from "libpg-query/wasm/libpg-query.wasm";

/** One node of libpg-query's JSON parse tree: `{NodeType: {...fields}}`, lists and scalars below it. */
export type ParseTree = null | boolean | number | string | ParseTree[] | { [key: string]: ParseTree };

export interface RawStatement {
  /** `{SelectStmt: {...}}`, `{InsertStmt: {...}}`, ... */
  stmt: { [nodeType: string]: ParseTree };
}

export type ParseOutcome =
  | { ok: true; statements: RawStatement[] }
  /** `position` is Postgres's 1-based character offset of the error, when it gave one. */
  | { ok: false; kind: "syntax"; message: string; position: number | null }
  /** The parser itself failed (e.g. its stack ran out on absurd nesting); it is reloaded for the next call. */
  | { ok: false; kind: "parser_failure"; message: string; position: null };

let runtime: Promise<PgQueryRuntime> | null = null;

/**
 * The parser, loaded once per isolate on first use (its emscripten loader too, so a cold isolate
 * that never checks SQL never evaluates it). workerd cannot compile WebAssembly from bytes at run
 * time, so the loader gets the module the bundler precompiled through `instantiateWasm`.
 */
function loadRuntime(): Promise<PgQueryRuntime> {
  runtime ??= instantiate().catch((error: unknown) => {
    runtime = null;
    throw error;
  });
  return runtime;
}

async function instantiate(): Promise<PgQueryRuntime> {
  const { default: createPgQueryModule } = await import("libpg-query/wasm/libpg-query.js");
  return new Promise((resolve, reject) => {
    // The emscripten loader picks its environment synchronously, before its first await. With
    // nodejs_compat it would take workerd for Node and reach for `__dirname` and `fs`, which a
    // bundled Worker lacks; without `process` it takes the web-worker branch, which reads
    // `self.location.href` to find its folder. Both globals are set only for that moment;
    // nothing is fetched from the made-up location because the wasm is handed over below.
    withGlobals({ process: undefined, location: Reflect.get(globalThis, "location") ?? { href: "https://sql-guard.invalid/" } }, () => {
      createPgQueryModule({
        instantiateWasm(imports, done) {
          WebAssembly.instantiate(parserWasm, imports).then(done, reject);
          return {};
        },
      }).then(resolve, reject);
    });
  });
}

/** Runs `run` with some globals replaced, and puts them back afterwards. */
function withGlobals(values: Record<string, unknown>, run: () => void) {
  const saved = Object.keys(values).map((name) => [name, Object.getOwnPropertyDescriptor(globalThis, name)] as const);
  for (const [name, value] of Object.entries(values)) Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  try {
    run();
  } finally {
    for (const [name, descriptor] of saved) {
      if (descriptor) Object.defineProperty(globalThis, name, descriptor);
      else Reflect.deleteProperty(globalThis, name);
    }
  }
}

/** Parses `sql` with the real PostgreSQL 17 grammar (raw parse tree, no catalog lookups). */
export async function parseSql(sql: string): Promise<ParseOutcome> {
  // libpg_query answers a zero-length string with no result at all.
  if (sql.trim() === "") return { ok: true, statements: [] };
  const pg = await loadRuntime();
  try {
    return parseWith(pg, sql);
  } catch (error) {
    // A trap leaves the instance's memory in an unknown state: start afresh next time.
    runtime = null;
    return { ok: false, kind: "parser_failure", message: error instanceof Error ? error.message : String(error), position: null };
  }
}

// Field offsets of libpg_query's result structs in wasm32 memory (pointers and ints are 4 bytes):
// PgQueryParseResult {char *parse_tree; char *stderr_buffer; PgQueryError *error}
// PgQueryError {char *message; char *funcname; char *filename; int lineno; int cursorpos; char *context}
const RESULT_TREE = 0;
const RESULT_ERROR = 8;
const ERROR_MESSAGE = 0;
const ERROR_CURSOR = 16;

function parseWith(pg: PgQueryRuntime, sql: string): ParseOutcome {
  const size = pg.lengthBytesUTF8(sql) + 1;
  const input = pg._malloc(size);
  let result = 0;
  try {
    pg.stringToUTF8(sql, input, size);
    result = pg._wasm_parse_query_raw(input);
    if (!result) throw new Error("the parser could not allocate its result");
    const error = pg.getValue(result + RESULT_ERROR, "i32");
    if (error) {
      const messagePointer = pg.getValue(error + ERROR_MESSAGE, "i32");
      const cursor = pg.getValue(error + ERROR_CURSOR, "i32");
      return {
        ok: false,
        kind: "syntax",
        message: messagePointer ? pg.UTF8ToString(messagePointer) : "syntax error",
        position: cursor > 0 ? cursor : null,
      };
    }
    const treePointer = pg.getValue(result + RESULT_TREE, "i32");
    // Empty input (or only comments and semicolons) has no tree at all.
    if (!treePointer) return { ok: true, statements: [] };
    const tree = JSON.parse(pg.UTF8ToString(treePointer)) as { stmts?: RawStatement[] };
    return { ok: true, statements: tree.stmts ?? [] };
  } finally {
    pg._free(input);
    if (result) pg._wasm_free_parse_result(result);
  }
}
