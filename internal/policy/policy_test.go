package policy_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stewardhq/steward/internal/policy"
)

const day = 24 * time.Hour

func TestDefault(t *testing.T) {
	p := policy.Default()

	if !p.Enabled {
		t.Errorf("Enabled: got false, want true")
	}
	if got, want := p.Interval, 24*time.Hour; got != want {
		t.Errorf("Interval: got %v, want %v", got, want)
	}
	if p.Schedule != "" {
		t.Errorf("Schedule: got %q, want empty", p.Schedule)
	}
	if p.TimeZone != "" {
		t.Errorf("TimeZone: got %q, want empty", p.TimeZone)
	}
	if p.DeleteBatchSize != 0 {
		t.Errorf("DeleteBatchSize: got %d, want 0", p.DeleteBatchSize)
	}
	if got, want := p.Source, policy.DefaultSource; got != want {
		t.Errorf("Source: got %q, want %q", got, want)
	}
	if len(p.Version) != 12 {
		t.Errorf("Version: got %q, want 12 hex digits", p.Version)
	}

	want := map[string]time.Duration{
		"testcase_generator": 30 * day,
		"codegen_recordings": 60 * day,
		"generated_scripts":  45 * day,
		"winston_logs":       90 * day,
	}
	if len(p.Retention) != len(want) {
		t.Errorf("Retention: got %v, want %v", p.Retention, want)
	}
	for name, period := range want {
		if got := p.Retention[name]; got != period {
			t.Errorf("Retention[%q]: got %v, want %v", name, got, period)
		}
	}
}

func TestDefaultIsFresh(t *testing.T) {
	a := policy.Default()
	a.Retention["winston_logs"] = time.Hour

	b := policy.Default()
	if got, want := b.Retention["winston_logs"], 90*day; got != want {
		t.Fatalf("Retention[winston_logs] after changing an earlier Default: got %v, want %v", got, want)
	}
	if a.Version != b.Version {
		t.Fatalf("Version: got %q and %q, want equal versions of equal defaults", a.Version, b.Version)
	}
}

func TestPolicyLookups(t *testing.T) {
	p := policy.Default()

	if got, want := p.Types(), []string{"codegen_recordings", "generated_scripts", "testcase_generator", "winston_logs"}; !slices.Equal(got, want) {
		t.Errorf("Types: got %v, want %v", got, want)
	}
	if got, want := p.Longest(), 90*day; got != want {
		t.Errorf("Longest: got %v, want %v", got, want)
	}

	tests := []struct {
		name      string
		dataType  string
		wantOK    bool
		wantRetry time.Duration
	}{
		{"known type", "generated_scripts", true, 45 * day},
		{"unknown type", "screenshots", false, 0},
		{"different case", "Winston_logs", false, 0},
		{"empty", "", false, 0},
		{"reserved", "audit", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Allows(tt.dataType); got != tt.wantOK {
				t.Errorf("Allows(%q): got %v, want %v", tt.dataType, got, tt.wantOK)
			}
			got, ok := p.RetentionFor(tt.dataType)
			if ok != tt.wantOK || got != tt.wantRetry {
				t.Errorf("RetentionFor(%q): got %v, %v, want %v, %v", tt.dataType, got, ok, tt.wantRetry, tt.wantOK)
			}
		})
	}
}

func TestLongestEmpty(t *testing.T) {
	p := &policy.Policy{}
	if got := p.Longest(); got != 0 {
		t.Fatalf("Longest of a policy without types: got %v, want 0", got)
	}
	if got := p.Types(); len(got) != 0 {
		t.Fatalf("Types of a policy without types: got %v, want none", got)
	}
}

func TestScheduleSpec(t *testing.T) {
	tests := []struct {
		name string
		p    policy.Policy
		want string
	}{
		{"default interval", policy.Policy{Interval: 24 * time.Hour}, "@every 24h0m0s"},
		{"half hour", policy.Policy{Interval: 30 * time.Minute}, "@every 30m0s"},
		{"cron", policy.Policy{Interval: 24 * time.Hour, Schedule: "0 0 3 * * *", TimeZone: "Europe/Berlin"}, "0 0 3 * * *"},
		{"predefined", policy.Policy{Interval: time.Hour, Schedule: "@daily"}, "@daily"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.ScheduleSpec(); got != tt.want {
				t.Fatalf("ScheduleSpec: got %q, want %q", got, tt.want)
			}
		})
	}
}
