// The public face of this domain: what other modules and the entry points may import.
export { signupRouter } from "./signup.router";
