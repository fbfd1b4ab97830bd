package scope_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stewardhq/steward/internal/scope"
)

func TestParseUser(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"simple", "u-123_ABC", true},
		{"max length", strings.Repeat("a", scope.MaxIDLen), true},
		{"empty", "", false},
		{"too long", strings.Repeat("a", scope.MaxIDLen+1), false},
		{"dot", "a.b", false},
		{"wildcard", "a*", false},
		{"tail wildcard", ">", false},
		{"space", "a b", false},
		{"colon", "a:b", false},
		{"non ascii", "ü", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := scope.ParseUser(tt.in)
			if tt.ok && err != nil {
				t.Fatalf("ParseUser(%q): got %v, want no error", tt.in, err)
			}
			if !tt.ok && !errors.Is(err, scope.ErrInvalidID) {
				t.Fatalf("ParseUser(%q): got %v, want ErrInvalidID", tt.in, err)
			}
		})
	}
}

func TestCheckEventID(t *testing.T) {
	for _, ok := range []string{"1", "a.b:c-d_e", strings.Repeat("x", scope.MaxIDLen)} {
		if err := scope.CheckEventID(ok); err != nil {
			t.Errorf("CheckEventID(%q): got %v, want no error", ok, err)
		}
	}
	for _, bad := range []string{"", "a b", "a/b", "a*", strings.Repeat("x", scope.MaxIDLen+1)} {
		if err := scope.CheckEventID(bad); !errors.Is(err, scope.ErrInvalidID) {
			t.Errorf("CheckEventID(%q): got %v, want ErrInvalidID", bad, err)
		}
	}
}

func TestKeysDifferPerUser(t *testing.T) {
	a, _ := scope.ParseUser("alice")
	b, _ := scope.ParseUser("bob")
	if a.DocID("1") == b.DocID("1") {
		t.Fatalf("DocID of equal event ids: got %q for both users, want different keys", a.DocID("1"))
	}
	if got, want := a.SubjectFilter("steward.events"), "steward.events.alice.>"; got != want {
		t.Fatalf("SubjectFilter: got %q, want %q", got, want)
	}
	f := a.Filter()
	if len(f) != 1 || f[0].Key != scope.FieldUser || f[0].Value != "alice" {
		t.Fatalf("Filter: got %v, want user_id alice only", f)
	}
}
