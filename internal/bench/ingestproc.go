package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ingestProcess is an ingest worker in a process of its own, so its memory
// can be measured apart from the embedded servers.
type ingestProcess struct {
	cmd *exec.Cmd
}

// startIngest starts the command with env and waits until its consumer
// exists.
func startIngest(ctx context.Context, newCmd func() *exec.Cmd, env []string, js jetstream.JetStream, stream, consumer string) (*ingestProcess, error) {
	cmd := newCmd()
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start ingest process: %w", err)
	}
	p := &ingestProcess{cmd: cmd}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := js.Consumer(ctx, stream, consumer); err == nil {
			return p, nil
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("ingest process did not create consumer %s within 60s", consumer)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// peakRSS returns the process's peak resident set size in bytes, read from
// /proc, so it works on Linux only.
func (p *ingestProcess) peakRSS() (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("read peak memory of the ingest process (Linux only): %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmHWM %q: %w", v, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", p.cmd.Process.Pid)
}

// stop sends SIGTERM and waits for the process to exit.
func (p *ingestProcess) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		return fmt.Errorf("ingest process did not stop within 30s of SIGTERM")
	}
}
