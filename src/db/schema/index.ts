export * from "./auth";
export * from "./messaging";
export * from "./operations";
export * from "./tenancy";
