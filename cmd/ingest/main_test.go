package main

import (
	"bufio"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stewardhq/steward/internal/testenv"
)

// TestSIGTERMExitsZero builds the real binary, runs it against test
// servers and stops it the way an orchestrator does.
func TestSIGTERMExitsZero(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := filepath.Join(t.TempDir(), "ingest")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	n := testenv.NATS(t)
	m := testenv.StartMongo(t)

	cmd := exec.Command(bin)
	cmd.Env = append(cmd.Environ(),
		"STEWARD_NATS_URL="+n.URL(),
		"STEWARD_MONGODB_URI="+m.Config.URI,
		"STEWARD_MONGODB_DATABASE="+m.Config.Database,
		"STEWARD_LOG_FORMAT=json",
	)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ingest: %v", err)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitFor := func(msg string) {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("ingest exited before logging %q", msg)
				}
				t.Log(l)
				if strings.Contains(l, `"msg":"`+msg+`"`) {
					return
				}
			case <-timeout:
				_ = cmd.Process.Kill()
				t.Fatalf("ingest did not log %q within 30s", msg)
			}
		}
	}
	waitFor("ingest started")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("signal: %v", err)
	}
	waitFor("ingest stopped")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: got %v, want exit status 0", err)
	}
}

func TestInvalidConfigurationExits2(t *testing.T) {
	t.Setenv("STEWARD_BATCH_SIZE", "lots")
	if code := run(); code != 2 {
		t.Fatalf("exit code: got %d, want 2", code)
	}
}
