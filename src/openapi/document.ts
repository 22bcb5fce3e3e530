type Json = unknown;

const isRefOnly = (node: Json): node is { $ref: string } =>
  typeof node === "object" && node !== null && Object.keys(node).length === 1 && "$ref" in node;

/**
 * zod-to-openapi 9 writes `UserBasicSchema.nullable()` (a registered schema made nullable) as
 * `allOf: [{$ref}, {type: ["object", "null"]}]`, which no `null` satisfies: `allOf` needs the `$ref`
 * too. Rewritten as `anyOf: [{$ref}, {type: "null"}]`, which JSON Schema validators and
 * openapi-typescript (`UserBasic | null`) read as meant; other keys (description, example) stay.
 */
export function nullableRefsAsAnyOf<T>(document: T): T {
  const visit = (node: Json): Json => {
    if (Array.isArray(node)) return node.map(visit);
    if (typeof node !== "object" || node === null) return node;
    const entries = Object.entries(node).map(([key, value]) => [key, visit(value)] as const);
    const out: Record<string, Json> = Object.fromEntries(entries);
    const allOf = out.allOf;
    if (Array.isArray(allOf) && allOf.length === 2 && isRefOnly(allOf[0])) {
      const { type, ...rest } = allOf[1] as Record<string, Json>;
      if (Array.isArray(type) && type.length === 2 && type.includes("null")) {
        delete out.allOf;
        return { anyOf: [allOf[0], { type: "null" }], ...rest, ...out };
      }
    }
    return out;
  };
  return visit(document) as T;
}
