package resp

import (
	"fmt"
	"strings"
)

// INFO's persistence, cpu, commandstats and errorstats sections, in Redis's
// field names and formats, with warmkv's own figures.

// writePersistence describes the snapshots (Snapshots), in the fields of
// Redis's RDB that mean the same: whether one is being written and when the
// last one was taken (0 for none). warmkv restores its snapshot before it
// listens, so it is never loading, and it has no AOF.
func (s *Server) writePersistence(b *strings.Builder) {
	inProgress, lastSave := 0, int64(0)
	if s.snaps != nil {
		if s.snaps.InProgress() {
			inProgress = 1
		}
		if t := s.snaps.LastSave(); !t.IsZero() {
			lastSave = t.Unix()
		}
	}
	b.WriteString("# Persistence\r\n")
	fmt.Fprintf(b, "loading:0\r\nasync_loading:0\r\n")
	fmt.Fprintf(b, "rdb_bgsave_in_progress:%d\r\nrdb_last_save_time:%d\r\n", inProgress, lastSave)
	fmt.Fprintf(b, "aof_enabled:0\r\naof_rewrite_in_progress:0\r\n")
}

// writeCPU reports the process's CPU time, as getrusage gives it (cpu_*.go).
func writeCPU(b *strings.Builder) {
	b.WriteString("# CPU\r\n")
	for _, f := range cpuFields() {
		fmt.Fprintf(b, "%s:%d.%06d\r\n", f.name, f.usec/1e6, f.usec%1e6)
	}
}

// writeCommandStats writes one line per command called or refused, as
// Redis does: cmdstat_get:calls=2,usec=15,usec_per_call=7.50,rejected_calls=0,failed_calls=0
func (s *Server) writeCommandStats(b *strings.Builder) {
	b.WriteString("# Commandstats\r\n")
	for _, st := range s.CommandStats() {
		usec := st.Duration.Microseconds()
		perCall := 0.0
		if st.Calls > 0 {
			perCall = float64(st.Duration.Nanoseconds()) / 1e3 / float64(st.Calls)
		}
		fmt.Fprintf(b, "cmdstat_%s:calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,failed_calls=%d\r\n",
			st.Name, st.Calls, usec, perCall, st.RejectedCalls, st.FailedCalls)
	}
}

// writeErrorStats writes the error replies by code: errorstat_ERR:count=3.
func (s *Server) writeErrorStats(b *strings.Builder) {
	b.WriteString("# Errorstats\r\n")
	byCode, _ := s.ErrorStats()
	for _, code := range sortedCodes(byCode) {
		fmt.Fprintf(b, "errorstat_%s:count=%d\r\n", code, byCode[code])
	}
}
