package events

import (
	"time"
	"unicode/utf8"

	"github.com/stewardhq/steward/internal/policy"
	"github.com/stewardhq/steward/internal/scope"
)

// DefaultMaxBytes is the default limit on an encoded event, the default max
// payload of a NATS server (1 MiB).
const DefaultMaxBytes = 1 << 20

// Decode validates an encoded event received on subject and returns it. An
// empty subject skips the subject checks (for events not yet published).
// maxBytes limits the encoded size; 0 means DefaultMaxBytes.
//
// A rejection is an *Error. Even then the returned Event carries the ids
// that could be read, so the caller can log them. It is nil only when the
// body was not a JSON object.
func Decode(subject string, body []byte, maxBytes int) (*Event, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if len(body) > maxBytes {
		return nil, Reject(ReasonTooLarge, "event is %d bytes, the limit is %d bytes; split the payload or raise the max payload", len(body), maxBytes)
	}
	if !utf8.Valid(body) {
		return nil, Reject(ReasonMalformed, "event is not valid UTF-8 (first invalid byte at offset %d)", invalidUTF8Offset(body))
	}
	env, err := parseEnvelope(body)
	if err != nil {
		return nil, err
	}
	ev := &Event{ID: env.ID, Kind: env.Kind, User: scope.User(env.UserID), Session: scope.Session(env.SessionID), Type: env.Type, Size: len(body), Data: env.data}
	if err := validate(env, ev); err != nil {
		return ev, err
	}
	if subject != "" {
		if err := matchSubject(subject, ev); err != nil {
			return ev, err
		}
	}
	return ev, nil
}

func validate(env *parsedEnvelope, ev *Event) error {
	switch {
	case env.SpecVersion == "":
		return Reject(ReasonMissingField, "spec_version is missing, set it to %q", SpecVersion)
	case env.SpecVersion != SpecVersion:
		return Reject(ReasonBadVersion, "spec_version %q is not supported, this server reads %q", env.SpecVersion, SpecVersion)
	case env.ID == "":
		return Reject(ReasonMissingField, "id is missing, set it to an id unique per user")
	case env.Kind == "":
		return Reject(ReasonMissingField, "kind is missing, set it to %q, %q or %q", KindRecord, KindSessionStarted, KindSessionEnded)
	case env.UserID == "":
		return Reject(ReasonMissingField, "user_id is missing")
	case env.SessionID == "":
		return Reject(ReasonMissingField, "session_id is missing")
	case env.Time == "":
		return Reject(ReasonMissingField, "time is missing, set it to the client time in RFC 3339")
	}
	if err := scope.CheckEventID(env.ID); err != nil {
		return Reject(ReasonInvalidID, "%v", err)
	}
	if _, err := scope.ParseUser(env.UserID); err != nil {
		return Reject(ReasonInvalidID, "%v", err)
	}
	if _, err := scope.ParseSession(env.SessionID); err != nil {
		return Reject(ReasonInvalidID, "%v", err)
	}
	switch env.Kind {
	case KindRecord:
		if env.Type == "" {
			return Reject(ReasonMissingField, "type is missing, a record needs its data type")
		}
		if err := policy.ValidDataType(env.Type); err != nil {
			return Reject(ReasonInvalidType, "%v", err)
		}
		if ev.Data == nil {
			return Reject(ReasonMissingField, "data is missing, a record needs a JSON object payload")
		}
	case KindSessionStarted, KindSessionEnded:
		if env.Type != "" {
			return Reject(ReasonInvalidType, "type %q is set on a %s event, only records have a type", env.Type, env.Kind)
		}
	default:
		return Reject(ReasonUnknownKind, "kind %q is unknown, use %q, %q or %q", env.Kind, KindRecord, KindSessionStarted, KindSessionEnded)
	}
	t, err := time.Parse(time.RFC3339Nano, env.Time)
	if err != nil {
		return Reject(ReasonInvalidTime, "time %q is not RFC 3339 (for example 2026-12-04T19:32:51.650Z)", env.Time)
	}
	ev.ClientTime = t.UTC()
	return nil
}

func matchSubject(subject string, ev *Event) error {
	addr, err := ParseSubject(subject)
	if err != nil {
		return Reject(ReasonSubjectMismatch, "%v", err)
	}
	switch {
	case addr.User != string(ev.User):
		return Reject(ReasonSubjectMismatch, "subject user id %q differs from user_id %q in the event", addr.User, ev.User)
	case addr.Session != string(ev.Session):
		return Reject(ReasonSubjectMismatch, "subject session id %q differs from session_id %q in the event", addr.Session, ev.Session)
	case addr.Kind != ev.Kind:
		return Reject(ReasonSubjectMismatch, "subject kind %q differs from kind %q in the event", addr.Kind, ev.Kind)
	case addr.Type != ev.Type:
		return Reject(ReasonSubjectMismatch, "subject type %q differs from type %q in the event", addr.Type, ev.Type)
	}
	return nil
}

func invalidUTF8Offset(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}
