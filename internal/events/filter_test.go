package events_test

import (
	"testing"

	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/scope"
)

func TestFilterSubject(t *testing.T) {
	tests := []struct {
		name     string
		user     scope.User
		session  scope.Session
		dataType string
		want     string
	}{
		{"everything", "", "", "", "steward.events.>"},
		{"user", "u1", "", "", "steward.events.u1.>"},
		{"user and session", "u1", "s1", "", "steward.events.u1.s1.>"},
		{"session of any user", "", "s1", "", "steward.events.*.s1.>"},
		{"type", "", "", "winston_logs", "steward.events.*.*.record.winston_logs"},
		{"user and type", "u1", "", "winston_logs", "steward.events.u1.*.record.winston_logs"},
		{"all three", "u1", "s1", "winston_logs", "steward.events.u1.s1.record.winston_logs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := events.FilterSubject(tt.user, tt.session, tt.dataType); got != tt.want {
				t.Fatalf("FilterSubject(%q, %q, %q): got %q, want %q", tt.user, tt.session, tt.dataType, got, tt.want)
			}
		})
	}
}
