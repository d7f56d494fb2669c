package handler

import (
	"io"
	"strings"
	"testing"
)

// TestValueNotText: the Redis protocol stores any bytes. An HTTP read of a
// value that is not valid UTF-8 answers 422 in the error envelope instead of
// valid JSON that would carry other bytes (U+FFFD) or invalid JSON; an
// append or prepend to one changes nothing. A long value stored over RESP
// reads back whole, since the length limit is on what HTTP accepts.
func TestValueNotText(t *testing.T) {
	const notText = "The value is not valid UTF-8 text, which JSON cannot carry; read it over the Redis protocol."
	h := newTestHandler(t)
	for _, f := range faces(t, h) {
		t.Run(f.name, func(t *testing.T) {
			if err := h.kv.Set("bin", "a\xff\x00b", 0); err != nil {
				t.Fatal(err)
			}
			long := strings.Repeat("\x00", 300) // text, longer than the 256 characters HTTP accepts
			if err := h.kv.Set("long", long, 0); err != nil {
				t.Fatal(err)
			}
			for _, tc := range []exchangeCase{
				{name: "get", method: "GET", target: "/get?key=bin", wantStatus: 422, wantError: notText},
				{name: "HEAD", method: "HEAD", target: "/get?key=bin", wantStatus: 422},
				{name: "append", method: "POST", target: "/append?key=bin&value=c", wantStatus: 422, wantError: notText},
				{name: "prepend", method: "POST", target: "/prepend?key=bin&value=c", wantStatus: 422, wantError: notText},
				{name: "unchanged", method: "GET", target: "/get?key=bin", wantStatus: 422},
				{name: "set over it", method: "POST", target: "/set?key=bin&value=text", wantStatus: 200},
				{name: "text again", method: "GET", target: "/get?key=bin", wantStatus: 200, wantBody: `{"status":"OK","key":"bin","value":"text"}`},
				{name: "long value", method: "GET", target: "/get?key=long", wantStatus: 200,
					wantBody: `{"status":"OK","key":"long","value":"` + strings.Repeat(`\u0000`, 300) + `"}`},
			} {
				t.Run(tc.name, func(t *testing.T) {
					resp := f.do(t, httpRequest(tc.method, tc.target, tc.body))
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					checkResponse(t, tc, resp, string(body))
				})
			}
		})
	}
}
