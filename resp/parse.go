package resp

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// The parser reads one command at a time from the front of a connection's
// read buffer. A command arrives either as a RESP array of bulk strings
// ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), which is what client libraries send, or as
// an inline command: one line of words, optionally quoted ("SET name \"vimla\""),
// which is what people type into nc or telnet. Redis tells them apart by the
// first byte, and so does this parser.
//
// Multibulk arguments are slices of the buffer itself, so the hot path copies
// nothing; inline arguments are unescaped into fresh memory.
//
// Every error here is fatal for the connection: after a framing error the
// server cannot know where the next command starts, so it answers the error
// and closes, as Redis does. The limits make a hostile client pay for the
// memory it wants before it gets it: declared lengths are checked before the
// bytes they announce are waited for.

// limits bound what one command may make the server hold.
type limits struct {
	maxArgs    int // arguments per command, name included
	maxCommand int // bytes per command, framing included
	maxInline  int // bytes of one inline line
}

// Before AUTH, Redis 7 accepts only small commands so that an anonymous client
// cannot make it buffer much; these are its limits.
const (
	unauthenticatedMaxArgs = 10
	unauthenticatedMaxBulk = 16384
)

// inlineMaxBytes is Redis's PROTO_INLINE_MAX_SIZE.
const inlineMaxBytes = 64 << 10

// countLineMax bounds a "*N" or "$N" header line: a sign, 19 digits and CRLF fit.
const countLineMax = 24

// protocolError is a framing error; the text follows Redis's where Redis has one.
type protocolError string

func (e protocolError) Error() string { return "Protocol error: " + string(e) }

// The errors are interface values made once: passing a protocolError where an
// error is expected would otherwise allocate on every call.
var (
	errMbulkCountTooBig    error = protocolError("too big mbulk count string")
	errMbulkLength         error = protocolError("invalid multibulk length")
	errUnauthMbulkLength   error = protocolError("unauthenticated multibulk length")
	errBulkCountTooBig     error = protocolError("too big bulk count string")
	errBulkLength          error = protocolError("invalid bulk length")
	errUnauthBulkLength    error = protocolError("unauthenticated bulk length")
	errBulkNotTerminated   error = protocolError("expected CRLF after a bulk string")
	errInlineTooBig        error = protocolError("too big inline request")
	errUnbalancedQuotes    error = protocolError("unbalanced quotes in request")
	errInlineControlOrUTF8 error = protocolError("inline request contains control characters or invalid UTF-8")
)

func errCommandTooBig(lim *limits) error {
	return protocolError("command larger than " + strconv.Itoa(lim.maxCommand) + " bytes")
}

// parseCommand parses the command at the start of buf, appending its arguments
// to args[:0]. It returns:
//
//   - n > 0: the command took n bytes; args holds it (none for an empty line or
//     "*0", which the caller skips, as Redis does);
//   - n == 0 and err == nil: the command is incomplete; parsing cannot progress
//     before buf holds at least need bytes;
//   - err != nil: a protocol error.
func parseCommand(buf []byte, args [][]byte, lim *limits, authed bool) (_ [][]byte, n, need int, err error) {
	args = args[:0]
	if len(buf) == 0 {
		return args, 0, 1, nil
	}
	if buf[0] == '*' {
		return parseMultibulk(buf, args, lim, authed)
	}
	return parseInline(buf, args, lim)
}

func parseMultibulk(buf []byte, args [][]byte, lim *limits, authed bool) (_ [][]byte, n, need int, err error) {
	count, pos, ok, err := headerLine(buf, 0, errMbulkCountTooBig)
	if err != nil || !ok {
		return args[:0], 0, pos, err
	}
	maxArgs := lim.maxArgs
	if !authed {
		maxArgs = min(maxArgs, unauthenticatedMaxArgs)
	}
	switch {
	case count == invalidCount || count > int64(lim.maxArgs):
		return args[:0], 0, 0, errMbulkLength
	case count > int64(maxArgs):
		return args[:0], 0, 0, errUnauthMbulkLength
	case count <= 0:
		return args, pos, 0, nil // an empty command, skipped
	}
	maxBulk := lim.maxCommand
	if !authed {
		maxBulk = unauthenticatedMaxBulk
	}
	for range count {
		if pos >= len(buf) {
			return args[:0], 0, pos + 1, nil
		}
		if buf[pos] != '$' {
			return args[:0], 0, 0, protocolError("expected '$', got '" + string(buf[pos]) + "'")
		}
		size, next, ok, err := headerLine(buf, pos, errBulkCountTooBig)
		if err != nil || !ok {
			return args[:0], 0, next, err
		}
		switch {
		case size == invalidCount || size < 0 || size > int64(lim.maxCommand):
			return args[:0], 0, 0, errBulkLength
		case size > int64(maxBulk):
			return args[:0], 0, 0, errUnauthBulkLength
		}
		end := next + int(size)
		if end+2 > lim.maxCommand {
			return args[:0], 0, 0, errCommandTooBig(lim)
		}
		if end+2 > len(buf) {
			return args[:0], 0, end + 2, nil
		}
		if buf[end] != '\r' || buf[end+1] != '\n' {
			return args[:0], 0, 0, errBulkNotTerminated
		}
		args = append(args, buf[next:end:end])
		pos = end + 2
	}
	return args, pos, 0, nil
}

// invalidCount marks a header whose number is malformed.
const invalidCount = -1 << 63

// headerLine reads the "*N\r\n" or "$N\r\n" line starting at buf[pos]. ok is
// false while the line is incomplete; next is then the buffer length parsing
// needs. A line longer than any valid one fails with tooLong, so a client
// cannot make the server buffer an endless header.
func headerLine(buf []byte, pos int, tooLong error) (count int64, next int, ok bool, err error) {
	end := min(len(buf), pos+countLineMax)
	nl := -1
	for i := pos + 1; i < end; i++ {
		if buf[i] == '\n' {
			nl = i
			break
		}
	}
	if nl < 0 {
		if end-pos >= countLineMax {
			return 0, 0, false, tooLong
		}
		return 0, len(buf) + 1, false, nil
	}
	if buf[nl-1] != '\r' {
		return invalidCount, nl + 1, true, nil
	}
	n, valid := parseInt(buf[pos+1 : nl-1])
	if !valid {
		return invalidCount, nl + 1, true, nil
	}
	return n, nl + 1, true, nil
}

// parseInt parses a base-10 signed 64-bit integer exactly as Redis's string2ll
// does: an optional minus sign, no plus sign, no spaces, no leading zeros, no
// "-0". Refusing what Redis refuses keeps "INCRBY k 05" an error here too.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := b[0] == '-'
	digits := b
	if neg {
		digits = b[1:]
	}
	if len(digits) == 0 || digits[0] < '1' || digits[0] > '9' {
		return 0, false
	}
	var u uint64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if u > (1<<64-1-d)/10 {
			return 0, false
		}
		u = u*10 + d
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true // -1<<63 wraps to itself, as it must
	}
	if u > 1<<63-1 {
		return 0, false
	}
	return int64(u), true
}

// parseInline splits one line into arguments as Redis's sdssplitargs does:
// words separated by blanks; "double quotes" with \n \r \t \b \a \\ \" and \xHH
// escapes; 'single quotes' with \' only; a closing quote must end the word.
func parseInline(buf []byte, args [][]byte, lim *limits) (_ [][]byte, n, need int, err error) {
	maxLine := min(lim.maxInline, lim.maxCommand)
	nl := bytes.IndexByte(buf[:min(len(buf), maxLine+1)], '\n')
	if nl < 0 {
		if len(buf) > maxLine {
			return args, 0, 0, errInlineTooBig
		}
		return args, 0, len(buf) + 1, nil
	}
	line := buf[:nl]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	// A raw control character or invalid UTF-8 is not something a person
	// typed: it is a binary client talking to the wrong port, or garbage.
	for _, c := range line {
		if c < ' ' && c != '\t' || c == 0x7f {
			return args, 0, 0, errInlineControlOrUTF8
		}
	}
	if !utf8.Valid(line) {
		return args, 0, 0, errInlineControlOrUTF8
	}
	args, err = splitArgs(line, args, lim.maxArgs)
	if err != nil {
		return args[:0], 0, 0, err
	}
	return args, nl + 1, 0, nil
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// splitArgs appends the arguments of an inline command line to args. It
// mirrors Redis's sdssplitargs (src/sds.c), which Redis runs on inline
// commands and redis-cli on what is typed: words separated by blanks; inside
// "double quotes" the escapes \xHH (two hex digits) and \n \r \t \b \a,
// and a backslash before any other character stands for that character;
// inside 'single quotes' only \' is an escape; a closing quote must be
// followed by a blank or the end of the line (else errUnbalancedQuotes, as
// is a quote left open); "" is an empty argument, not a missing one. Blanks
// are space and tab only, where sdssplitargs takes any isspace byte, because
// parseInline has already refused the other control characters. The bound
// on arguments still applies: a word past maxArgs is errMbulkLength.
func splitArgs(line []byte, args [][]byte, maxArgs int) ([][]byte, error) {
	p := 0
	for {
		for p < len(line) && isBlank(line[p]) {
			p++
		}
		if p == len(line) {
			return args, nil
		}
		if len(args) == maxArgs {
			return args, errMbulkLength
		}
		var word []byte
		inDouble, inSingle := false, false
	word:
		for {
			if p == len(line) {
				if inDouble || inSingle {
					return args, errUnbalancedQuotes
				}
				break
			}
			c := line[p]
			switch {
			case inDouble:
				switch {
				case c == '\\' && p+3 < len(line) && line[p+1] == 'x' && isHex(line[p+2]) && isHex(line[p+3]):
					word = append(word, unhex(line[p+2])<<4|unhex(line[p+3]))
					p += 3
				case c == '\\' && p+1 < len(line):
					p++
					word = append(word, unescape(line[p]))
				case c == '"':
					if p+1 < len(line) && !isBlank(line[p+1]) {
						return args, errUnbalancedQuotes
					}
					p++
					break word
				default:
					word = append(word, c)
				}
			case inSingle:
				switch {
				case c == '\\' && p+1 < len(line) && line[p+1] == '\'':
					p++
					word = append(word, '\'')
				case c == '\'':
					if p+1 < len(line) && !isBlank(line[p+1]) {
						return args, errUnbalancedQuotes
					}
					p++
					break word
				default:
					word = append(word, c)
				}
			default:
				switch c {
				case ' ', '\t':
					break word
				case '"':
					inDouble = true
				case '\'':
					inSingle = true
				default:
					word = append(word, c)
				}
			}
			p++
		}
		if word == nil {
			word = []byte{} // "" is an argument, not a missing one
		}
		args = append(args, word)
	}
}

func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'b':
		return '\b'
	case 'a':
		return '\a'
	}
	return c
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// formatInt is strconv.FormatInt, named for symmetry with parseInt.
func formatInt(n int64) string { return strconv.FormatInt(n, 10) }
