ALTER TABLE `activity_log` ADD `recorded_by_user_id` integer;--> statement-breakpoint
ALTER TABLE `activity_log` ADD `recorded_by_key_id` text;