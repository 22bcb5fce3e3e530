CREATE TABLE `activity_ingest_keys` (
	`key` text PRIMARY KEY NOT NULL,
	`request_hash` text NOT NULL,
	`status` integer NOT NULL,
	`response` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `activity_ingest_keys_created` ON `activity_ingest_keys` (`created_at`);--> statement-breakpoint
CREATE TABLE `activity_log_facets` (
	`organization_id` text NOT NULL,
	`team_id` integer NOT NULL,
	`kind` text NOT NULL,
	`scope` text DEFAULT '' NOT NULL,
	`value` text NOT NULL,
	`type` text DEFAULT '' NOT NULL,
	PRIMARY KEY(`organization_id`, `team_id`, `kind`, `scope`, `value`, `type`)
);
--> statement-breakpoint
CREATE TABLE `activity_notification_bookmarks` (
	`user_id` integer PRIMARY KEY NOT NULL,
	`last_viewed_activity_date` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `exports` (
	`id` text PRIMARY KEY NOT NULL,
	`organization_id` text NOT NULL,
	`team_id` integer,
	`kind` text NOT NULL,
	`format` text NOT NULL,
	`filters` text NOT NULL,
	`filename` text NOT NULL,
	`status` text NOT NULL,
	`rows_written` integer DEFAULT 0 NOT NULL,
	`total_rows` integer,
	`size_bytes` integer,
	`r2_key` text,
	`attempts` integer DEFAULT 0 NOT NULL,
	`exception` text,
	`created_by_id` integer,
	`created_at` integer NOT NULL,
	`started_at` integer,
	`completed_at` integer,
	FOREIGN KEY (`organization_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`team_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`created_by_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `exports_org_created` ON `exports` (`organization_id`,`created_at`);--> statement-breakpoint
DROP INDEX `activity_log_team_created`;--> statement-breakpoint
DROP INDEX `activity_log_org_created`;--> statement-breakpoint
CREATE INDEX `activity_log_team_time` ON `activity_log` (`team_id`,`created_at`,`scope`,`activity`,`user_id`,`client`,`is_system`,`was_impersonated`);--> statement-breakpoint
CREATE INDEX `activity_log_org_time` ON `activity_log` (`organization_id`,`created_at`,`team_id`,`scope`,`activity`,`user_id`,`client`,`is_system`,`was_impersonated`);--> statement-breakpoint
CREATE INDEX `activity_log_team_item` ON `activity_log` (`team_id`,`item_id`);--> statement-breakpoint
CREATE INDEX `activity_log_org_item` ON `activity_log` (`organization_id`,`item_id`);