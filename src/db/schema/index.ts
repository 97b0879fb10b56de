export * from "./auth";
export * from "./catalog";
export * from "./credits";
export * from "./customers";
export * from "./messaging";
export * from "./operations";
export * from "./payments";
export * from "./tenancy";
