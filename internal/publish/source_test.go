package publish_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward/internal/publish"
)

func readAll(t *testing.T, path string) []publish.Item {
	t.Helper()
	return readAs(t, publish.Input{Path: path, Name: filepath.Base(path)}, "winston_logs\x00s1")
}

func readAs(t *testing.T, in publish.Input, key string) []publish.Item {
	t.Helper()
	path := in.Path
	var items []publish.Item
	if err := publish.Read(in, key, 1<<20, func(it publish.Item) error { items = append(items, it); return nil }); err != nil {
		t.Fatalf("Read %s: %v", path, err)
	}
	return items
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadJSONLines(t *testing.T) {
	dir := t.TempDir()
	path := write(t, dir, "app.log", "{\"timestamp\":\"2026-12-04T19:32:51.650Z\",\"a\":1}\n\n{\"a\":1}\n[1]\n")
	items := readAll(t, path)
	if len(items) != 3 {
		t.Fatalf("items: got %d, want 3 (the blank line skipped)", len(items))
	}
	if items[0].ID == items[1].ID {
		t.Fatalf("two lines got the same id %s", items[0].ID)
	}
	if want := time.Date(2026, 12, 4, 19, 32, 51, 650e6, time.UTC); !items[0].Time.Equal(want) {
		t.Fatalf("time of line 1: got %v, want %v from its timestamp", items[0].Time, want)
	}
	if items[2].Err == nil || items[2].Origin != "app.log:4" {
		t.Fatalf("line 4: got origin %q err %v, want app.log:4 with an error", items[2].Origin, items[2].Err)
	}
	again := readAll(t, write(t, t.TempDir(), "app.log", "{\"timestamp\":\"2026-12-04T19:32:51.650Z\",\"a\":1}\n\n{\"a\":1}\n[1]\n"))
	if again[0].ID != items[0].ID {
		t.Fatalf("same file in another directory: got id %s, want %s", again[0].ID, items[0].ID)
	}
}

func TestReadWholeFile(t *testing.T) {
	dir := t.TempDir()
	text := readAll(t, write(t, dir, "case.spec.ts", "test('x', () => {});\n"))
	if len(text) != 1 || !strings.Contains(string(text[0].Data), `"content":"test('x', () =\u003e {});\n"`) {
		t.Fatalf("text file: got %v, want one item with the content", text)
	}
	binary := readAll(t, write(t, dir, "shot.png", "\x89PNG\xff\xfe"))
	if len(binary) != 1 || !strings.Contains(string(binary[0].Data), `"content_base64"`) {
		t.Fatalf("binary file: got %s, want content_base64", binary[0].Data)
	}
}

func TestExpandDirectory(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "b.ts", "b")
	write(t, dir, "a.ts", "a")
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "sub"), "c.ts", "c")
	files, err := publish.Expand([]string{dir, "-"})
	if err != nil {
		t.Fatalf("Expand: %v", err)
	}
	base := filepath.Base(dir)
	want := []publish.Input{
		{Path: filepath.Join(dir, "a.ts"), Name: base + "/a.ts"},
		{Path: filepath.Join(dir, "b.ts"), Name: base + "/b.ts"},
		{Path: filepath.Join(dir, "sub", "c.ts"), Name: base + "/sub/c.ts"},
		{Path: "-", Name: "stdin"},
	}
	if fmt.Sprint(files) != fmt.Sprint(want) {
		t.Fatalf("Expand: got %v, want %v", files, want)
	}
	if _, err := publish.Expand([]string{filepath.Join(dir, "missing")}); err == nil {
		t.Fatalf("Expand of a missing path: got no error")
	}
}

func TestIDsDifferByFolderTypeAndSession(t *testing.T) {
	dir := t.TempDir()
	for _, sub := range []string{"a", "b"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, sub), "index.js", "same content")
	}
	files, err := publish.Expand([]string{dir})
	if err != nil {
		t.Fatalf("Expand: %v", err)
	}
	a := readAs(t, files[0], "generated_scripts\x00s1")[0]
	b := readAs(t, files[1], "generated_scripts\x00s1")[0]
	if a.ID == b.ID {
		t.Fatalf("a/index.js and b/index.js with equal content: got the same id %s, want different ids", a.ID)
	}
	if !strings.Contains(string(a.Data), `"file_name":"`+filepath.Base(dir)+`/a/index.js"`) {
		t.Fatalf("payload %s: want the file name with its folder", a.Data)
	}
	if other := readAs(t, files[0], "codegen_recordings\x00s1")[0]; other.ID == a.ID {
		t.Fatalf("same file as another type: got the same id %s, want a new one", a.ID)
	}
	if other := readAs(t, files[0], "generated_scripts\x00s2")[0]; other.ID == a.ID {
		t.Fatalf("same file in another session: got the same id %s, want a new one", a.ID)
	}
	if again := readAs(t, files[0], "generated_scripts\x00s1")[0]; again.ID != a.ID {
		t.Fatalf("same file, type and session: got id %s, want %s again", again.ID, a.ID)
	}
}
