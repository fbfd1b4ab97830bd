package identity

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestReadMachineIDFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o444); err != nil {
			t.Fatal(err)
		}
		return path
	}
	valid := write("valid", "5A1F0C2E9B7D4E3F8A6B1C0D2E3F4A5B\n")
	empty := write("empty", "")
	placeholder := write("placeholder", "uninitialized\n")
	missing := filepath.Join(dir, "missing")

	tests := []struct {
		name       string
		paths      []string
		wantID     string
		wantSource string
	}{
		{"first file", []string{valid, empty}, "5a1f0c2e9b7d4e3f8a6b1c0d2e3f4a5b", valid},
		{"missing then valid", []string{missing, valid}, "5a1f0c2e9b7d4e3f8a6b1c0d2e3f4a5b", valid},
		{"empty then valid", []string{empty, valid}, "5a1f0c2e9b7d4e3f8a6b1c0d2e3f4a5b", valid},
		{"placeholder then valid", []string{placeholder, valid}, "5a1f0c2e9b7d4e3f8a6b1c0d2e3f4a5b", valid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, source, err := readMachineIDFile(tt.paths...)
			if err != nil || id != tt.wantID || source != tt.wantSource {
				t.Fatalf("got %q from %q (err %v), want %q from %q", id, source, err, tt.wantID, tt.wantSource)
			}
		})
	}
	if _, _, err := readMachineIDFile(missing, empty, placeholder); !errors.Is(err, ErrNoMachineID) {
		t.Fatalf("no usable file: got %v, want ErrNoMachineID", err)
	}
}

func TestParseIOPlatformUUID(t *testing.T) {
	out := `+-o J314sAP  <class IOPlatformExpertDevice, id 0x100000241, registered, matched, active, busy 0 (4 ms), retain 36>
    {
      "IOPlatformSerialNumber" = "XYZ123"
      "IOPlatformUUID" = "3F2C6A8E-1B4D-4C7A-9E2F-0A1B2C3D4E5F"
      "manufacturer" = <"Apple Inc.">
    }
`
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"ioreg output", out, "3f2c6a8e-1b4d-4c7a-9e2f-0a1b2c3d4e5f"},
		{"no uuid line", "+-o Root\n{\n}\n", ""},
		{"empty value", `"IOPlatformUUID" = ""`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseIOPlatformUUID(tt.in)
			if tt.want == "" {
				if !errors.Is(err, ErrNoMachineID) {
					t.Fatalf("got %q, %v; want ErrNoMachineID", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
