package streams

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The requests in this file go to the JetStream API directly, because
// nats.go 1.56 exposes neither the "start_time" field of a message get
// request nor the count of purged messages.

// apiTimeout bounds a JetStream API request whose context has no deadline.
const apiTimeout = 10 * time.Second

// Position is a message's place in a stream: its sequence and the time the
// stream stored it.
type Position struct {
	Seq  uint64
	Time time.Time
}

// msgGetRequest is the body of $JS.API.STREAM.MSG.GET.<stream>, as
// JSApiMsgGetRequest in nats-server 2.15.3 defines it.
type msgGetRequest struct {
	Seq       uint64     `json:"seq,omitempty"`
	NextFor   string     `json:"next_by_subj,omitempty"`
	StartTime *time.Time `json:"start_time,omitempty"`
	NoHeaders bool       `json:"no_hdr,omitempty"`
}

type msgGetResponse struct {
	Error   *jetstream.APIError `json:"error,omitempty"`
	Message *struct {
		Sequence uint64    `json:"seq"`
		Time     time.Time `json:"time"`
	} `json:"message,omitempty"`
}

type purgeRequest struct {
	Sequence uint64 `json:"seq,omitempty"`
	Filter   string `json:"filter,omitempty"`
}

type purgeResponse struct {
	Error   *jetstream.APIError `json:"error,omitempty"`
	Success bool                `json:"success"`
	Purged  uint64              `json:"purged"`
}

// SeekSeq returns the position of the first message at or after sequence
// seq whose subject matches filter, and false when there is none. An empty
// filter matches every subject.
func SeekSeq(ctx context.Context, js jetstream.JetStream, stream, filter string, seq uint64) (Position, bool, error) {
	return seek(ctx, js, stream, msgGetRequest{Seq: max(seq, 1), NextFor: wildcardIfEmpty(filter), NoHeaders: true})
}

// SeekTime returns the position of the first message that the stream stored
// at or after t and whose subject matches filter, and false when there is
// none. The server finds t by a binary search over message timestamps, so
// the result assumes that timestamps grow with sequences, which holds while
// the server's clock does not step back.
func SeekTime(ctx context.Context, js jetstream.JetStream, stream, filter string, t time.Time) (Position, bool, error) {
	t = t.UTC()
	return seek(ctx, js, stream, msgGetRequest{StartTime: &t, NextFor: wildcardIfEmpty(filter), NoHeaders: true})
}

func seek(ctx context.Context, js jetstream.JetStream, stream string, req msgGetRequest) (Position, bool, error) {
	var resp msgGetResponse
	if err := apiRequest(ctx, js, "STREAM.MSG.GET."+stream, req, &resp); err != nil {
		return Position{}, false, fmt.Errorf("get message from stream %s: %w", stream, err)
	}
	if resp.Error != nil {
		if resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound {
			return Position{}, false, nil
		}
		return Position{}, false, fmt.Errorf("get message from stream %s: %w", stream, resp.Error)
	}
	if resp.Message == nil {
		return Position{}, false, fmt.Errorf("get message from stream %s: %w", stream, jetstream.ErrInvalidJetStreamResponse)
	}
	return Position{Seq: resp.Message.Sequence, Time: resp.Message.Time}, true, nil
}

// Purge removes from stream the messages whose subjects match filter and
// whose sequences are below before, and returns how many it removed. An
// empty filter matches every subject; before 0 removes every matching
// message.
func Purge(ctx context.Context, js jetstream.JetStream, stream, filter string, before uint64) (uint64, error) {
	var resp purgeResponse
	if err := apiRequest(ctx, js, "STREAM.PURGE."+stream, purgeRequest{Sequence: before, Filter: filter}, &resp); err != nil {
		return 0, fmt.Errorf("purge %s from stream %s: %w", filter, stream, err)
	}
	if resp.Error != nil {
		return 0, fmt.Errorf("purge %s from stream %s: %w", filter, stream, resp.Error)
	}
	return resp.Purged, nil
}

// apiRequest sends req as JSON to the JetStream API subject that follows the
// API prefix, and decodes the reply into resp.
func apiRequest(ctx context.Context, js jetstream.JetStream, subject string, req, resp any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, apiTimeout)
		defer cancel()
	}
	msg, err := js.Conn().RequestWithContext(ctx, apiPrefix(js)+subject, body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(msg.Data, resp); err != nil {
		return fmt.Errorf("decode JetStream API response: %w", err)
	}
	return nil
}

// apiPrefix returns the subject prefix of the JetStream API that js uses,
// with its trailing dot, following jetstream.NewWithAPIPrefix and
// jetstream.NewWithDomain.
func apiPrefix(js jetstream.JetStream) string {
	opts := js.Options()
	switch {
	case opts.Domain != "":
		return "$JS." + opts.Domain + ".API."
	case opts.APIPrefix != "":
		if !strings.HasSuffix(opts.APIPrefix, ".") {
			return opts.APIPrefix + "."
		}
		return opts.APIPrefix
	}
	return jetstream.DefaultAPIPrefix
}

func wildcardIfEmpty(filter string) string {
	if filter == "" {
		return ">"
	}
	return filter
}
