import { DurableObject } from "cloudflare:workers";
import { eq, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { type ActivityEntry, type Actor, commitWithActivity, createdChange, diffChanges, SYSTEM_ACTOR } from "../audit/record";
import { createDb } from "../db/client";
import { changeRequests, changeRequestVotes } from "../db/schema";
import type { Env } from "../env";
import { ApiError } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import type { NotificationEvent, NotificationEventType } from "../lib/messages";
import { SerialQueue } from "../lib/serial-queue";
import {
  appliedRecord,
  cancelRefusal,
  cancelVotes,
  completeRefusal,
  failedRecord,
  preconditionsMatch,
  type Refusal,
  tally,
  validation,
  voteRefusal,
  withState,
} from "./change-request.machine";
import { changeRequestEventData, votesQuery } from "./change-requests.queries";
import {
  type ChangeRequestRecord,
  type ChangeRequestSnapshot,
  OPEN_STATES,
  recordFromRow,
  rowValues,
  type VoteRecord,
  type Voter,
  voteFromRow,
} from "./model";
import { type ApplyPlan, getApprovalAction, isAppActionKey, ValidationFailed } from "./registry";

const SCOPE = "ChangeRequest";

/** A step's notification event: it goes in the outbox row of the step's own D1 batch. */
interface EventStep {
  type: NotificationEventType;
  activity: string;
  actorId: number | null;
  reason?: string;
}

export type StepResult =
  | { ok: true; status: string; message: string; snapshot: ChangeRequestSnapshot; result?: Record<string, unknown> }
  | Refusal;

/**
 * One object per change request (named by its id). It owns the request's votes and state machine
 * (pending -> approved -> applied | failed; pending -> rejected | expired), serialises every step
 * (concurrent votes from many clients run one at a time), applies the change exactly once at
 * quorum, and expires the request from an alarm at expires_at.
 *
 * Every step commits to D1 first (mirror row, vote, activity rows, the step's notification events
 * in the outbox and, at quorum, the change itself, in one batch) and then to the object's own
 * storage; after a restart between the two the object adopts the mirror, so a step is never lost
 * nor repeated. An apply that deletes the request's own project deletes the mirror with it: an
 * object that finds its open request's mirror gone forgets the request (and its expiry alarm), so
 * an applied change is never later marked `expired`.
 */
export class ChangeRequestObject extends DurableObject<Env> {
  private record: ChangeRequestRecord | null = null;
  private privateData: Record<string, unknown> | null = null;
  private votes: VoteRecord[] = [];
  private loaded = false;
  private readonly steps = new SerialQueue();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS change_request (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), record TEXT NOT NULL, private_data TEXT)",
    );
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS votes (id TEXT PRIMARY KEY, user_id INTEGER UNIQUE, decision TEXT NOT NULL, reason TEXT NOT NULL, created_at INTEGER NOT NULL)",
    );
  }

  private async load(id?: string): Promise<void> {
    if (this.loaded) return;
    const [row] = this.ctx.storage.sql
      .exec<{ record: string; private_data: string | null }>("SELECT record, private_data FROM change_request")
      .toArray();
    if (row) {
      this.record = JSON.parse(row.record);
      this.privateData = row.private_data ? JSON.parse(row.private_data) : null;
      this.votes = this.ctx.storage.sql
        .exec<{ id: string; user_id: number | null; decision: VoteRecord["decision"]; reason: string; created_at: number }>(
          "SELECT * FROM votes ORDER BY created_at, id",
        )
        .toArray()
        .map((v) => ({ id: v.id, userId: v.user_id, decision: v.decision, reason: v.reason, createdAt: v.created_at }));
    }
    const recordId = this.record?.id ?? id;
    if (recordId && (!this.record || OPEN_STATES.includes(this.record.state))) {
      const db = createDb(this.env.DB);
      const [[mirror], votes] = await db.batch([
        db.select().from(changeRequests).where(eq(changeRequests.id, recordId)),
        votesQuery(db, [recordId]),
      ]);
      if (mirror) {
        this.persist(recordFromRow(mirror), mirror.privateData, votes.map(voteFromRow));
        if (mirror.state === "pending" && (await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(mirror.expiresAt);
      } else if (this.record) {
        // The mirror is written before the object's storage, so it existed: it went with its project
        // or organization, possibly in this request's own apply (project.delete) right before a
        // restart. Either way nothing is left to decide, and expiring it would contradict the apply.
        await this.forget();
      }
    }
    this.loaded = true;
  }

  private async forget(): Promise<void> {
    const storage = this.ctx.storage;
    storage.transactionSync(() => {
      storage.sql.exec("DELETE FROM change_request");
      storage.sql.exec("DELETE FROM votes");
    });
    await storage.deleteAlarm();
    this.record = null;
    this.privateData = null;
    this.votes = [];
  }

  private persist(record: ChangeRequestRecord, privateData: Record<string, unknown> | null, votes: VoteRecord[]) {
    const storage = this.ctx.storage;
    storage.transactionSync(() => {
      storage.sql.exec(
        "INSERT OR REPLACE INTO change_request (singleton, record, private_data) VALUES (1, ?, ?)",
        JSON.stringify(record),
        privateData ? JSON.stringify(privateData) : null,
      );
      storage.sql.exec("DELETE FROM votes");
      for (const v of votes) {
        storage.sql.exec("INSERT INTO votes VALUES (?, ?, ?, ?, ?)", v.id, v.userId, v.decision, v.reason, v.createdAt);
      }
    });
    this.record = record;
    this.privateData = privateData;
    this.votes = votes;
  }

  private snapshot(): ChangeRequestSnapshot {
    return { record: this.record!, votes: this.votes };
  }

  private entry(record: ChangeRequestRecord, activity: string, changes: ActivityEntry["detail"]["changes"], context = {}): ActivityEntry {
    return {
      organizationId: record.organizationId,
      teamId: record.teamId,
      scope: SCOPE,
      activity,
      itemId: record.id,
      detail: {
        name: record.intentDisplay.description,
        changes,
        context: { action_key: record.actionKey, resource_type: record.resourceType, resource_id: record.resourceId, ...context },
      },
    };
  }

  private stateEntry(before: ChangeRequestRecord, after: ChangeRequestRecord, activity: string, context = {}) {
    return this.entry(after, activity, diffChanges(SCOPE, { state: before.state }, { state: after.state }), context);
  }

  private voteWrite(db: ReturnType<typeof createDb>, record: ChangeRequestRecord, vote: VoteRecord) {
    return db
      .insert(changeRequestVotes)
      .values({ ...vote, changeRequestId: record.id, createdAt: new Date(vote.createdAt) })
      .onConflictDoUpdate({
        target: [changeRequestVotes.changeRequestId, changeRequestVotes.userId],
        set: { decision: vote.decision, reason: vote.reason, createdAt: new Date(vote.createdAt) },
      });
  }

  /** D1 first (mirror, extra writes, activity and events in one batch), then the object's storage. */
  private async commit(
    actor: Actor,
    record: ChangeRequestRecord,
    votes: VoteRecord[],
    writes: BatchItem<"sqlite">[],
    entries: ActivityEntry[],
    events: NotificationEvent[] = [],
  ): Promise<void> {
    await this.commitToD1(actor, record, writes, entries, events);
    await this.settle(record, votes);
  }

  private async commitToD1(
    actor: Actor,
    record: ChangeRequestRecord,
    writes: BatchItem<"sqlite">[],
    entries: ActivityEntry[],
    events: NotificationEvent[],
  ): Promise<void> {
    const db = createDb(this.env.DB);
    // The mirror row goes first: an applied delete may cascade it away later in the same batch.
    const mirror = db.update(changeRequests).set(rowValues(record)).where(eq(changeRequests.id, record.id));
    await commitWithActivity({ db, env: this.env, actor, waitUntil: (p) => this.ctx.waitUntil(p) }, [mirror, ...writes], entries, events);
  }

  /** The object's own storage catches up with a step D1 recorded. */
  private async settle(record: ChangeRequestRecord, votes: VoteRecord[]): Promise<void> {
    this.persist(record, this.privateData, votes);
    if (record.state !== "pending") await this.ctx.storage.deleteAlarm();
  }

  /**
   * The notification events of a step, built before its commit from the state it commits (they go
   * in the commit's outbox row). Ids are deterministic, so a replayed step creates no new delivery.
   */
  private async events(record: ChangeRequestRecord, votes: VoteRecord[], steps: EventStep[]): Promise<NotificationEvent[]> {
    const db = createDb(this.env.DB);
    const occurredAt = new Date().toISOString();
    return Promise.all(
      steps.map(async ({ type, activity, actorId, reason }) => ({
        id: `${record.id}:${type === "change_request_approved" ? `${type}:${actorId}` : type}`,
        type,
        organizationId: record.organizationId,
        teamId: record.teamId,
        scope: SCOPE,
        activity,
        itemId: record.id,
        occurredAt,
        data: await changeRequestEventData(db, { record, votes }, actorId, reason),
      })),
    );
  }

  /** Writes a new request (from the gate); null when an identical request is already open (unique index). */
  create(input: {
    record: ChangeRequestRecord;
    privateData: Record<string, unknown> | null;
    actor: Actor;
  }): Promise<{ snapshot: ChangeRequestSnapshot | null }> {
    return this.steps.run(async () => {
      // A new id: nothing in D1 to adopt yet.
      await this.load();
      if (this.record) return { snapshot: this.snapshot() };
      const { record, privateData } = input;
      const db = createDb(this.env.DB);
      const events = await this.events(record, [], [{ type: "change_request_created", activity: "created", actorId: record.createdById }]);
      try {
        await commitWithActivity(
          { db, env: this.env, actor: input.actor, waitUntil: (p) => this.ctx.waitUntil(p) },
          [db.insert(changeRequests).values({ ...rowValues(record), privateData })],
          [
            this.entry(
              record,
              "created",
              createdChange(SCOPE, { action_key: record.actionKey, resource_type: record.resourceType, resource_id: record.resourceId }),
            ),
          ],
          events,
        );
      } catch (error) {
        if (String(error).includes("UNIQUE constraint failed")) return { snapshot: null };
        throw error;
      }
      this.persist(record, privateData, []);
      await this.ctx.storage.setAlarm(record.expiresAt);
      return { snapshot: this.snapshot() };
    });
  }

  approve(input: { id: string; voter: Voter; actor: Actor; reason: string }): Promise<StepResult> {
    return this.steps.run(async () => {
      await this.load(input.id);
      const refusal = voteRefusal(this.record, this.votes, input.voter, "approve");
      if (refusal) return refusal;
      const record = this.record!;
      const db = createDb(this.env.DB);
      const now = Date.now();
      const vote: VoteRecord = { id: uuidv7(now), userId: input.voter.userId, decision: "approved", reason: input.reason, createdAt: now };
      const votes = [...this.votes, vote];
      const { approvals, quorum, reached } = tally(record, votes);
      const voteChange = { type: SCOPE, action: "changed", field: "approvals", after: { decision: "approved", reason: input.reason } };
      const approvedStep: EventStep = {
        type: "change_request_approved",
        activity: "approved",
        actorId: input.voter.userId,
        reason: input.reason,
      };

      if (!reached) {
        const next = { ...record, updatedAt: now };
        await this.commit(
          input.actor,
          next,
          votes,
          [this.voteWrite(db, next, vote)],
          [this.entry(next, "approved", [voteChange])],
          await this.events(next, votes, [approvedStep]),
        );
        return {
          ok: true,
          status: "approved",
          message: `Approval recorded. ${approvals}/${quorum} approvals received.`,
          snapshot: this.snapshot(),
        };
      }

      const approved = withState(record, "approved", now);
      const approvedEntry = this.entry(approved, "approved", [
        voteChange,
        ...diffChanges(SCOPE, { state: record.state }, { state: approved.state }),
      ]);
      if (isAppActionKey(record.actionKey)) {
        await this.commit(
          input.actor,
          approved,
          votes,
          [this.voteWrite(db, approved, vote)],
          [approvedEntry],
          await this.events(approved, votes, [approvedStep]),
        );
        return {
          ok: true,
          status: "approved",
          message: "Quorum reached. Change approved: the app applies it and reports back with complete/.",
          snapshot: this.snapshot(),
        };
      }

      const prepared = await this.prepareApply(approved, votes);
      let next = prepared.next;
      if (prepared.plan) {
        // Built before the batch: an applied project.delete takes the request's mirror with it.
        const events = await this.events(next, votes, [
          approvedStep,
          { type: "change_request_applied", activity: "applied", actorId: input.voter.userId },
        ]);
        let committed = false;
        try {
          await this.commitToD1(
            input.actor,
            next,
            [this.voteWrite(db, next, vote), ...prepared.plan.writes],
            [approvedEntry, this.stateEntry(approved, next, "applied"), ...this.asRequester(next, prepared.plan.entries)],
            events,
          );
          committed = true;
        } catch (error) {
          // The change itself was refused by D1 (e.g. a constraint): record the failure instead.
          next = failedRecord(approved, error instanceof Error ? error.message : String(error));
        }
        // Outside the try: once D1 has the apply, nothing may record it as failed.
        if (committed) await this.settle(next, votes);
      }
      if (next.state === "failed") {
        await this.commit(
          input.actor,
          next,
          votes,
          [this.voteWrite(db, next, vote)],
          [approvedEntry, this.stateEntry(approved, next, "failed", { apply_error: next.applyError })],
          await this.events(next, votes, [approvedStep]),
        );
      }
      if (next.state === "applied") {
        return {
          ok: true,
          status: "applied",
          message: "Quorum reached. Change applied successfully.",
          snapshot: this.snapshot(),
          result: next.resultData ?? {},
        };
      }
      return {
        ok: true,
        status: "failed",
        message: `Quorum reached but application failed: ${next.applyError}`,
        snapshot: this.snapshot(),
      };
    });
  }

  /** Re-checks preconditions and validity, then builds the change's writes (or the failed record). */
  private async prepareApply(
    approved: ChangeRequestRecord,
    votes: VoteRecord[],
  ): Promise<{ next: ChangeRequestRecord; plan: ApplyPlan | null }> {
    const failed = (applyError: string) => ({ next: failedRecord(approved, applyError), plan: null });
    const action = getApprovalAction(approved.actionKey);
    if (!action) return failed(`Action ${approved.actionKey} not found in registry`);
    const ctx = { db: createDb(this.env.DB), env: this.env, changeRequest: approved, privateData: this.privateData };
    const subject = `${approved.resourceType} ${approved.resourceId ?? ""}`.trim();
    try {
      const current = await action.preconditions(ctx);
      if (current === null) return failed(`Precondition failed: ${subject} no longer exists`);
      if (!preconditionsMatch(current, approved.intent.preconditions)) {
        return failed(`Precondition failed: ${subject} was modified since the change request was created`);
      }
      const plan = await action.apply(ctx);
      const approvers = votes.filter((v) => v.decision === "approved").map((v) => v.userId);
      plan.entries = plan.entries.map((e) => ({
        ...e,
        detail: {
          ...e.detail,
          trigger: { job_type: "change_request", job_id: approved.id, payload: { action_key: approved.actionKey, approved_by: approvers } },
        },
      }));
      return { next: appliedRecord(approved, plan.result, Date.now()), plan };
    } catch (error) {
      if (error instanceof ValidationFailed) return failed(`Validation failed: ${error.message}`);
      if (error instanceof ApiError) return failed(`Validation failed: ${error.detail}`);
      return failed(error instanceof Error ? error.message : String(error));
    }
  }

  /** The applied change's own activity rows name the requester (applied_by), not the approver. */
  private asRequester(record: ChangeRequestRecord, entries: ActivityEntry[]): ActivityEntry[] {
    return entries.map((e) => ({ ...e, userId: sql`${record.createdById}` }));
  }

  reject(input: { id: string; voter: Voter; actor: Actor; reason: string }): Promise<StepResult> {
    return this.steps.run(async () => {
      await this.load(input.id);
      const refusal = voteRefusal(this.record, this.votes, input.voter, "reject");
      if (refusal) return refusal;
      const record = this.record!;
      const now = Date.now();
      const vote: VoteRecord = { id: uuidv7(now), userId: input.voter.userId, decision: "rejected", reason: input.reason, createdAt: now };
      const next = withState(record, "rejected", now);
      const votes = [...this.votes, vote];
      await this.commit(
        input.actor,
        next,
        votes,
        [this.voteWrite(createDb(this.env.DB), next, vote)],
        [this.stateEntry(record, next, "rejected", { reason: input.reason })],
        await this.events(next, votes, [
          { type: "change_request_rejected", activity: "rejected", actorId: input.voter.userId, reason: input.reason },
        ]),
      );
      return { ok: true, status: "rejected", message: "Change request rejected.", snapshot: this.snapshot() };
    });
  }

  /** The requester withdraws a pending request: recorded as their rejection, answered as "canceled". */
  cancel(input: { id: string; userId: number; actor: Actor; reason: string }): Promise<StepResult> {
    return this.steps.run(async () => {
      await this.load(input.id);
      const refusal = cancelRefusal(this.record, this.votes, input.userId);
      if (refusal) return refusal;
      const record = this.record!;
      const now = Date.now();
      const own = this.votes.find((v) => v.userId === input.userId);
      const vote: VoteRecord = {
        id: own?.id ?? uuidv7(now),
        userId: input.userId,
        decision: "rejected",
        reason: input.reason,
        createdAt: now,
      };
      const next = withState(record, "rejected", now);
      const votes = cancelVotes(this.votes, vote);
      await this.commit(
        input.actor,
        next,
        votes,
        [this.voteWrite(createDb(this.env.DB), next, vote)],
        [this.stateEntry(record, next, "rejected", { reason: input.reason, canceled: true })],
        await this.events(next, votes, [
          { type: "change_request_rejected", activity: "rejected", actorId: input.userId, reason: input.reason },
        ]),
      );
      return { ok: true, status: "canceled", message: "Change request canceled.", snapshot: this.snapshot() };
    });
  }

  /** An app reports the outcome of applying its own approved change. */
  complete(input: {
    id: string;
    userId: number;
    actor: Actor;
    success: boolean;
    resultData: Record<string, unknown> | null;
    applyError: string;
  }): Promise<StepResult> {
    return this.steps.run(async () => {
      await this.load(input.id);
      const refusal = completeRefusal(this.record, input.userId, isAppActionKey(this.record?.actionKey ?? ""));
      if (refusal) return refusal;
      const record = this.record!;
      const now = Date.now();
      const next = input.success
        ? appliedRecord(record, input.resultData ?? { resource_id: record.resourceId, resource_version: null }, now)
        : failedRecord(withState(record, record.state, now), input.applyError);
      const context = input.success ? {} : { apply_error: input.applyError };
      const events = input.success
        ? await this.events(next, this.votes, [{ type: "change_request_applied", activity: "applied", actorId: input.userId }])
        : [];
      await this.commit(input.actor, next, this.votes, [], [this.stateEntry(record, next, next.state, context)], events);
      return {
        ok: true,
        status: next.state,
        message: input.success ? "Change applied." : "Change recorded as failed.",
        snapshot: this.snapshot(),
      };
    });
  }

  /**
   * The cron's re-validation: compares the resource with the request's preconditions and records
   * valid / stale (modified since; the requester may then cancel even after approvals) / invalid (gone).
   */
  revalidate(id: string): Promise<ChangeRequestRecord["validationStatus"] | null> {
    return this.steps.run(async () => {
      await this.load(id);
      const record = this.record;
      const action = record && record.state === "pending" ? getApprovalAction(record.actionKey) : undefined;
      if (!record || !action) return null;
      const db = createDb(this.env.DB);
      const current = await action.preconditions({ db, env: this.env, changeRequest: record, privateData: this.privateData });
      const { status, errors } = validation(current, record);
      const next: ChangeRequestRecord = { ...record, validationStatus: status, validationErrors: errors, validatedAt: Date.now() };
      const changed = status !== record.validationStatus;
      const entries = changed
        ? [this.entry(next, "updated", diffChanges(SCOPE, { validation_status: record.validationStatus }, { validation_status: status }))]
        : [];
      await this.commit(SYSTEM_ACTOR, next, this.votes, [], entries);
      return status;
    });
  }

  /** expires_at reached: a still-pending request expires (a system step). Throwing lets the alarm retry. */
  override async alarm(): Promise<void> {
    await this.steps.run(async () => {
      await this.load();
      const record = this.record;
      if (!record || record.state !== "pending") return;
      const next = withState(record, "expired", Date.now());
      await this.commit(
        SYSTEM_ACTOR,
        next,
        this.votes,
        [],
        [this.stateEntry(record, next, "expired")],
        await this.events(next, this.votes, [{ type: "change_request_expired", activity: "expired", actorId: null }]),
      );
    });
  }
}
