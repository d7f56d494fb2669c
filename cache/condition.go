package cache

// Condition restricts a write to keys that are absent or present, as Redis's SET
// NX and XX do.
type Condition uint8

// The conditions of SetIf.
const (
	Always    Condition = iota // SET with neither
	IfAbsent                   // SET NX, SETNX
	IfPresent                  // SET XX
)

// ExpireCondition restricts an expiry change by the key's current expiry, as
// the options of Redis's EXPIRE do. The flags combine as Redis lets them:
// ExpireIfSet with ExpireIfLater or ExpireIfEarlier; ExpireIfNone alone; never
// ExpireIfLater with ExpireIfEarlier (the doors refuse those before asking).
// No expiry counts as an infinitely late one.
type ExpireCondition uint8

// ExpireAlways changes the expiry whatever it is.
const ExpireAlways ExpireCondition = 0

const (
	// ExpireIfNone changes it only if the key has no expiry (EXPIRE NX).
	ExpireIfNone ExpireCondition = 1 << iota
	// ExpireIfSet changes it only if the key has one (EXPIRE XX).
	ExpireIfSet
	// ExpireIfLater changes it only to a later one (EXPIRE GT): never for
	// a key without an expiry.
	ExpireIfLater
	// ExpireIfEarlier changes it only to an earlier one (EXPIRE LT): always
	// for a key without an expiry.
	ExpireIfEarlier
)

// Allows reports whether c lets an expiry change from current to next, both
// Unix nanoseconds with 0 for none.
func (c ExpireCondition) Allows(current, next int64) bool {
	switch {
	case c&ExpireIfNone != 0 && current != 0:
		return false
	case c&ExpireIfSet != 0 && current == 0:
		return false
	case c&ExpireIfLater != 0 && (current == 0 || next <= current):
		return false
	case c&ExpireIfEarlier != 0 && current != 0 && next >= current:
		return false
	}
	return true
}
