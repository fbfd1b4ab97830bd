package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/stewardhq/steward/client/identity"
	"github.com/stewardhq/steward/client/outbox"
	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/scope"
)

// Session records the events of one session. Its methods are safe for
// concurrent use; events of a session are published in the order their
// Record calls returned.
type Session struct {
	c  *Client
	id scope.Session

	mu    sync.Mutex // guards ended, and orders Record against End
	ended bool
}

// StartSession creates a session with a new time-ordered id (a UUIDv7)
// and records its session.started event, which carries the app's name and
// version and the operating system and architecture.
func (c *Client) StartSession() (*Session, error) {
	id, err := identity.NewSessionID()
	if err != nil {
		return nil, err
	}
	s := &Session{c: c, id: scope.Session(id)}
	data, err := json.Marshal(map[string]string{
		"app_name":    c.cfg.App,
		"app_version": c.cfg.AppVersion,
		"os":          runtime.GOOS,
		"arch":        runtime.GOARCH,
	})
	if err != nil {
		return nil, fmt.Errorf("encode session.started data: %w", err)
	}
	if _, err := c.record(s.id, events.KindSessionStarted, "", data, recordOptions{}); err != nil {
		return nil, err
	}
	return s, nil
}

// Session returns a handle on the existing session id without recording a
// session.started event, for tools that add records to a session another
// program started. It validates id.
func (c *Client) Session(id string) (*Session, error) {
	s, err := scope.ParseSession(id)
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	return &Session{c: c, id: s}, nil
}

// ID returns the session id.
func (s *Session) ID() string { return string(s.id) }

// RecordOption changes one recorded event.
type RecordOption func(*recordOptions)

type recordOptions struct {
	id string
	at time.Time
}

// WithEventID sets the event id instead of a new UUIDv7. Event ids are
// unique per user: recording an id again creates no second document. Use
// it for events derived from input that may be published twice.
func WithEventID(id string) RecordOption {
	return func(o *recordOptions) { o.id = id }
}

// WithTime sets the event's client time instead of Config.Now().
func WithTime(t time.Time) RecordOption {
	return func(o *recordOptions) { o.at = t }
}

// Record stores a data record of dataType in the outbox and returns its
// event id; the client publishes it in the background. data is a JSON
// object: a json.RawMessage or []byte holding one, or any value that
// encoding/json encodes as one.
//
// Record returns once the event is written to the outbox file, so a killed
// process does not lose it (see outbox.Config.SyncInterval for power
// loss). It fails with ErrInvalidEvent, ErrEventTooLarge, ErrOutboxFull,
// ErrSessionEnded or ErrClosed, and then nothing was recorded.
func (s *Session) Record(dataType string, data any, opts ...RecordOption) (string, error) {
	raw, err := encodeData(data)
	if err != nil {
		return "", err
	}
	var o recordOptions
	for _, opt := range opts {
		opt(&o)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return "", fmt.Errorf("record %s in session %s: %w", dataType, s.id, ErrSessionEnded)
	}
	return s.c.record(s.id, events.KindRecord, dataType, raw, o)
}

// End records the session.ended event. data, which may be nil, is kept
// with the session as end_data. After End, Record and End fail with
// ErrSessionEnded.
func (s *Session) End(data any) error {
	var raw json.RawMessage
	if data != nil {
		var err error
		if raw, err = encodeData(data); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return fmt.Errorf("end session %s: %w", s.id, ErrSessionEnded)
	}
	if _, err := s.c.record(s.id, events.KindSessionEnded, "", raw, recordOptions{}); err != nil {
		return err
	}
	s.ended = true
	return nil
}

func encodeData(data any) (json.RawMessage, error) {
	switch d := data.(type) {
	case json.RawMessage:
		return d, nil
	case []byte:
		return d, nil
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("encode event data: %w: %w", ErrInvalidEvent, err)
	}
	return raw, nil
}

// record validates and encodes one event and appends it to the outbox.
func (c *Client) record(session scope.Session, kind events.Kind, dataType string, data json.RawMessage, o recordOptions) (string, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return "", ErrClosed
	}
	if o.id == "" {
		u, err := uuid.NewV7()
		if err != nil {
			return "", fmt.Errorf("create event id: %w", err)
		}
		o.id = u.String()
	}
	if o.at.IsZero() {
		o.at = c.cfg.Now()
	}
	env := events.Envelope{
		ID:        o.id,
		Kind:      kind,
		UserID:    string(c.user),
		SessionID: string(session),
		Type:      dataType,
		Time:      o.at.UTC().Format(time.RFC3339Nano),
		Data:      data,
	}
	body, subject, err := events.Encode(env, c.cfg.MaxEventBytes)
	if err != nil {
		if reason, ok := events.ReasonOf(err); ok && reason == events.ReasonTooLarge {
			return "", fmt.Errorf("record %s event %s: %w: %w", kind, o.id, ErrEventTooLarge, err)
		}
		return "", fmt.Errorf("record %s event %s: %w: %w", kind, o.id, ErrInvalidEvent, err)
	}
	msgID := c.user.MsgID(o.id)
	size := len(body) + headerSize(msgID)
	if size > c.cfg.MaxEventBytes {
		return "", fmt.Errorf("record %s event %s: %w: it is %d bytes with its headers, the limit is %d bytes (MaxEventBytes); split the data",
			kind, o.id, ErrEventTooLarge, size, c.cfg.MaxEventBytes)
	}
	if limit := c.nc.MaxPayload(); limit > 0 && int64(size) > limit {
		return "", fmt.Errorf("record %s event %s: %w: it is %d bytes with its headers, the NATS server's max payload is %d bytes; split the data or raise max_payload on the server",
			kind, o.id, ErrEventTooLarge, size, limit)
	}

	_, err = c.ob.Append(outbox.Message{Subject: subject, ID: msgID, Data: body})
	if err != nil {
		if errors.Is(err, outbox.ErrFull) {
			c.noteFull(err)
		}
		return "", fmt.Errorf("record %s event %s: %w", kind, o.id, err)
	}
	if c.full.Load() && c.full.CompareAndSwap(true, false) {
		c.log.Info("outbox accepts events again", "rejected", c.fullRejected.Swap(0))
	}
	return o.id, nil
}

// noteFull logs the first rejection of a run of them; the later ones are
// counted and reported when the outbox accepts events again.
func (c *Client) noteFull(err error) {
	c.fullRejected.Add(1)
	if !c.full.CompareAndSwap(false, true) {
		return
	}
	var full *outbox.FullError
	errors.As(err, &full)
	c.log.Warn("outbox full; Record rejects new events until the server acknowledges stored ones",
		"dir", c.ob.Dir(), "events", full.Messages, "bytes", full.Bytes, "max_events", full.MaxMessages, "max_bytes", full.MaxBytes)
}

// headerSize returns the size nats.go gives the headers of a message whose
// only header is Nats-Msg-Id: "NATS/1.0\r\n", "Nats-Msg-Id: <id>\r\n" and a
// closing "\r\n".
func headerSize(msgID string) int {
	return len("NATS/1.0\r\n") + len("Nats-Msg-Id: ") + len(msgID) + len("\r\n\r\n")
}
