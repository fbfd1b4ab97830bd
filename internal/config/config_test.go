package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward/internal/config"
)

func TestLoadDefaults(t *testing.T) {
	cfg, err := config.Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.Ingest.BatchSize != 500 || cfg.Ingest.MaxWait != time.Second || cfg.Mongo.Database != "steward" {
		t.Fatalf("defaults: got batch %d, max wait %v, database %q; want 500, 1s, steward", cfg.Ingest.BatchSize, cfg.Ingest.MaxWait, cfg.Mongo.Database)
	}
}

func TestLoadNamesVariableAndValue(t *testing.T) {
	tests := []struct {
		name, variable, value string
	}{
		{"not a number", "STEWARD_BATCH_SIZE", "many"},
		{"out of range", "STEWARD_BATCH_SIZE", "0"},
		{"duration without unit", "STEWARD_MAX_WAIT", "5"},
		{"payload too small", "STEWARD_MAX_PAYLOAD", "100"},
		{"unknown log format", "STEWARD_LOG_FORMAT", "xml"},
		{"replicas", "STEWARD_STREAM_REPLICAS", "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(tt.variable, tt.value)
			_, err := config.Load()
			if err == nil {
				t.Fatalf("Load with %s=%s: got no error", tt.variable, tt.value)
			}
			if !strings.Contains(err.Error(), tt.variable) || !strings.Contains(err.Error(), tt.value) {
				t.Fatalf("error %q: want it to name %s and %q", err, tt.variable, tt.value)
			}
		})
	}
}

func TestLogValueHidesSecrets(t *testing.T) {
	t.Setenv("STEWARD_MONGODB_URI", "mongodb://admin:s3cret@db.internal:27017/")
	t.Setenv("STEWARD_NATS_PASSWORD", "hunter2")
	cfg, err := config.Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	out := cfg.LogValue().String()
	for _, secret := range []string{"s3cret", "hunter2"} {
		if strings.Contains(out, secret) {
			t.Fatalf("LogValue %s contains the secret %q", out, secret)
		}
	}
}
