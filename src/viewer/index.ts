// The public face of this domain: what other modules and the entry points may import.
export { viewerTokensRouter } from "./viewer-tokens.router";
