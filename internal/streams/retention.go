package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/policy"
)

// ExpiredPurge is the outcome of PurgeExpired for one subject filter.
type ExpiredPurge struct {
	// Type is the data type whose records Filter matches, or empty for the
	// pass over every subject, which removes session events and records of
	// types the policy no longer lists.
	Type   string `json:"type,omitempty"`
	Filter string `json:"filter"`
	// Retention is the period the cutoff counts back from asOf.
	Retention time.Duration `json:"retention"`
	// Cutoff is the stream time before which matching messages expired.
	Cutoff time.Time `json:"cutoff"`
	// Before is the first sequence kept: matching messages with lower
	// sequences were purged. It is 0 when nothing had expired.
	Before uint64 `json:"before,omitempty"`
	Purged uint64 `json:"purged"`
	Err    error  `json:"-"`
}

// RetentionReport is the outcome of PurgeExpired.
type RetentionReport struct {
	Stream string    `json:"stream"`
	AsOf   time.Time `json:"as_of"`
	// Enabled is the policy's Enabled; when false nothing was purged.
	Enabled bool           `json:"enabled"`
	Purges  []ExpiredPurge `json:"purges"`
	Purged  uint64         `json:"purged"`
}

// PurgeExpired removes from the events stream every message that is older
// than its retention period at asOf. Records of a data type expire after the
// type's period. Every other message, such as session events and records of
// types the policy no longer lists, expires after the policy's longest
// period. These are the cutoffs the reaper deletes documents by, so the
// stream never holds an event whose document has expired, and replay can
// restore every document the store still holds.
//
// Run on every cleanup tick, it keeps each event at most its retention
// period plus the time between two ticks (one cleanup interval while ticks
// arrive on time). When pol.Enabled is false it purges nothing, as the
// reaper deletes nothing, and the stream's MaxAge alone limits the events.
//
// Each filter is purged up to the first message stored at or after its
// cutoff, which the server finds by timestamp (see SeekTime). A failure on
// one filter does not stop the others; the returned error joins them, and
// each ExpiredPurge carries its own. Purges are logged at Info when they
// removed messages.
func PurgeExpired(ctx context.Context, js jetstream.JetStream, stream string, pol *policy.Policy, asOf time.Time, log *slog.Logger) (RetentionReport, error) {
	rep := RetentionReport{Stream: stream, AsOf: asOf.UTC(), Enabled: pol.Enabled}
	if !pol.Enabled {
		log.Debug("retention cleanup is disabled; purging nothing from the stream", "stream", stream)
		return rep, nil
	}
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return rep, fmt.Errorf("purge expired events from stream %s: %w", stream, err)
	}
	state := s.CachedInfo().State

	var errs []error
	purge := func(dataType, filter string, retention time.Duration) {
		// Truncated to milliseconds like the reaper's cutoff, because the
		// store keeps receive times in milliseconds: the stream then loses
		// exactly the events whose documents the reaper deletes.
		cutoff := rep.AsOf.Add(-retention).Truncate(time.Millisecond)
		p := ExpiredPurge{Type: dataType, Filter: filter, Retention: retention, Cutoff: cutoff}
		p.Before, p.Purged, p.Err = purgeBefore(ctx, js, stream, filter, p.Cutoff, state)
		if p.Err != nil {
			errs = append(errs, p.Err)
		}
		rep.Purges = append(rep.Purges, p)
		rep.Purged += p.Purged
		attrs := []any{"stream", stream, "filter", filter, "deleted", p.Purged, "cutoff", p.Cutoff, "retention_days", retention.Hours() / 24}
		if dataType != "" {
			attrs = append(attrs, "data_type", dataType)
		}
		if p.Purged > 0 {
			log.Info("purged expired events from the stream", attrs...)
		} else {
			log.Debug("no expired events in the stream", attrs...)
		}
	}
	for _, t := range pol.Types() {
		retention, _ := pol.RetentionFor(t)
		purge(t, events.FilterSubject("", "", t), retention)
	}
	purge("", events.SubjectAll, pol.Longest())
	return rep, errors.Join(errs...)
}

// purgeBefore purges the messages matching filter that the stream stored
// before cutoff. It returns the first sequence kept, 0 when none had to go.
func purgeBefore(ctx context.Context, js jetstream.JetStream, stream, filter string, cutoff time.Time, state jetstream.StreamState) (before, purged uint64, err error) {
	if state.Msgs == 0 || !state.FirstTime.Before(cutoff) {
		return 0, 0, nil
	}
	pos, ok, err := SeekTime(ctx, js, stream, filter, cutoff)
	if err != nil {
		return 0, 0, err
	}
	// Without a match at or after the cutoff, every matching message up to
	// state.LastSeq has expired. Messages stored after state was read are
	// kept either way.
	before = state.LastSeq + 1
	if ok {
		before = pos.Seq
	}
	if before <= state.FirstSeq {
		return 0, 0, nil
	}
	purged, err = Purge(ctx, js, stream, filter, before)
	if err != nil {
		return 0, 0, err
	}
	return before, purged, nil
}
