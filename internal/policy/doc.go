// Package policy reads and validates Steward's retention policy: which data
// types Steward stores, how long it keeps each of them, and when cleanup runs.
//
// The policy file is the desktop app's session-config.json, read unchanged:
//
//	{
//	  "sessionCleanup": {
//	    "enabled": true,
//	    "retentionPeriods": {"testcase_generator": 30, "winston_logs": 90},
//	    "cleanupInterval": 24
//	  }
//	}
//
// Retention periods are days and cleanupInterval is hours, and both accept
// fractions. Steward adds optional keys inside sessionCleanup and never
// renames the existing ones:
//
//   - cleanupSchedule: a six-field cron expression (second minute hour
//     day-of-month month day-of-week) or a predefined schedule such as
//     "@daily", used instead of cleanupInterval.
//   - timeZone: the IANA time zone of cleanupSchedule, such as "Europe/Berlin".
//   - deleteBatchSize: documents per delete command. 0 or absent means the
//     caller's default.
//
// An absent key takes its value from Default. Unknown keys are returned as
// warnings rather than errors, so files written for a newer Steward or with
// the desktop app's own additions still load. A Watcher reloads the file
// while the program runs.
package policy
