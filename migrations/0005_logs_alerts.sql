CREATE TABLE `logs_alert_destinations` (
	`alert_id` text NOT NULL,
	`destination_id` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`alert_id`, `destination_id`),
	FOREIGN KEY (`alert_id`) REFERENCES `logs_alerts`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`destination_id`) REFERENCES `notification_destinations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `logs_alert_destinations_destination` ON `logs_alert_destinations` (`destination_id`);--> statement-breakpoint
CREATE TABLE `logs_alert_events` (
	`id` text PRIMARY KEY NOT NULL,
	`alert_id` text NOT NULL,
	`kind` text NOT NULL,
	`result_count` integer,
	`threshold_breached` integer,
	`state_before` text NOT NULL,
	`state_after` text NOT NULL,
	`error_message` text,
	`query_duration_ms` integer,
	`notification` text,
	`window_start` integer,
	`window_end` integer,
	`routine` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`alert_id`) REFERENCES `logs_alerts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `logs_alert_events_alert_created` ON `logs_alert_events` (`alert_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `logs_alert_events_alert_routine` ON `logs_alert_events` (`alert_id`,`routine`,`created_at`);--> statement-breakpoint
CREATE INDEX `logs_alert_events_created` ON `logs_alert_events` (`created_at`);--> statement-breakpoint
CREATE TABLE `logs_alert_job_runs` (
	`window_end` integer PRIMARY KEY NOT NULL,
	`started_at` integer NOT NULL,
	`finished_at` integer,
	`due` integer DEFAULT 0 NOT NULL,
	`checked` integer DEFAULT 0 NOT NULL,
	`skipped` integer DEFAULT 0 NOT NULL,
	`failed` integer DEFAULT 0 NOT NULL,
	`notifications` integer DEFAULT 0 NOT NULL,
	`check_p_50_ms` integer,
	`check_p_95_ms` integer
);
--> statement-breakpoint
CREATE TABLE `logs_alerts` (
	`id` text PRIMARY KEY NOT NULL,
	`organization_id` text NOT NULL,
	`team_id` integer NOT NULL,
	`name` text NOT NULL,
	`enabled` integer NOT NULL,
	`filters` text NOT NULL,
	`threshold_count` integer NOT NULL,
	`threshold_operator` text NOT NULL,
	`window_minutes` integer NOT NULL,
	`check_interval_minutes` integer NOT NULL,
	`evaluation_periods` integer NOT NULL,
	`datapoints_to_alarm` integer NOT NULL,
	`cooldown_minutes` integer NOT NULL,
	`snooze_until` integer,
	`state` text NOT NULL,
	`version` integer DEFAULT 1 NOT NULL,
	`next_check_at` integer,
	`last_notified_at` integer,
	`last_checked_at` integer,
	`consecutive_failures` integer DEFAULT 0 NOT NULL,
	`last_error_message` text,
	`first_enabled_at` integer,
	`created_by_id` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`organization_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`team_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`created_by_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `logs_alerts_team_created` ON `logs_alerts` (`team_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `logs_alerts_due` ON `logs_alerts` (`next_check_at`,`id`);