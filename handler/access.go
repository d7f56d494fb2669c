package handler

import (
	"crypto/subtle"
	"strings"
)

// Access control: an optional bearer token for the API, and an optional CORS
// allow-list so that pages on other origins can call it from a browser.

// authorized reports whether req may use a non-public route: always when no token
// is configured, else only with "Authorization: Bearer <token>". The comparison
// takes the same time however much of the token matches.
func (h *Handler) authorized(req *request) bool {
	if h.authToken == "" {
		return true
	}
	const prefix = "Bearer "
	a := req.header("Authorization")
	if len(a) < len(prefix) || !strings.EqualFold(a[:len(prefix)], prefix) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(a[len(prefix):])), []byte(h.authToken)) == 1
}

func (h *Handler) unauthorized(resp *response) {
	resp.addHeader("WWW-Authenticate", `Bearer realm="warmkv"`)
	resp.fail(401, "Missing or invalid access token: send Authorization: Bearer <token>.")
}

// allowedOrigin reports whether origin is on the CORS allow-list.
func (h *Handler) allowedOrigin(origin string) bool {
	if origin == "" {
		return false
	}
	for _, o := range h.corsOrigins {
		if o == "*" || o == origin {
			return true
		}
	}
	return false
}

// cors adds the headers that let a browser page on an allowed origin read the
// answer. Vary: Origin keeps shared caches from mixing answers across origins.
func (h *Handler) cors(req *request, resp *response) {
	if len(h.corsOrigins) == 0 {
		return
	}
	resp.addHeader("Vary", "Origin")
	if origin := req.header("Origin"); h.allowedOrigin(origin) {
		resp.addHeader("Access-Control-Allow-Origin", origin)
	}
}

// preflight answers a CORS preflight (OPTIONS) for a known route: 204 with the
// methods and headers a page may use when the origin is allowed, else 403.
func (h *Handler) preflight(rt *route, req *request, resp *response) {
	if !h.allowedOrigin(req.header("Origin")) {
		resp.fail(403, "Origin not allowed by CORS_ORIGINS.")
		return
	}
	// cors has already added Vary and Access-Control-Allow-Origin.
	resp.addHeader("Access-Control-Allow-Methods", rt.allow)
	resp.addHeader("Access-Control-Allow-Headers", "Authorization, Content-Type")
	resp.addHeader("Access-Control-Max-Age", "600")
	resp.ContentType = "text/plain; charset=utf-8"
	resp.Status = 204
}
