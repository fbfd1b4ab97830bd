package deploy

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/streams"
)

func TestWorkerConsumesEvents(t *testing.T) {
	s := startServer(t)
	for _, user := range []string{"ingest", "reaper", "operator"} {
		t.Run(user, func(t *testing.T) {
			c := connect(t, s, user)
			stream := ensureStreams(t, c.js)
			ctx := testContext(t, 10*time.Second)

			msg := recordMsg(t, "u-"+user, "e1")
			ack, err := c.js.PublishMsg(ctx, msg)
			if err != nil {
				t.Fatalf("publish event: %v", err)
			}
			cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
				Durable:       "deploy-test-" + user,
				AckPolicy:     jetstream.AckExplicitPolicy,
				FilterSubject: msg.Subject,
			})
			if err != nil {
				t.Fatalf("create consumer: %v", err)
			}
			got, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
			if err != nil {
				t.Fatalf("fetch event: %v", err)
			}
			meta, err := got.Metadata()
			if err != nil {
				t.Fatalf("metadata: %v", err)
			}
			if meta.Sequence.Stream != ack.Sequence {
				t.Errorf("got stream sequence %d, want %d", meta.Sequence.Stream, ack.Sequence)
			}
			if string(got.Data()) != string(msg.Data) {
				t.Errorf("got body %s, want %s", got.Data(), msg.Data)
			}
			if err := got.DoubleAck(ctx); err != nil {
				t.Fatalf("ack: %v", err)
			}

			dead := nats.NewMsg(streams.DeadLetterPrefix + "." + string(events.ReasonMalformed))
			dead.Data = []byte("not json")
			dead.Header.Set(jetstream.MsgIDHeader, "deploy-test:"+user)
			if _, err := c.js.PublishMsg(ctx, dead); err != nil {
				t.Fatalf("publish dead letter: %v", err)
			}
		})
	}
}

func TestWorkerScheduleTicks(t *testing.T) {
	s := startServer(t)
	c := connect(t, s, "reaper")
	ctx := testContext(t, 15*time.Second)

	// These are the reaper's ticks stream and subjects. The schedule message
	// and its target must both belong to the stream.
	const (
		scheduleSubject = "steward.ticks.schedule.retention"
		tickSubject     = "steward.ticks.retention"
	)
	stream, err := c.js.CreateStream(ctx, jetstream.StreamConfig{
		Name:              "STEWARD_TICKS",
		Subjects:          []string{"steward.ticks.>"},
		MaxMsgsPerSubject: 1,
		AllowMsgSchedules: true,
		AllowRollup:       true,
	})
	if err != nil {
		t.Fatalf("create ticks stream: %v", err)
	}
	schedule := nats.NewMsg(scheduleSubject)
	schedule.Header.Set(jetstream.ScheduleHeader, "@every 1s")
	schedule.Header.Set(jetstream.ScheduleTargetHeader, tickSubject)
	if _, err := c.js.PublishMsg(ctx, schedule); err != nil {
		t.Fatalf("publish schedule: %v", err)
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		AckPolicy:     jetstream.AckExplicitPolicy,
		FilterSubject: tickSubject,
	})
	if err != nil {
		t.Fatalf("create tick consumer: %v", err)
	}
	tick, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
	if err != nil {
		t.Fatalf("got error %v waiting 10s for a tick, want a tick", err)
	}
	if got := tick.Subject(); got != tickSubject {
		t.Errorf("got tick on %q, want %q", got, tickSubject)
	}
}
