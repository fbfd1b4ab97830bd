package deploy

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/stewardhq/steward/internal/events"
)

func TestConfValues(t *testing.T) {
	opts := loadConf(t)
	steward := loadSteward(t)

	tests := []struct {
		name string
		got  any
		want any
	}{
		{"client port", opts.Port, 4222},
		{"monitoring port", opts.HTTPPort, 8222},
		{"max payload", int(opts.MaxPayload), events.DefaultMaxBytes},
		{"max payload covers STEWARD_MAX_PAYLOAD", int(opts.MaxPayload) >= steward.Ingest.MaxPayload, true},
		{"jetstream", opts.JetStream, true},
		{"store dir", opts.StoreDir, "/data/jetstream"},
		{"memory limit set", opts.JetStreamMaxMemory > 0, true},
		{"file limit set", opts.JetStreamMaxStore > 0, true},
		{"fsync before ack", opts.SyncAlways, true},
		{"users", len(opts.Users), len(passwordVars)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

func TestConfPasswordFromEnvironment(t *testing.T) {
	const variable = "STEWARD_INGEST_PASSWORD"
	tests := []struct {
		name    string
		value   string
		unset   bool
		wantErr string // substring of the load error; empty means success
	}{
		{name: "letters and digits", value: "p3f9a0b7c"},
		{name: "base64 symbols", value: "Ab+/c=d"},
		{name: "unset", unset: true, wantErr: variable},
		{name: "digits only", value: "0123456789", wantErr: "int64"},
		{name: "size suffix", value: "1MB", wantErr: "int64"},
		{name: "boolean word", value: "true", wantErr: "bool"},
		{name: "space", value: "two words", wantErr: variable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setPasswords(t)
			t.Setenv(variable, tt.value)
			if tt.unset {
				os.Unsetenv(variable) // t.Setenv restores it after the test
			}

			opts, err := server.ProcessConfigFile(confPath)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			got := ""
			for _, u := range opts.Users {
				if u.Username == "ingest" {
					got = u.Password
				}
			}
			if got != tt.value {
				t.Errorf("got password %q, want %q", got, tt.value)
			}
		})
	}
}

func TestAuthentication(t *testing.T) {
	s := startServer(t)
	tests := []struct {
		name     string
		user     string
		password string
		wantErr  bool
	}{
		{"ingest", "ingest", testPassword("ingest"), false},
		{"reaper", "reaper", testPassword("reaper"), false},
		{"operator", "operator", testPassword("operator"), false},
		{"desktop user", desktopUser, testPassword(desktopUser), false},
		{"wrong password", "ingest", testPassword("reaper"), true},
		{"unknown user", "nobody", testPassword("ingest"), true},
		{"no credentials", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []nats.Option{nats.NoReconnect()}
			if tt.user != "" {
				opts = append(opts, nats.UserInfo(tt.user, tt.password))
			}
			nc, err := nats.Connect(s.ClientURL(), opts...)
			if err == nil {
				nc.Close()
			}
			if tt.wantErr && !errors.Is(err, nats.ErrAuthorization) {
				t.Fatalf("got error %v, want %v", err, nats.ErrAuthorization)
			}
			if !tt.wantErr && err != nil {
				t.Fatalf("got error %v, want none", err)
			}
		})
	}
}

func TestMonitoringHealthz(t *testing.T) {
	s := startServer(t)
	url := fmt.Sprintf("http://%s/healthz?js-enabled-only=true", s.MonitorAddr())
	req, err := http.NewRequestWithContext(testContext(t, 5*time.Second), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("get %s: %v", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("got status %d, want %d", resp.StatusCode, http.StatusOK)
	}
}
