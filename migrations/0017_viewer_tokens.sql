ALTER TABLE `personal_api_keys` ADD `kind` text DEFAULT 'personal' NOT NULL;--> statement-breakpoint
ALTER TABLE `personal_api_keys` ADD `expires_at` integer;