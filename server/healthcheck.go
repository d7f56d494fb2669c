package server

import (
	"fmt"
	"net"
	"net/http"
	"time"
)

// Healthcheck asks the server on loopback port for /healthz and returns an
// error unless it answers 200. It is the container's HEALTHCHECK, which has no
// shell or curl to do it; an empty port is the default, 7171.
func Healthcheck(port string) error {
	if port == "" {
		port = "7171"
	}
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get("http://" + net.JoinHostPort("127.0.0.1", port) + "/healthz")
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}
