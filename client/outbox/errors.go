package outbox

import (
	"errors"
	"fmt"
)

var (
	// ErrFull is wrapped by the *FullError that Append returns at the bound.
	ErrFull = errors.New("outbox full")
	// ErrLocked means another Outbox, in this or another process, has the
	// directory open.
	ErrLocked = errors.New("outbox directory in use")
	// ErrClosed is returned by methods called after Close.
	ErrClosed = errors.New("outbox closed")
)

// FullError is returned by Append when the message would take the outbox
// past Config.MaxMessages or Config.MaxBytes. The message is not stored and
// nothing already stored is dropped; Append succeeds again once Ack has
// made room.
type FullError struct {
	// Messages and Bytes are the unacknowledged messages in the outbox and their stored size.
	Messages int
	Bytes    int64
	// MaxMessages and MaxBytes are the configured bounds.
	MaxMessages int
	MaxBytes    int64
	// Size is the stored size of the rejected message in bytes.
	Size int64
}

func (e *FullError) Error() string {
	return fmt.Sprintf("outbox full: it contains %d of max %d messages and %d of max %d bytes, and the next message needs %d bytes; messages are removed once the server acknowledges them",
		e.Messages, e.MaxMessages, e.Bytes, e.MaxBytes, e.Size)
}

// Is makes errors.Is(err, ErrFull) true for a *FullError.
func (e *FullError) Is(target error) bool { return target == ErrFull }
