import fc from "fast-check";

// Requests generated from the served OpenAPI document: for every operation, values that follow its
// schemas and values that break them (wrong types, missing fields, 1 MB strings, unicode and NUL,
// bad dates and UUIDs, malformed JSON, wrong content types, percent-garbage paths, repeated params).

export interface FuzzRequest {
  kind: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** The seeded tenant: its key, organization and project fill most path parameters. */
export interface Seed {
  key: string;
  organizationId: string;
  projectId: number;
}

type Schema = { [k: string]: any };
interface Operation {
  method: string;
  path: string;
  params: Schema[];
  body: Schema | null;
  contentType: string;
}

const MB = "x".repeat(1 << 20);
/** URLs stay under the 16 KB Cloudflare (and wrangler dev) accept: a longer one never reaches the Worker. */
const LONG_URL_VALUE = "x".repeat(8 << 10);

const oddStrings = fc.constantFrom(
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "💥🏳️‍🌈".repeat(50),
  "\uD800",
  "é".normalize("NFD"),
  "%",
  "%zz",
  "../../etc/passwd",
  "' OR 1=1 --",
  "<script>alert(1)</script>",
  "2024-13-45T25:61:00Z",
  "0000-00-00",
  "-1d",
  "not-a-uuid",
  "00000000-0000-0000-0000-000000000000",
  "-1",
  "1e309",
  "NaN",
  "9".repeat(400),
  "[]",
  "{}",
  "null",
  "true",
  "[1,",
);

const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  oddStrings,
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(MB),
  fc.array(fc.oneof(fc.integer(), oddStrings), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.oneof(fc.integer(), oddStrings), { maxKeys: 3 }),
);

function deref(doc: Schema, schema: Schema | undefined): Schema {
  let s = schema ?? {};
  for (let i = 0; i < 10 && typeof s.$ref === "string"; i++) {
    const name = s.$ref.split("/").pop() as string;
    s = doc.components?.schemas?.[name] ?? {};
  }
  return s;
}

const isoDate = fc
  .date({ min: new Date("2000-01-01T00:00:00Z"), max: new Date("2100-01-01T00:00:00Z"), noInvalidDate: true })
  .map((d) => d.toISOString());

/** A value following `schema` (bounds kept small: the point is shape, not size). */
function valid(doc: Schema, schema: Schema | undefined, depth = 0): fc.Arbitrary<unknown> {
  const s = deref(doc, schema);
  if (Array.isArray(s.enum) && s.enum.length) return fc.constantFrom(...s.enum);
  if ("const" in s) return fc.constant(s.const);
  const alternatives = s.oneOf ?? s.anyOf;
  if (Array.isArray(alternatives) && alternatives.length && depth < 4)
    return fc.oneof(...alternatives.map((a: Schema) => valid(doc, a, depth + 1)));
  if (Array.isArray(s.allOf) && s.allOf.length) return valid(doc, s.allOf[0], depth + 1);
  const type = Array.isArray(s.type) ? s.type.find((t: string) => t !== "null") : s.type;
  switch (type) {
    case "string":
      if (s.format === "uuid") return fc.uuid();
      if (s.format === "date-time") return isoDate;
      if (s.format === "uri") return fc.constantFrom("https://example.com/hook", "https://hooks.slack.com/services/T/B/X");
      if (s.format === "email") return fc.emailAddress();
      return fc.string({
        minLength: Math.min(s.minLength ?? 0, 8),
        maxLength: Math.max(Math.min(s.maxLength ?? 16, 16), s.minLength ?? 0),
      });
    case "integer":
      return fc.integer({ min: Math.max(s.minimum ?? -5, -1e9), max: Math.min(s.maximum ?? 1000, 1e9) });
    case "number":
      return fc.double({ min: s.minimum ?? -1000, max: s.maximum ?? 1000, noNaN: true });
    case "boolean":
      return fc.boolean();
    case "array":
      return depth > 4 ? fc.constant([]) : fc.array(valid(doc, s.items, depth + 1), { maxLength: Math.min(s.maxItems ?? 3, 3) });
    case "object": {
      const props: Record<string, Schema> = s.properties ?? {};
      if (depth > 4 || !Object.keys(props).length)
        return fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 2 });
      const shape = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, valid(doc, v, depth + 1)]));
      return fc.record(shape, { requiredKeys: (s.required ?? []).filter((k: string) => k in shape) });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** Every operation of the document with its parameters and JSON body schema. */
export function operations(doc: Schema): Operation[] {
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries<Schema>(doc.paths ?? {})) {
    for (const method of ["get", "post", "put", "patch", "delete"]) {
      const op = item[method];
      if (!op) continue;
      const content = op.requestBody?.content ?? {};
      const contentType = Object.keys(content)[0] ?? "application/json";
      ops.push({
        method: method.toUpperCase(),
        path,
        params: [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p: Schema) => deref(doc, p)),
        body: content[contentType]?.schema ? deref(doc, content[contentType].schema) : null,
        contentType,
      });
    }
  }
  return ops;
}

/** A lone surrogate has no UTF-8 form: sent as the bytes of its would-be encoding. */
const percentEncoded = (value: string) => {
  try {
    return encodeURIComponent(value);
  } catch {
    return "%ED%A0%80";
  }
};

/** Path parameter values: mostly the seeded tenant's (never for a DELETE: the tenant must survive the run). */
function pathValue(name: string, path: string, method: string, seed: Seed): fc.Arbitrary<string> {
  const random = fc.oneof(
    fc.uuid().map(String),
    fc.integer({ min: -1, max: 1e6 }).map(String),
    oddStrings.map(percentEncoded),
    fc.constantFrom("%", "%zz", "%E0%A4%A", "%00", "..%2F..", "%F0%9F%92%A5", "a%2Fb"),
  );
  if (method === "DELETE") return random;
  const own = /project|environment|team/i.test(name)
    ? String(seed.projectId)
    : /organization/i.test(name) || (name === "id" && path.startsWith("/api/organizations/{id}"))
      ? seed.organizationId
      : null;
  return own ? fc.oneof({ arbitrary: fc.constant(own), weight: 4 }, { arbitrary: random, weight: 1 }) : random;
}

const encode = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value));

function requestOf(doc: Schema, op: Operation, seed: Seed): fc.Arbitrary<FuzzRequest> {
  const pathParams = op.params.filter((p) => p.in === "path");
  const queryParams = op.params.filter((p) => p.in === "query");
  const path = fc
    .tuple(...pathParams.map((p) => pathValue(p.name, op.path, op.method, seed)))
    .map((values) => pathParams.reduce((acc, p, i) => acc.replace(`{${p.name}}`, values[i] as string), op.path));
  const query = fc
    .tuple(
      ...queryParams.map((p) =>
        fc.option(
          fc.oneof(
            { arbitrary: valid(doc, p.schema).map(encode), weight: 3 },
            { arbitrary: wrongValue.map((v) => (v === MB ? LONG_URL_VALUE : encode(v))), weight: 1 },
          ),
          {
            freq: 2,
          },
        ),
      ),
      fc.boolean(),
    )
    .map(([...values]) => {
      const repeat = values.pop() as boolean;
      const pairs: [string, string][] = [];
      queryParams.forEach((p, i) => {
        const v = values[i];
        if (v === null || v === undefined) return;
        pairs.push([p.name, v as string]);
        if (repeat) pairs.push([p.name, v as string]);
      });
      return pairs.length ? `?${new URLSearchParams(pairs)}` : "";
    });
  const validBody = op.body ? valid(doc, op.body) : fc.constant(undefined);
  const bodyKinds = fc.oneof(
    {
      arbitrary: validBody.map((b) => ({ kind: "valid", body: b === undefined ? undefined : JSON.stringify(b), type: op.contentType })),
      weight: 4,
    },
    {
      arbitrary: fc.tuple(validBody, fc.nat(), wrongValue).map(([b, n, w]) => {
        if (!b || typeof b !== "object" || Array.isArray(b)) return { kind: "wrong-type", body: JSON.stringify(w), type: op.contentType };
        const keys = Object.keys(b);
        const key = keys.length ? (keys[n % keys.length] as string) : "x";
        return { kind: "wrong-type", body: JSON.stringify({ ...b, [key]: w }), type: op.contentType };
      }),
      weight: 2,
    },
    {
      arbitrary: fc.tuple(validBody, fc.nat()).map(([b, n]) => {
        const copy = b && typeof b === "object" && !Array.isArray(b) ? { ...(b as Schema) } : {};
        const keys = Object.keys(copy);
        if (keys.length) delete copy[keys[n % keys.length] as string];
        return { kind: "missing-field", body: JSON.stringify(copy), type: op.contentType };
      }),
      weight: 1,
    },
    {
      arbitrary: fc.constantFrom('{"a":', "{", "[1,2", "\u0000", "not json", '{"name": "\\ud800"}', "{}".repeat(1000), "").map((body) => ({
        kind: "malformed-json",
        body,
        type: op.contentType,
      })),
      weight: 1,
    },
    {
      arbitrary: fc
        .tuple(
          validBody,
          fc.constantFrom("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml", ""),
        )
        .map(([b, type]) => ({ kind: "wrong-content-type", body: b === undefined ? "a=1" : JSON.stringify(b), type })),
      weight: 1,
    },
  );
  return fc.record({ path, query, body: bodyKinds, anonymous: fc.nat({ max: 19 }) }).map(({ path: p, query: q, body, anonymous }) => {
    const headers: Record<string, string> = {};
    if (anonymous !== 0) headers.authorization = `Bearer ${seed.key}`;
    const sendsBody = op.method !== "GET" && op.method !== "DELETE";
    if (sendsBody && body.type) headers["content-type"] = body.type;
    return { kind: body.kind, method: op.method, path: `${p}${q}`, headers, body: sendsBody ? body.body : undefined };
  });
}

/** Any request of the document: one operation, then one of its requests. */
export function requestArbitrary(doc: Schema, seed: Seed): fc.Arbitrary<FuzzRequest> {
  const ops = operations(doc);
  return fc.oneof(...ops.map((op) => requestOf(doc, op, seed)));
}

/** What makes an answer a failure: a 5xx, an error body outside the envelope, or more than 10 s. */
export function violation(status: number, text: string, ms: number): string | null {
  if (status >= 500) return `status ${status}`;
  if (ms > 10_000) return `slow: ${ms} ms`;
  if (status < 400) return null;
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    const ok =
      typeof body.type === "string" &&
      typeof body.code === "string" &&
      typeof body.detail === "string" &&
      "attr" in body &&
      (body.attr === null || typeof body.attr === "string");
    return ok ? null : "error body outside the envelope";
  } catch {
    return "error body is not JSON";
  }
}
