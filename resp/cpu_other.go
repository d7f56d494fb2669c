//go:build !unix

package resp

// cpuField is one of INFO cpu's figures, in microseconds.
type cpuField struct {
	name string
	usec int64
}

// cpuFields is empty where getrusage is missing: the section is there, with
// no figure it cannot give truthfully.
func cpuFields() []cpuField { return nil }
