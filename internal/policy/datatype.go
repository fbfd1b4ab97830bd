package policy

import (
	"fmt"
	"strings"
)

// MaxDataTypeLen is the maximum length of a data type name in characters.
const MaxDataTypeLen = 64

// rule is the hint of the errors below. It is a constant so that a valid
// name, the hot path of every ingested event, costs no formatting.
const rule = "use 1 to 64 characters of a-z, 0-9 and _, starting with a letter"

// reservedDataTypes are the names of Steward's own collections, which no data
// type may take.
var reservedDataTypes = map[string]string{
	"sessions": "session documents",
	"audit":    "cleanup audit records",
}

// ValidDataType returns an error unless name can serve as a data type. A
// data type becomes a MongoDB collection name and a NATS subject token, so
// it is 1 to MaxDataTypeLen characters of a-z, 0-9 and '_', and starts with
// a letter. It must not start with "system", because MongoDB reserves
// "system." collections, and must not be the name of one of Steward's own
// collections ("sessions", "audit").
func ValidDataType(name string) error {
	if name == "" {
		return fmt.Errorf("data type name is empty, %s", rule)
	}
	for i, r := range name {
		switch {
		case i == 0 && (r < 'a' || r > 'z'):
			return fmt.Errorf("data type %q starts with %q, %s", name, r, rule)
		case !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_'):
			return fmt.Errorf("data type %q contains %q, %s", name, r, rule)
		}
	}
	if len(name) > MaxDataTypeLen {
		return fmt.Errorf("data type %q is %d characters long, the maximum is %d", name, len(name), MaxDataTypeLen)
	}
	if strings.HasPrefix(name, "system") {
		return fmt.Errorf("data type %q starts with \"system\", which MongoDB reserves for its own collections; choose another name", name)
	}
	if use, ok := reservedDataTypes[name]; ok {
		return fmt.Errorf("data type %q is reserved for Steward's %s; choose another name", name, use)
	}
	return nil
}
