DROP INDEX `logs_alert_events_alert_routine`;--> statement-breakpoint
CREATE INDEX `logs_alert_events_alert_routine_window` ON `logs_alert_events` (`alert_id`,`routine`,`window_end`);