// The public face of this domain: what other modules and the entry points may import.

export { consumeAlertChecks } from "./alert-checks.consumer";
export { alertsActions } from "./alerts.actions";
export { alertsRouter } from "./alerts.router";
export { evaluateDueAlerts } from "./evaluation.job";
export { LogsAlertObject } from "./logs-alert.object";
