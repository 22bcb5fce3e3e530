import { integer, text } from "drizzle-orm/sqlite-core";

// Timestamps are stored as integer milliseconds since the epoch: compact, cheap to
// compare and index, and turned into ISO 8601 UTC strings only at the API edge.
export const timestamp = () => integer({ mode: "timestamp_ms" });
export const json = <T>() => text({ mode: "json" }).$type<T>();
