// The D1 schema, one file per area; drizzle-kit reads this index (drizzle.config.ts).
export * from "./accounts";
export * from "./activity";
export * from "./alerts";
export * from "./approvals";
export * from "./exports";
export * from "./logs";
export * from "./notifications";
