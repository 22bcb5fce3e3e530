DROP INDEX `activity_log_team_item`;--> statement-breakpoint
DROP INDEX `activity_log_org_item`;