package deadletter

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/streams"
)

// Letter describes one dead letter, from its headers.
type Letter struct {
	// Seq is the dead letter's sequence in the dead-letter stream.
	Seq uint64 `json:"seq"`
	// Time is when the dead-letter stream stored it.
	Time   time.Time     `json:"time"`
	Reason events.Reason `json:"reason"`
	// Message is the full reason, as Steward-Reason carries it.
	Message         string `json:"message"`
	OriginalSubject string `json:"original_subject"`
	// OriginalSeq is the rejected message's sequence in the events stream.
	OriginalSeq uint64 `json:"original_seq,omitempty"`
}

// Selection chooses dead letters. Zero fields choose every dead letter.
type Selection struct {
	Reason events.Reason
	// Seqs are sequences in the dead-letter stream.
	Seqs []uint64
}

func (s Selection) matches(l Letter) bool {
	if s.Reason != "" && l.Reason != s.Reason {
		return false
	}
	return len(s.Seqs) == 0 || slices.Contains(s.Seqs, l.Seq)
}

// readRange returns the part of the stream that can hold the selection.
func (s Selection) readRange() streams.Range {
	r := streams.Range{Filter: streams.DeadLetterPrefix + ".>", HeadersOnly: true}
	if len(s.Seqs) > 0 {
		r.First, r.Last = slices.Min(s.Seqs), slices.Max(s.Seqs)
	}
	return r
}

// Scan reads the headers of the dead letters in stream order, through an
// ordered consumer, and passes those that sel chooses to fn. Dead letters
// stored after Scan started are not read.
func Scan(ctx context.Context, js jetstream.JetStream, stream string, sel Selection, fn func(Letter) error) error {
	return streams.Read(ctx, js, stream, sel.readRange(), func(m jetstream.Msg) error {
		meta, err := m.Metadata()
		if err != nil {
			return err
		}
		h := m.Headers()
		l := Letter{
			Seq:             meta.Sequence.Stream,
			Time:            meta.Timestamp.UTC(),
			Reason:          events.Reason(h.Get(HeaderReasonCode)),
			Message:         h.Get(HeaderReason),
			OriginalSubject: h.Get(HeaderOriginalSubject),
		}
		l.OriginalSeq, _ = strconv.ParseUint(h.Get(HeaderOriginalSeq), 10, 64)
		if !sel.matches(l) {
			return nil
		}
		return fn(l)
	})
}

// Group is the dead letters of one reason.
type Group struct {
	Reason events.Reason `json:"reason"`
	Count  int           `json:"count"`
	// First and Last are when the first and the last of them were stored.
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

// Summarize returns the dead letters that sel chooses grouped by reason,
// ordered by reason.
func Summarize(ctx context.Context, js jetstream.JetStream, stream string, sel Selection) ([]Group, error) {
	byReason := map[events.Reason]*Group{}
	err := Scan(ctx, js, stream, sel, func(l Letter) error {
		g := byReason[l.Reason]
		if g == nil {
			g = &Group{Reason: l.Reason, First: l.Time}
			byReason[l.Reason] = g
		}
		g.Count++
		g.Last = l.Time
		return nil
	})
	if err != nil {
		return nil, err
	}
	groups := make([]Group, 0, len(byReason))
	for _, g := range byReason {
		groups = append(groups, *g)
	}
	slices.SortFunc(groups, func(a, b Group) int { return cmp.Compare(a.Reason, b.Reason) })
	return groups, nil
}
