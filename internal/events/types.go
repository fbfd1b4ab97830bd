package events

import "fmt"

// MaxTypeLen is the maximum length of a data type name.
const MaxTypeLen = 64

// Collections that Steward keeps for itself; no data type may take their
// names.
var reservedTypes = map[string]bool{"sessions": true, "audit": true}

// CheckType reports whether name can be a data type: 1 to 64 characters of
// [a-z0-9_] starting with a letter, so that it is both a NATS subject token
// and a MongoDB collection name, and not one of Steward's own collections.
func CheckType(name string) error {
	if name == "" {
		return fmt.Errorf("data type is empty")
	}
	if len(name) > MaxTypeLen {
		return fmt.Errorf("data type %q is %d characters long, the maximum is %d", name, len(name), MaxTypeLen)
	}
	if name[0] < 'a' || name[0] > 'z' {
		return fmt.Errorf("data type %q must start with a lowercase letter", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return fmt.Errorf("data type %q contains %q, use only lowercase letters, digits and '_'", name, c)
		}
	}
	if reservedTypes[name] || len(name) >= 6 && name[:6] == "system" {
		return fmt.Errorf("data type %q is reserved, choose another name", name)
	}
	return nil
}
