// The public face of this domain: what other modules and the entry points may import.

export { personalApiKeysActions } from "./personal-api-keys.actions";
export { maskKeyValue, newPersonalApiKey } from "./personal-api-keys.queries";
export { personalApiKeysRouter } from "./personal-api-keys.router";
