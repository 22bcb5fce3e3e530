-- search_text: a trigram index over each row's detail JSON. detail='none' keeps it small (row ids
-- only), so a search asks for every trigram of the text and the query re-checks the substring on
-- the row. Contentless with contentless_delete, so the retention sweep can remove entries by rowid.
CREATE VIRTUAL TABLE `activity_log_search` USING fts5(`detail`, content='', contentless_delete=1, tokenize='trigram', detail='none');
--> statement-breakpoint
INSERT INTO `activity_log_search` (rowid, `detail`) SELECT `seq`, coalesce(`detail`, '') FROM `activity_log`;
--> statement-breakpoint
CREATE TRIGGER `activity_log_search_insert` AFTER INSERT ON `activity_log` BEGIN
  INSERT INTO `activity_log_search` (rowid, `detail`) VALUES (new.`seq`, coalesce(new.`detail`, ''));
END;
--> statement-breakpoint
CREATE TRIGGER `activity_log_search_delete` AFTER DELETE ON `activity_log` BEGIN
  DELETE FROM `activity_log_search` WHERE rowid = old.`seq`;
END;
--> statement-breakpoint
-- Append-only: no statement may change a recorded row.
CREATE TRIGGER `activity_log_append_only` BEFORE UPDATE ON `activity_log` BEGIN
  SELECT RAISE(ABORT, 'activity_log is append-only');
END;
--> statement-breakpoint
-- Only rows past their organization's retention window can be deleted (the retention sweep's
-- job); one hour of slack covers clock skew between the Worker and the database.
CREATE TRIGGER `activity_log_delete_only_expired` BEFORE DELETE ON `activity_log`
WHEN old.`created_at` > unixepoch() * 1000 + 3600000 - 86400000 * coalesce(
  (SELECT `activity_log_retention_days` FROM `organizations` WHERE `id` = old.`organization_id`), 365)
BEGIN
  SELECT RAISE(ABORT, 'activity_log rows are removed only by the retention sweep');
END;
