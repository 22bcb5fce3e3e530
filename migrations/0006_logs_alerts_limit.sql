-- At most 20 logs alerts per project, enforced inside the inserting transaction so concurrent
-- creates cannot overshoot; the API turns this abort into a 400.
CREATE TRIGGER `logs_alerts_limit_per_project`
BEFORE INSERT ON `logs_alerts`
WHEN (SELECT count(*) FROM `logs_alerts` WHERE `team_id` = NEW.`team_id`) >= 20
BEGIN
  SELECT RAISE(ABORT, 'logs_alerts_limit_per_project');
END;
