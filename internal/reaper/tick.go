package reaper

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// errLeaseLost cancels a run whose lease another replica took over.
var errLeaseLost = errors.New("run lease taken over by another replica")

// settleTimeout bounds the NATS calls that end a tick's handling, which run
// on a context of their own so that they still happen during shutdown.
const settleTimeout = 5 * time.Second

// handleTick decides what a tick does and settles it. A tick stored before
// the last completed run ended is acknowledged without a run. While another
// replica runs a cleanup, the tick is redelivered after RetryDelay.
// Otherwise this replica takes the run lease and runs one cleanup. It
// acknowledges the tick after a successful run, and has it redelivered
// after RetryDelay when the run failed.
func (r *Reaper) handleTick(ctx context.Context, msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		// Only a message that did not come from a consumer lacks metadata.
		r.log.Error("tick has no JetStream metadata; terminating it", "subject", msg.Subject(), "err", err)
		_ = msg.Term()
		return
	}
	tick := md.Sequence.Stream
	log := r.log.With("tick_id", tick)

	prev, err := r.readState(ctx)
	if err != nil {
		r.retry(ctx, log, msg, "read run state failed; the tick will be retried", err)
		return
	}
	if done := prev.completedSeq(); tick < done {
		log.Info("tick skipped: it was stored before the last cleanup run ended",
			"tick_time", md.Timestamp, "completed_seq", done, "completed_by", prev.Replica)
		r.ack(ctx, log, msg)
		return
	}
	if prev.State == stateRunning {
		age := time.Since(prev.time)
		if prev.Replica != r.cfg.ReplicaID && age < r.cfg.AckWait {
			log.Info("tick deferred: another replica is running a cleanup",
				"running_replica", prev.Replica, "running_tick_id", prev.Tick, "retry_in", r.cfg.RetryDelay)
			r.nak(log, msg, r.cfg.RetryDelay)
			return
		}
		// The stream's clock dates the lease and this host's clock measures
		// its age, so clock skew between them shortens or lengthens it.
		log.Warn("taking over a cleanup run that was not renewed",
			"abandoned_by", prev.Replica, "abandoned_tick_id", prev.Tick, "last_renewed_ago", age.Round(time.Millisecond))
	}

	l, err := r.acquire(ctx, prev, tick)
	if errors.Is(err, errStateChanged) {
		log.Info("tick deferred: another replica started a cleanup at the same time", "retry_in", r.cfg.RetryDelay)
		r.nak(log, msg, r.cfg.RetryDelay)
		return
	}
	if err != nil {
		r.retry(ctx, log, msg, "acquire run lease failed; the tick will be retried", err)
		return
	}

	_, runErr := r.runLeased(ctx, log, msg, l, strconv.FormatUint(tick, 10))

	settle, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	switch {
	case runErr == nil:
		if err := l.release(settle, true); err != nil {
			log.Warn("record completed run failed; the next tick waits until the lease counts as abandoned", "err", err)
		}
		r.ack(settle, log, msg)
	case ctx.Err() != nil:
		log.Info("cleanup interrupted by shutdown; the tick goes back to the consumer for another replica", "err", runErr)
		r.releaseFailed(settle, log, l)
		if err := msg.Nak(); err != nil {
			log.Warn("return tick failed; the server redelivers it after the ack wait", "ack_wait", r.cfg.AckWait, "err", err)
		}
	default:
		log.Error("Session cleanup failed; the tick will be retried", "retry_in", r.cfg.RetryDelay, "err", runErr)
		r.releaseFailed(settle, log, l)
		r.nak(log, msg, r.cfg.RetryDelay)
	}
}

// runLeased runs one cleanup while a heartbeat reports progress on the tick
// and renews the lease every AckWait/3. When another replica takes the lease
// over, the run is cancelled.
func (r *Reaper) runLeased(ctx context.Context, log *slog.Logger, msg jetstream.Msg, l *lease, tickID string) (Report, error) {
	runCtx, cancelRun := context.WithCancelCause(ctx)
	defer cancelRun(nil)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(r.cfg.AckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-runCtx.Done():
				return
			case <-t.C:
			}
			if err := msg.InProgress(); err != nil {
				log.Warn("report progress on tick failed; the server may redeliver it to another replica", "err", err)
			}
			err := l.renew(runCtx)
			switch {
			case errors.Is(err, errStateChanged):
				log.Error("run lease taken over by another replica; cancelling this run", "err", err)
				cancelRun(errLeaseLost)
				return
			case err != nil && runCtx.Err() == nil:
				log.Warn("renew run lease failed; retrying at the next heartbeat", "err", err)
			}
		}
	})

	rep, err := r.run(runCtx, r.cfg.Now(), false, tickID)
	close(stop)
	wg.Wait()
	if cause := context.Cause(runCtx); errors.Is(cause, errLeaseLost) && err != nil {
		err = errors.Join(cause, err)
	}
	return rep, err
}

func (r *Reaper) releaseFailed(ctx context.Context, log *slog.Logger, l *lease) {
	if err := l.release(ctx, false); err != nil && !errors.Is(err, errStateChanged) {
		log.Warn("release run lease failed; the next run waits until the lease counts as abandoned", "abandon_after", r.cfg.AckWait, "err", err)
	}
}

// retry logs why a tick cannot be handled now and redelivers it after
// RetryDelay. During shutdown it returns the tick at once, for another
// replica.
func (r *Reaper) retry(ctx context.Context, log *slog.Logger, msg jetstream.Msg, what string, err error) {
	if ctx.Err() != nil {
		_ = msg.Nak()
		return
	}
	log.Warn(what, "retry_in", r.cfg.RetryDelay, "err", err)
	r.nak(log, msg, r.cfg.RetryDelay)
}

func (r *Reaper) nak(log *slog.Logger, msg jetstream.Msg, delay time.Duration) {
	if err := msg.NakWithDelay(delay); err != nil {
		log.Warn("nak tick failed; the server redelivers it after the ack wait", "ack_wait", r.cfg.AckWait, "err", err)
	}
}

// ack acknowledges a tick and waits for the server to confirm. A lost ack
// after a recorded run is harmless, because the redelivered tick was stored
// before that run ended and is skipped.
func (r *Reaper) ack(ctx context.Context, log *slog.Logger, msg jetstream.Msg) {
	actx, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	if err := msg.DoubleAck(actx); err != nil {
		log.Warn("acknowledge tick failed; its redelivery will be skipped", "err", err)
	}
}
