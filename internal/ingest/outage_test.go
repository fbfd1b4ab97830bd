package ingest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stewardhq/steward/internal/testenv"
)

func (e *env) consumerInfo() *jetstream.ConsumerInfo {
	e.t.Helper()
	c, err := e.js.Consumer(context.Background(), "EVENTS", "ingest")
	if err != nil {
		e.t.Fatalf("consumer: %v", err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		e.t.Fatalf("consumer info: %v", err)
	}
	return info
}

func TestMongoOutageHoldsEvents(t *testing.T) {
	e := setup(t)
	e.startWorker()
	e.publish(record("alice", "s1", "before", "winston_logs", `{"n":0}`))
	e.waitCount("winston_logs", nil, 1)
	e.waitSettled()
	floor := e.consumerInfo().AckFloor.Stream

	e.mongo.Stop()
	const n = 30
	for i := range n {
		e.publish(record("alice", "s1", fmt.Sprint("during", i), "winston_logs", `{"n":1}`))
	}
	// Hold the outage for longer than the ack wait (3s), so events would be
	// redelivered if the worker did not keep them alive.
	// The worker takes what is waiting and then stops fetching until the
	// store is back, so only part of the events may be in its hands.
	testenv.Eventually(t, 10*time.Second, func() bool { return e.consumerInfo().NumAckPending > 0 }, "the worker never took a batch")
	time.Sleep(4 * time.Second)
	info := e.consumerInfo()
	if info.AckFloor.Stream != floor {
		t.Fatalf("ack floor during the outage: got %d, want %d (nothing acked)", info.AckFloor.Stream, floor)
	}
	if info.NumRedelivered != 0 {
		t.Fatalf("redelivered during the outage: got %d, want 0", info.NumRedelivered)
	}

	e.mongo.Start(t)
	e.waitCount("winston_logs", nil, n+1)
	e.waitSettled()
}

func TestShutdownMidBatchLosesNothing(t *testing.T) {
	e := setup(t)
	e.cfg.Ingest.BatchSize = 50
	e.provision()
	const n = 1000
	for i := range n {
		e.publish(record(fmt.Sprint("user", i%3), "s1", fmt.Sprint("e", i), "generated_scripts", `{"script":"`+strings.Repeat("x", 200)+`"}`))
	}
	stop := e.startWorker()
	testenv.Eventually(t, 20*time.Second, func() bool { return e.count("generated_scripts", nil) > 0 }, "nothing stored")
	stop()
	if got := e.count("generated_scripts", nil); got == n {
		t.Logf("the worker stored all %d events before the stop; the test proves less", n)
	}
	e.startWorker()
	e.waitCount("generated_scripts", nil, n)
	e.waitSettled()
}

func TestNATSRestartResumes(t *testing.T) {
	e := setup(t)
	e.startWorker()
	e.publish(record("alice", "s1", "before", "winston_logs", `{"n":0}`))
	e.waitCount("winston_logs", nil, 1)

	e.nats.Stop()
	if err := e.nats.Start(); err != nil {
		t.Fatalf("restart nats: %v", err)
	}
	testenv.Eventually(t, 10*time.Second, e.nc.IsConnected, "test client did not reconnect")
	for i := range 20 {
		e.publish(record("alice", "s1", fmt.Sprint("after", i), "winston_logs", `{"n":1}`))
	}
	e.waitCount("winston_logs", nil, 21)
}

func TestConsumerDeletedIsRecreated(t *testing.T) {
	e := setup(t)
	e.startWorker()
	if err := e.js.DeleteConsumer(context.Background(), "EVENTS", "ingest"); err != nil {
		t.Fatalf("delete consumer: %v", err)
	}
	e.publish(record("alice", "s1", "e1", "winston_logs", `{"n":1}`))
	e.waitCount("winston_logs", nil, 1)
}

func TestExistingStreamIsKept(t *testing.T) {
	e := setup(t)
	custom := jetstream.StreamConfig{Name: "EVENTS", Subjects: []string{"steward.events.>"}, Duplicates: 5 * time.Minute, MaxAge: 48 * time.Hour}
	if _, err := e.js.CreateStream(context.Background(), custom); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	e.startWorker()
	e.publish(record("alice", "s1", "e1", "winston_logs", `{"n":1}`))
	e.waitCount("winston_logs", nil, 1)
	s, _ := e.js.Stream(context.Background(), "EVENTS")
	info, _ := s.Info(context.Background())
	if info.Config.Duplicates != 5*time.Minute || info.Config.MaxAge != 48*time.Hour {
		t.Fatalf("stream config: got duplicates %v max age %v, want the operator's 5m and 48h", info.Config.Duplicates, info.Config.MaxAge)
	}
}
