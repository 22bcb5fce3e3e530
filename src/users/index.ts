// The public face of this domain: what other modules and the entry points may import.
export { usersRouter } from "./users.router";
export { serializeUserBasic, UserBasicSchema } from "./users.schemas";
