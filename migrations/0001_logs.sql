CREATE TABLE `log_attribute_keys` (
	`project_id` integer NOT NULL,
	`attribute_type` text NOT NULL,
	`hour` integer NOT NULL,
	`key` text NOT NULL,
	`service_name` text NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`project_id`, `attribute_type`, `hour`, `key`, `service_name`),
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `log_attribute_values` (
	`project_id` integer NOT NULL,
	`attribute_type` text NOT NULL,
	`key` text NOT NULL,
	`hour` integer NOT NULL,
	`value` text NOT NULL,
	`service_name` text NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`project_id`, `attribute_type`, `key`, `hour`, `value`, `service_name`),
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `log_attribute_values_project_hour` ON `log_attribute_values` (`project_id`,`hour`);--> statement-breakpoint
CREATE TABLE `log_minute_counts` (
	`project_id` integer NOT NULL,
	`minute` integer NOT NULL,
	`service_name` text NOT NULL,
	`severity_text` text NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`project_id`, `minute`, `service_name`, `severity_text`),
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `log_records` (
	`id` integer PRIMARY KEY NOT NULL,
	`uuid` text NOT NULL,
	`project_id` integer NOT NULL,
	`timestamp` integer NOT NULL,
	`observed_timestamp` integer NOT NULL,
	`severity_text` text NOT NULL,
	`severity_number` integer NOT NULL,
	`service_name` text NOT NULL,
	`body` text NOT NULL,
	`trace_id` text,
	`span_id` text,
	`trace_flags` integer NOT NULL,
	`attributes` text NOT NULL,
	`resource_attributes` text NOT NULL,
	`instrumentation_scope` text NOT NULL,
	`event_name` text NOT NULL,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `log_records_project_time` ON `log_records` (`project_id`,`timestamp`,`severity_text`,`service_name`);--> statement-breakpoint
CREATE INDEX `log_records_project_service_time` ON `log_records` (`project_id`,`service_name`,`timestamp`);--> statement-breakpoint
CREATE INDEX `log_records_project_severity_time` ON `log_records` (`project_id`,`severity_text`,`timestamp`);