import { createRoute } from "@hono/zod-openapi";
import { approvalGateResponses } from "../approvals";
import { errorResponses, json, jsonBody, secured } from "../http/openapi";
import { LimitOffsetQuery, paginated } from "../lib/pagination";
import { ProjectIdParams, ProjectItemParams } from "../lib/path-params";
import {
  AlertCreateSchema,
  AlertEventSchema,
  AlertSchema,
  AlertUpdateSchema,
  DestinationLinkResultSchema,
  DestinationLinkSchema,
  DestinationUnlinkSchema,
  SimulateSchema,
  SimulationSchema,
} from "./alerts.schemas";

const tags = ["logs alerts"];
const base = "/api/projects/{project_id}/logs/alerts";
const one = `${base}/{id}`;

export const listAlerts = createRoute({
  method: "get",
  path: base,
  operationId: "logs_alerts_list",
  tags,
  summary: "List logs alerts",
  ...secured("logs:read", "member", { oneTrip: true }),
  request: { params: ProjectIdParams, query: LimitOffsetQuery },
  responses: { 200: json(paginated(AlertSchema), "Logs alerts, oldest first"), ...errorResponses },
});

export const createAlert = createRoute({
  method: "post",
  path: base,
  operationId: "logs_alerts_create",
  tags,
  summary: "Create a logs alert (at most 20 per project)",
  ...secured("logs:write", "member"),
  request: { params: ProjectIdParams, body: jsonBody(AlertCreateSchema) },
  responses: { 201: json(AlertSchema, "Created"), ...errorResponses },
});

export const simulateAlert = createRoute({
  method: "post",
  path: `${base}/simulate`,
  operationId: "logs_alerts_simulate_create",
  tags,
  summary: "Replay an alert configuration over stored logs",
  description: "Evaluates the alert at every check time from `date_from` to now against the stored logs, with the same state machine.",
  ...secured("logs:read", "member"),
  request: { params: ProjectIdParams, body: jsonBody(SimulateSchema) },
  responses: { 200: json(SimulationSchema, "One bucket per check"), ...errorResponses },
});

export const getAlert = createRoute({
  method: "get",
  path: one,
  operationId: "logs_alerts_retrieve",
  tags,
  summary: "Retrieve a logs alert",
  ...secured("logs:read", "member", { oneTrip: true }),
  request: { params: ProjectItemParams },
  responses: { 200: json(AlertSchema, "Logs alert"), ...errorResponses },
});

export const updateAlert = createRoute({
  method: "patch",
  path: one,
  operationId: "logs_alerts_partial_update",
  tags,
  summary: "Update a logs alert",
  description:
    "Enabling, disabling, snoozing (`snooze_until`), unsnoozing (`snooze_until: null`) and changing the rules move the state as the README describes. Changing threshold_count, threshold_operator or filters, or disabling, answers 409 when an approval policy covers `logs_alert.update`.",
  ...secured("logs:write", "member"),
  request: { params: ProjectItemParams, body: jsonBody(AlertUpdateSchema) },
  responses: { 200: json(AlertSchema, "Updated"), ...errorResponses, ...approvalGateResponses },
});

export const deleteAlert = createRoute({
  method: "delete",
  path: one,
  operationId: "logs_alerts_destroy",
  tags,
  summary: "Delete a logs alert",
  description: "Answers 409 when an approval policy covers `logs_alert.delete`. Destinations created for the alert are deleted with it.",
  ...secured("logs:write", "member"),
  request: { params: ProjectItemParams },
  responses: { 204: { description: "Deleted" }, ...errorResponses, ...approvalGateResponses },
});

export const resetAlert = createRoute({
  method: "post",
  path: `${one}/reset`,
  operationId: "logs_alerts_reset_create",
  tags,
  summary: "Reset a broken logs alert to not_firing",
  ...secured("logs:write", "member"),
  request: { params: ProjectItemParams },
  responses: { 200: json(AlertSchema, "Reset"), ...errorResponses },
});

export const listAlertEvents = createRoute({
  method: "get",
  path: `${one}/events`,
  operationId: "logs_alerts_events_list",
  tags,
  summary: "Checks and transitions of a logs alert, newest first",
  ...secured("logs:read", "member", { oneTrip: true }),
  request: { params: ProjectItemParams, query: LimitOffsetQuery },
  responses: { 200: json(paginated(AlertEventSchema), "Events"), ...errorResponses },
});

export const linkDestination = createRoute({
  method: "post",
  path: `${one}/destinations`,
  operationId: "logs_alerts_destinations_create",
  tags,
  summary: "Send this alert's firing, resolved and broken notifications to a Slack or webhook destination",
  ...secured("logs:write", "member"),
  request: { params: ProjectItemParams, body: jsonBody(DestinationLinkSchema) },
  responses: { 201: json(DestinationLinkResultSchema, "Created"), ...errorResponses },
});

export const unlinkDestinations = createRoute({
  method: "post",
  path: `${one}/destinations/delete`,
  operationId: "logs_alerts_destinations_delete_create",
  tags,
  summary: "Delete destinations created for this alert",
  ...secured("logs:write", "member"),
  request: { params: ProjectItemParams, body: jsonBody(DestinationUnlinkSchema) },
  responses: { 204: { description: "Deleted" }, ...errorResponses },
});
