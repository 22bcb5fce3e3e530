-- item_ids: an FTS5 index of each row's item_id, filled behind the writes with the search index
-- (same high-water mark, src/activity/search-index.ts). An item id is one token: the usual id
-- punctuation is part of a token; the query re-checks the exact value on the row.
CREATE VIRTUAL TABLE `activity_log_items` USING fts5(`item_id`, content='', contentless_delete=1, detail='none', tokenize="unicode61 tokenchars '-_.:/@#+~'");
--> statement-breakpoint
INSERT INTO `activity_log_items` (rowid, `item_id`)
SELECT `seq`, `item_id` FROM `activity_log`
WHERE `item_id` IS NOT NULL AND `seq` <= (SELECT CAST(`value` AS INTEGER) FROM `instance_settings` WHERE `key` = 'activity_log_search_seq');
--> statement-breakpoint
DROP TRIGGER `activity_log_search_delete`;
--> statement-breakpoint
CREATE TRIGGER `activity_log_search_delete` AFTER DELETE ON `activity_log` BEGIN
  DELETE FROM `activity_log_search` WHERE rowid = old.`seq`;
  DELETE FROM `activity_log_items` WHERE rowid = old.`seq`;
END;
