package policy_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stewardhq/steward/internal/policy"
)

func TestValidDataType(t *testing.T) {
	tests := []struct {
		name     string
		dataType string
		wantErr  string // substring of the error; empty means valid
	}{
		{"default type", "winston_logs", ""},
		{"digits", "logs2", ""},
		{"single letter", "a", ""},
		{"maximum length", "a" + strings.Repeat("b", 63), ""},
		{"contains system", "subsystem_logs", ""},
		{"session not sessions", "session", ""},
		{"empty", "", "empty"},
		{"too long", "a" + strings.Repeat("b", 64), "65 characters long"},
		{"upper case", "Winston_logs", `starts with 'W'`},
		{"hyphen", "winston-logs", `contains '-'`},
		{"dot", "winston.logs", `contains '.'`},
		{"dollar", "logs$", `contains '$'`},
		{"space", "win logs", `contains ' '`},
		{"wildcard", "logs*", `contains '*'`},
		{"non ascii", "lögs", `contains 'ö'`},
		{"leading digit", "9lives", `starts with '9'`},
		{"leading underscore", "_logs", `starts with '_'`},
		{"system prefix", "system_logs", "MongoDB reserves"},
		{"system exactly", "system", "MongoDB reserves"},
		{"sessions", "sessions", "reserved for Steward's session documents"},
		{"audit", "audit", "reserved for Steward's cleanup audit records"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := policy.ValidDataType(tt.dataType)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidDataType(%q): got %v, want no error", tt.dataType, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidDataType(%q): got no error, want one containing %q", tt.dataType, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ValidDataType(%q): got %q, want it to contain %q", tt.dataType, err, tt.wantErr)
			}
		})
	}
}

func TestValidDataTypeHintNamesMaxLength(t *testing.T) {
	err := policy.ValidDataType("Bad")
	if err == nil {
		t.Fatalf("ValidDataType(Bad): got nil, want an error")
	}
	if want := "1 to " + strconv.Itoa(policy.MaxDataTypeLen) + " characters"; !strings.Contains(err.Error(), want) {
		t.Fatalf("hint: got %q, want it to contain %q", err, want)
	}
}
