package reaper_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward/internal/reaper"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     reaper.Config
		wantErr string // substring; empty means valid
	}{
		{"zero takes defaults", reaper.Config{}, ""},
		{"custom", reaper.Config{TicksStream: "T", Consumer: "c", DeleteBatchSize: 10, AckWait: 2 * time.Second, StreamReplicas: 3}, ""},
		{"stream with dot", reaper.Config{TicksStream: "a.b"}, "STEWARD_TICKS_STREAM=a.b is invalid"},
		{"consumer with space", reaper.Config{Consumer: "my reaper"}, "STEWARD_REAPER_CONSUMER=my reaper is invalid"},
		{"negative batch size", reaper.Config{DeleteBatchSize: -1}, "STEWARD_DELETE_BATCH_SIZE=-1 is invalid"},
		{"huge batch size", reaper.Config{DeleteBatchSize: reaper.MaxDeleteBatchSize + 1}, "STEWARD_DELETE_BATCH_SIZE=1000001 is invalid"},
		{"short ack wait", reaper.Config{AckWait: 500 * time.Millisecond}, "STEWARD_REAPER_ACK_WAIT=500ms is invalid"},
		{"negative retry delay", reaper.Config{RetryDelay: -time.Second}, "STEWARD_REAPER_RETRY_DELAY=-1s is invalid"},
		{"two stream replicas", reaper.Config{StreamReplicas: 2}, "STEWARD_STREAM_REPLICAS=2 is invalid"},
		{"negative fetch wait", reaper.Config{FetchWait: -time.Second}, "FetchWait -1s is invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: got %v, want no error", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate: got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}
