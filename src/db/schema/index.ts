export * from "./auth";
export * from "./credits";
export * from "./messaging";
export * from "./operations";
export * from "./payments";
export * from "./tenancy";
