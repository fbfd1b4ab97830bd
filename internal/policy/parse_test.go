package policy_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward/internal/policy"
)

// designFile is session-config.json as the desktop app ships it.
const designFile = `{
  "sessionCleanup": {
    "enabled": true,
    "retentionPeriods": {
      "testcase_generator": 30,
      "codegen_recordings": 60,
      "generated_scripts": 45,
      "winston_logs": 90
    },
    "cleanupInterval": 24
  }
}
`

// cleanup returns a policy file whose sessionCleanup object has the given
// members.
func cleanup(members string) string {
	return `{"sessionCleanup": {` + members + `}}`
}

// samePolicy reports each setting in which got differs from want. Version
// and Source are not settings, so it ignores them.
func samePolicy(t *testing.T, got, want *policy.Policy) {
	t.Helper()
	if got.Enabled != want.Enabled {
		t.Errorf("Enabled: got %v, want %v", got.Enabled, want.Enabled)
	}
	if got.Interval != want.Interval {
		t.Errorf("Interval: got %v, want %v", got.Interval, want.Interval)
	}
	if got.Schedule != want.Schedule {
		t.Errorf("Schedule: got %q, want %q", got.Schedule, want.Schedule)
	}
	if got.TimeZone != want.TimeZone {
		t.Errorf("TimeZone: got %q, want %q", got.TimeZone, want.TimeZone)
	}
	if got.DeleteBatchSize != want.DeleteBatchSize {
		t.Errorf("DeleteBatchSize: got %d, want %d", got.DeleteBatchSize, want.DeleteBatchSize)
	}
	if !slices.Equal(got.Types(), want.Types()) {
		t.Errorf("Types: got %v, want %v", got.Types(), want.Types())
	}
	for name, period := range want.Retention {
		if got.Retention[name] != period {
			t.Errorf("Retention[%q]: got %v, want %v", name, got.Retention[name], period)
		}
	}
}

func TestParseDesignFile(t *testing.T) {
	p, warnings, err := policy.Parse([]byte(designFile), "session-config.json")
	if err != nil {
		t.Fatalf("Parse: got %v, want no error", err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings: got %v, want none", warnings)
	}
	if got, want := p.Source, "session-config.json"; got != want {
		t.Errorf("Source: got %q, want %q", got, want)
	}
	samePolicy(t, p, policy.Default())
	if got, want := p.Version, policy.Default().Version; got != want {
		t.Errorf("Version: got %q, want the default's %q", got, want)
	}
}

func TestParseValid(t *testing.T) {
	// withDefaults returns Default changed by edit.
	withDefaults := func(edit func(p *policy.Policy)) *policy.Policy {
		p := policy.Default()
		edit(p)
		return p
	}

	tests := []struct {
		name string
		file string
		want *policy.Policy
	}{
		{
			name: "absent keys take defaults",
			file: cleanup(``),
			want: policy.Default(),
		},
		{
			name: "only retention",
			file: cleanup(`"retentionPeriods": {"winston_logs": 7}`),
			want: withDefaults(func(p *policy.Policy) {
				p.Retention = map[string]time.Duration{"winston_logs": 7 * day}
			}),
		},
		{
			name: "fractional values",
			file: cleanup(`"retentionPeriods": {"winston_logs": 0.5, "generated_scripts": 1.25}, "cleanupInterval": 0.5`),
			want: withDefaults(func(p *policy.Policy) {
				p.Retention = map[string]time.Duration{"winston_logs": 12 * time.Hour, "generated_scripts": 30 * time.Hour}
				p.Interval = 30 * time.Minute
			}),
		},
		{
			name: "exponent notation",
			file: cleanup(`"retentionPeriods": {"winston_logs": 3e1}, "cleanupInterval": 2.4E1`),
			want: withDefaults(func(p *policy.Policy) {
				p.Retention = map[string]time.Duration{"winston_logs": 30 * day}
			}),
		},
		{
			name: "one minute interval",
			file: cleanup(`"cleanupInterval": 0.016666666666666666`),
			want: withDefaults(func(p *policy.Policy) { p.Interval = time.Minute }),
		},
		{
			name: "disabled",
			file: cleanup(`"enabled": false`),
			want: withDefaults(func(p *policy.Policy) { p.Enabled = false }),
		},
		{
			name: "cron schedule with time zone",
			file: cleanup(`"cleanupSchedule": "0 0 3 * * *", "timeZone": "Europe/Berlin"`),
			want: withDefaults(func(p *policy.Policy) {
				p.Schedule = "0 0 3 * * *"
				p.TimeZone = "Europe/Berlin"
			}),
		},
		{
			name: "cron schedule without time zone",
			file: cleanup(`"cleanupSchedule": "0 30 2 * * mon-fri"`),
			want: withDefaults(func(p *policy.Policy) { p.Schedule = "0 30 2 * * mon-fri" }),
		},
		{
			name: "schedule surrounded by spaces",
			file: cleanup(`"cleanupSchedule": "  0 0 3 * * *  "`),
			want: withDefaults(func(p *policy.Policy) { p.Schedule = "0 0 3 * * *" }),
		},
		{
			name: "predefined schedule with time zone",
			file: cleanup(`"cleanupSchedule": "@daily", "timeZone": "America/New_York"`),
			want: withDefaults(func(p *policy.Policy) {
				p.Schedule = "@daily"
				p.TimeZone = "America/New_York"
			}),
		},
		{
			name: "empty schedule and time zone",
			file: cleanup(`"cleanupSchedule": "", "timeZone": ""`),
			want: policy.Default(),
		},
		{
			name: "delete batch size",
			file: cleanup(`"deleteBatchSize": 5000`),
			want: withDefaults(func(p *policy.Policy) { p.DeleteBatchSize = 5000 }),
		},
		{
			name: "delete batch size zero",
			file: cleanup(`"deleteBatchSize": 0`),
			want: policy.Default(),
		},
		{
			name: "delete batch size in exponent notation",
			file: cleanup(`"deleteBatchSize": 1e3`),
			want: withDefaults(func(p *policy.Policy) { p.DeleteBatchSize = 1000 }),
		},
		{
			name: "byte order mark",
			file: "\xef\xbb\xbf" + designFile,
			want: policy.Default(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := policy.Parse([]byte(tt.file), "test.json")
			if err != nil {
				t.Fatalf("Parse: got %v, want no error", err)
			}
			samePolicy(t, got, tt.want)
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name string
		file string
		want []string // substrings of the error: the key path, the value and the fix
	}{
		// Retention periods.
		{"negative period", cleanup(`"retentionPeriods": {"winston_logs": -3}`),
			[]string{"sessionCleanup.retentionPeriods.winston_logs: got -3, want a positive number of days"}},
		{"zero period", cleanup(`"retentionPeriods": {"winston_logs": 0}`),
			[]string{"sessionCleanup.retentionPeriods.winston_logs: got 0, want a positive number of days"}},
		{"quoted period", cleanup(`"retentionPeriods": {"winston_logs": "30"}`),
			[]string{`sessionCleanup.retentionPeriods.winston_logs: got "30", want a positive number of days`}},
		{"null period", cleanup(`"retentionPeriods": {"winston_logs": null}`),
			[]string{"sessionCleanup.retentionPeriods.winston_logs: got null"}},
		{"boolean period", cleanup(`"retentionPeriods": {"winston_logs": true}`),
			[]string{"sessionCleanup.retentionPeriods.winston_logs: got true"}},
		{"object period", cleanup(`"retentionPeriods": {"winston_logs": {"days": 30}}`),
			[]string{`sessionCleanup.retentionPeriods.winston_logs: got {"days":30}`}},
		{"period too long", cleanup(`"retentionPeriods": {"winston_logs": 1000000}`),
			[]string{"sessionCleanup.retentionPeriods.winston_logs: got 1000000, want at most 106751 days"}},
		{"period beyond float range", cleanup(`"retentionPeriods": {"winston_logs": 1e400}`),
			[]string{"sessionCleanup.retentionPeriods.winston_logs: got 1e400, want at most 106751 days"}},
		{"negative period beyond float range", cleanup(`"retentionPeriods": {"winston_logs": -1e400}`),
			[]string{"sessionCleanup.retentionPeriods.winston_logs: got -1e400, want a positive number of days"}},
		{"period below a nanosecond", cleanup(`"retentionPeriods": {"winston_logs": 1e-20}`),
			[]string{"sessionCleanup.retentionPeriods.winston_logs: got 1e-20, which rounds to 0 nanoseconds"}},
		{"no data types", cleanup(`"retentionPeriods": {}`),
			[]string{"sessionCleanup.retentionPeriods: got {}, want at least one data type"}},
		{"retention not an object", cleanup(`"retentionPeriods": [30, 60]`),
			[]string{"sessionCleanup.retentionPeriods: got [30,60], want a JSON object"}},

		// Data type names.
		{"upper case type", cleanup(`"retentionPeriods": {"Winston_logs": 90}`),
			[]string{`sessionCleanup.retentionPeriods: data type "Winston_logs" starts with 'W'`, "use 1 to 64 characters"}},
		{"hyphenated type", cleanup(`"retentionPeriods": {"winston-logs": 90}`),
			[]string{`sessionCleanup.retentionPeriods: data type "winston-logs" contains '-'`}},
		{"dotted type", cleanup(`"retentionPeriods": {"winston.logs": 90}`),
			[]string{`sessionCleanup.retentionPeriods: data type "winston.logs" contains '.'`}},
		{"empty type", cleanup(`"retentionPeriods": {"": 90}`),
			[]string{"sessionCleanup.retentionPeriods: data type name is empty"}},
		{"system type", cleanup(`"retentionPeriods": {"system_profile": 90}`),
			[]string{`sessionCleanup.retentionPeriods: data type "system_profile" starts with "system"`, "choose another name"}},
		{"sessions type", cleanup(`"retentionPeriods": {"sessions": 90}`),
			[]string{`sessionCleanup.retentionPeriods: data type "sessions" is reserved`}},
		{"audit type", cleanup(`"retentionPeriods": {"audit": 90}`),
			[]string{`sessionCleanup.retentionPeriods: data type "audit" is reserved`}},
		{"long type", cleanup(`"retentionPeriods": {"` + strings.Repeat("a", 65) + `": 90}`),
			[]string{"sessionCleanup.retentionPeriods: data type", "is 65 characters long, the maximum is 64"}},

		// Interval.
		{"zero interval", cleanup(`"cleanupInterval": 0`),
			[]string{"sessionCleanup.cleanupInterval: got 0, want a number of hours of at least 0.0167 (one minute)"}},
		{"negative interval", cleanup(`"cleanupInterval": -24`),
			[]string{"sessionCleanup.cleanupInterval: got -24, want a number of hours"}},
		{"quoted interval", cleanup(`"cleanupInterval": "24"`),
			[]string{`sessionCleanup.cleanupInterval: got "24", want a number of hours`}},
		{"interval under a minute", cleanup(`"cleanupInterval": 0.01`),
			[]string{"sessionCleanup.cleanupInterval: got 0.01 (36s), want a number of hours of at least 0.0167 (one minute)"}},
		{"interval too long", cleanup(`"cleanupInterval": 1e300`),
			[]string{"sessionCleanup.cleanupInterval: got 1e300, want at most 2562047 hours"}},

		// Enabled.
		{"quoted enabled", cleanup(`"enabled": "true"`),
			[]string{`sessionCleanup.enabled: got "true", want true or false`}},
		{"null enabled", cleanup(`"enabled": null`),
			[]string{"sessionCleanup.enabled: got null, want true or false"}},
		{"numeric enabled", cleanup(`"enabled": 1`),
			[]string{"sessionCleanup.enabled: got 1, want true or false"}},

		// Schedule.
		{"five-field cron", cleanup(`"cleanupSchedule": "30 3 * * *"`),
			[]string{`sessionCleanup.cleanupSchedule: got "30 3 * * *", want 6 fields`, `write "0 30 3 * * *"`}},
		{"seven-field cron", cleanup(`"cleanupSchedule": "0 0 3 * * * 2030"`),
			[]string{`sessionCleanup.cleanupSchedule: got "0 0 3 * * * 2030", want 6 fields`, "it has 7"}},
		{"every in schedule", cleanup(`"cleanupSchedule": "@every 1h"`),
			[]string{`sessionCleanup.cleanupSchedule: got "@every 1h", want a cron expression`, "cleanupInterval"}},
		{"at in schedule", cleanup(`"cleanupSchedule": "@at 2030-01-01T00:00:00Z"`),
			[]string{`sessionCleanup.cleanupSchedule: got "@at 2030-01-01T00:00:00Z"`, "cleanupInterval"}},
		{"unknown predefined schedule", cleanup(`"cleanupSchedule": "@nightly"`),
			[]string{`sessionCleanup.cleanupSchedule: got "@nightly", want a cron expression or one of @yearly`}},
		{"predefined schedule in upper case", cleanup(`"cleanupSchedule": "@DAILY"`),
			[]string{`sessionCleanup.cleanupSchedule: got "@DAILY"`}},
		{"every second", cleanup(`"cleanupSchedule": "* * * * * *"`),
			[]string{`sessionCleanup.cleanupSchedule: got "* * * * * *", second field "*" fires more than once a minute`}},
		{"every ten seconds", cleanup(`"cleanupSchedule": "*/10 * * * * *"`),
			[]string{`second field "*/10" fires more than once a minute`}},
		{"two seconds", cleanup(`"cleanupSchedule": "0,30 * * * * *"`),
			[]string{`second field "0,30" fires more than once a minute`}},
		{"minute out of range", cleanup(`"cleanupSchedule": "0 60 * * * *"`),
			[]string{`sessionCleanup.cleanupSchedule: got "0 60 * * * *", minute field "60": value 60 is outside 0 to 59`}},
		{"hour out of range", cleanup(`"cleanupSchedule": "0 0 24 * * *"`),
			[]string{`hour field "24": value 24 is outside 0 to 23`}},
		{"day of month zero", cleanup(`"cleanupSchedule": "0 0 0 0 * *"`),
			[]string{`day-of-month field "0": value 0 is outside 1 to 31`}},
		{"month out of range", cleanup(`"cleanupSchedule": "0 0 0 1 13 *"`),
			[]string{`month field "13": value 13 is outside 1 to 12`}},
		{"day of week seven", cleanup(`"cleanupSchedule": "0 0 0 * * 7"`),
			[]string{`day-of-week field "7": value 7 is outside 0 to 6`}},
		{"unknown name", cleanup(`"cleanupSchedule": "0 0 0 * * monday"`),
			[]string{`day-of-week field "monday": value "monday" is not a number from 0 to 6`}},
		{"month name in hour field", cleanup(`"cleanupSchedule": "0 0 jan * * *"`),
			[]string{`hour field "jan": value "jan" is not a number`}},
		{"signed value", cleanup(`"cleanupSchedule": "0 +5 * * * *"`),
			[]string{`minute field "+5": value "+5" is not a number`}},
		{"zero step", cleanup(`"cleanupSchedule": "0 */0 * * * *"`),
			[]string{`minute field "*/0": step "0" is not a whole number of at least 1`}},
		{"two steps", cleanup(`"cleanupSchedule": "0 */5/2 * * * *"`),
			[]string{`minute field "*/5/2": step "5/2"`}},
		{"reversed range", cleanup(`"cleanupSchedule": "0 30-10 * * * *"`),
			[]string{`minute field "30-10": range "30-10" starts after it ends`}},
		{"double hyphen", cleanup(`"cleanupSchedule": "0 1-2-3 * * * *"`),
			[]string{`minute field "1-2-3"`}},
		{"empty list item", cleanup(`"cleanupSchedule": "0 1,,2 * * * *"`),
			[]string{`minute field "1,,2": empty list item`}},
		{"day that never comes", cleanup(`"cleanupSchedule": "0 0 0 30 2 *"`),
			[]string{`sessionCleanup.cleanupSchedule: got "0 0 0 30 2 *", it never fires, because no month in "2" has a day in "30"`}},
		{"schedule not a string", cleanup(`"cleanupSchedule": 24`),
			[]string{`sessionCleanup.cleanupSchedule: got 24, want a cron expression string`}},

		// Time zone.
		{"unknown time zone", cleanup(`"cleanupSchedule": "@daily", "timeZone": "Mars/Olympus_Mons"`),
			[]string{`sessionCleanup.timeZone: got "Mars/Olympus_Mons", want an IANA time zone name such as "Europe/Berlin"`}},
		{"local time zone", cleanup(`"cleanupSchedule": "@daily", "timeZone": "Local"`),
			[]string{`sessionCleanup.timeZone: got "Local"`, `not "Local"`}},
		{"time zone not a string", cleanup(`"cleanupSchedule": "@daily", "timeZone": 2`),
			[]string{"sessionCleanup.timeZone: got 2, want an IANA time zone name"}},
		{"time zone without schedule", cleanup(`"timeZone": "Europe/Berlin"`),
			[]string{`sessionCleanup.timeZone: got "Europe/Berlin" without sessionCleanup.cleanupSchedule`, "set cleanupSchedule or remove timeZone"}},

		{"time zone with empty schedule", cleanup(`"cleanupSchedule": "", "timeZone": "UTC"`),
			[]string{`sessionCleanup.timeZone: got "UTC" without sessionCleanup.cleanupSchedule`}},

		// Delete batch size.
		{"negative batch size", cleanup(`"deleteBatchSize": -1`),
			[]string{"sessionCleanup.deleteBatchSize: got -1, want a whole number of documents of at least 1, or 0 for the default"}},
		{"fractional batch size", cleanup(`"deleteBatchSize": 2.5`),
			[]string{"sessionCleanup.deleteBatchSize: got 2.5, want a whole number"}},
		{"quoted batch size", cleanup(`"deleteBatchSize": "500"`),
			[]string{`sessionCleanup.deleteBatchSize: got "500", want a whole number`}},
		{"batch size too large", cleanup(`"deleteBatchSize": 1e10`),
			[]string{"sessionCleanup.deleteBatchSize: got 1e10, want at most 2147483647"}},

		// Shape of the file.
		{"empty file", ``, []string{"file is empty, want a JSON object"}},
		{"blank file", " \n\t", []string{"file is empty"}},
		{"top level array", `[{"sessionCleanup": {}}]`,
			[]string{`got [{"sessionCleanup":{}}], want a JSON object with a "sessionCleanup" key`}},
		{"missing sessionCleanup", `{"cleanup": {}}`,
			[]string{"sessionCleanup: missing, want an object such as"}},
		{"sessionCleanup not an object", `{"sessionCleanup": true}`,
			[]string{"sessionCleanup: got true, want a JSON object"}},
		{"sessionCleanup null", `{"sessionCleanup": null}`,
			[]string{"sessionCleanup: got null, want a JSON object"}},
		{"repeated key", cleanup(`"retentionPeriods": {"winston_logs": 90, "winston_logs": 9}`),
			[]string{"sessionCleanup.retentionPeriods.winston_logs: set more than once; keep one"}},
		{"repeated top key", `{"sessionCleanup": {}, "sessionCleanup": {}}`,
			[]string{"sessionCleanup: set more than once"}},
		{"long value cut", cleanup(`"retentionPeriods": {"winston_logs": "` + strings.Repeat("x", 100) + `"}`),
			[]string{`got "` + strings.Repeat("x", 59) + `..., want a positive number of days`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _, err := policy.Parse([]byte(tt.file), "/etc/steward/session-config.json")
			if err == nil {
				t.Fatalf("Parse: got no error, want one containing %q", tt.want)
			}
			if p != nil {
				t.Errorf("Parse: got policy %+v with the error, want nil", p)
			}
			if !errors.Is(err, policy.ErrInvalid) {
				t.Errorf("errors.Is(%v, ErrInvalid): got false, want true", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "parse policy /etc/steward/session-config.json: ") {
				t.Errorf("error: got %q, want it to start with the verb and the source", msg)
			}
			for _, want := range tt.want {
				if !strings.Contains(msg, want) {
					t.Errorf("error: got %q, want it to contain %q", msg, want)
				}
			}
		})
	}
}

func TestParseReportsAllProblems(t *testing.T) {
	file := cleanup(`
		"enabled": "yes",
		"retentionPeriods": {"winston_logs": -3, "Bad-Name": 30, "generated_scripts": 0},
		"cleanupInterval": 0,
		"timeZone": "Nowhere/Town"`)
	_, _, err := policy.Parse([]byte(file), "many.json")
	if err == nil {
		t.Fatal("Parse: got no error, want one per problem")
	}

	wantKeys := []string{
		"sessionCleanup.enabled: ",
		"sessionCleanup.retentionPeriods.winston_logs: ",
		`data type "Bad-Name"`,
		"sessionCleanup.retentionPeriods.generated_scripts: ",
		"sessionCleanup.cleanupInterval: ",
		"sessionCleanup.timeZone: ",
	}
	msg := err.Error()
	for _, key := range wantKeys {
		if !strings.Contains(msg, key) {
			t.Errorf("error: got %q, want it to contain %q", msg, key)
		}
	}
	if got, want := strings.Count(msg, "\n")+1, len(wantKeys); got != want {
		t.Errorf("problem lines: got %d in %q, want %d", got, msg, want)
	}
}

func TestParseInvalidScheduleWithTimeZone(t *testing.T) {
	file := cleanup(`"cleanupSchedule": "0 3 * * *", "timeZone": "Europe/Berlin"`)
	_, _, err := policy.Parse([]byte(file), "schedule.json")
	if err == nil {
		t.Fatal("Parse: got no error, want one for cleanupSchedule")
	}
	msg := err.Error()
	if !strings.Contains(msg, "sessionCleanup.cleanupSchedule: ") {
		t.Errorf("error: got %q, want it to name sessionCleanup.cleanupSchedule", msg)
	}
	if strings.Contains(msg, "sessionCleanup.timeZone") {
		t.Errorf("error: got %q, want no problem with the valid time zone of an invalid schedule", msg)
	}
}

func TestParseSyntaxError(t *testing.T) {
	tests := []struct {
		name string
		file string
		want string
	}{
		{"trailing comma", "{\n  \"sessionCleanup\": {\n    \"enabled\": true,\n  }\n}\n", "invalid JSON at line 4, column 3 (byte offset 47)"},
		{"missing brace", `{"sessionCleanup": {"enabled": true}`, "invalid JSON at the end of the file (line 1)"},
		{"trailing data", `{"sessionCleanup": {}} x`, "invalid JSON at line 1, column 24 (byte offset 23)"},
		{"single quotes", `{'sessionCleanup': {}}`, "invalid JSON at line 1, column 2 (byte offset 1)"},
		{"non-ASCII before the error", "{\"sessionCleanup\": {\"größe\": 1,}}", "invalid JSON at line 1, column 32 (byte offset 33)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := policy.Parse([]byte(tt.file), "broken.json")
			if err == nil {
				t.Fatalf("Parse: got no error, want %q", tt.want)
			}
			if !errors.Is(err, policy.ErrInvalid) {
				t.Errorf("errors.Is(%v, ErrInvalid): got false, want true", err)
			}
			msg := err.Error()
			for _, want := range []string{"parse policy broken.json: ", tt.want} {
				if !strings.Contains(msg, want) {
					t.Errorf("error: got %q, want it to contain %q", msg, want)
				}
			}
		})
	}
}

func TestParseWarnings(t *testing.T) {
	tests := []struct {
		name string
		file string
		want []string
	}{
		{"none", designFile, nil},
		{"top level key", `{"mongoUri": "mongodb://localhost", "sessionCleanup": {}}`, []string{"mongoUri"}},
		{"cleanup keys", cleanup(`"notifyUser": true, "cleanupIntervall": 12, "enabled": true`),
			[]string{"sessionCleanup.cleanupIntervall", "sessionCleanup.notifyUser"}},
		{"both levels", `{"theme": "dark", "sessionCleanup": {"verbose": true}}`, []string{"theme", "sessionCleanup.verbose"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, warnings, err := policy.Parse([]byte(tt.file), "warn.json")
			if err != nil {
				t.Fatalf("Parse: got %v, want no error", err)
			}
			if !slices.Equal(warnings, tt.want) {
				t.Fatalf("warnings: got %q, want %q", warnings, tt.want)
			}
		})
	}
}

func TestParseWarningsWithError(t *testing.T) {
	_, warnings, err := policy.Parse([]byte(cleanup(`"colour": "red", "cleanupInterval": 0`)), "warn.json")
	if err == nil {
		t.Fatal("Parse: got no error, want one for cleanupInterval")
	}
	if want := []string{"sessionCleanup.colour"}; !slices.Equal(warnings, want) {
		t.Fatalf("warnings: got %q, want %q", warnings, want)
	}
}

func TestVersion(t *testing.T) {
	base := policy.Default().Version

	tests := []struct {
		name     string
		file     string
		sameAsV1 bool
	}{
		{"design file", designFile, true},
		{"reordered and compact", `{"sessionCleanup":{"cleanupInterval":24,"retentionPeriods":{"winston_logs":90,"generated_scripts":45,"codegen_recordings":60,"testcase_generator":30},"enabled":true}}`, true},
		{"other number spelling", cleanup(`"retentionPeriods": {"testcase_generator": 3e1, "codegen_recordings": 60.0, "generated_scripts": 45, "winston_logs": 90}`), true},
		{"unknown key added", `{"theme": "dark", "sessionCleanup": {"colour": 1}}`, true},
		{"period changed", cleanup(`"retentionPeriods": {"testcase_generator": 31, "codegen_recordings": 60, "generated_scripts": 45, "winston_logs": 90}`), false},
		{"type added", cleanup(`"retentionPeriods": {"testcase_generator": 30, "codegen_recordings": 60, "generated_scripts": 45, "winston_logs": 90, "screenshots": 7}`), false},
		{"disabled", cleanup(`"enabled": false`), false},
		{"interval changed", cleanup(`"cleanupInterval": 12`), false},
		{"schedule set", cleanup(`"cleanupSchedule": "@daily"`), false},
		{"batch size set", cleanup(`"deleteBatchSize": 100`), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _, err := policy.Parse([]byte(tt.file), "version.json")
			if err != nil {
				t.Fatalf("Parse: got %v, want no error", err)
			}
			if got := p.Version == base; got != tt.sameAsV1 {
				t.Fatalf("Version %q equals the default %q: got %v, want %v", p.Version, base, got, tt.sameAsV1)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "session-config.json")
	writeFile(t, good, designFile)
	invalid := filepath.Join(dir, "invalid.json")
	writeFile(t, invalid, cleanup(`"cleanupInterval": -1`))
	large := filepath.Join(dir, "large.json")
	writeFile(t, large, `{"sessionCleanup": {}, "padding": "`+strings.Repeat("x", policy.MaxFileSize)+`"}`)

	tests := []struct {
		name       string
		path       string
		wantSource string
		wantErr    string
	}{
		{"no path", "", policy.DefaultSource, ""},
		{"design file", good, good, ""},
		{"missing file", filepath.Join(dir, "missing.json"), "", "missing.json: no such file"},
		{"invalid file", invalid, "", "sessionCleanup.cleanupInterval: got -1"},
		{"too large", large, "", "file is larger than 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _, err := policy.Load(tt.path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load(%q): got error %v, want one containing %q", tt.path, err, tt.wantErr)
				}
				if p != nil {
					t.Fatalf("Load(%q): got a policy with the error, want nil", tt.path)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load(%q): got %v, want no error", tt.path, err)
			}
			if p.Source != tt.wantSource {
				t.Errorf("Source: got %q, want %q", p.Source, tt.wantSource)
			}
			samePolicy(t, p, policy.Default())
		})
	}
}

func TestLoadMissingFileIsNotInvalid(t *testing.T) {
	_, _, err := policy.Load(filepath.Join(t.TempDir(), "missing.json"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(%v, fs.ErrNotExist): got false, want true", err)
	}
	if errors.Is(err, policy.ErrInvalid) {
		t.Errorf("errors.Is(%v, ErrInvalid): got true, want false for a file that cannot be read", err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}
