CREATE TABLE `approval_policies` (
	`id` text PRIMARY KEY NOT NULL,
	`organization_id` text NOT NULL,
	`team_id` integer,
	`action_key` text NOT NULL,
	`conditions` text NOT NULL,
	`approver_config` text NOT NULL,
	`allow_self_approve` integer DEFAULT false NOT NULL,
	`bypass_org_membership_levels` text NOT NULL,
	`bypass_roles` text NOT NULL,
	`expires_after_seconds` integer NOT NULL,
	`enabled` integer DEFAULT true NOT NULL,
	`created_by_id` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`organization_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`team_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`created_by_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `approval_policies_org_action` ON `approval_policies` (`organization_id`,`action_key`);--> statement-breakpoint
CREATE TABLE `change_request_votes` (
	`id` text PRIMARY KEY NOT NULL,
	`change_request_id` text NOT NULL,
	`user_id` integer,
	`decision` text NOT NULL,
	`reason` text DEFAULT '' NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`change_request_id`) REFERENCES `change_requests`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `change_request_votes_request_user` ON `change_request_votes` (`change_request_id`,`user_id`);--> statement-breakpoint
CREATE TABLE `change_requests` (
	`id` text PRIMARY KEY NOT NULL,
	`organization_id` text NOT NULL,
	`team_id` integer,
	`action_key` text NOT NULL,
	`action_version` integer DEFAULT 1 NOT NULL,
	`resource_type` text NOT NULL,
	`resource_id` text,
	`intent` text NOT NULL,
	`intent_display` text NOT NULL,
	`policy_snapshot` text NOT NULL,
	`private_data` text,
	`validation_status` text DEFAULT 'valid' NOT NULL,
	`validation_errors` text,
	`validated_at` integer,
	`state` text NOT NULL,
	`created_by_id` integer,
	`applied_by_id` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`applied_at` integer,
	`apply_error` text DEFAULT '' NOT NULL,
	`result_data` text,
	FOREIGN KEY (`organization_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`team_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`created_by_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null,
	FOREIGN KEY (`applied_by_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `change_requests_org_created` ON `change_requests` (`organization_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `change_requests_state_validated` ON `change_requests` (`state`,`validated_at`);