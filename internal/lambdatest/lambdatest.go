// Package lambdatest reads what a Lambda function answers to an HTTP event,
// in any of the three shapes (API Gateway payload 1.0 and 2.0, ALB), for the
// tests of the Lambda door (awslambda) and of the bootstrap (e2e).
package lambdatest

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// Response holds the fields of the three answer shapes.
type Response struct {
	StatusCode        int                 `json:"statusCode"`
	StatusDescription string              `json:"statusDescription"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Cookies           []string            `json:"cookies"`
	Body              string              `json:"body"`
	IsBase64Encoded   bool                `json:"isBase64Encoded"`
}

// Decode parses a function's answer and returns it with its body, decoded
// from base64 when the answer says it is encoded.
func Decode(tb testing.TB, answer []byte) (Response, string) {
	tb.Helper()
	var r Response
	if err := json.Unmarshal(answer, &r); err != nil {
		tb.Fatalf("the answer is not a proxy response: %v\n%s", err, answer)
	}
	if !r.IsBase64Encoded {
		return r, r.Body
	}
	body, err := base64.StdEncoding.DecodeString(r.Body)
	if err != nil {
		tb.Fatalf("the answer's body is not base64: %v\n%s", err, answer)
	}
	return r, string(body)
}

// Header finds a header in either header field, case-insensitively.
func (r Response) Header(name string) string {
	for k, v := range r.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	for k, v := range r.MultiValueHeaders {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return strings.Join(v, ", ")
		}
	}
	return ""
}
