// The public face of this domain: what other modules and the entry points may import.

export { projectsActions } from "./projects.actions";
export { newProject, serializeProject } from "./projects.queries";
export { projectsRouter } from "./projects.router";
export { ProjectSchema } from "./projects.routes";
