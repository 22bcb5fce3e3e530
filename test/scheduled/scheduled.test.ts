import { createExecutionContext, createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { runScheduled, SCHEDULED_JOBS } from "../../src/scheduled/scheduled";

afterEach(() => vi.restoreAllMocks());

describe("every-minute cron tick", () => {
  it("runs every job on an empty instance", async () => {
    const controller = createScheduledController({ scheduledTime: Date.UTC(2026, 10, 22, 3, 0), cron: "* * * * *" });
    await expect(runScheduled(controller, env, createExecutionContext())).resolves.toBeUndefined();
  });

  it("keeps running the other jobs when one fails, then reports the failure", async () => {
    const ran: string[] = [];
    const original = { ...SCHEDULED_JOBS };
    for (const name of Object.keys(SCHEDULED_JOBS)) {
      SCHEDULED_JOBS[name] = async () => {
        ran.push(name);
        if (name === "evaluateDueAlerts") throw new Error("boom");
      };
    }
    vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const controller = createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" });
      await expect(runScheduled(controller, env, createExecutionContext())).rejects.toThrow("evaluateDueAlerts: Error: boom");
      expect(ran).toEqual(Object.keys(original));
    } finally {
      Object.assign(SCHEDULED_JOBS, original);
    }
  });
});
