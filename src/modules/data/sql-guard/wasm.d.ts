// Wrangler (CompiledWasm rule) and the vitest pool both hand a `.wasm` import over as a compiled
// module: workerd forbids compiling WebAssembly from bytes at run time.
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}

/** libpg-query's emscripten loader (a CommonJS file); the package's own entry starts it at import time. */
declare module "libpg-query/wasm/libpg-query.js" {
  interface PgQueryRuntime {
    _malloc(size: number): number;
    _free(pointer: number): void;
    _wasm_parse_query_raw(queryPointer: number): number;
    _wasm_free_parse_result(resultPointer: number): void;
    getValue(pointer: number, type: "i32"): number;
    UTF8ToString(pointer: number): string;
    stringToUTF8(value: string, pointer: number, maxBytes: number): void;
    lengthBytesUTF8(value: string): number;
  }
  interface PgQueryModuleOptions {
    instantiateWasm(imports: WebAssembly.Imports, done: (instance: WebAssembly.Instance) => void): object;
  }
  const createPgQueryModule: (options: PgQueryModuleOptions) => Promise<PgQueryRuntime>;

  export type { PgQueryRuntime };
  export default createPgQueryModule;
}
