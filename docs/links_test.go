// Package docs holds warmkv's reference documentation (Markdown) and the
// test that keeps every Markdown file of the repository navigable.
package docs

import (
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
)

// repoRoot is the repository's root, the parent of this directory.
const repoRoot = ".."

// skippedDirs hold no Markdown of ours: version control, build and test output.
var skippedDirs = map[string]bool{".git": true, "test-artifacts": true, "results": true, "node_modules": true, ".aws-sam": true, ".vercel": true}

// markdownFiles lists every .md file of the repository, slash-separated and
// relative to its root.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := fs.WalkDir(os.DirFS(repoRoot), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && skippedDirs[d.Name()] {
			return fs.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".md") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// document is a parsed Markdown file: its links and the anchors its headings
// get on GitHub.
type document struct {
	links   []string
	anchors map[string]bool
}

var markdown = goldmark.New(goldmark.WithExtensions(extension.GFM))

// parse reads the Markdown file at file (a path on disk).
func parse(t *testing.T, file string) document {
	t.Helper()
	source, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	doc := document{anchors: map[string]bool{}}
	seen := map[string]int{}
	root := markdown.Parser().Parse(text.NewReader(source))
	err = ast.Walk(root, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Heading:
			slug := githubSlug(plainText(n, source))
			if k := seen[slug]; k > 0 {
				doc.anchors[slug+"-"+strconv.Itoa(k)] = true
			} else {
				doc.anchors[slug] = true
			}
			seen[slug]++
		case *ast.Link:
			doc.links = append(doc.links, string(n.Destination))
		case *ast.Image:
			doc.links = append(doc.links, string(n.Destination))
		case *ast.RawHTML, *ast.HTMLBlock:
			// <a id="..."> and <a name="..."> are anchors too.
			var raw []byte
			if h, ok := n.(*ast.HTMLBlock); ok {
				for i := range h.Lines().Len() {
					seg := h.Lines().At(i)
					raw = append(raw, seg.Value(source)...)
				}
			} else {
				for i := range n.(*ast.RawHTML).Segments.Len() {
					seg := n.(*ast.RawHTML).Segments.At(i)
					raw = append(raw, seg.Value(source)...)
				}
			}
			for _, m := range htmlAnchor.FindAllSubmatch(raw, -1) {
				doc.anchors[string(m[1])] = true
			}
		}
		return ast.WalkContinue, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

var htmlAnchor = regexp.MustCompile(`<a\s+(?:id|name)="([^"]+)"`)

// plainText is a heading's text as GitHub renders it: the text of its
// inline children, code spans included without their backticks.
func plainText(n ast.Node, source []byte) string {
	var b strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch c := c.(type) {
		case *ast.Text:
			b.Write(c.Segment.Value(source))
		case *ast.String:
			b.Write(c.Value)
		case *ast.RawHTML:
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}

// githubSlug is the anchor GitHub gives a heading: lower case, every
// character that is not a letter, a digit, a mark, '_', '-' or a space
// removed, spaces turned into hyphens. A repeated slug gets -1, -2, ...
// (the caller counts).
func githubSlug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.M, r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// lineAnchor is GitHub's anchor for lines of a file that is not Markdown.
var lineAnchor = regexp.MustCompile(`^L\d+(-L\d+)?$`)

// TestMarkdownLinks fails on any relative link, in any Markdown file of the
// repository, to a file that does not exist or to an anchor that no heading
// of its target has.
func TestMarkdownLinks(t *testing.T) {
	files := markdownFiles(t)
	for _, must := range []string{"README.md", "ARCHITECTURE.md", "CHANGELOG.md", "bench/README.md", "docs/README.md"} {
		if !slices.Contains(files, must) {
			t.Errorf("%s is missing", must)
		}
	}
	docs := map[string]document{}
	for _, f := range files {
		docs[f] = parse(t, filepath.Join(repoRoot, filepath.FromSlash(f)))
	}
	for _, from := range files {
		for _, link := range docs[from].links {
			u, err := url.Parse(link)
			if err != nil {
				t.Errorf("%s: link %q: %v", from, link, err)
				continue
			}
			if u.Scheme != "" || u.Host != "" || strings.HasPrefix(link, "//") {
				continue // absolute: not ours to check
			}
			target := from
			if u.Path != "" {
				target = path.Clean(path.Join(path.Dir(from), u.Path))
				if strings.HasPrefix(target, "../") {
					t.Errorf("%s: link %q leaves the repository", from, link)
					continue
				}
				if _, err := os.Stat(filepath.Join(repoRoot, filepath.FromSlash(target))); err != nil {
					t.Errorf("%s: link %q: %s does not exist", from, link, target)
					continue
				}
			}
			if u.Fragment == "" {
				continue
			}
			doc, isMarkdown := docs[target]
			switch {
			case !isMarkdown && lineAnchor.MatchString(u.Fragment):
			case !isMarkdown:
				t.Errorf("%s: link %q: #%s in a file that is not Markdown", from, link, u.Fragment)
			case !doc.anchors[u.Fragment]:
				t.Errorf("%s: link %q: %s has no heading with the anchor #%s", from, link, target, u.Fragment)
			}
		}
	}
}

func TestGitHubSlug(t *testing.T) {
	for _, tc := range []struct{ heading, want string }{
		{"Shared tier: many instances, one cache", "shared-tier-many-instances-one-cache"},
		{"Connections, slow clients and shutdown", "connections-slow-clients-and-shutdown"},
		{"/stats", "stats"},
		{"Docker (the high-load path)", "docker-the-high-load-path"},
		{"http.sh — speed relative to a minimal fasthttp server", "httpsh--speed-relative-to-a-minimal-fasthttp-server"},
		{"redisclient/ — rueidis against go-redis", "redisclient--rueidis-against-go-redis"},
		{"MAX_CONNS and Über", "max_conns-and-über"},
	} {
		if got := githubSlug(tc.heading); got != tc.want {
			t.Errorf("githubSlug(%q) = %q, want %q", tc.heading, got, tc.want)
		}
	}
}

// TestParseFindsLinksAndAnchors checks the parsing TestMarkdownLinks relies on:
// links in paragraphs and tables, images, and repeated headings.
func TestParseFindsLinksAndAnchors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "x.md")
	src := "# Title\n\n## `/stats` fields\n\n## Title\n\nSee [a](other.md#x), ![i](img.png) and <https://example.com>.\n\n| a | [b](#title-1) |\n|---|---|\n"
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	doc := parse(t, file)
	for _, a := range []string{"title", "stats-fields", "title-1"} {
		if !doc.anchors[a] {
			t.Errorf("anchor #%s not found; have %v", a, doc.anchors)
		}
	}
	if want := []string{"other.md#x", "img.png", "#title-1"}; !slices.Equal(doc.links, want) {
		t.Errorf("links %q, want %q", doc.links, want)
	}
}
