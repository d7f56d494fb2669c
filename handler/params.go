package handler

// paramKind says what JSON type a request parameter arrived as. Routes need
// it because numeric fields accept both JSON numbers and decimal strings,
// while string fields accept only strings.
type paramKind uint8

const (
	// paramString is a JSON string or any URL query parameter; text holds
	// the decoded value.
	paramString paramKind = iota
	// paramNumber is a JSON number literal; text holds it exactly as
	// written, so the route decides how to parse (and range-check) it.
	paramNumber
	// paramOther is true, false, null, an object or an array; text is "".
	// The parsers only record it so that routes can give a precise
	// "wrong type" error instead of "missing".
	paramOther
)

// param is one request parameter as received, before the route checks its type.
type param struct {
	set  bool
	kind paramKind
	text string // decoded string for strings; the literal as written for JSON numbers; "" for other
}

// params are the request parameters warmkv's routes read; every other
// field/parameter is ignored. parseJSONBody and parseQuery fill it in.
type params struct {
	key, value, compare, expire, ttl param
}

// reset clears p so that it can be reused for the next request (the parsers
// treat an already set parameter as a duplicate).
func (p *params) reset() {
	*p = params{}
}

// maxParamNameLen is the length of the longest known parameter name
// ("compare"); longer names can be rejected without decoding them.
const maxParamNameLen = len("compare")

// field returns the parameter called name (matched exactly, case-sensitively)
// and its canonical name for error messages, or nil if warmkv does not read a
// parameter of that name. Switching on string(name) does not allocate.
func (p *params) field(name []byte) (*param, string) {
	switch string(name) {
	case "key":
		return &p.key, "key"
	case "value":
		return &p.value, "value"
	case "compare":
		return &p.compare, "compare"
	case "expire":
		return &p.expire, "expire"
	case "ttl":
		return &p.ttl, "ttl"
	}
	return nil, ""
}
