// The public face of this domain: what other modules and the entry points may import.
export { registerOpenApi } from "./openapi.router";
