// Package replay reads events back from the events stream, for auditors
// (as JSON lines) and for recovery (into the store, through the same writer
// as ingest). A replay reads through an ordered ephemeral consumer, so it
// never touches ingest's durable consumer, and it ends at the stream's last
// message at the moment it starts, so it terminates while events keep
// arriving.
package replay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/policy"
	"github.com/stewardhq/steward/internal/scope"
	"github.com/stewardhq/steward/internal/streams"
)

// Filter selects the events of a replay. Zero fields select everything.
type Filter struct {
	// Since and Until bound the time the stream stored an event, both
	// inclusive.
	Since, Until time.Time
	User         scope.User
	// Session selects one session; without User it selects that session
	// id of every user.
	Session scope.Session
	// Type selects the records of one data type, and no session events.
	Type string
	// FromSeq and ToSeq bound the stream sequence, both inclusive.
	FromSeq, ToSeq uint64
}

// Validate returns an error naming the first inconsistent field.
func (f Filter) Validate() error {
	switch {
	case !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since):
		return fmt.Errorf("time range is empty: until %s is before since %s", f.Until.Format(time.RFC3339Nano), f.Since.Format(time.RFC3339Nano))
	case f.ToSeq != 0 && f.ToSeq < f.FromSeq:
		return fmt.Errorf("sequence range is empty: to %d is below from %d", f.ToSeq, f.FromSeq)
	}
	if f.Type != "" {
		if err := policy.ValidDataType(f.Type); err != nil {
			return err
		}
	}
	return nil
}

// Subject returns the subject filter of f's user, session and type.
func (f Filter) Subject() string {
	return events.FilterSubject(f.User, f.Session, f.Type)
}

// Event is one replayed message, as the stream stores it.
type Event struct {
	Seq uint64
	// Time is when the stream stored the event.
	Time    time.Time
	Subject string
	Header  nats.Header
	// Data is the original envelope, byte for byte.
	Data []byte
}

// Sink receives the events of a replay in stream order.
type Sink interface {
	// Add takes one event. It may hold it to write it with later ones.
	Add(ctx context.Context, ev Event) error
	// Flush writes every event Add holds.
	Flush(ctx context.Context) error
}

// Progress follows a replay, for example with a progress bar.
type Progress interface {
	// Start is called once with the sequence range the replay covers,
	// before the first event.
	Start(first, last uint64)
	// Advance is called with the sequence of each event.
	Advance(seq uint64)
	// Finish is called once after Start when the replay ends, also after
	// an error.
	Finish()
}

// Summary describes what a replay read. Two replays of the same range read
// the same events exactly when their digests are equal.
type Summary struct {
	Events    uint64    `json:"events"`
	FirstSeq  uint64    `json:"first_seq,omitempty"`
	LastSeq   uint64    `json:"last_seq,omitempty"`
	FirstTime time.Time `json:"first_time,omitzero"`
	LastTime  time.Time `json:"last_time,omitzero"`
	// Digest is the SHA-256, in hex, of the events' keys in stream order,
	// each followed by a newline. The key of an event is "<user>:<event
	// id>", or "<subject>#<sequence>" for a message that has no user and
	// event id.
	Digest string `json:"digest"`
	// Restore counts what became of the events in a restore; nil otherwise.
	Restore *RestoreCounts `json:"restore,omitempty"`
}

// maxKeyBytes is the size limit for reading an event's key. It is above
// any size the stream accepts, so no stored event is too large for a key.
const maxKeyBytes = 1 << 30

// Run replays the events that f selects from stream into sink and returns
// the summary. progress may be nil. Events stored after Run started are not
// part of the replay.
func Run(ctx context.Context, js jetstream.JetStream, stream string, f Filter, sink Sink, progress Progress) (*Summary, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	sum := &Summary{}
	digest := sha256.New()
	defer func() { sum.Digest = hex.EncodeToString(digest.Sum(nil)) }()

	r, ok, err := resolve(ctx, js, stream, f)
	if err != nil {
		return sum, err
	}
	if !ok {
		return sum, nil
	}
	if progress != nil {
		progress.Start(r.First, r.Last)
		defer progress.Finish()
	}
	err = streams.Read(ctx, js, stream, r, func(m jetstream.Msg) error {
		meta, err := m.Metadata()
		if err != nil {
			return err
		}
		ev := Event{Seq: meta.Sequence.Stream, Time: meta.Timestamp.UTC(), Subject: m.Subject(), Header: m.Headers(), Data: m.Data()}
		if err := sink.Add(ctx, ev); err != nil {
			return err
		}
		sum.add(ev, digest)
		if progress != nil {
			progress.Advance(ev.Seq)
		}
		return nil
	})
	if err != nil {
		return sum, fmt.Errorf("replay stream %s: %w", stream, err)
	}
	if err := sink.Flush(ctx); err != nil {
		return sum, err
	}
	return sum, nil
}

func (s *Summary) add(ev Event, digest hash.Hash) {
	if s.Events == 0 {
		s.FirstSeq, s.FirstTime = ev.Seq, ev.Time
	}
	s.Events++
	s.LastSeq, s.LastTime = ev.Seq, ev.Time
	digest.Write([]byte(key(ev)))
	digest.Write([]byte{'\n'})
}

// key returns the digest key of an event; see Summary.Digest.
func key(ev Event) string {
	decoded, _ := events.Decode("", ev.Data, maxKeyBytes)
	if decoded != nil && decoded.User != "" && decoded.ID != "" {
		return decoded.MsgID()
	}
	return ev.Subject + "#" + strconv.FormatUint(ev.Seq, 10)
}

// resolve turns f into a range of sequences. The time bounds become
// sequences through the stream's timestamps, so the whole replay is one
// contiguous range, read in stream order.
func resolve(ctx context.Context, js jetstream.JetStream, stream string, f Filter) (streams.Range, bool, error) {
	r, ok, err := streams.Range{Filter: f.Subject(), First: f.FromSeq, Last: f.ToSeq}.Resolve(ctx, js, stream)
	if err != nil || !ok {
		return r, false, err
	}
	if !f.Since.IsZero() {
		pos, found, err := streams.SeekTime(ctx, js, stream, r.Filter, f.Since)
		if err != nil {
			return r, false, err
		}
		if !found {
			return r, false, nil
		}
		r.First = max(r.First, pos.Seq)
	}
	if !f.Until.IsZero() {
		// The first message of any subject stored after Until ends the
		// range just before it.
		pos, found, err := streams.SeekTime(ctx, js, stream, "", f.Until.Add(time.Nanosecond))
		if err != nil {
			return r, false, err
		}
		if found {
			if pos.Seq <= 1 {
				return r, false, nil
			}
			r.Last = min(r.Last, pos.Seq-1)
		}
	}
	// Start at the first match, so that progress counts from there.
	first, found, err := streams.SeekSeq(ctx, js, stream, r.Filter, r.First)
	if err != nil || !found || first.Seq > r.Last {
		return r, false, err
	}
	r.First = first.Seq
	return r, true, nil
}
