package store

import (
	"context"
	"errors"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
)

// Outcome classifies the result of one document in a bulk write.
type Outcome int

const (
	// Stored: the document is durable.
	Stored Outcome = iota
	// Duplicate: a document with this key exists already, which for an
	// idempotent write means this event is stored.
	Duplicate
	// Rejected: the store refuses this document and always will.
	Rejected
	// Retry: this document failed for a reason that may pass.
	Retry
)

// Result is the outcome of one document, with the error behind Rejected and
// Retry.
type Result struct {
	Outcome Outcome
	Err     error
}

// Server error codes that mean a document will never be accepted as it is.
var permanentCodes = map[int]bool{
	2:     true, // BadValue
	14:    true, // TypeMismatch
	17:    true, // ProtocolError
	22:    true, // InvalidBSON
	52:    true, // DollarPrefixedFieldName
	55:    true, // InvalidDBRef
	56:    true, // EmptyFieldName
	57:    true, // DottedFieldName
	121:   true, // DocumentValidationFailure
	10334: true, // BSONObjectTooLarge
	17280: true, // KeyTooLong
	17419: true, // document too large after update
}

// IsTransient reports whether err is a failure of the connection or the
// server as a whole (network, timeout, no primary, write concern), after
// which the same write may succeed.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, mongo.ErrClientDisconnected) {
		return true
	}
	if mongo.IsNetworkError(err) || mongo.IsTimeout(err) {
		return true
	}
	var sse topology.ServerSelectionError
	if errors.As(err, &sse) {
		return true
	}
	var le mongo.LabeledError
	if errors.As(err, &le) && (le.HasErrorLabel("RetryableWriteError") || le.HasErrorLabel("TransientTransactionError")) {
		return true
	}
	var bwe mongo.BulkWriteException
	if errors.As(err, &bwe) && bwe.WriteConcernError != nil {
		return true
	}
	var ce mongo.CommandError
	if errors.As(err, &ce) {
		return !permanentCodes[int(ce.Code)]
	}
	return false
}

// sortWriteErrors maps the errors of an unordered bulk write onto results.
// It returns false when err is not a per-document failure, so the whole
// write must be retried.
func sortWriteErrors(err error, results []Result) bool {
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil {
		return false
	}
	for _, we := range bwe.WriteErrors {
		if we.Index < 0 || we.Index >= len(results) {
			return false
		}
		switch {
		case we.Code == 11000:
			results[we.Index] = Result{Outcome: Duplicate}
		case permanentCodes[we.Code]:
			results[we.Index] = Result{Outcome: Rejected, Err: we}
		default:
			results[we.Index] = Result{Outcome: Retry, Err: we}
		}
	}
	return true
}
