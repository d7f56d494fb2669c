package resp

import "unsafe"

// unsafeString views b as a string without copying. Only for lookups that do
// not keep the string: b is the connection's read buffer and is overwritten by
// the next read.
func unsafeString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b)) //nolint:gosec // G103: audited: read-only view, not kept (see above)
}
