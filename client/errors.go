package client

import (
	"errors"
	"fmt"

	"github.com/stewardhq/steward/client/outbox"
)

var (
	// ErrClosed is returned by calls after Close.
	ErrClosed = errors.New("client closed")
	// ErrSessionEnded is returned by Record and End on an ended session.
	ErrSessionEnded = errors.New("session ended")
	// ErrInvalidEvent is wrapped by Record's errors for events that fail
	// validation: a data type that cannot name a collection, data that is
	// not a JSON object, an invalid id. Whether the server has a retention
	// period for the data type is checked by ingest, which dead-letters
	// events of unknown types.
	ErrInvalidEvent = errors.New("invalid event")
	// ErrEventTooLarge is wrapped by Record's errors for events larger than
	// Config.MaxEventBytes or the NATS server's max payload. Such an event
	// is not stored, so it never blocks the events behind it.
	ErrEventTooLarge = errors.New("event too large")
	// ErrOutboxFull is wrapped by Record's errors when the outbox contains
	// Config.Outbox.MaxMessages events or Config.Outbox.MaxBytes bytes that
	// the server has not acknowledged. The event is not recorded; nothing
	// recorded before is dropped. errors.As with *OutboxFullError gives the
	// numbers.
	ErrOutboxFull = outbox.ErrFull
	// ErrRejected is wrapped by the *PublishError passed to Config.OnError
	// for an event the server rejected for good. The event is removed from
	// the outbox.
	ErrRejected = errors.New("event rejected by the server")
	// ErrUnsent is wrapped by the *UnsentError of Flush and Close when
	// events remain unacknowledged at the deadline.
	ErrUnsent = errors.New("events not acknowledged")
)

// OutboxFullError carries the outbox's numbers when Record fails with
// ErrOutboxFull.
type OutboxFullError = outbox.FullError

// PublishError is passed to Config.OnError when publishing an event failed.
type PublishError struct {
	EventID   string
	SessionID string
	// Temporary is set when the event stays in the outbox and is sent
	// again. It is reported once per run of failures, not per attempt.
	Temporary bool
	Err       error
}

func (e *PublishError) Error() string {
	if e.Temporary {
		return fmt.Sprintf("publish event %s of session %s: %v; it stays in the outbox and is sent again", e.EventID, e.SessionID, e.Err)
	}
	return fmt.Sprintf("publish event %s of session %s: %v: %v; it was removed from the outbox", e.EventID, e.SessionID, ErrRejected, e.Err)
}

// Is makes errors.Is(err, ErrRejected) true for a permanent failure.
func (e *PublishError) Is(target error) bool { return target == ErrRejected && !e.Temporary }

func (e *PublishError) Unwrap() error { return e.Err }

// UnsentError is returned by Flush and Close when the deadline passed
// before the server acknowledged every recorded event. The events stay in
// the outbox and are sent when the connection returns, or by the next
// client that opens the same outbox directory.
type UnsentError struct {
	Events int
	Bytes  int64
	Dir    string
	// Err is the context's error.
	Err error
}

func (e *UnsentError) Error() string {
	return fmt.Sprintf("%v: %d events (%d bytes) remain in the outbox %s (%v); they are sent when the connection returns or the app starts again",
		ErrUnsent, e.Events, e.Bytes, e.Dir, e.Err)
}

// Is makes errors.Is(err, ErrUnsent) true.
func (e *UnsentError) Is(target error) bool { return target == ErrUnsent }

func (e *UnsentError) Unwrap() error { return e.Err }
