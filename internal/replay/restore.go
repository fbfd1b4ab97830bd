package replay

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/ingest"
)

// RestoreCounts is the tally of a restore's events by outcome.
type RestoreCounts struct {
	// Stored counts documents written, Duplicates documents that existed
	// already, for example because ingest had stored them.
	Stored     uint64 `json:"stored"`
	Duplicates uint64 `json:"duplicates"`
	// Erased counts events of erased users, which were skipped.
	Erased uint64 `json:"erased"`
	// Rejected counts events that can never be stored, by reason. Ingest
	// dead-lettered them when they arrived.
	Rejected map[events.Reason]uint64 `json:"rejected,omitempty"`
	// Failed counts documents the store failed every attempt to write.
	Failed uint64 `json:"failed"`
}

// RestoreConfig configures a Restorer.
type RestoreConfig struct {
	// BatchSize is the number of events written at once. Default 500.
	BatchSize int
	// MaxAttempts is how often a batch is written before the documents
	// that still fail count as Failed, or, when the store failed as a
	// whole, the restore stops with an error. Default 8.
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the pause between attempts. Defaults
	// 250ms and 10s.
	MinBackoff, MaxBackoff time.Duration
}

// Restorer is a sink that writes events into the store through
// ingest.Writer, the write path of ingest, so a restored document is the
// document ingest stored: same key, same receive time, same stream
// sequence. Restoring an event whose document exists changes nothing.
type Restorer struct {
	writer *ingest.Writer
	cfg    RestoreConfig
	log    *slog.Logger
	batch  []ingest.Message
	counts RestoreCounts
}

// NewRestorer returns a Restorer that writes through w.
func NewRestorer(w *ingest.Writer, cfg RestoreConfig, log *slog.Logger) *Restorer {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 500
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 250 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 10 * time.Second
	}
	return &Restorer{writer: w, cfg: cfg, log: log, counts: RestoreCounts{Rejected: map[events.Reason]uint64{}}}
}

// Counts returns what became of the events so far.
func (r *Restorer) Counts() *RestoreCounts {
	c := r.counts
	return &c
}

// Add holds ev and writes the batch once it is full.
func (r *Restorer) Add(ctx context.Context, ev Event) error {
	r.batch = append(r.batch, ingest.Message{Subject: ev.Subject, Header: ev.Header, Data: ev.Data, Sequence: ev.Seq, Time: ev.Time})
	if len(r.batch) < r.cfg.BatchSize {
		return nil
	}
	return r.Flush(ctx)
}

// Flush writes the events held. Documents that fail alone are retried and
// then counted as Failed. A store that fails as a whole on every attempt
// stops the restore with an error.
func (r *Restorer) Flush(ctx context.Context) error {
	pending := r.batch
	r.batch = r.batch[:0:0]
	for attempt := 1; len(pending) > 0; attempt++ {
		results := r.writer.Write(ctx, pending)
		var again []ingest.Message
		var lastErr error
		unavailable := false
		for i, res := range results {
			switch res.Outcome {
			case ingest.Stored:
				r.counts.Stored++
			case ingest.Duplicate:
				r.counts.Duplicates++
			case ingest.Erased:
				r.counts.Erased++
			case ingest.Rejected:
				reason, _ := events.ReasonOf(res.Err)
				r.counts.Rejected[reason]++
				r.log.Debug("event not restored because it can never be stored", "stream_seq", pending[i].Sequence, "reason", reason, "err", res.Err)
			case ingest.Retry, ingest.Unavailable:
				again = append(again, pending[i])
				lastErr = res.Err
				unavailable = unavailable || res.Outcome == ingest.Unavailable
			}
		}
		pending = again
		if len(pending) == 0 {
			return nil
		}
		if attempt >= r.cfg.MaxAttempts {
			if unavailable {
				return fmt.Errorf("restore events from sequence %d: store unavailable after %d attempts: %w; restoring again is safe", pending[0].Sequence, attempt, lastErr)
			}
			for _, m := range pending {
				r.log.Error("document not restored after every attempt", "stream_seq", m.Sequence, "subject", m.Subject, "attempt", attempt, "err", lastErr)
			}
			r.counts.Failed += uint64(len(pending))
			return nil
		}
		delay := r.cfg.MinBackoff
		for i := 1; i < attempt && delay < r.cfg.MaxBackoff; i++ {
			delay *= 2
		}
		delay = min(delay, r.cfg.MaxBackoff)
		r.log.Warn("store write failed; retrying", "events", len(pending), "attempt", attempt, "delay", delay.String(), "err", lastErr)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("restore events from sequence %d: %w", pending[0].Sequence, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

var _ Sink = (*Restorer)(nil)
