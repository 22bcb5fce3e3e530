-- The search index is filled behind the writes (src/activity/search-index.ts) instead of by a
-- trigger in every write transaction: trigram indexing costs more than the rest of an insert.
-- `activity_log_search_seq` is the last row indexed; a search reads the rows above it directly.
DROP TRIGGER `activity_log_search_insert`;
--> statement-breakpoint
INSERT INTO `instance_settings` (`key`, `value`)
SELECT 'activity_log_search_seq', CAST(coalesce(max(`seq`), 0) AS TEXT) FROM `activity_log` WHERE true
ON CONFLICT (`key`) DO UPDATE SET `value` = excluded.`value`;
