// The public face of this domain: what other modules and the entry points may import.

export { activityExportSource } from "./activity.export";
export { activityPage } from "./activity.pages";
export {
  type ActivityFilters,
  type ActivityRowRecord,
  type Partition,
  SEARCH_FEW,
  searchCandidates,
  searchProbe,
  selectActivity,
  type TenantQuery,
} from "./activity.queries";
export { activityRouter } from "./activity.router";
export { PaginationQuery } from "./activity.schemas";
export { chainRouter } from "./chain.router";
export { runDailyCheckpointSigning } from "./checkpoints.job";
export { scopeActivityPairs } from "./facets";
export { refreshActivityIndexes } from "./indexes.job";
export { STANDARD_ID } from "./ingest";
export { runDailyActivityRetention } from "./retention.job";
export { itemQuery, SEARCH_MARK_SQL } from "./search-index";
export { ActivitySequencerObject } from "./sequencer.object";
export { SqlParams } from "./sql";
