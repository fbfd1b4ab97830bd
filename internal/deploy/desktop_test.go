package deploy

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stewardhq/steward/internal/events"
)

func TestDesktopPublishesOwnEvents(t *testing.T) {
	s := startServer(t)
	worker := connect(t, s, "ingest")
	stream := ensureStreams(t, worker.js)
	desktop := connectDesktop(t, s)
	ctx := testContext(t, 10*time.Second)

	msg := recordMsg(t, desktopUser, "e1")
	if got, want := msg.Subject, "steward.events.example-user.s1.record.winston_logs"; got != want {
		t.Fatalf("got subject %q, want %q", got, want)
	}
	first, err := desktop.js.PublishMsg(ctx, msg)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	again, err := desktop.js.PublishMsg(ctx, recordMsg(t, desktopUser, "e1"))
	if err != nil {
		t.Fatalf("publish again: %v", err)
	}

	tests := []struct {
		name string
		got  any
		want any
	}{
		{"stream", first.Stream, stream.CachedInfo().Config.Name},
		{"first duplicate", first.Duplicate, false},
		{"republished duplicate", again.Duplicate, true},
		{"republished sequence", again.Sequence, first.Sequence},
		{"messages stored", streamMsgs(t, stream, events.SubjectAll), uint64(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}

	// The stored message is an event that ingest accepts.
	stored, err := stream.GetMsg(ctx, first.Sequence)
	if err != nil {
		t.Fatalf("get stored message: %v", err)
	}
	ev, err := events.Decode(stored.Subject, stored.Data, 0)
	if err != nil {
		t.Fatalf("decode stored event: %v", err)
	}
	if got, want := stored.Header.Get(jetstream.MsgIDHeader), ev.MsgID(); got != want {
		t.Errorf("got Nats-Msg-Id %q, want %q", got, want)
	}
}

func TestDesktopDenied(t *testing.T) {
	s := startServer(t)
	worker := connect(t, s, "ingest")
	stream := ensureStreams(t, worker.js)
	name := stream.CachedInfo().Config.Name

	tests := []struct {
		name          string
		run           func(ctx context.Context, c *client) error
		wantViolation string
	}{
		{
			name: "publish to another user's subject",
			run: func(ctx context.Context, c *client) error {
				_, err := c.js.PublishMsg(ctx, recordMsg(t, "other-user", "e1"))
				return err
			},
			wantViolation: `Publish to "steward.events.other-user.s1.record.winston_logs"`,
		},
		{
			name: "JetStream account info",
			run: func(ctx context.Context, c *client) error {
				_, err := c.js.AccountInfo(ctx)
				return err
			},
			wantViolation: `Publish to "$JS.API.INFO"`,
		},
		{
			name: "stream info",
			run: func(ctx context.Context, c *client) error {
				_, err := c.js.Stream(ctx, name)
				return err
			},
			wantViolation: `Publish to "$JS.API.STREAM.INFO.` + name + `"`,
		},
		{
			name: "delete stream",
			run: func(ctx context.Context, c *client) error {
				return c.js.DeleteStream(ctx, name)
			},
			wantViolation: `Publish to "$JS.API.STREAM.DELETE.` + name + `"`,
		},
		{
			name: "create consumer",
			run: func(ctx context.Context, c *client) error {
				_, err := c.js.CreateConsumer(ctx, name, jetstream.ConsumerConfig{FilterSubject: events.SubjectAll})
				return err
			},
			wantViolation: `Publish to "$JS.API.CONSUMER.CREATE.` + name,
		},
		{
			name: "subscribe to every inbox",
			run: func(_ context.Context, c *client) error {
				_, err := c.nc.SubscribeSync("_INBOX.>")
				return err
			},
			wantViolation: `Subscription to "_INBOX.>"`,
		},
		{
			name: "subscribe to another user's inbox",
			run: func(_ context.Context, c *client) error {
				_, err := c.nc.SubscribeSync("_INBOX_other-user.>")
				return err
			},
			wantViolation: `Subscription to "_INBOX_other-user.>"`,
		},
		{
			name: "subscribe to events",
			run: func(_ context.Context, c *client) error {
				_, err := c.nc.SubscribeSync(events.SubjectAll)
				return err
			},
			wantViolation: `Subscription to "steward.events.>"`,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := connectDesktop(t, s)
			before := streamMsgs(t, stream, events.SubjectAll)

			// A request that the server drops is only noticed by timing out,
			// so keep the bound short.
			if err := tt.run(testContext(t, time.Second), c); err != nil {
				t.Logf("operation error: %v", err)
			}
			c.waitViolation(t, tt.wantViolation)

			// The server handles one connection's messages in order, so once
			// this allowed publish is acknowledged, any message the denied
			// operation sent would be stored before it.
			probe := recordMsg(t, desktopUser, fmt.Sprintf("probe-%d", i))
			if _, err := c.js.PublishMsg(testContext(t, 5*time.Second), probe); err != nil {
				t.Fatalf("publish own event after the denied operation: %v", err)
			}
			if got, want := streamMsgs(t, stream, events.SubjectAll), before+1; got != want {
				t.Errorf("got %d events in the stream, want %d (only the probe added)", got, want)
			}
			if got := streamMsgs(t, stream, "steward.events.other-user.>"); got != 0 {
				t.Errorf("got %d events of other-user, want 0", got)
			}
		})
	}
}

func TestDesktopNeedsOwnInboxPrefix(t *testing.T) {
	s := startServer(t)
	worker := connect(t, s, "ingest")
	stream := ensureStreams(t, worker.js)
	desktop := connect(t, s, desktopUser) // default inbox prefix _INBOX

	_, err := desktop.js.PublishMsg(testContext(t, time.Second), recordMsg(t, desktopUser, "e1"))
	if err == nil {
		t.Fatal("got a publish acknowledgement on the default inbox, want none")
	}
	desktop.waitViolation(t, `Subscription to "_INBOX.`)

	// The publish itself is allowed, so the event is stored although the
	// client never receives the acknowledgement. A client that retries until
	// it is acknowledged keeps republishing, and the stream drops the copies
	// as duplicates.
	deadline := time.Now().Add(5 * time.Second)
	for streamMsgs(t, stream, events.SubjectAll) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("got %d events in the stream after 5s, want 1", streamMsgs(t, stream, events.SubjectAll))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
