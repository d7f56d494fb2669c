package resp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/warmkv/warmkv/cache"
)

// Seeds for both targets; more are committed under testdata/fuzz.
var fuzzSeeds = []string{
	"*1\r\n$4\r\nPING\r\n",
	"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
	"SET name \"vimla\"\r\nGET name\r\n",
	"ECHO 'it\\'s' \"\\x41\\n\"\n",
	"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nEX\r\n$2\r\n10\r\n",
	"HELLO 3\r\nMGET a b\r\nCONFIG GET *\r\n",
	"*0\r\n*-1\r\n\r\n",
	"*2\r\n$3\r\nGET\r\n$-1\r\n",
	"*1\r\n$4\r\nPINGxx",
	"SCAN 0 MATCH * COUNT 5\r\nKEYS [a-\r\n",
}

// splitCommands parses data as a connection receiving it in chunks would,
// and returns the commands, each rendered as quoted arguments, and the error
// that ended the stream, if any.
func splitCommands(data []byte, chunks []int, lim *limits) ([]string, error) {
	var cmds []string
	var buf []byte
	var args [][]byte
	feed := func(b []byte) error {
		buf = append(buf, b...)
		for len(buf) > 0 {
			a, n, need, err := parseCommand(buf, args, lim, true)
			args = a
			if err != nil {
				return err
			}
			if n == 0 {
				if need <= len(buf) {
					return errors.New("incomplete, yet needs no more bytes")
				}
				return nil
			}
			if n > len(buf) {
				return errors.New("consumed more than the buffer")
			}
			var sb strings.Builder
			for _, arg := range a {
				sb.WriteString(strings.ReplaceAll(string(arg), "|", "||"))
				sb.WriteString("|.")
			}
			cmds = append(cmds, sb.String())
			buf = buf[n:]
		}
		return nil
	}
	for _, size := range chunks {
		size = min(size, len(data))
		if err := feed(data[:size]); err != nil {
			return cmds, err
		}
		data = data[size:]
	}
	return cmds, feed(data)
}

// FuzzParse checks that the parser never panics, never claims more than it
// has, and finds the same commands however the bytes are split into reads.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), uint8(3))
	}
	lim := limits{maxArgs: 64, maxCommand: 4096, maxInline: 1024}
	f.Fuzz(func(t *testing.T, data []byte, split uint8) {
		whole, errWhole := splitCommands(data, nil, &lim)
		var chunks []int
		for i := 0; i < len(data); i += int(split%16) + 1 {
			chunks = append(chunks, int(split%16)+1)
		}
		pieces, errPieces := splitCommands(data, chunks, &lim)
		if (errWhole == nil) != (errPieces == nil) || errWhole != nil && errWhole.Error() != errPieces.Error() {
			t.Fatalf("whole: %v; in pieces of %d: %v", errWhole, split%16+1, errPieces)
		}
		if strings.Join(whole, "\n") != strings.Join(pieces, "\n") {
			t.Fatalf("whole and in pieces parse differently:\n%q\n%q", whole, pieces)
		}
	})
}

var fuzzServer struct {
	once sync.Once
	srv  *Server
}

// fuzzConn is a connection with no socket on a server shared by the fuzz
// inputs (its store keeps what earlier inputs wrote, which only widens what
// each input meets).
func fuzzConn(t *testing.T) *conn {
	fuzzServer.once.Do(func() {
		kv, err := cache.New(cache.Options{MaxBytes: 8 << 20, ReapInterval: -1})
		if err != nil {
			panic(err)
		}
		fuzzServer.srv, err = New(Options{Store: kv, Keys: kv, MaxKeyLength: 32, MaxValueBytes: 256,
			MaxArgs: 64, MaxCommandBytes: 4096, AuthToken: "pw"})
		if err != nil {
			panic(err)
		}
	})
	client, server := net.Pipe()
	t.Cleanup(func() { client.Close(); server.Close() })
	c := newConn(fuzzServer.srv, server)
	c.setAuthed()
	return c
}

// FuzzCommands runs arbitrary bytes as a pipeline through the parser and the
// commands, and checks that every reply is well-formed RESP, one per command
// run (plus a protocol error's reply), whatever the commands and arguments.
func FuzzCommands(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := fuzzConn(t)
		c.in = append(c.in[:0], data...)
		c.r, c.w = 0, len(data)
		c.runBuffered(func() bool { return true })
		ran := c.received
		if c.closing && len(c.out.b) == 0 {
			return // an HTTP request, dropped without a reply, or nothing sent
		}
		rd := bufio.NewReader(bytes.NewReader(c.out.b))
		replies := int64(0)
		for {
			if _, err := rd.Peek(1); err == io.EOF {
				break
			}
			reply, err := readReply(rd)
			if err != nil {
				t.Fatalf("reply %d is malformed: %v: %q\nafter input %q", replies, err, reply, data)
			}
			replies++
		}
		// A protocol error adds its own reply after the commands before it.
		if replies != ran && (!c.closing || replies != ran+1) {
			t.Fatalf("%d replies for %d commands, input %q", replies, ran, data)
		}
	})
}
