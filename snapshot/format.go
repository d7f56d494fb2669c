package snapshot

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"runtime"
	"time"

	"github.com/warmkv/warmkv/cache"
)

const (
	magic = "\x89WKV\r\n\x1a\n"
	// version is the only format this build writes and reads. A change to the
	// layout gets a new number, so an older build refuses a newer file instead
	// of misreading it.
	version = 1

	headerSize   = len(magic) + 4 + 8
	checksumSize = 4
	// minFileSize is a snapshot of a cache with no shards: header, a zero
	// section count, checksum.
	minFileSize = headerSize + 1 + checksumSize
	// minRecordSize is a record with an empty key, an empty value and no
	// expiry: three one-byte varints. It bounds what a claimed record count may
	// allocate before the records are read.
	minRecordSize = 3
)

// castagnoli is CRC-32C, which amd64 and arm64 compute in hardware: checksumming
// a large snapshot costs far less than writing it.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encoder buffers the snapshot in memory and writes it out in large chunks,
// checksumming each chunk on its way out.
type encoder struct {
	w       io.Writer
	buf     []byte
	crc     uint32
	written int64
	err     error // the first write error; later writes are dropped
}

// encoderBuffer is the size of the chunks written to the file: large enough that
// the write syscalls cost little, small enough to stay in cache and that the
// writer yields the processor (see flush) every millisecond or so.
const encoderBuffer = 256 << 10

func newEncoder(w io.Writer) *encoder {
	return &encoder{w: w, buf: make([]byte, 0, encoderBuffer)}
}

func (e *encoder) flush() {
	if e.err != nil || len(e.buf) == 0 {
		e.buf = e.buf[:0]
		return
	}
	e.crc = crc32.Update(e.crc, castagnoli, e.buf)
	n, err := e.w.Write(e.buf)
	e.written += int64(n)
	e.err = err
	e.buf = e.buf[:0]
	// A snapshot is background work: between chunks, let the goroutines
	// serving requests run first, so that they queue behind it as little as
	// possible when the processors are busy.
	runtime.Gosched()
}

func (e *encoder) uvarint(v uint64) {
	if cap(e.buf)-len(e.buf) < binary.MaxVarintLen64 {
		e.flush()
	}
	e.buf = binary.AppendUvarint(e.buf, v)
}

// str appends s through the buffer in pieces, so a huge value never makes the
// buffer grow.
func (e *encoder) str(s string) {
	for len(s) > 0 {
		if len(e.buf) == cap(e.buf) {
			e.flush()
		}
		n := min(len(s), cap(e.buf)-len(e.buf))
		e.buf = append(e.buf, s[:n]...)
		s = s[n:]
	}
}

func (e *encoder) header(takenAt time.Time) {
	e.str(magic)
	e.buf = binary.LittleEndian.AppendUint32(e.buf, version)
	e.buf = binary.LittleEndian.AppendUint64(e.buf, uint64(takenAt.UnixNano()))
}

func (e *encoder) record(it cache.Item) {
	e.uvarint(uint64(it.ExpireAt))
	e.uvarint(uint64(len(it.Key)))
	e.str(it.Key)
	e.uvarint(uint64(len(it.Value)))
	e.str(it.Value)
}

// finish flushes the buffer and appends the checksum of everything written.
func (e *encoder) finish() error {
	e.flush()
	if e.err != nil {
		return e.err
	}
	sum := binary.LittleEndian.AppendUint32(nil, e.crc)
	n, err := e.w.Write(sum)
	e.written += int64(n)
	return err
}

// contents is what a snapshot holds once decoded.
type contents struct {
	takenAt  time.Time
	sections [][]cache.Item // per shard, least recently used first; expired records left out
	records  int            // every record in the file, expired ones included
	expired  int
}

// formatError says what is wrong with a snapshot's bytes. Every decoding failure
// is one, so Load can tell a bad file (moved aside) from a failure to read it
// (left alone).
type formatError struct {
	offset int64 // where the problem is, in bytes from the start; -1 if nowhere in particular
	msg    string
}

func (e *formatError) Error() string {
	if e.offset < 0 {
		return e.msg
	}
	return fmt.Sprintf("%s (at byte %d)", e.msg, e.offset)
}

// decoder reads a snapshot's body, everything before the checksum, from a
// reader that yields exactly those bytes.
type decoder struct {
	r    *bufio.Reader
	off  int64 // bytes consumed
	size int64 // body bytes in all

	section, record int // where the decoder is, for messages
}

// Fields of the format, as the decoder's methods name what they read. Messages
// are built from them only on failure: formatting one per record would cost
// more than decoding it.
const (
	fieldHeader       = "header"
	fieldSectionCount = "section count"
	fieldRecordCount  = "record count"
	fieldExpiry       = "expiry"
	fieldKey          = "key"
	fieldValue        = "value"
)

// describe names a field where the decoder is, as in "the key of record 3 in
// section 12".
func (d *decoder) describe(field string) string {
	switch field {
	case fieldHeader, fieldSectionCount:
		return "the " + field
	case fieldRecordCount:
		return fmt.Sprintf("the record count of section %d", d.section)
	default:
		return fmt.Sprintf("the %s of record %d in section %d", field, d.record, d.section)
	}
}

func (d *decoder) left() int64 { return d.size - d.off }

func (d *decoder) fail(at int64, format string, args ...any) error {
	return &formatError{offset: at, msg: fmt.Sprintf(format, args...)}
}

// truncated reports running out of bytes. Past the header it cannot be told
// apart from a corrupted length, so the message names both.
func (d *decoder) truncated(field string) error {
	return d.fail(d.off, "truncated or corrupt: the data ends inside %s", d.describe(field))
}

func (d *decoder) fixed(n int, field string) ([]byte, error) {
	b, err := d.r.Peek(n)
	if len(b) < n {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || err == nil {
			return nil, d.truncated(field)
		}
		return nil, err
	}
	_, _ = d.r.Discard(n)
	d.off += int64(n)
	return b, nil
}

// uvarint reads a minimally encoded unsigned varint.
func (d *decoder) uvarint(field string) (uint64, error) {
	start := d.off
	var v uint64
	for i := 0; ; i++ {
		c, err := d.r.ReadByte()
		if err == io.EOF {
			return 0, d.truncated(field)
		} else if err != nil {
			return 0, err
		}
		d.off++
		if i == binary.MaxVarintLen64-1 && c > 1 {
			return 0, d.fail(start, "%s: varint overflows 64 bits", d.describe(field))
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			if c == 0 && i > 0 {
				// The writer never pads a varint; a padded one is damage.
				return 0, d.fail(start, "%s: varint is not minimally encoded", d.describe(field))
			}
			return v, nil
		}
	}
}

// length reads a byte count that must fit in what is left of the data.
func (d *decoder) length(field string) (int, error) {
	start := d.off
	n, err := d.uvarint(field)
	if err != nil {
		return 0, err
	}
	if n > uint64(d.left()) {
		return 0, d.fail(start, "truncated or corrupt: %s is %d bytes but only %d bytes are left", d.describe(field), n, d.left())
	}
	return int(n), nil
}

// str reads n bytes as a string: one allocation, copied straight out of the
// reader's buffer when it fits.
func (d *decoder) str(n int, field string) (string, error) {
	if n <= d.r.Size() {
		b, err := d.fixed(n, field)
		return string(b), err
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(d.r, b); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return "", d.truncated(field)
		}
		return "", err
	}
	d.off += int64(n)
	return string(b), nil
}

func (d *decoder) skip(n int, field string) error {
	m, err := d.r.Discard(n)
	d.off += int64(m)
	if m < n {
		if err == io.EOF || err == nil {
			return d.truncated(field)
		}
		return err
	}
	return nil
}

// header checks the magic and the version and returns when the snapshot was taken.
func (d *decoder) header() (time.Time, error) {
	b, err := d.fixed(headerSize, fieldHeader)
	if err != nil {
		return time.Time{}, err
	}
	if string(b[:len(magic)]) != magic {
		return time.Time{}, d.fail(-1, "not a warmkv snapshot: it starts with % x, a snapshot with % x", b[:len(magic)], magic)
	}
	if v := binary.LittleEndian.Uint32(b[len(magic):]); v != version {
		return time.Time{}, d.fail(int64(len(magic)), "unknown format version %d (this build reads version %d)", v, version)
	}
	return time.Unix(0, int64(binary.LittleEndian.Uint64(b[len(magic)+4:]))), nil
}

// decode reads the whole body. Records that expire at or before now are
// checked like the others but not kept.
func (d *decoder) decode(now time.Time) (contents, error) {
	var c contents
	var err error
	if c.takenAt, err = d.header(); err != nil {
		return c, err
	}
	at := d.off
	sections, err := d.uvarint(fieldSectionCount)
	if err != nil {
		return c, err
	}
	if sections > uint64(d.left()) { // every section takes at least a byte
		return c, d.fail(at, "truncated or corrupt: %d sections claimed but only %d bytes are left", sections, d.left())
	}
	c.sections = make([][]cache.Item, sections)
	cutoff := now.UnixNano()
	for s := range c.sections {
		d.section = s
		at := d.off
		n, err := d.uvarint(fieldRecordCount)
		if err != nil {
			return c, err
		}
		if n > uint64(d.left()/minRecordSize) {
			return c, d.fail(at, "truncated or corrupt: section %d claims %d records but only %d bytes are left", s, n, d.left())
		}
		items := make([]cache.Item, 0, n)
		for i := range int(n) {
			d.record = i
			it, live, err := d.readRecord(cutoff)
			if err != nil {
				return c, err
			}
			c.records++
			if live {
				items = append(items, it)
			} else {
				c.expired++
			}
		}
		c.sections[s] = items
	}
	if d.left() > 0 {
		return c, d.fail(d.off, "corrupt: %d bytes after the last record", d.left())
	}
	return c, nil
}

func (d *decoder) readRecord(cutoff int64) (it cache.Item, live bool, err error) {
	at := d.off
	exp, err := d.uvarint(fieldExpiry)
	if err != nil {
		return it, false, err
	}
	if exp > math.MaxInt64 {
		return it, false, d.fail(at, "corrupt: %s is %d, beyond any time the cache can hold", d.describe(fieldExpiry), exp)
	}
	it.ExpireAt = int64(exp)
	live = it.ExpireAt == 0 || it.ExpireAt > cutoff
	keyLen, err := d.length(fieldKey)
	if err != nil {
		return it, false, err
	}
	if live {
		it.Key, err = d.str(keyLen, fieldKey)
	} else {
		err = d.skip(keyLen, fieldKey)
	}
	if err != nil {
		return it, false, err
	}
	valueLen, err := d.length(fieldValue)
	if err != nil {
		return it, false, err
	}
	if live {
		it.Value, err = d.str(valueLen, fieldValue)
	} else {
		err = d.skip(valueLen, fieldValue)
	}
	return it, live, err
}
