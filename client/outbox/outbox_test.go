package outbox_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward/client/outbox"
)

func open(t *testing.T, cfg outbox.Config) *outbox.Outbox {
	t.Helper()
	o, err := outbox.Open(cfg)
	if err != nil {
		t.Fatalf("Open %s: %v", cfg.Dir, err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

func message(i int) outbox.Message {
	return outbox.Message{
		Subject: fmt.Sprintf("steward.events.u1.s1.record.t%d", i%3),
		ID:      fmt.Sprintf("u1:e%d", i),
		Data:    []byte(fmt.Sprintf(`{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", i%50))),
	}
}

func appendN(t *testing.T, o *outbox.Outbox, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if _, err := o.Append(message(i)); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
}

// checkPending reads everything pending and compares it with messages
// first..first+n-1.
func checkPending(t *testing.T, o *outbox.Outbox, first, n int) {
	t.Helper()
	msgs, err := o.Read(0, 1<<20, 1<<40)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if len(msgs) != n {
		t.Fatalf("pending messages: got %d, want %d", len(msgs), n)
	}
	for k, m := range msgs {
		want := message(first + k)
		if m.Corrupt != nil {
			t.Fatalf("message %d: got corrupt (%v), want intact", k, m.Corrupt)
		}
		if m.Subject != want.Subject || m.ID != want.ID || string(m.Data) != string(want.Data) {
			t.Fatalf("message %d: got %s %s %s, want %s %s %s", k, m.Subject, m.ID, m.Data, want.Subject, want.ID, want.Data)
		}
		if k > 0 && m.Seq != msgs[k-1].Seq+1 {
			t.Fatalf("sequence after %d: got %d, want %d", msgs[k-1].Seq, m.Seq, msgs[k-1].Seq+1)
		}
	}
}

func segmentFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestAppendReadAck(t *testing.T) {
	dir := t.TempDir()
	o := open(t, outbox.Config{Dir: dir, SegmentBytes: 1024})
	appendN(t, o, 0, 100)
	checkPending(t, o, 0, 100)
	if n := len(segmentFiles(t, dir)); n < 3 {
		t.Fatalf("segment files after 100 appends of 1 KiB segments: got %d, want at least 3", n)
	}

	msgs, err := o.Read(0, 10, 1<<20)
	if err != nil || len(msgs) != 10 {
		t.Fatalf("Read of 10: got %d messages, err %v; want 10", len(msgs), err)
	}
	if msgs, _ := o.Read(0, 100, 1); len(msgs) != 1 {
		t.Fatalf("Read under a 1-byte limit: got %d messages, want 1", len(msgs))
	}
	if err := o.Ack(msgs[9].Seq); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	checkPending(t, o, 10, 90)
	if n, _ := o.Stats(); n != 90 {
		t.Fatalf("Stats after acking 10: got %d messages, want 90", n)
	}
	// Message k has sequence k+1.
	if from, err := o.Read(16, 1, 1<<20); err != nil || from[0].ID != message(15).ID {
		t.Fatalf("Read from a later sequence: got %v, err %v; want %s", from, err, message(15).ID)
	}

	if err := o.Ack(o.Next() - 1); err != nil {
		t.Fatalf("Ack all: %v", err)
	}
	if n, b := o.Stats(); n != 0 || b != 0 {
		t.Fatalf("Stats after acking all: got %d messages, %d bytes; want 0, 0", n, b)
	}
	if n := len(segmentFiles(t, dir)); n != 1 {
		t.Fatalf("segment files after acking all: got %d, want 1 (the active one)", n)
	}
}

func TestReopenKeepsPending(t *testing.T) {
	tests := []struct {
		name string
		sync time.Duration
	}{
		{"fsync every append", 0},
		{"fsync interval", 10 * time.Millisecond},
		{"no fsync", outbox.NoSync},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := outbox.Config{Dir: t.TempDir(), SegmentBytes: 2048, SyncInterval: tt.sync}
			o := open(t, cfg)
			appendN(t, o, 0, 40)
			msgs, _ := o.Read(0, 15, 1<<20)
			if err := o.Ack(msgs[14].Seq); err != nil {
				t.Fatalf("Ack: %v", err)
			}
			next := o.Next()
			if err := o.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}

			o = open(t, cfg)
			checkPending(t, o, 15, 25)
			if got := o.Next(); got != next {
				t.Fatalf("Next after reopen: got %d, want %d", got, next)
			}
			appendN(t, o, 40, 1)
			checkPending(t, o, 15, 26)
		})
	}
}

// copyDir copies the files of an open outbox: what a killed process
// leaves on disk.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
	return dst
}

func TestCrashBeforeCursorWrite(t *testing.T) {
	dir := t.TempDir()
	o := open(t, outbox.Config{Dir: dir, CursorInterval: time.Hour})
	appendN(t, o, 0, 10)
	if err := o.Ack(o.Next() - 1); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	crashed := copyDir(t, dir)

	again := open(t, outbox.Config{Dir: crashed})
	checkPending(t, again, 0, 10)
}

func TestDamagedTailIsTruncated(t *testing.T) {
	tests := []struct {
		name   string
		damage func(data []byte) []byte
		kept   int
	}{
		{"header cut short", func(b []byte) []byte { return append(b, 1, 2, 3) }, 5},
		{"payload cut short", func(b []byte) []byte { return b[:len(b)-3] }, 4},
		{"flipped byte in last record", func(b []byte) []byte { b[len(b)-2] ^= 0xff; return b }, 4},
		{"zeroes after the last record", func(b []byte) []byte { return append(b, make([]byte, 64)...) }, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := outbox.Config{Dir: t.TempDir()}
			o := open(t, cfg)
			appendN(t, o, 0, 5)
			if err := o.Close(); err != nil {
				t.Fatal(err)
			}
			seg := segmentFiles(t, cfg.Dir)[0]
			data, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(seg, tt.damage(data), 0o600); err != nil {
				t.Fatal(err)
			}

			o = open(t, cfg)
			checkPending(t, o, 0, tt.kept)
			appendN(t, o, tt.kept, 1)
			checkPending(t, o, 0, tt.kept+1)
		})
	}
}

func TestFullAtBound(t *testing.T) {
	// Messages 0, 1 and 2 take 69, 70 and 71 bytes stored.
	tests := []struct {
		name string
		cfg  outbox.Config
	}{
		{"max messages", outbox.Config{MaxMessages: 3}},
		{"max bytes", outbox.Config{MaxBytes: 210 + 30}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Dir = t.TempDir()
			o := open(t, tt.cfg)
			appendN(t, o, 0, 3)
			_, storedBytes := o.Stats()
			_, err := o.Append(message(0))
			if !errors.Is(err, outbox.ErrFull) {
				t.Fatalf("Append past the bound: got %v, want ErrFull", err)
			}
			var full *outbox.FullError
			if !errors.As(err, &full) || full.Messages != 3 || full.Bytes != storedBytes || storedBytes != 210 {
				t.Fatalf("FullError: got %+v, want 3 messages of 210 bytes", full)
			}
			for _, want := range []string{"3 of max", fmt.Sprint(full.MaxBytes)} {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("message %q does not contain %q", err, want)
				}
			}
			checkPending(t, o, 0, 3)

			msgs, _ := o.Read(0, 1, 1<<20)
			if err := o.Ack(msgs[0].Seq); err != nil {
				t.Fatal(err)
			}
			if _, err := o.Append(message(0)); err != nil {
				t.Fatalf("Append after an Ack made room: got %v, want success", err)
			}
		})
	}
}

func TestMessageLargerThanMaxBytes(t *testing.T) {
	o := open(t, outbox.Config{Dir: t.TempDir(), MaxBytes: 100})
	_, err := o.Append(outbox.Message{Subject: "s", ID: "i", Data: make([]byte, 200)})
	if err == nil || errors.Is(err, outbox.ErrFull) {
		t.Fatalf("Append of a message over MaxBytes: got %v, want a non-ErrFull error", err)
	}
}

func TestSecondOpenIsLocked(t *testing.T) {
	dir := t.TempDir()
	o := open(t, outbox.Config{Dir: dir})
	if _, err := outbox.Open(outbox.Config{Dir: dir}); !errors.Is(err, outbox.ErrLocked) {
		t.Fatalf("second Open: got %v, want ErrLocked", err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	open(t, outbox.Config{Dir: dir})
}

func TestCorruptRecordIsReported(t *testing.T) {
	dir := t.TempDir()
	o := open(t, outbox.Config{Dir: dir})
	appendN(t, o, 0, 3)
	msgs, _ := o.Read(0, 3, 1<<20)
	// Damage the middle record behind the open outbox's back.
	seg := segmentFiles(t, dir)[0]
	f, err := os.OpenFile(seg, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	size := int64(16 + 1 + len(msgs[0].Subject) + 1 + len(msgs[0].ID) + len(msgs[0].Data))
	if _, err := f.WriteAt([]byte{0xff}, 8+size+20); err != nil {
		t.Fatal(err)
	}
	f.Close()

	got, err := o.Read(0, 3, 1<<20)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if got[0].Corrupt != nil || got[1].Corrupt == nil || got[2].Corrupt != nil {
		t.Fatalf("Corrupt: got %v, %v, %v; want only the middle record", got[0].Corrupt, got[1].Corrupt, got[2].Corrupt)
	}
	if got[1].Seq != msgs[1].Seq {
		t.Fatalf("corrupt record sequence: got %d, want %d", got[1].Seq, msgs[1].Seq)
	}
}
