-- The activity chain is sealed per shard of organizations (the last character of the id), each
-- shard with its own mark (src/audit/sequencer.ts). Every row at or below the instance-wide mark is
-- sealed, so each shard starts from it. The old key goes: a sequencer of the previous version still
-- running during the deploy then reads from 0 and its writes collide with the sealed rows' primary
-- keys, so it seals nothing twice.
CREATE INDEX `activity_log_chain_shard` ON `activity_log` (substr(`organization_id`, -1), `seq`);--> statement-breakpoint
INSERT INTO `instance_settings` (`key`, `value`)
SELECT 'activity_chain_seq:' || s.value, coalesce((SELECT `value` FROM `instance_settings` WHERE `key` = 'activity_chain_seq'), '0')
FROM json_each('["0","1","2","3","4","5","6","7","8","9","a","b","c","d","e","f"]') AS s
WHERE true ON CONFLICT (`key`) DO NOTHING;--> statement-breakpoint
DELETE FROM `instance_settings` WHERE `key` = 'activity_chain_seq';
