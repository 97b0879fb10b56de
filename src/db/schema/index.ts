export * from "./operations";
export * from "./tenancy";
