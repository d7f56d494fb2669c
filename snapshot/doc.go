// Package snapshot writes a cache.Cache to a file and reads it back, so that a
// restarted server comes back warm.
//
// Write copies the cache one shard at a time (cache.Dump holds a shard's lock
// only while it copies that shard's entries), streams them to a temporary file
// in the same directory, syncs it, renames it over the previous snapshot and
// syncs the directory. A crash at any point leaves either the previous snapshot
// or the new one, never a mixture.
//
// Load verifies the whole file before it inserts anything: a truncated,
// corrupted or unknown file is moved aside to "<path>.corrupt-<time>" (never
// overwritten, never deleted) and the cache is left as it was. Entries are
// replayed least recently used first, so recency survives a restart and a
// smaller memory budget keeps the most recently used keys. Keys that expired
// while the server was down are not restored.
//
// Saver owns a snapshot file for a running server: one snapshot at a time, the
// periodic schedule, on-demand saves and the time of the last success.
//
// The format (version 1) is ours. All integers are unsigned LEB128 varints
// (encoding/binary's uvarint, minimal encoding only) except in the header:
//
//	header   magic "\x89WKV\r\n\x1a\n", version uint32 LE, taken-at int64 LE (Unix ns)
//	sections count, then per section (one per cache shard):
//	         records count, then per record:
//	         expire-at (Unix ns, 0 = never), key length, key, value length, value
//	trailer  CRC-32C (Castagnoli) of every byte before it, uint32 LE
//
// Records within a section are least recently used first. The magic's high
// byte and CR LF pair detect a file mangled by a 7-bit or text-mode transfer,
// as PNG's do. The package knows no HTTP or Redis.
package snapshot
