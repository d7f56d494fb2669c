package main

import (
	"math"
	"math/rand/v2"
	"net/url"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// asciiAlphabet is JSON- and URL-safe: most keys and values are made of it.
const asciiAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// richRunes make the rest: multi-byte UTF-8 up to 4 bytes (so a 256-character
// value is up to 1 KiB), characters JSON must escape or the server's writer
// escapes ("<", U+2028, controls), and characters that mean something in a URL
// query ("+", "%", "&", "=", "#", space). A corrupting parser or writer shows as
// a wrong value.
var richRunes = []rune("aZ09é߷€日本😀🚀\"\\/<>&+%=?#;' \n\t\r\u0001\u001f\u007f\u00a0\u2028\u2029\ufeff\U0010fffd")

// ttls are the TTLs writes pick from: mostly a few seconds, so that keys expire
// all the time and reads keep landing inside expiry windows, some longer.
var ttls = []int64{1, 1, 2, 2, 3, 5, 10, 30, 120}

// maxQueryURI keeps query-string requests well inside the server's default
// 8 KiB header limit; longer ones go as JSON bodies.
const maxQueryURI = 6000

// generator makes one worker's random keys, values and requests.
type generator struct {
	r        *rand.Rand
	maxKey   int
	maxValue int
}

// text returns n random characters, rich or from the ASCII alphabet.
func (g *generator) text(n int, rich bool) string {
	b := make([]byte, 0, n)
	for range n {
		if rich && g.r.IntN(3) == 0 {
			b = utf8.AppendRune(b, richRunes[g.r.IntN(len(richRunes))])
		} else {
			b = append(b, asciiAlphabet[g.r.IntN(len(asciiAlphabet))])
		}
	}
	return string(b)
}

// key returns a key that starts with a prefix unique to (worker, index), so that
// every key has exactly one owner, padded with random characters to a random
// length up to the limit, often exactly the limit.
func (g *generator) key(worker, index int) string {
	prefix := "w" + strconv.Itoa(worker) + "." + strconv.Itoa(index) + "."
	n := len(prefix) // ASCII: bytes are characters
	switch g.r.IntN(10) {
	case 0:
		// just the prefix
	case 1:
		n = g.maxKey
	default:
		n += g.r.IntN(g.maxKey - n + 1)
	}
	return prefix + g.text(n-len(prefix), g.r.IntN(4) == 0)
}

// value returns a value of a random length from 0 to the limit; some are
// integers, so that increments find numbers to add to.
func (g *generator) value() string {
	switch p := g.r.IntN(100); {
	case p < 4:
		return ""
	case p < 12:
		return g.text(g.maxValue, g.r.IntN(4) == 0)
	case p < 25:
		return strconv.FormatInt(g.r.Int64N(2001)-1000, 10)
	case p < 27:
		// Near the edges of int64, so that increments overflow now and then.
		if g.r.IntN(2) == 0 {
			return strconv.FormatInt(math.MaxInt64-g.r.Int64N(1000), 10)
		}
		return strconv.FormatInt(math.MinInt64+g.r.Int64N(1000), 10)
	}
	return g.text(1+g.r.IntN(g.maxValue), g.r.IntN(4) == 0)
}

func (g *generator) ttl() int64 { return ttls[g.r.IntN(len(ttls))] }

// next picks the next operation on a key in state s.
func (g *generator) next(key string, s state) *op {
	if s.unknown {
		return g.get(key)
	}
	switch p := g.r.IntN(100); {
	case p < 45:
		return g.get(key)
	case p < 65:
		return g.put(key)
	case p < 69:
		return g.simple(key, &op{kind: opDelete}, "/delete")
	case p < 80:
		o := &op{kind: opCheckAndSet, value: g.value(), compare: g.value()}
		if s.present && g.r.IntN(10) < 6 {
			o.compare = s.value
		}
		if g.r.IntN(10) < 3 {
			o.exp = expiry{kind: expiryTTL, seconds: g.ttl()}
		}
		return g.simple(key, o, "/checkandset")
	case p < 90:
		return g.increment(key)
	}
	o := &op{kind: opAppend, prepend: g.r.IntN(2) == 0}
	if g.r.IntN(10) == 0 {
		o.value = g.text(g.r.IntN(g.maxValue+1), g.r.IntN(4) == 0)
	} else {
		o.value = g.text(1+g.r.IntN(40), g.r.IntN(4) == 0)
	}
	if g.r.IntN(100) < 15 {
		o.exp = expiry{kind: expiryTTL, seconds: g.ttl()}
	}
	path := "/append"
	if o.prepend {
		path = "/prepend"
	}
	return g.simple(key, o, path)
}

func (g *generator) get(key string) *op {
	return &op{kind: opGet, method: "GET", uri: "/get?key=" + url.QueryEscape(key)}
}

// put writes a value through /put (JSON), or /set (JSON or query string).
func (g *generator) put(key string) *op {
	o := &op{kind: opPut, value: g.value()}
	switch p := g.r.IntN(100); {
	case p < 35:
		o.exp = expiry{kind: expiryTTL, seconds: g.ttl()}
	case p < 45:
		o.exp = expiry{kind: expiryAt, seconds: time.Now().Unix() + 1 + g.ttl()}
	}
	if g.r.IntN(100) < 70 {
		o.method, o.uri = "POST", "/put"
		o.body = g.jsonBody(key, o)
		return o
	}
	return g.simple(key, o, "/set")
}

func (g *generator) increment(key string) *op {
	o := &op{kind: opIncrement}
	path, sign := "/increment", int64(1)
	if g.r.IntN(2) == 0 {
		path, sign = "/decrement", -1
	}
	amount := int64(1) // the default when "value" is absent
	switch p := g.r.IntN(100); {
	case p < 20:
	case p < 23:
		amount = math.MaxInt64 - g.r.Int64N(1000)
		o.value = strconv.FormatInt(amount, 10)
	default:
		amount = g.r.Int64N(2001) - 1000
		o.value = strconv.FormatInt(amount, 10)
	}
	o.delta = sign * amount
	if g.r.IntN(100) < 15 {
		o.exp = expiry{kind: expiryTTL, seconds: g.ttl()}
	}
	return g.simple(key, o, path)
}

// simple sends an operation's parameters as a JSON body (POST) or, when short
// enough, as a query string (GET), the two forms the operations accept.
func (g *generator) simple(key string, o *op, path string) *op {
	if g.r.IntN(4) == 0 {
		if uri := path + "?" + g.query(key, o); len(uri) <= maxQueryURI {
			o.method, o.uri = "GET", uri
			return o
		}
	}
	o.method, o.uri = "POST", path
	o.body = g.jsonBody(key, o)
	return o
}

// params lists the request parameters of o as (name, text, isNumber).
func params(key string, o *op) []param {
	ps := []param{{"key", key, false}}
	switch o.kind {
	case opPut, opAppend:
		ps = append(ps, param{"value", o.value, false})
	case opCheckAndSet:
		ps = append(ps, param{"value", o.value, false}, param{"compare", o.compare, false})
	case opIncrement:
		if o.value != "" {
			ps = append(ps, param{"value", o.value, true})
		}
	}
	switch o.exp.kind {
	case expiryTTL:
		ps = append(ps, param{"ttl", strconv.FormatInt(o.exp.seconds, 10), true})
	case expiryAt:
		ps = append(ps, param{"expire", strconv.FormatInt(o.exp.seconds, 10), true})
	}
	return ps
}

type param struct {
	name, text string
	number     bool // a JSON number (sent as a number or as a string)
}

func (g *generator) query(key string, o *op) string {
	ps := params(key, o)
	g.r.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
	var b []byte
	for i, p := range ps {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(b, p.name...)
		b = append(b, '=')
		b = append(b, url.QueryEscape(p.text)...)
	}
	return string(b)
}

// jsonBody writes the parameters in random order, with random whitespace and,
// in some bodies, random \u escapes, so that the server's parser sees every
// legal spelling of the same request.
func (g *generator) jsonBody(key string, o *op) []byte {
	ps := params(key, o)
	g.r.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
	space := [...]string{"", "", "", " ", "\n\t"}[g.r.IntN(5)]
	fancy := g.r.IntN(5) == 0
	b := []byte{'{'}
	for i, p := range ps {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, space...)
		b = g.appendJSONString(b, p.name, fancy)
		b = append(b, space...)
		b = append(b, ':')
		b = append(b, space...)
		if p.number && g.r.IntN(4) != 0 {
			b = append(b, p.text...)
		} else {
			b = g.appendJSONString(b, p.text, fancy)
		}
	}
	b = append(b, space...)
	return append(b, '}')
}

// appendJSONString writes s as a JSON string. With fancy, a third of the
// characters (and the slash) are written as \u escapes, characters beyond the
// BMP as surrogate pairs.
func (g *generator) appendJSONString(b []byte, s string, fancy bool) []byte {
	b = append(b, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			if fancy && g.r.IntN(2) == 0 {
				b = g.appendEscape(b, c)
			} else {
				b = append(b, '\\', byte(c))
			}
		case c == '\n':
			b = append(b, `\n`...)
		case c == '\t':
			b = append(b, `\t`...)
		case c < 0x20:
			b = g.appendEscape(b, c)
		case c == '/' && fancy:
			b = append(b, `\/`...)
		case fancy && g.r.IntN(3) == 0:
			b = g.appendEscape(b, c)
		default:
			b = utf8.AppendRune(b, c)
		}
	}
	return append(b, '"')
}

func (g *generator) appendEscape(b []byte, c rune) []byte {
	hex := "0123456789abcdef"
	if g.r.IntN(2) == 0 {
		hex = "0123456789ABCDEF"
	}
	u := func(b []byte, v rune) []byte {
		return append(b, '\\', 'u', hex[v>>12&15], hex[v>>8&15], hex[v>>4&15], hex[v&15])
	}
	if c > 0xffff {
		hi, lo := utf16.EncodeRune(c)
		return u(u(b, hi), lo)
	}
	return u(b, c)
}
