CREATE TABLE `notification_deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`destination_id` text NOT NULL,
	`event_id` text NOT NULL,
	`event_type` text NOT NULL,
	`body` text NOT NULL,
	`status` text NOT NULL,
	`attempt_count` integer DEFAULT 0 NOT NULL,
	`generation` integer DEFAULT 0 NOT NULL,
	`last_response_code` integer,
	`last_error` text,
	`next_retry_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`destination_id`) REFERENCES `notification_destinations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `notification_deliveries_event_destination` ON `notification_deliveries` (`event_id`,`destination_id`);--> statement-breakpoint
CREATE INDEX `notification_deliveries_destination_created` ON `notification_deliveries` (`destination_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `notification_deliveries_destination_status` ON `notification_deliveries` (`destination_id`,`status`,`created_at`);--> statement-breakpoint
CREATE TABLE `notification_delivery_attempts` (
	`id` text PRIMARY KEY NOT NULL,
	`delivery_id` text NOT NULL,
	`attempt` integer NOT NULL,
	`status` text NOT NULL,
	`response_code` integer,
	`duration_ms` integer NOT NULL,
	`error` text,
	`response_body` text,
	`next_retry_at` integer,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`delivery_id`) REFERENCES `notification_deliveries`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `notification_delivery_attempts_delivery` ON `notification_delivery_attempts` (`delivery_id`,`attempt`);--> statement-breakpoint
CREATE TABLE `notification_destinations` (
	`id` text PRIMARY KEY NOT NULL,
	`organization_id` text NOT NULL,
	`team_id` integer,
	`name` text NOT NULL,
	`type` text NOT NULL,
	`url` text NOT NULL,
	`enabled` integer NOT NULL,
	`events` text NOT NULL,
	`filters` text NOT NULL,
	`include_organization_activity` integer DEFAULT false NOT NULL,
	`secret` text,
	`previous_secret` text,
	`previous_secret_expires_at` integer,
	`disabled_reason` text,
	`failing_since` integer,
	`last_success_at` integer,
	`created_by_id` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`organization_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`team_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`created_by_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `notification_destinations_owner` ON `notification_destinations` (`organization_id`,`team_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `notification_outbox` (
	`id` text PRIMARY KEY NOT NULL,
	`activity_ids` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `notification_outbox_created` ON `notification_outbox` (`created_at`);--> statement-breakpoint
CREATE TABLE `notification_subscriptions` (
	`organization_id` text NOT NULL,
	`event_type` text NOT NULL,
	`team_key` integer NOT NULL,
	`match_key` text NOT NULL,
	`destination_id` text NOT NULL,
	PRIMARY KEY(`organization_id`, `event_type`, `team_key`, `match_key`, `destination_id`),
	FOREIGN KEY (`destination_id`) REFERENCES `notification_destinations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `notification_subscriptions_destination` ON `notification_subscriptions` (`destination_id`);