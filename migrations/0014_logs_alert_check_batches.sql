CREATE TABLE `logs_alert_check_batches` (
	`id` text PRIMARY KEY NOT NULL,
	`window_end` integer NOT NULL,
	`due` integer NOT NULL,
	`checked` integer NOT NULL,
	`skipped` integer NOT NULL,
	`failed` integer NOT NULL,
	`notifications` integer NOT NULL,
	`enqueued_at` integer NOT NULL,
	`started_at` integer NOT NULL,
	`finished_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `logs_alert_check_batches_window` ON `logs_alert_check_batches` (`window_end`);