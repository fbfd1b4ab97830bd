package client_test

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/stewardhq/steward/internal/testenv"
)

// startLockedNATS starts a server whose desktop user has the permissions of
// Steward's nats.conf: publish on its own event subjects, subscribe on its
// own inbox prefix, nothing else. The user "ops" may do everything.
func startLockedNATS(t *testing.T, desktopUser string) string {
	t.Helper()
	opts := &server.Options{
		Host:      "127.0.0.1",
		Port:      -1,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoSigs:    true,
		Users: []*server.User{
			{Username: "ops", Password: "ops-password"},
			{Username: desktopUser, Password: "desktop-password", Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: []string{"steward.events." + desktopUser + ".>"}},
				Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX_" + desktopUser + ".>"}},
			}},
		},
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("start nats: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready after 10s")
	}
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return "nats://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(srv.Addr().(*net.TCPAddr).Port))
}

func TestPublishWithDesktopPermissions(t *testing.T) {
	const user = "desktop-user-7"
	url := startLockedNATS(t, user)
	provision(t, "nats://ops:ops-password@"+url[len("nats://"):], 1<<20)

	cfg := baseConfig(t, url)
	cfg.UserID = user
	cfg.NATSOptions = append(cfg.NATSOptions, nats.UserInfo(user, "desktop-password"))
	c := newClient(t, cfg)
	s, err := c.StartSession()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := s.Record("winston_logs", map[string]any{"n": i}); err != nil {
			t.Fatalf("Record %d: %v", i, err)
		}
	}
	flush(t, c)
	if st := c.Stats(); st.Sent != 11 || st.Rejected != 0 {
		t.Fatalf("stats: got %+v, want 11 sent", st)
	}
	_, js := testenv.Connect(t, "nats://ops:ops-password@"+url[len("nats://"):])
	if envs := streamEvents(t, js, user); len(envs) != 11 {
		t.Fatalf("events in the stream: got %d, want 11", len(envs))
	}
}
