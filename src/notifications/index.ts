// The public face of this domain: what other modules and the entry points may import.
export { sweepDeliveries } from "./delivery-sweep.job";
export { auditedFields, DESTINATION_SCOPE, destinationActivity, newDestination } from "./destinations.queries";
export { organizationDestinationsRouter, projectDestinationsRouter } from "./destinations.router";
export { type Destination, subscriptionInserts } from "./matching";
export { consumeNotifications, consumeNotificationsDeadLetters } from "./notifications.consumer";
export { allowLoopback, destinationUrlRefusal } from "./url-safety";
