package server

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/warmkv/warmkv/internal/testsupport"
)

func TestHealthcheck(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		wantErr bool
	}{
		{"healthy", http.StatusOK, false},
		{"unhealthy", http.StatusServiceUnavailable, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/healthz" {
					http.NotFound(w, r)
					return
				}
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			port := strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
			if err := Healthcheck(port); (err != nil) != tt.wantErr {
				t.Errorf("Healthcheck against a %d: %v, want an error: %v", tt.status, err, tt.wantErr)
			}
		})
	}
	t.Run("nothing listening", func(t *testing.T) {
		if err := Healthcheck(strconv.Itoa(testsupport.FreePort(t))); err == nil {
			t.Error("Healthcheck passed with no server")
		}
	})
}
