package events

import (
	"fmt"
	"strings"

	"github.com/stewardhq/steward/internal/scope"
)

// Subject layout. A subject has six tokens:
// steward.events.<user>.<session>.record.<type> or
// steward.events.<user>.<session>.session.{started,ended}.
const (
	// SubjectPrefix is the first two tokens of every event subject.
	SubjectPrefix = "steward.events"
	// SubjectAll matches every event subject.
	SubjectAll = SubjectPrefix + ".>"
)

// Subject returns the subject an event with these fields is published on.
func Subject(user scope.User, session scope.Session, kind Kind, dataType string) string {
	switch kind {
	case KindRecord:
		return SubjectPrefix + "." + string(user) + "." + string(session) + ".record." + dataType
	default:
		return SubjectPrefix + "." + string(user) + "." + string(session) + "." + string(kind)
	}
}

// Address is the user, session, kind and type that a subject names.
type Address struct {
	User    string
	Session string
	Kind    Kind
	Type    string
}

// ParseSubject splits an event subject into its parts. It checks the layout
// only; the ids are validated against the envelope by Decode.
func ParseSubject(subject string) (Address, error) {
	rest, ok := strings.CutPrefix(subject, SubjectPrefix+".")
	if !ok {
		return Address{}, fmt.Errorf("subject %q does not start with %q", subject, SubjectPrefix+".")
	}
	tokens := strings.Split(rest, ".")
	if len(tokens) != 4 {
		return Address{}, fmt.Errorf("subject %q has %d tokens, want 6: %s.<user>.<session>.record.<type> or .session.started|ended", subject, len(tokens)+2, SubjectPrefix)
	}
	a := Address{User: tokens[0], Session: tokens[1]}
	switch tokens[2] + "." + tokens[3] {
	case string(KindSessionStarted):
		a.Kind = KindSessionStarted
	case string(KindSessionEnded):
		a.Kind = KindSessionEnded
	default:
		if tokens[2] != "record" {
			return Address{}, fmt.Errorf("subject %q: token 5 is %q, want \"record\" or \"session\"", subject, tokens[2])
		}
		a.Kind = KindRecord
		a.Type = tokens[3]
	}
	return a, nil
}
