import { alertsActions } from "./alerts";
import { policiesActions, registerApprovalActions } from "./approvals";
import { membersActions, organizationsActions } from "./organizations";
import { personalApiKeysActions } from "./personal-api-keys";
import { projectsActions } from "./projects";

// Every gateable action, declared by the module that owns its resource and registered once at
// start-up: the app (policies name them, handlers gate them) and the change-request object
// (applies them) both load this module through `index.ts`.
registerApprovalActions([
  ...organizationsActions,
  ...membersActions,
  ...personalApiKeysActions,
  ...projectsActions,
  ...policiesActions,
  ...alertsActions,
]);
