package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stewardhq/steward/internal/config"
	"github.com/stewardhq/steward/internal/events"
	"github.com/stewardhq/steward/internal/scope"
	"github.com/stewardhq/steward/internal/streams"
)

// confPath is nats.conf relative to this package, the working directory of
// go test.
const confPath = "../../nats.conf"

// desktopUser is the example desktop user of nats.conf and desktopInbox the
// inbox prefix it must connect with.
const (
	desktopUser  = "example-user"
	desktopInbox = "_INBOX_example-user"
)

// passwordVars maps each user of nats.conf to the environment variable that
// holds its password.
var passwordVars = map[string]string{
	"ingest":    "STEWARD_INGEST_PASSWORD",
	"reaper":    "STEWARD_REAPER_PASSWORD",
	"operator":  "STEWARD_OPERATOR_PASSWORD",
	desktopUser: "STEWARD_EXAMPLE_USER_PASSWORD",
}

// testPassword returns the password that the tests give user: letters and
// digits starting with a letter, as nats.conf requires.
func testPassword(user string) string {
	return "pw" + strings.ReplaceAll(user, "-", "") + "4test"
}

func setPasswords(t *testing.T) {
	t.Helper()
	for user, name := range passwordVars {
		t.Setenv(name, testPassword(user))
	}
}

func loadConf(t *testing.T) *server.Options {
	t.Helper()
	setPasswords(t)
	opts, err := server.ProcessConfigFile(confPath)
	if err != nil {
		t.Fatalf("load %s: %v", confPath, err)
	}
	return opts
}

// startServer runs nats.conf in-process with both listeners moved to random
// ports on 127.0.0.1 and the JetStream store moved to a temporary directory.
// Every other setting comes from the file.
func startServer(t *testing.T) *server.Server {
	t.Helper()
	opts := loadConf(t)
	opts.Host = "127.0.0.1"
	opts.Port = server.RANDOM_PORT
	opts.HTTPHost = "127.0.0.1"
	opts.HTTPPort = server.RANDOM_PORT
	opts.StoreDir = t.TempDir()
	opts.NoSigs = true
	opts.NoLog = true

	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("new server from %s: %v", confPath, err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		t.Fatalf("server from %s not ready for connections after 10s", confPath)
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// client is a connection as one user of nats.conf, with the asynchronous
// errors the server sent it, such as permissions violations.
type client struct {
	nc        *nats.Conn
	js        jetstream.JetStream
	asyncErrs chan error
}

func connect(t *testing.T, s *server.Server, user string, extra ...nats.Option) *client {
	t.Helper()
	errs := make(chan error, 64)
	opts := append([]nats.Option{
		nats.UserInfo(user, testPassword(user)),
		nats.Name("deploy-test-" + user),
		nats.NoReconnect(),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case errs <- err:
			default:
			}
		}),
	}, extra...)
	nc, err := nats.Connect(s.ClientURL(), opts...)
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream as %s: %v", user, err)
	}
	return &client{nc: nc, js: js, asyncErrs: errs}
}

// connectDesktop connects as the example desktop user with its inbox prefix.
func connectDesktop(t *testing.T, s *server.Server) *client {
	t.Helper()
	return connect(t, s, desktopUser, nats.CustomInboxPrefix(desktopInbox))
}

// waitViolation waits until the server reports a permissions violation whose
// text contains want.
func (c *client) waitViolation(t *testing.T, want string) {
	t.Helper()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	var others []error
	for {
		select {
		case err := <-c.asyncErrs:
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), want) {
				return
			}
			others = append(others, err)
		case <-deadline.C:
			t.Fatalf("got asynchronous errors %v within 5s, want a permissions violation containing %q", others, want)
		}
	}
}

func testContext(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// loadSteward returns Steward's configuration with its defaults, the values
// the workers run with when no STEWARD_* variable is set.
func loadSteward(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load()
	if err != nil {
		t.Fatalf("load steward configuration: %v", err)
	}
	return cfg
}

// ensureStreams creates the events and dead-letter streams as ingest does.
func ensureStreams(t *testing.T, js jetstream.JetStream) jetstream.Stream {
	t.Helper()
	cfg := loadSteward(t)
	ctx := testContext(t, 10*time.Second)
	log := slog.New(slog.DiscardHandler)
	stream, err := streams.Ensure(ctx, js, streams.EventsConfig(cfg.Stream, cfg.Ingest.MaxPayload, 24*time.Hour), log)
	if err != nil {
		t.Fatalf("ensure events stream: %v", err)
	}
	if _, err := streams.Ensure(ctx, js, streams.DeadLetterConfig(cfg.Stream), log); err != nil {
		t.Fatalf("ensure dead-letter stream: %v", err)
	}
	return stream
}

// recordMsg returns a valid winston_logs record of user with the given event
// id, as a message ready to publish.
func recordMsg(t *testing.T, user, id string) *nats.Msg {
	t.Helper()
	body, subject, err := events.Encode(events.Envelope{
		ID:        id,
		Kind:      events.KindRecord,
		UserID:    user,
		SessionID: "s1",
		Type:      "winston_logs",
		Data:      json.RawMessage(`{"level":"info","message":"deploy test"}`),
	}, 0)
	if err != nil {
		t.Fatalf("encode event %s of %s: %v", id, user, err)
	}
	msg := nats.NewMsg(subject)
	msg.Data = body
	msg.Header.Set(jetstream.MsgIDHeader, scope.User(user).MsgID(id))
	return msg
}

func streamMsgs(t *testing.T, stream jetstream.Stream, filter string) uint64 {
	t.Helper()
	info, err := stream.Info(testContext(t, 5*time.Second), jetstream.WithSubjectFilter(filter))
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	var n uint64
	for _, count := range info.State.Subjects {
		n += count
	}
	return n
}
