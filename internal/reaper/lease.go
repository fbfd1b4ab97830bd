package reaper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// States of the run state message.
const (
	stateRunning   = "running"
	stateCompleted = "completed"
	stateFailed    = "failed"
)

// errStateChanged means that another replica wrote the run state between
// this replica's read and its write.
var errStateChanged = errors.New("run state changed by another replica")

// runState is the body of the message on StateSubject. The stream keeps
// only the last one. While a run is in progress it is the run's lease,
// renewed every AckWait/3; a completed state marks the end of the last
// completed run by its own stream sequence.
type runState struct {
	// State is stateRunning, stateCompleted or stateFailed.
	State string `json:"state"`
	// Replica is the ReplicaID of the replica that wrote the state.
	Replica string `json:"replica"`
	// Tick is the stream sequence of the tick of the run.
	Tick uint64 `json:"tick"`
	// CompletedSeq is the stream sequence of the state message that ended
	// the last completed run, carried forward while a later run is in
	// progress or after it failed. 0 means no run has completed.
	CompletedSeq uint64 `json:"completed_seq,omitempty"`
}

// stateRecord is a run state with the position and time the stream stored
// it at.
type stateRecord struct {
	runState
	seq  uint64 // 0 when there is no state message
	time time.Time
}

// completedSeq returns the stream sequence at which the last completed run
// ended. Every tick with a lower sequence was stored while or before that
// run ran.
func (s stateRecord) completedSeq() uint64 {
	if s.State == stateCompleted {
		return s.seq
	}
	return s.CompletedSeq
}

// readState returns the last run state. A state message that does not
// decode counts as no lease and no completed run, so a damaged message
// cannot stop cleanup. The next write replaces it.
func (r *Reaper) readState(ctx context.Context) (stateRecord, error) {
	m, err := r.stream.GetLastMsgForSubject(ctx, StateSubject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return stateRecord{}, nil
	}
	if err != nil {
		return stateRecord{}, fmt.Errorf("read run state %s of stream %s: %w", StateSubject, r.cfg.TicksStream, err)
	}
	rec := stateRecord{seq: m.Sequence, time: m.Time}
	if err := json.Unmarshal(m.Data, &rec.runState); err != nil {
		r.log.Warn("run state message does not decode; treating it as empty", "subject", StateSubject, "seq", m.Sequence, "err", err)
		rec.runState = runState{}
	}
	return rec, nil
}

// lease is this replica's claim to the current run.
type lease struct {
	r     *Reaper
	state runState
	seq   uint64 // stream sequence of the state message this replica wrote last
}

// acquire claims the run of tick by writing a running state after prev,
// the state read before. It returns errStateChanged when another replica
// wrote a state since.
func (r *Reaper) acquire(ctx context.Context, prev stateRecord, tick uint64) (*lease, error) {
	l := &lease{r: r, state: runState{
		State:        stateRunning,
		Replica:      r.cfg.ReplicaID,
		Tick:         tick,
		CompletedSeq: prev.completedSeq(),
	}}
	seq, err := r.writeState(ctx, l.state, prev.seq)
	if err != nil {
		return nil, err
	}
	l.seq = seq
	return l, nil
}

// renew writes the running state again, so other replicas see that the run
// is alive. It returns errStateChanged when another replica took the lease
// over.
func (l *lease) renew(ctx context.Context) error {
	seq, err := l.r.writeState(ctx, l.state, l.seq)
	if err != nil {
		return err
	}
	l.seq = seq
	return nil
}

// release ends the lease with a completed or failed state.
func (l *lease) release(ctx context.Context, completed bool) error {
	st := l.state
	st.State = stateFailed
	if completed {
		st.State = stateCompleted
		st.CompletedSeq = 0 // the completed message's own sequence takes its place
	}
	_, err := l.r.writeState(ctx, st, l.seq)
	return err
}

// writeState publishes st if the last state message is still expectSeq (0:
// none), and returns the sequence of the new message.
func (r *Reaper) writeState(ctx context.Context, st runState, expectSeq uint64) (uint64, error) {
	data, err := json.Marshal(st)
	if err != nil {
		return 0, fmt.Errorf("encode run state: %w", err)
	}
	ack, err := r.js.Publish(ctx, StateSubject, data, jetstream.WithExpectLastSequencePerSubject(expectSeq))
	if isWrongLastSequence(err) {
		return 0, errStateChanged
	}
	if err != nil {
		return 0, fmt.Errorf("publish run state %s to %s: %w", st.State, StateSubject, err)
	}
	return ack.Sequence, nil
}
