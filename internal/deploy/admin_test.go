package deploy

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestEraseRequestsOnlyFromOperator checks that only the operator may
// publish erase requests: a compromised worker must not erase users.
func TestEraseRequestsOnlyFromOperator(t *testing.T) {
	s := startServer(t)
	operator := connect(t, s, "operator")
	sub, err := operator.nc.SubscribeSync("steward.admin.erase")
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	if err := operator.nc.Flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}

	ingest := connect(t, s, "ingest")
	if err := ingest.nc.Publish("steward.admin.erase", []byte(`{"user_id":"alice"}`)); err != nil {
		t.Fatalf("publish as ingest: %v", err)
	}
	ingest.waitViolation(t, "steward.admin.erase")

	if err := operator.nc.Publish("steward.admin.erase", []byte(`{"user_id":"alice"}`)); err != nil {
		t.Fatalf("publish as operator: %v", err)
	}
	msg, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("erase request of the operator: got %v, want it delivered", err)
	}
	if string(msg.Data) != `{"user_id":"alice"}` {
		t.Fatalf("delivered request: got %s, want the operator's", msg.Data)
	}
	if _, err := sub.NextMsg(200 * time.Millisecond); err != nats.ErrTimeout {
		t.Fatalf("second delivered request: got %v, want none (the worker's was denied)", err)
	}
}
