package policy_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stewardhq/steward/internal/policy"
)

// startJetStream starts an in-process nats-server that does not listen on
// any port and returns a JetStream context connected to it.
func startJetStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	srv, err := server.NewServer(&server.Options{
		JetStream:  true,
		StoreDir:   t.TempDir(),
		DontListen: true,
		NoLog:      true,
		NoSigs:     true,
	})
	if err != nil {
		t.Fatalf("create nats-server: %v", err)
	}
	srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready for connections after 10s")
	}

	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		t.Fatalf("connect to nats-server: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("create JetStream context: %v", err)
	}
	return js
}

// TestScheduleMatchesNATSServer publishes each schedule as a JetStream
// message schedule, the way the reaper sends its cleanup tick, and checks
// that nats-server accepts exactly the schedules that Parse accepts, apart
// from the ones this package rejects on purpose.
func TestScheduleMatchesNATSServer(t *testing.T) {
	js := startJetStream(t)
	ctx := context.Background()
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:              "POLICY_SCHEDULES",
		Subjects:          []string{"policy.>"},
		AllowMsgSchedules: true,
	})
	if err != nil {
		t.Fatalf("create stream: %v", err)
	}

	tests := []struct {
		name       string
		interval   string // cleanupInterval in hours; empty means absent
		schedule   string
		timeZone   string
		wantPolicy bool
		wantServer bool
	}{
		{"default interval", "", "", "", true, true},
		{"half hour interval", "0.5", "", "", true, true},
		{"interval of a third of an hour", "0.3333333", "", "", true, true},
		{"one minute interval", "0.016666666666666666", "", "", true, true},
		{"daily at three", "", "0 0 3 * * *", "", true, true},
		{"daily at three in Berlin", "", "0 0 3 * * *", "Europe/Berlin", true, true},
		{"names and ranges", "", "0 30 2 * jan-mar mon-fri", "UTC", true, true},
		{"step from value", "", "0 5/15 * * * *", "", true, true},
		{"list", "", "0 0 1,13 * * *", "", true, true},
		{"question mark", "", "0 0 0 ? * *", "", true, true},
		{"leap day", "", "0 0 0 29 2 *", "", true, true},
		{"day of month or weekday", "", "0 0 0 30 2 mon", "", true, true},
		{"predefined", "", "@daily", "", true, true},
		{"predefined in Tokyo", "", "@weekly", "Asia/Tokyo", true, true},
		{"five fields", "", "0 3 * * *", "", false, false},
		{"minute 60", "", "0 60 * * * *", "", false, false},
		{"day of week 7", "", "0 0 0 * * 7", "", false, false},
		{"zero step", "", "0 */0 * * * *", "", false, false},
		{"reversed range", "", "0 30-10 * * * *", "", false, false},
		{"never fires", "", "0 0 0 30 2 *", "", false, false},
		{"unknown predefined", "", "@nightly", "", false, false},
		{"unknown time zone", "", "0 0 3 * * *", "Mars/Olympus_Mons", false, false},

		// Stricter than nats-server on purpose: a tick at most once a
		// minute, and fixed intervals only through cleanupInterval.
		{"every second", "", "* * * * * *", "", false, true},
		{"every in schedule", "", "@every 1h", "", false, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			members := fmt.Sprintf(`"cleanupSchedule": %q, "timeZone": %q`, tt.schedule, tt.timeZone)
			if tt.interval != "" {
				members += `, "cleanupInterval": ` + tt.interval
			}
			file := cleanup(members)
			p, _, err := policy.Parse([]byte(file), "schedule.json")
			if gotPolicy := err == nil; gotPolicy != tt.wantPolicy {
				t.Errorf("Parse: got error %v, want valid %v", err, tt.wantPolicy)
			}

			// Send what the reaper would send: ScheduleSpec when the
			// policy is valid, otherwise the raw schedule.
			spec := tt.schedule
			if p != nil {
				spec = p.ScheduleSpec()
			}
			msg := nats.NewMsg(fmt.Sprintf("policy.schedule.%d", i))
			msg.Header.Set("Nats-Schedule", spec)
			msg.Header.Set("Nats-Schedule-Target", "policy.tick")
			if tt.timeZone != "" {
				msg.Header.Set("Nats-Schedule-Time-Zone", tt.timeZone)
			}
			_, err = js.PublishMsg(ctx, msg)
			if gotServer := err == nil; gotServer != tt.wantServer {
				t.Errorf("publish schedule %q in %q: got error %v, want accepted %v", spec, tt.timeZone, err, tt.wantServer)
			}
		})
	}
}
