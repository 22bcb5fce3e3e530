DROP INDEX `notification_outbox_created`;--> statement-breakpoint
ALTER TABLE `notification_outbox` ADD `events` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `notification_outbox` ADD `sweep_at` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `notification_outbox_sweep` ON `notification_outbox` (`sweep_at`);--> statement-breakpoint
ALTER TABLE `notification_deliveries` ADD `schedule_attempts` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `notification_deliveries` ADD `sweep_at` integer;--> statement-breakpoint
CREATE INDEX `notification_deliveries_sweep` ON `notification_deliveries` (`sweep_at`) WHERE "notification_deliveries"."sweep_at" IS NOT NULL;--> statement-breakpoint
-- Deliveries already in flight: the sweep steps in 5 minutes past their due time; attempts of a
-- never-redelivered delivery all count against its schedule.
UPDATE `notification_deliveries` SET `sweep_at` = coalesce(`next_retry_at`, `updated_at`) + 300000
  WHERE `status` IN ('pending', 'retrying');--> statement-breakpoint
UPDATE `notification_deliveries` SET `schedule_attempts` = `attempt_count` WHERE `generation` = 0;--> statement-breakpoint
-- Outbox rows already waiting keep their minute of grace.
UPDATE `notification_outbox` SET `sweep_at` = `created_at` + 60000;
