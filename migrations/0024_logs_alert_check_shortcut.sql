ALTER TABLE `logs_alert_check_batches` ADD `decided_in_consumer` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `logs_alerts` ADD `recent_breaches` integer;--> statement-breakpoint
ALTER TABLE `logs_alerts` ADD `object_window_end` integer;