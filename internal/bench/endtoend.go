package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ackFloorTracker polls the ingest consumer's ack floor and remembers when
// each floor was first seen. Ingest acks an event only after the store
// acknowledged its write, and the floor passes a sequence only when every
// event up to it is acked. So the time the floor first reaches a sequence is
// an upper bound of when that event was stored.
type ackFloorTracker struct {
	mu     sync.Mutex // guards points
	points []floorPoint
}

type floorPoint struct {
	at    time.Time
	floor uint64
}

func (t *ackFloorTracker) run(ctx context.Context, cons jetstream.Consumer, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		info, err := cons.Info(ctx)
		if err != nil {
			continue
		}
		t.mu.Lock()
		if n := len(t.points); n == 0 || t.points[n-1].floor < info.AckFloor.Stream {
			t.points = append(t.points, floorPoint{at: time.Now(), floor: info.AckFloor.Stream})
		}
		t.mu.Unlock()
	}
}

// storedAt returns when the floor first reached seq, and false if it has not.
func (t *ackFloorTracker) storedAt(seq uint64) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i, _ := slices.BinarySearchFunc(t.points, seq, func(p floorPoint, s uint64) int {
		if p.floor < s {
			return -1
		}
		return 1
	})
	if i == len(t.points) {
		return time.Time{}, false
	}
	return t.points[i].at, true
}

// endToEnd publishes the events to a running ingest and measures the rate
// from the first publish until every event is stored, and the latency of
// each event from its publish to its ack. perSecond paces the publishes; 0
// publishes as fast as possible, which measures throughput, while latency is
// only meaningful below the ingest's capacity.
func endToEnd(ctx context.Context, js jetstream.JetStream, stream, consumer, name string, evs []Event, perSecond float64) (Result, error) {
	cons, err := js.Consumer(ctx, stream, consumer)
	if err != nil {
		return Result{}, fmt.Errorf("ingest consumer %s: %w", consumer, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("ingest consumer %s: %w", consumer, err)
	}
	if info.NumPending > 0 || info.NumAckPending > 0 {
		return Result{}, fmt.Errorf("ingest consumer %s has a backlog of %d events; measure on an idle consumer", consumer, info.NumPending+uint64(info.NumAckPending))
	}

	tracker := &ackFloorTracker{}
	tctx, stop := context.WithCancel(ctx)
	defer stop()
	go tracker.run(tctx, cons, 5*time.Millisecond)

	type sent struct {
		at     time.Time
		future jetstream.PubAckFuture
	}
	pubs := make([]sent, 0, len(evs))
	start := time.Now()
	for i, ev := range evs {
		if perSecond > 0 {
			due := start.Add(time.Duration(float64(i) / perSecond * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
		}
		msg := nats.NewMsg(ev.Subject)
		msg.Data = ev.Body
		msg.Header.Set(jetstream.MsgIDHeader, ev.MsgID)
		at := time.Now()
		f, err := js.PublishMsgAsync(msg)
		if err != nil {
			return Result{}, fmt.Errorf("publish to %s: %w", ev.Subject, err)
		}
		pubs = append(pubs, sent{at: at, future: f})
	}
	seqs := make([]uint64, len(pubs))
	var last uint64
	for i, p := range pubs {
		select {
		case ack := <-p.future.Ok():
			seqs[i] = ack.Sequence
			last = max(last, ack.Sequence)
		case err := <-p.future.Err():
			return Result{}, fmt.Errorf("publish: %w", err)
		case <-ctx.Done():
			return Result{}, ctx.Err()
		}
	}

	deadline := time.Now().Add(10 * time.Minute)
	for {
		if _, ok := tracker.storedAt(last); ok {
			break
		}
		if time.Now().After(deadline) {
			return Result{}, fmt.Errorf("ingest did not store %d events within 10 minutes", len(evs))
		}
		time.Sleep(10 * time.Millisecond)
	}
	done, _ := tracker.storedAt(last)
	res := rate(name, len(evs), done.Sub(start))

	latencies := make([]time.Duration, len(pubs))
	for i, p := range pubs {
		at, _ := tracker.storedAt(seqs[i])
		latencies[i] = at.Sub(p.at)
	}
	res.P50, res.P99 = percentile(latencies, 50), percentile(latencies, 99)
	return res, nil
}

// percentile returns the p-th percentile of ds in milliseconds.
func percentile(ds []time.Duration, p int) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	i = min(max(i-1, 0), len(s)-1)
	return float64(s[i].Microseconds()) / 1000
}
