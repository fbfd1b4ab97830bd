package publish_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward/internal/publish"
)

func readAll(t *testing.T, path string) []publish.Item {
	t.Helper()
	var items []publish.Item
	if err := publish.Read(path, 1<<20, func(it publish.Item) error { items = append(items, it); return nil }); err != nil {
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
	want := []string{filepath.Join(dir, "a.ts"), filepath.Join(dir, "b.ts"), filepath.Join(dir, "sub", "c.ts"), "-"}
	if strings.Join(files, ",") != strings.Join(want, ",") {
		t.Fatalf("Expand: got %v, want %v", files, want)
	}
	if _, err := publish.Expand([]string{filepath.Join(dir, "missing")}); err == nil {
		t.Fatalf("Expand of a missing path: got no error")
	}
}
