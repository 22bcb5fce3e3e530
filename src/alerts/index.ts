// The public face of this domain: what other modules and the entry points may import.

export { alertsActions } from "./alerts.actions";
export { alertsRouter } from "./alerts.router";
export { consumeAlertChecks, evaluateDueAlerts } from "./evaluation.job";
export { LogsAlertObject } from "./logs-alert.object";
