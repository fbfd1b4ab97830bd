package events

import (
	"encoding/json"
	"time"

	"github.com/stewardhq/steward/internal/scope"
)

// SpecVersion is the envelope version this package writes and reads.
const SpecVersion = "1"

// Kind is the category of an event: a data record or a session boundary.
type Kind string

// The kinds of event.
const (
	KindRecord         Kind = "record"
	KindSessionStarted Kind = "session.started"
	KindSessionEnded   Kind = "session.ended"
)

// Envelope is the JSON form of an event as clients publish it.
type Envelope struct {
	SpecVersion string `json:"spec_version"`
	// ID is chosen by the client and unique per user.
	ID        string `json:"id"`
	Kind      Kind   `json:"kind"`
	UserID    string `json:"user_id"`
	SessionID string `json:"session_id"`
	// Type is the data type of a record, and empty for session events.
	Type string `json:"type,omitempty"`
	// Time is the client's clock in RFC 3339. It is kept as data only:
	// retention counts from the stream's receive time.
	Time string `json:"time"`
	// Data is the payload, a JSON object.
	Data json.RawMessage `json:"data,omitempty"`
}

// Event is a decoded and validated event.
type Event struct {
	ID         string
	Kind       Kind
	User       scope.User
	Session    scope.Session
	Type       string
	ClientTime time.Time
	// Data is the payload with keys escaped for MongoDB (see EncodeData).
	// It is nil when the event carried no payload.
	Data any
	// Size is the length of the encoded envelope in bytes.
	Size int
}

// MsgID returns the event's Nats-Msg-Id.
func (e *Event) MsgID() string { return e.User.MsgID(e.ID) }

// DocID returns the event's MongoDB document key.
func (e *Event) DocID() string { return e.User.DocID(e.ID) }
