package events

import (
	"errors"
	"fmt"
)

// Reason classifies why an event was rejected. It is stable, short and safe
// to use as a NATS subject token and a metric label.
type Reason string

// Reasons for rejecting an event.
const (
	ReasonMalformed       Reason = "malformed"     // not a JSON object, or invalid UTF-8
	ReasonMissingField    Reason = "missing_field" // a required field is absent or empty
	ReasonBadVersion      Reason = "unsupported_version"
	ReasonUnknownKind     Reason = "unknown_kind"
	ReasonInvalidID       Reason = "invalid_id"
	ReasonInvalidType     Reason = "invalid_type" // data type that cannot be a collection name
	ReasonUnknownType     Reason = "unknown_type" // data type without a retention period
	ReasonInvalidTime     Reason = "invalid_time"
	ReasonInvalidData     Reason = "invalid_data"     // payload that is not a JSON object
	ReasonTooLarge        Reason = "too_large"        // envelope or stored document over its limit
	ReasonSubjectMismatch Reason = "subject_mismatch" // subject and envelope disagree
	ReasonStoreRejected   Reason = "store_rejected"   // the store refused the document for good
)

// Error is a rejected event: the event can never be stored as it is, so it is
// dead-lettered rather than retried.
type Error struct {
	Reason Reason
	Msg    string
}

func (e *Error) Error() string { return string(e.Reason) + ": " + e.Msg }

// Reject returns an *Error with a formatted message.
func Reject(reason Reason, format string, args ...any) error {
	return &Error{Reason: reason, Msg: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the reason of a rejection, and false for any other error.
func ReasonOf(err error) (Reason, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason, true
	}
	return "", false
}
