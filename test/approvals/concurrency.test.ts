import { beforeAll, expect, it } from "vitest";
import { activityRows, addMember, call, signupFirstUser, type Tenant } from "../helpers";
import { createPolicy, decide, mirrorRow } from "./approvals-helpers";

let owner: Tenant;
let approvers: Tenant[];

beforeAll(async () => {
  owner = await signupFirstUser();
  approvers = [await addMember(owner, 1), await addMember(owner, 1), await addMember(owner, 1)];
  await createPolicy(owner, { action_key: "organization.update", approver_config: { users: approvers.map((a) => a.userId), quorum: 2 } });
});

it("serialises 50 simultaneous approvals by 3 approvers: exactly 2 accepted votes, one apply, no 5xx", async () => {
  const gated = await call(`/api/organizations/${owner.organizationId}/`, { key: owner.key, method: "PATCH", body: { name: "Raced" } });
  expect(gated.status).toBe(409);
  const id = gated.body.change_request_id;

  const responses = await Promise.all(
    Array.from({ length: 50 }, (_, i) => decide(approvers[i % 3]!, id, "approve", { reason: `vote ${i}` })),
  );

  expect(responses.filter((r) => r.status >= 500)).toEqual([]);
  const accepted = responses.filter((r) => r.status === 200);
  expect(accepted).toHaveLength(2);
  expect(accepted.map((r) => r.body.status).sort()).toEqual(["applied", "approved"]);
  // Every other call is a clean refusal: a second vote (400) or a vote after the apply (403).
  expect(responses.every((r) => [200, 400, 403].includes(r.status))).toBe(true);

  const final = (await call(`/api/projects/${owner.projectId}/change_requests/${id}/`, { key: owner.key })).body;
  expect(final.state).toBe("applied");
  expect(final.approvals).toHaveLength(2);
  expect(new Set(final.approvals.map((v: any) => v.created_by.id)).size).toBe(2);
  const votes = await call(`/api/projects/${owner.projectId}/change_requests/?state=applied`, { key: owner.key });
  expect(votes.body.results[0].approvals).toHaveLength(2);
  expect((await mirrorRow(id))?.state).toBe("applied");

  const applied = (await activityRows({ scope: "Organization", activity: "updated" })).filter((r) => r.detail.trigger?.job_id === id);
  expect(applied).toHaveLength(1);
  expect((await activityRows({ scope: "ChangeRequest", activity: "applied" })).filter((r) => r.item_id === id)).toHaveLength(1);
  expect((await activityRows({ scope: "ChangeRequest", activity: "approved" })).filter((r) => r.item_id === id)).toHaveLength(2);
  expect((await call(`/api/organizations/${owner.organizationId}/`, { key: owner.key })).body.name).toBe("Raced");
}, 60_000);

it("creates one change request for simultaneous identical gated writes; the others answer change_request_pending", async () => {
  const responses = await Promise.all(
    Array.from({ length: 10 }, () =>
      call(`/api/organizations/${owner.organizationId}/`, { key: owner.key, method: "PATCH", body: { name: "Twice raced" } }),
    ),
  );
  expect(responses.map((r) => r.status)).toEqual(Array(10).fill(409));
  const codes = responses.map((r) => r.body.code);
  expect(codes.filter((c) => c === "approval_required")).toHaveLength(1);
  expect(new Set(responses.map((r) => r.body.change_request_id)).size).toBe(1);
  const open = await call(`/api/projects/${owner.projectId}/change_requests/?state=pending`, { key: owner.key });
  expect(open.body.count).toBe(1);
}, 60_000);
