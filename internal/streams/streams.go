// Package streams provisions the JetStream streams and consumers Steward
// uses. Provisioning is idempotent, so every replica does it at startup. An
// existing stream whose configuration differs is kept as it is and the
// difference is logged, because overwriting an operator's change silently
// could drop data.
package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stewardhq/steward/internal/config"
	"github.com/stewardhq/steward/internal/events"
)

// DeadLetterPrefix is the subject prefix of dead letters; the token after it
// is the rejection reason.
const DeadLetterPrefix = "steward.dlq"

// DeadLetterHeadroom is how much smaller than the max payload an event must
// be. A dead letter is the original message plus Steward's headers, so an
// event that used the whole max payload could never be dead-lettered.
const DeadLetterHeadroom = 4096

// EventsConfig returns the configuration of the events stream. maxAge is how
// long an event stays in the stream at most. It should cover the longest
// retention period plus one cleanup interval, so replay can restore anything
// the store still holds and nothing outlives its policy.
func EventsConfig(cfg config.Stream, maxPayload int, maxAge time.Duration) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        cfg.EventsStream,
		Description: "Steward events from desktop clients",
		Subjects:    []string{events.SubjectAll},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardOld,
		MaxAge:      maxAge,
		MaxMsgSize:  int32(maxPayload - DeadLetterHeadroom),
		Duplicates:  cfg.DedupeWindow,
		Replicas:    cfg.Replicas,
	}
}

// DeadLetterConfig returns the configuration of the dead-letter stream.
func DeadLetterConfig(cfg config.Stream) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        cfg.DeadLetterStream,
		Description: "Steward events that were rejected, with the reason",
		Subjects:    []string{DeadLetterPrefix + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardOld,
		MaxAge:      cfg.DeadLetterMaxAge,
		Duplicates:  10 * time.Minute,
		Replicas:    cfg.Replicas,
	}
}

// Ensure creates the stream when it does not exist. When it exists with a
// different configuration, Ensure logs each differing field at Warn and
// returns the existing stream unchanged.
func Ensure(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig, log *slog.Logger) (jetstream.Stream, error) {
	s, err := js.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = js.CreateStream(ctx, want)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			// Another replica created it first.
			s, err = js.Stream(ctx, want.Name)
		} else if err == nil {
			log.Info("stream created", "stream", want.Name, "subjects", want.Subjects, "max_age", want.MaxAge.String())
			return s, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("ensure stream %s: %w", want.Name, err)
	}
	if diff := Diff(s.CachedInfo().Config, want); len(diff) > 0 {
		log.Warn("stream configuration differs from what Steward would create; keeping the existing stream, update it by hand if the difference is unintended",
			"stream", want.Name, "differences", diff)
	}
	return s, nil
}

// Diff lists the fields Steward sets whose values differ, as
// "Field: have X, want Y".
func Diff(have, want jetstream.StreamConfig) []string {
	var out []string
	add := func(field string, h, w any) {
		if !reflect.DeepEqual(h, w) {
			out = append(out, fmt.Sprintf("%s: have %v, want %v", field, h, w))
		}
	}
	add("Subjects", slices.Sorted(slices.Values(have.Subjects)), slices.Sorted(slices.Values(want.Subjects)))
	add("Retention", have.Retention, want.Retention)
	add("Storage", have.Storage, want.Storage)
	add("Discard", have.Discard, want.Discard)
	add("MaxAge", have.MaxAge, want.MaxAge)
	add("MaxMsgSize", unlimited32(have.MaxMsgSize), unlimited32(want.MaxMsgSize))
	add("Duplicates", defaultDuplicates(have.Duplicates), defaultDuplicates(want.Duplicates))
	add("Replicas", have.Replicas, want.Replicas)
	add("AllowMsgSchedules", have.AllowMsgSchedules, want.AllowMsgSchedules)
	add("MaxMsgsPerSubject", unlimited64(have.MaxMsgsPerSubject), unlimited64(want.MaxMsgsPerSubject))
	return out
}

// defaultDuplicates maps 0 to the duplicate window the server sets for it,
// two minutes in nats-server 2.10 to 2.15.
func defaultDuplicates(d time.Duration) time.Duration {
	if d == 0 {
		return 2 * time.Minute
	}
	return d
}

// unlimited32 and unlimited64 map 0, which the server stores as -1, to -1.
func unlimited32(v int32) int32 {
	if v == 0 {
		return -1
	}
	return v
}

func unlimited64(v int64) int64 {
	if v == 0 {
		return -1
	}
	return v
}

// IngestConsumerConfig returns the durable pull consumer that all ingest
// replicas share. It delivers every event in the stream, never expires, and
// redelivers without limit: events that can never be stored are terminated
// and dead-lettered explicitly, so a delivery limit would only lose events
// during a long store outage.
func IngestConsumerConfig(name string, ing config.Ingest) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:           name,
		Description:       "Steward ingest: events into MongoDB",
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		AckPolicy:         jetstream.AckExplicitPolicy,
		AckWait:           ing.AckWait,
		MaxDeliver:        -1,
		MaxAckPending:     ing.MaxAckPending,
		FilterSubject:     events.SubjectAll,
		InactiveThreshold: 0,
	}
}
