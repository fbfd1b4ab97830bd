package reaper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stewardhq/steward/internal/store"
	"github.com/stewardhq/steward/internal/streams"
)

// Reaper is one reaper replica.
type Reaper struct {
	js       jetstream.JetStream // nil when only RunOnce is used
	store    *store.Store
	policies PolicySource
	cfg      Config
	log      *slog.Logger

	// The fields below belong to the goroutine of Run.
	stream   jetstream.Stream
	consumer jetstream.Consumer
	ensured  schedule // the schedule published or found last
	// scheduleErr is the last error of publishing a changed schedule, so a
	// failure that repeats on every poll is logged once.
	scheduleErr error

	// beforeCollection, when a test sets it, is called before each
	// collection of a cleanup run, and a non-nil error fails that
	// collection.
	beforeCollection func(ctx context.Context, collection string) error
}

// New returns a reaper. Missing Config fields take their defaults. js may be
// nil for a reaper that only serves RunOnce, because only Run needs it. Every
// record the reaper logs carries its replica id. A nil log discards the log.
func New(js jetstream.JetStream, st *store.Store, cfg Config, policies PolicySource, log *slog.Logger) (*Reaper, error) {
	if st == nil {
		return nil, errors.New("new reaper: store is nil")
	}
	if policies == nil {
		return nil, errors.New("new reaper: policy source is nil")
	}
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new reaper: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("replica", cfg.ReplicaID)
	return &Reaper{js: js, store: st, policies: policies, cfg: cfg, log: log}, nil
}

// Run provisions the ticks stream, the schedule message and the consumer,
// then handles ticks until ctx is cancelled. Each tick runs one cleanup
// unless another replica runs one, or the tick was stored before the last
// completed run ended. A changed schedule in the current policy is published
// within FetchWait. Run returns nil after ctx is cancelled, and an error only
// when provisioning fails at startup for another reason.
//
// NOTE: a tick that arrives for a fetch that shutdown cut short stays with
// the server until AckWait passes, and is then delivered to another replica.
func (r *Reaper) Run(ctx context.Context) error {
	if r.js == nil {
		return errors.New("run reaper: no JetStream connection; create the reaper with one, or use RunOnce")
	}
	if err := r.setup(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	r.logSchedule(r.ensured, r.policies.Current())
	r.log.Info("reaper started", "stream", r.cfg.TicksStream, "consumer", r.cfg.Consumer)

	var failures int
	var broken time.Time
	for ctx.Err() == nil {
		r.followPolicy(ctx)

		msg, err := r.next(ctx)
		switch {
		case err == nil:
			if failures > 0 {
				r.log.Info("fetching ticks again", "consumer", r.cfg.Consumer, "failed_fetches", failures, "down_for", time.Since(broken).Round(time.Millisecond))
				failures = 0
			}
			r.handleTick(ctx, msg)
		case ctx.Err() != nil, isIdle(err):
		default:
			if failures == 0 {
				broken = time.Now()
				r.log.Warn("fetch tick failed; retrying with backoff until NATS answers", "stream", r.cfg.TicksStream, "consumer", r.cfg.Consumer, "err", err)
			}
			failures++
			if consumerGone(err) || failures%5 == 0 {
				// The stream, schedule or consumer may have been deleted.
				if serr := r.setup(ctx); serr != nil && failures%5 == 0 {
					r.log.Warn("provision ticks stream failed; retrying", "stream", r.cfg.TicksStream, "attempt", failures, "err", serr)
				}
			}
			sleep(ctx, backoff(failures, 100*time.Millisecond, 30*time.Second))
		}
	}
	r.log.Info("reaper stopped", "consumer", r.cfg.Consumer)
	return nil
}

// setup creates or finds the ticks stream, the schedule message and the
// consumer.
func (r *Reaper) setup(ctx context.Context) error {
	s, err := streams.Ensure(ctx, r.js, TicksStreamConfig(r.cfg.TicksStream, r.cfg.StreamReplicas), r.log)
	if err != nil {
		return err
	}
	r.stream = s

	p := r.policies.Current()
	want := r.scheduleOf(p)
	published, err := r.ensureSchedule(ctx, want)
	if err != nil {
		return err
	}
	if published && r.ensured != (schedule{}) {
		// A reprovisioned stream lost the schedule that Run logged.
		r.logSchedule(want, p)
	}
	r.ensured = want

	cons, err := r.js.CreateOrUpdateConsumer(ctx, r.cfg.TicksStream, TickConsumerConfig(r.cfg.Consumer, r.cfg.AckWait))
	if err != nil {
		return fmt.Errorf("ensure consumer %s on %s: %w", r.cfg.Consumer, r.cfg.TicksStream, err)
	}
	r.consumer = cons
	return nil
}

// followPolicy publishes the schedule of the current policy when it differs
// from the one published last, and logs the new schedule.
func (r *Reaper) followPolicy(ctx context.Context) {
	p := r.policies.Current()
	want := r.scheduleOf(p)
	if want == r.ensured {
		return
	}
	if _, err := r.ensureSchedule(ctx, want); err != nil {
		if ctx.Err() == nil && (r.scheduleErr == nil || r.scheduleErr.Error() != err.Error()) {
			r.log.Warn("publish changed cleanup schedule failed; the old schedule stays in force until a retry succeeds",
				"schedule", want.spec, "policy_version", p.Version, "err", err)
		}
		r.scheduleErr = err
		return
	}
	r.scheduleErr = nil
	r.ensured = want
	r.logSchedule(want, p)
}

// next waits up to FetchWait for a tick.
func (r *Reaper) next(ctx context.Context) (jetstream.Msg, error) {
	fctx, cancel := context.WithTimeout(ctx, r.cfg.FetchWait)
	defer cancel()
	return r.consumer.Next(jetstream.FetchContext(fctx))
}

// isIdle reports whether a fetch ended without a tick and without a fault.
func isIdle(err error) bool {
	return errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, jetstream.ErrNoMessages)
}

func consumerGone(err error) bool {
	return errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrStreamNotFound)
}

// backoff returns the pause after the n-th consecutive failure: doubling
// from first, capped at limit.
func backoff(n int, first, limit time.Duration) time.Duration {
	d := first
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
