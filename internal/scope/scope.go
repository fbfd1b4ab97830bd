// Package scope is the identity and isolation boundary of Steward. User and
// session ids are validated here, and every MongoDB filter, document key and
// NATS subject filter that selects one user's data is built here, so no other
// package can select another user's documents by accident.
package scope

import (
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// MaxIDLen is the maximum length in bytes of a user, session or event id.
const MaxIDLen = 128

// Document field names that carry identity. Every stored document has them.
const (
	FieldUser    = "user_id"
	FieldSession = "session_id"
)

// ErrInvalidID is wrapped by every id validation error.
var ErrInvalidID = errors.New("invalid id")

// User is a validated user id. It is a single NATS subject token, so broker
// permissions can pin a client to its own user's subjects.
type User string

// Session is a validated session id, also a single NATS subject token.
type Session string

// ParseUser validates s as a user id.
func ParseUser(s string) (User, error) {
	if err := checkToken("user id", s); err != nil {
		return "", err
	}
	return User(s), nil
}

// ParseSession validates s as a session id.
func ParseSession(s string) (Session, error) {
	if err := checkToken("session id", s); err != nil {
		return "", err
	}
	return Session(s), nil
}

// CheckEventID validates an event id. Event ids travel in the Nats-Msg-Id
// header and the document key, not in subjects, so they may also contain
// '.' and ':'.
func CheckEventID(s string) error {
	if s == "" {
		return fmt.Errorf("%w: event id is empty, set it to a value unique per user", ErrInvalidID)
	}
	if len(s) > MaxIDLen {
		return fmt.Errorf("%w: event id is %d bytes long, the maximum is %d", ErrInvalidID, len(s), MaxIDLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isTokenByte(c) && c != '.' && c != ':' {
			return fmt.Errorf("%w: event id %q contains %q, use only letters, digits and '-', '_', '.', ':'", ErrInvalidID, s, c)
		}
	}
	return nil
}

// checkToken accepts 1 to MaxIDLen bytes of [A-Za-z0-9_-]. That set is a safe
// subset of NATS subject tokens, of MongoDB key material and of file names.
func checkToken(what, s string) error {
	if s == "" {
		return fmt.Errorf("%w: %s is empty", ErrInvalidID, what)
	}
	if len(s) > MaxIDLen {
		return fmt.Errorf("%w: %s is %d bytes long, the maximum is %d", ErrInvalidID, what, len(s), MaxIDLen)
	}
	for i := 0; i < len(s); i++ {
		if !isTokenByte(s[i]) {
			return fmt.Errorf("%w: %s %q contains %q, use only letters, digits, '-' and '_'", ErrInvalidID, what, s, s[i])
		}
	}
	return nil
}

func isTokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// Filter returns the MongoDB filter that selects this user's documents.
func (u User) Filter() bson.D {
	return bson.D{{Key: FieldUser, Value: string(u)}}
}

// SessionFilter returns the MongoDB filter that selects one session of this
// user.
func (u User) SessionFilter(s Session) bson.D {
	return bson.D{{Key: FieldUser, Value: string(u)}, {Key: FieldSession, Value: string(s)}}
}

// DocID returns the document key of the user's event with the given id. The
// user id comes first, so two users' equal event ids never collide and keys
// of one user sort together.
func (u User) DocID(eventID string) string {
	return string(u) + ":" + eventID
}

// SessionDocID returns the key of the user's session document.
func (u User) SessionDocID(s Session) string {
	return string(u) + ":" + string(s)
}

// MsgID returns the Nats-Msg-Id of the user's event, used by the stream's
// duplicate window. It equals DocID, for the same reason.
func (u User) MsgID(eventID string) string {
	return u.DocID(eventID)
}

// SubjectFilter returns the NATS subject filter that matches every subject of
// this user under prefix, for example "steward.events.u1.>".
func (u User) SubjectFilter(prefix string) string {
	return prefix + "." + string(u) + ".>"
}
