package deadletter

import (
	"context"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/scope"
	"github.com/stewardhq/steward/internal/streams"
)

// legacyFilter matches dead letters of the earlier form steward.dlq.<reason>,
// whose subject does not name the user.
const legacyFilter = streams.DeadLetterPrefix + ".*"

// PurgeUser removes from the dead-letter stream the dead letters of messages
// that were published on the user's subjects, and returns how many it
// removed. Dead letters of the earlier form, whose subject does not name
// the user, are found by their Steward-Original-Subject header.
//
// NOTE: a rejected message published on another user's subjects that
// names this user in its body is not removed, because the subject decides
// whose message it is.
func PurgeUser(ctx context.Context, js jetstream.JetStream, stream string, u scope.User) (uint64, error) {
	var purged uint64
	// UserFilter needs a token after the user id, which a message published
	// on steward.events.<user> alone lacks.
	for _, filter := range []string{UserFilter(u), strings.TrimSuffix(UserFilter(u), ".>")} {
		n, err := streams.Purge(ctx, js, stream, filter, 0)
		if err != nil {
			return purged, err
		}
		purged += n
	}

	n, err := deleteLegacy(ctx, js, stream, u)
	return purged + n, err
}

// deleteLegacy removes the user's dead letters of the earlier subject form
// one by one, with a secure delete, and returns how many it removed.
func deleteLegacy(ctx context.Context, js jetstream.JetStream, stream string, u scope.User) (uint64, error) {
	var seqs []uint64
	err := streams.Read(ctx, js, stream, streams.Range{Filter: legacyFilter, HeadersOnly: true}, func(m jetstream.Msg) error {
		if subjectUser(m.Headers().Get(HeaderOriginalSubject)) != string(u) {
			return nil
		}
		meta, err := m.Metadata()
		if err != nil {
			return err
		}
		seqs = append(seqs, meta.Sequence.Stream)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("find dead letters of the earlier subject form in stream %s: %w", stream, err)
	}
	if len(seqs) == 0 {
		return 0, nil
	}

	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("delete dead letters from stream %s: %w", stream, err)
	}
	var deleted uint64
	for _, seq := range seqs {
		if err := s.SecureDeleteMsg(ctx, seq); err != nil {
			return deleted, fmt.Errorf("delete dead letter %d from stream %s: %w", seq, stream, err)
		}
		deleted++
	}
	return deleted, nil
}

// subjectUser returns the user token of an event subject, or "".
func subjectUser(subject string) string {
	rest, ok := strings.CutPrefix(subject, events.SubjectPrefix+".")
	if !ok {
		return ""
	}
	user, _, _ := strings.Cut(rest, ".")
	return user
}
