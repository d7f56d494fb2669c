package handler

import (
	"io"
	"testing"

	"github.com/warmkv/warmkv/cache"
)

func newGuardedHandler(t *testing.T) *Handler {
	t.Helper()
	store, err := cache.New(cache.Options{MaxBytes: 8 << 20, ReapInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	h, err := New(Options{Store: store, MaxKeyLength: 256, MaxValueLength: 256, MaxBodyBytes: 16 << 10,
		Public: testPublic, AuthToken: "s3cret-token", CORSOrigins: []string{"https://app.example"}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestAccessControl(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		target     string
		headers    map[string]string
		wantStatus int
		wantHeader map[string]string
		noHeader   []string
	}{
		{"no token", "GET", "/get?key=k", nil, 401, map[string]string{"WWW-Authenticate": `Bearer realm="warmkv"`}, nil},
		{"wrong token", "GET", "/get?key=k", map[string]string{"Authorization": "Bearer nope"}, 401, nil, nil},
		{"token prefix only", "GET", "/get?key=k", map[string]string{"Authorization": "Bearer s3cret"}, 401, nil, nil},
		{"basic auth is not bearer", "GET", "/get?key=k", map[string]string{"Authorization": "Basic s3cret-token"}, 401, nil, nil},
		{"right token", "GET", "/get?key=k", map[string]string{"Authorization": "Bearer s3cret-token"}, 404, nil, nil},
		{"scheme is case-insensitive", "GET", "/get?key=k", map[string]string{"Authorization": "bearer s3cret-token"}, 404, nil, nil},
		{"put needs it", "POST", "/put", nil, 401, nil, nil},
		{"stats need it", "GET", "/stats", nil, 401, nil, nil},
		{"metrics need it", "GET", "/metrics", nil, 401, nil, nil},
		{"healthz is public", "GET", "/healthz", nil, 200, nil, nil},
		{"home is public", "GET", "/home", nil, 200, nil, nil},
		{"home files are public", "GET", "/home.js", nil, 200, nil, nil},
		{"root redirect is public", "GET", "/", nil, 302, nil, nil},
		{"preflight from an allowed origin", "OPTIONS", "/put", map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}, 204,
			map[string]string{"Access-Control-Allow-Origin": "https://app.example", "Access-Control-Allow-Methods": "POST",
				"Access-Control-Allow-Headers": "Authorization, Content-Type", "Vary": "Origin"}, nil},
		{"preflight from another origin", "OPTIONS", "/put", map[string]string{"Origin": "https://evil.example"}, 403, nil, []string{"Access-Control-Allow-Origin"}},
		{"request from an allowed origin", "GET", "/get?key=k", map[string]string{"Origin": "https://app.example", "Authorization": "Bearer s3cret-token"}, 404,
			map[string]string{"Access-Control-Allow-Origin": "https://app.example"}, nil},
		{"request from another origin", "GET", "/get?key=k", map[string]string{"Origin": "https://evil.example", "Authorization": "Bearer s3cret-token"}, 404,
			nil, []string{"Access-Control-Allow-Origin"}},
	}
	for _, f := range faces(t, newGuardedHandler(t)) {
		t.Run(f.name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					req := httpRequest(tc.method, tc.target, "")
					for k, v := range tc.headers {
						req.Header.Set(k, v)
					}
					resp := f.do(t, req)
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != tc.wantStatus {
						t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, body)
					}
					for k, v := range tc.wantHeader {
						if got := resp.Header.Get(k); got != v {
							t.Errorf("%s = %q, want %q", k, got, v)
						}
					}
					for _, k := range tc.noHeader {
						if got := resp.Header.Get(k); got != "" {
							t.Errorf("%s = %q, want none", k, got)
						}
					}
					if resp.StatusCode == 401 && string(body) != `{"status":"ERROR","message":"Missing or invalid access token: send Authorization: Bearer \u003ctoken\u003e."}` {
						t.Errorf("401 body %s", body)
					}
				})
			}
		})
	}
}
