package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warmkv/warmkv/internal/testsupport"
)

// TestMetricsCountTheDoors: /metrics exports what the doors count beside the
// handler, with and without the bounds that produce those counts.
func TestMetricsCountTheDoors(t *testing.T) {
	for _, tc := range []struct {
		name       string
		env        map[string]string
		want, not  []string
		respActive bool
	}{
		{
			name: "both doors, both bounds",
			env:  map[string]string{"MAX_CONNS": "100", "RESP_PORT": "free"},
			want: []string{
				"warmkv_http_max_connections 100", "warmkv_http_connections_refused_total 0", "warmkv_http_connections ",
				`warmkv_resp_commands_total{command="set"} 1`, `warmkv_resp_command_errors_total{command="set"} 0`,
				`warmkv_resp_commands_total{command="unknown"} 1`, `warmkv_resp_command_errors_total{command="unknown"} 1`,
				"warmkv_resp_connections 1", "warmkv_resp_connections_refused_total 0",
			},
			respActive: true,
		},
		{
			name: "no connection bound, no Redis port",
			env:  map[string]string{"MAX_CONNS": "-1", "RESP_PORT": "0"},
			not:  []string{"warmkv_http_max_connections", "warmkv_http_connections_refused_total", "warmkv_resp_"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			httpPort := testsupport.FreePort(t)
			env := map[string]string{"PORT": fmt.Sprint(httpPort), "BIND": "127.0.0.1"}
			respAddr := ""
			for k, v := range tc.env {
				if v == "free" {
					port := testsupport.FreePort(t)
					v, respAddr = fmt.Sprint(port), fmt.Sprintf("127.0.0.1:%d", port)
				}
				env[k] = v
			}
			d, err := open(buildApp(t, env))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			exited := make(chan int, 1)
			go func() { exited <- d.serve(ctx) }()
			defer func() { cancel(); <-exited }()

			if tc.respActive {
				conn := testsupport.Dial(t, respAddr)
				_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
				r := bufio.NewReader(conn)
				for _, cmd := range []string{"SET k v", "NOSUCH"} {
					_, _ = fmt.Fprint(conn, cmd+"\r\n")
					if _, err := r.ReadString('\n'); err != nil {
						t.Fatal(err)
					}
				}
			}
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			for _, w := range tc.want {
				if !strings.Contains(string(body), "\n"+w) {
					t.Errorf("/metrics lacks %q", w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(string(body), "\n"+n) {
					t.Errorf("/metrics has %q", n)
				}
			}
		})
	}
}
