ALTER TABLE `organization_invites` ADD `token_hash` text;--> statement-breakpoint
CREATE UNIQUE INDEX `organization_invites_token` ON `organization_invites` (`token_hash`);