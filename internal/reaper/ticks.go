package reaper

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stewardhq/steward/internal/policy"
)

// Subjects of the ticks stream.
const (
	// TicksSubjects matches every subject of the ticks stream.
	TicksSubjects = "steward.ticks.>"
	// TickSubject receives the retention ticks that trigger cleanup runs.
	TickSubject = "steward.ticks.retention"
	// ScheduleSubject holds the schedule message that produces the ticks.
	ScheduleSubject = "steward.ticks.schedule.retention"
	// StateSubject holds the run lease and the end of the last completed
	// run.
	StateSubject = "steward.ticks.state.retention"
)

// TicksStreamConfig returns the configuration of the ticks stream. It keeps
// one message per subject, so ticks that pile up while no reaper runs
// collapse into one. Message schedules need roll-ups, which nats-server
// would switch on by itself; setting AllowRollup here keeps the stored
// configuration equal to this one.
func TicksStreamConfig(name string, replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              name,
		Description:       "Steward retention ticks, their schedule and the reaper's run state",
		Subjects:          []string{TicksSubjects},
		Retention:         jetstream.LimitsPolicy,
		Storage:           jetstream.FileStorage,
		Discard:           jetstream.DiscardOld,
		MaxMsgsPerSubject: 1,
		Duplicates:        2 * time.Minute,
		AllowMsgSchedules: true,
		AllowRollup:       true,
		Replicas:          replicas,
	}
}

// TickConsumerConfig returns the durable pull consumer of ticks that all
// reaper replicas share. MaxAckPending 1 delivers a tick to one replica at a
// time. It does not alone keep runs from overlapping, because the stream
// drops a pending tick when a newer one arrives, and nats-server 2.15.3
// then terminates the dropped tick and delivers the next one. The run lease
// on StateSubject covers that case. Ticks are redelivered without limit, so
// a long store outage delays cleanup but never cancels it.
func TickConsumerConfig(name string, ackWait time.Duration) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       name,
		Description:   "Steward reaper: retention ticks",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    -1,
		MaxAckPending: 1,
		FilterSubject: TickSubject,
	}
}

// schedule is the content of the schedule message: the Nats-Schedule value
// and the Nats-Schedule-Time-Zone value, empty for none.
type schedule struct {
	spec string
	zone string
}

// scheduleOf returns the schedule of policy p. nats-server
// rejects a time zone with "@every", so the zone is sent only with a cron
// schedule.
func (r *Reaper) scheduleOf(p *policy.Policy) schedule {
	if r.cfg.scheduleSpec != "" {
		return schedule{spec: r.cfg.scheduleSpec}
	}
	s := schedule{spec: p.ScheduleSpec()}
	if p.Schedule != "" {
		s.zone = p.TimeZone
	}
	return s
}

// ensureSchedule publishes the schedule message unless the last one on
// ScheduleSubject already has the same schedule and target. An unchanged
// schedule is never republished, because nats-server restarts the timer of a
// republished schedule, so every replica restart would postpone the next
// tick. The publish expects the last sequence it compared against; when
// another replica published in between, the comparison runs again.
func (r *Reaper) ensureSchedule(ctx context.Context, want schedule) (published bool, err error) {
	const attempts = 3
	for range attempts {
		var lastSeq uint64
		last, err := r.stream.GetLastMsgForSubject(ctx, ScheduleSubject)
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
		case err != nil:
			return false, fmt.Errorf("read schedule message %s of stream %s: %w", ScheduleSubject, r.cfg.TicksStream, err)
		default:
			if scheduleMatches(last.Header, want) {
				return false, nil
			}
			lastSeq = last.Sequence
		}

		msg := nats.NewMsg(ScheduleSubject)
		msg.Header.Set(jetstream.ScheduleHeader, want.spec)
		msg.Header.Set(jetstream.ScheduleTargetHeader, TickSubject)
		if want.zone != "" {
			msg.Header.Set(jetstream.ScheduleTimeZoneHeader, want.zone)
		}
		_, err = r.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(lastSeq))
		if isWrongLastSequence(err) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("publish schedule %q to %s: %w", want.spec, ScheduleSubject, err)
		}
		return true, nil
	}
	return false, fmt.Errorf("publish schedule %q to %s: the schedule message changed during each of %d attempts; check that all reaper replicas read the same policy file",
		want.spec, ScheduleSubject, attempts)
}

func scheduleMatches(h nats.Header, want schedule) bool {
	return h.Get(jetstream.ScheduleHeader) == want.spec &&
		h.Get(jetstream.ScheduleTimeZoneHeader) == want.zone &&
		h.Get(jetstream.ScheduleTargetHeader) == TickSubject
}

// isWrongLastSequence reports whether err is the server's rejection of a
// publish whose expected last subject sequence did not match.
func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

// logSchedule logs the schedule in the wording of the desktop app's cleanup
// timer, "Session cleanup scheduled every 24 hours", which operators search
// for.
func (r *Reaper) logSchedule(s schedule, p *policy.Policy) {
	if !p.Enabled {
		defer r.log.Warn("Session cleanup is disabled by the policy; scheduled runs delete nothing until it is enabled",
			"policy_source", p.Source, "policy_version", p.Version)
	}
	attrs := []any{
		"schedule", s.spec,
		"enabled", p.Enabled,
		"stream", r.cfg.TicksStream,
		"subject", TickSubject,
		"policy_version", p.Version,
	}
	if every, ok := strings.CutPrefix(s.spec, "@every "); ok {
		if d, err := time.ParseDuration(every); err == nil {
			hours := strconv.FormatFloat(d.Hours(), 'f', -1, 64)
			r.log.Info("Session cleanup scheduled every "+hours+" hours",
				append(attrs, "interval", d.String(), "interval_hours", d.Hours())...)
			return
		}
	}
	zone := s.zone
	if zone == "" {
		zone = "UTC"
	}
	r.log.Info(fmt.Sprintf("Session cleanup scheduled by cron %s (%s)", s.spec, zone), append(attrs, "time_zone", zone)...)
}
