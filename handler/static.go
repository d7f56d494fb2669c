package handler

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io/fs"
	"mime"
	"path"
	"strings"
)

// contentSecurityPolicy forbids inline scripts and styles and any other origin: the
// landing page shows stored values, and this keeps a value like
// <img src=x onerror=...> inert even if a bug ever rendered it as HTML.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// staticFile is a file of the landing page, read once at start.
type staticFile struct {
	data        []byte
	contentType string
	etag        string
	html        bool
}

// addStatic serves every file in public at the site root, and each .html file also
// without its extension (/home for home.html), as Vercel's cleanUrls does, so the
// page has the same URLs on every deployment.
func (h *Handler) addStatic(public fs.FS) error {
	if public == nil {
		return nil
	}
	return fs.WalkDir(public, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(public, name)
		if err != nil {
			return fmt.Errorf("handler: reading public file %s: %w", name, err)
		}
		sum := sha256.Sum256(data)
		f := &staticFile{
			data:        data,
			contentType: contentType(name),
			etag:        `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`,
			html:        path.Ext(name) == ".html",
		}
		serve := func(req *request, resp *response) { f.serve(req, resp) }
		paths := []string{"/" + name}
		if f.html {
			paths = append(paths, "/"+strings.TrimSuffix(name, ".html"))
		}
		for _, p := range paths {
			if _, taken := h.routes[p]; taken {
				return fmt.Errorf("handler: public file %s would hide the route %s", name, p)
			}
			h.addPublic(p, "static", serve)
		}
		return nil
	})
}

// contentTypes are the types of the landing page's files that Go's built-in
// table lacks: mime.TypeByExtension would take them from the host's
// /etc/mime.types, which differs between machines (application/x-yaml here,
// nothing in the distroless image).
var contentTypes = map[string]string{
	".yaml": "application/yaml", // RFC 9512
}

// contentType is the Content-Type of the public file name.
func contentType(name string) string {
	ext := path.Ext(name)
	if t, ok := contentTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

func (f *staticFile) serve(req *request, resp *response) {
	resp.ContentType = f.contentType
	resp.addHeader("ETag", f.etag)
	// no-cache: browsers may keep the file but must revalidate, so a new deployment
	// is seen at once and an unchanged file costs a 304.
	resp.addHeader("Cache-Control", "no-cache")
	resp.addHeader("X-Content-Type-Options", "nosniff")
	if f.html {
		resp.addHeader("Content-Security-Policy", contentSecurityPolicy)
		resp.addHeader("Referrer-Policy", "no-referrer")
	}
	if inm := req.header("If-None-Match"); inm != "" && etagMatches(inm, f.etag) {
		resp.Status = 304
		return
	}
	resp.Status = 200
	resp.Body = f.data
}

// etagMatches implements If-None-Match's list and weak comparison.
func etagMatches(header, etag string) bool {
	for _, candidate := range strings.Split(header, ",") {
		candidate = strings.TrimPrefix(strings.TrimSpace(candidate), "W/")
		if candidate == etag || candidate == "*" {
			return true
		}
	}
	return false
}
