-- Rapid weight changes, weekly summaries and plateaus join the inbox's kinds and the rules a
-- trainer tunes per client.
alter table inbox drop constraint inbox_kind_check;
alter table inbox add constraint inbox_kind_check check (kind in (
    'workout_comment', 'personal_record', 'workload_spike', 'no_show',
    'booking_confirmed', 'booking_cancelled', 'booking_rescheduled', 'waitlist_promoted',
    'session_reminder', 'missed_workout', 'adherence_drop', 'weight_change', 'weekly_summary',
    'plateau'));

alter table alert_settings drop constraint alert_settings_rule_check;
alter table alert_settings add constraint alert_settings_rule_check check (rule in (
    'personal_record', 'workload_spike', 'no_show', 'missed_workout', 'adherence_drop',
    'weight_change', 'weekly_summary', 'plateau'));
