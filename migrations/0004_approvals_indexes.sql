-- SQLite treats NULLs as distinct in unique indexes, so the optional columns are coalesced.
-- One policy per (organization, project or organization-wide, action key).
CREATE UNIQUE INDEX `approval_policies_scope_action` ON `approval_policies` (`organization_id`, coalesce(`team_id`, 0), `action_key`);
--> statement-breakpoint
-- At most one open change request per action and resource (per requester for creates, which have
-- no resource id yet): the loser of two simultaneous gated writes fails here and answers
-- change_request_pending.
CREATE UNIQUE INDEX `change_requests_open_resource` ON `change_requests` (`action_key`, `organization_id`, coalesce(`team_id`, 0), `resource_type`, coalesce(`resource_id`, 'new:' || `created_by_id`)) WHERE `state` IN ('pending', 'approved');
