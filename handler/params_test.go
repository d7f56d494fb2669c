package handler

import "testing"

// Helpers building the expected param values in the parser tests.
func strParam(s string) param   { return param{set: true, kind: paramString, text: s} }
func numParam(lit string) param { return param{set: true, kind: paramNumber, text: lit} }
func otherParam() param         { return param{set: true, kind: paramOther} }

func TestParamsReset(t *testing.T) {
	p := params{key: strParam("k"), value: numParam("1"), compare: otherParam(), expire: strParam("2"), ttl: strParam("3")}
	p.reset()
	if p != (params{}) {
		t.Fatalf("after reset: %+v, want zero params", p)
	}
}

func TestParamsField(t *testing.T) {
	var p params
	tests := []struct {
		name     string
		want     *param
		wantName string
	}{
		{"key", &p.key, "key"},
		{"value", &p.value, "value"},
		{"compare", &p.compare, "compare"},
		{"expire", &p.expire, "expire"},
		{"ttl", &p.ttl, "ttl"},
		{"Key", nil, ""},
		{"KEY", nil, ""},
		{"key ", nil, ""},
		{"ke", nil, ""},
		{"", nil, ""},
		{"keys", nil, ""},
	}
	for _, tt := range tests {
		got, gotName := p.field([]byte(tt.name))
		if got != tt.want || gotName != tt.wantName {
			t.Errorf("field(%q) = %p, %q; want %p, %q", tt.name, got, gotName, tt.want, tt.wantName)
		}
	}
}
