CREATE TABLE `activity_chain` (
	`seq` integer PRIMARY KEY NOT NULL,
	`organization_id` text NOT NULL,
	`sequence` integer NOT NULL,
	`hash` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `activity_chain_org_sequence` ON `activity_chain` (`organization_id`,`sequence`);--> statement-breakpoint
CREATE TABLE `activity_chain_checkpoints` (
	`id` text PRIMARY KEY NOT NULL,
	`organization_id` text NOT NULL,
	`kind` text NOT NULL,
	`sequence` integer NOT NULL,
	`hash` text NOT NULL,
	`created_at` integer NOT NULL,
	`key_id` text,
	`signature` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `activity_chain_checkpoints_org` ON `activity_chain_checkpoints` (`organization_id`,`kind`,`sequence`);--> statement-breakpoint
CREATE TABLE `activity_chain_heads` (
	`organization_id` text PRIMARY KEY NOT NULL,
	`sequence` integer NOT NULL,
	`hash` text NOT NULL
);
--> statement-breakpoint
-- The chain is append-only like the rows: a place in it goes only with its row (retention).
CREATE TRIGGER `activity_chain_delete` AFTER DELETE ON `activity_log` BEGIN
  DELETE FROM `activity_chain` WHERE `seq` = old.`seq`;
END;
--> statement-breakpoint
CREATE TRIGGER `activity_chain_append_only` BEFORE UPDATE ON `activity_chain` BEGIN
  SELECT RAISE(ABORT, 'activity_chain is append-only');
END;
--> statement-breakpoint
CREATE TRIGGER `activity_chain_delete_with_row` BEFORE DELETE ON `activity_chain`
WHEN EXISTS (SELECT 1 FROM `activity_log` WHERE `seq` = old.`seq`)
BEGIN
  SELECT RAISE(ABORT, 'activity_chain entries go only with their row');
END;
--> statement-breakpoint
CREATE TRIGGER `activity_chain_heads_forward` BEFORE UPDATE ON `activity_chain_heads`
WHEN new.`sequence` <= old.`sequence`
BEGIN
  SELECT RAISE(ABORT, 'activity_chain_heads only move forward');
END;
--> statement-breakpoint
CREATE TRIGGER `activity_chain_checkpoints_no_update` BEFORE UPDATE ON `activity_chain_checkpoints` BEGIN
  SELECT RAISE(ABORT, 'activity_chain_checkpoints is append-only');
END;
--> statement-breakpoint
CREATE TRIGGER `activity_chain_checkpoints_no_delete` BEFORE DELETE ON `activity_chain_checkpoints` BEGIN
  SELECT RAISE(ABORT, 'activity_chain_checkpoints is append-only');
END;
