import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { BASE, call, signupFirstUser, type Tenant } from "../helpers";

let owner: Tenant;
beforeAll(async () => {
  owner = await signupFirstUser();
});

async function send(path: string, method: string, body: URLSearchParams | FormData) {
  const res = await exports.default.fetch(
    new Request(`${BASE}${path}`, { method, headers: { authorization: `Bearer ${owner.key}` }, body }),
  );
  return { status: res.status, body: (await res.json()) as any };
}

describe("form-encoded bodies, as DRF takes them", () => {
  it('takes the seed\'s `curl -X PATCH ... -d name="string"` on a logs alert', async () => {
    const alerts = `/api/projects/${owner.projectId}/logs/alerts`;
    const created = (await call(`${alerts}/`, { key: owner.key, body: { filters: { severityLevels: ["error"] } } })).body;
    // curl -d sends application/x-www-form-urlencoded, the shell having eaten the quotes.
    const res = await send(`${alerts}/${created.id}/`, "PATCH", new URLSearchParams({ name: "string" }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: created.id, name: "string" });
  });

  it("reads numbers, booleans, lists and nested JSON through the route's schema, urlencoded or multipart", async () => {
    const form = new URLSearchParams([
      ["name", "Errors"],
      ["enabled", "false"],
      ["threshold_count", "7"],
      ["filters", JSON.stringify({ severityLevels: ["error", "fatal"] })],
    ]);
    const created = await send(`/api/projects/${owner.projectId}/logs/alerts/`, "POST", form);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: "Errors",
      enabled: false,
      threshold_count: 7,
      filters: { severityLevels: ["error", "fatal"] },
    });

    const multipart = new FormData();
    multipart.append("label", "form key");
    multipart.append("scopes", "activity_log:read");
    multipart.append("scopes", "logs:read");
    const key = await send("/api/personal_api_keys/", "POST", multipart);
    expect(key.status).toBe(201);
    expect(key.body.scopes).toEqual(["activity_log:read", "logs:read"]);
  });

  it("validates as the JSON body does", async () => {
    const alerts = `/api/projects/${owner.projectId}/logs/alerts/`;
    const bad = await send(alerts, "POST", new URLSearchParams({ threshold_count: "many", filters: "{}" }));
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ type: "validation_error", attr: "threshold_count" });
    const unknown = await send(alerts, "POST", new URLSearchParams({ colour: "red" }));
    expect(unknown.body).toMatchObject({ type: "validation_error", detail: "Unknown field: colour." });
    const file = new FormData();
    file.append("name", new File(["x"], "x.txt"));
    expect((await send(alerts, "POST", file)).body).toMatchObject({ type: "validation_error", attr: "name" });
  });

  it("documents the form media types next to JSON", async () => {
    const doc = (await call("/api/schema/")).body;
    const content = doc.paths["/api/projects/{project_id}/logs/alerts/{id}"].patch.requestBody.content;
    expect(Object.keys(content)).toEqual(["application/json", "application/x-www-form-urlencoded", "multipart/form-data"]);
  });
});
