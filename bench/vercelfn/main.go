// Command vercelfn runs warmkv's Vercel function (api/index.go) the way
// Vercel's Go runtime does on AWS Lambda: its bridge (github.com/vercel/go-bridge,
// which the module proxy here does not serve) starts the function with
// lambda.Start and hands it each request as an event whose body is a JSON
// request {method, path, host, headers, body, encoding}; the answer is
// {statusCode, headers, body, encoding}. bench/coldstart.sh runs it under the
// Runtime Interface Emulator to time the function's first request against its
// second.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"

	vercel "github.com/warmkv/warmkv/api"
)

// event is what the bridge receives: the request, JSON in a string.
type event struct {
	Body string `json:"body"`
}

type request struct {
	Method   string            `json:"method"`
	Path     string            `json:"path"`
	Host     string            `json:"host"`
	Headers  map[string]string `json:"headers"`
	Body     string            `json:"body"`
	Encoding string            `json:"encoding"`
}

type response struct {
	StatusCode int                 `json:"statusCode"`
	Headers    map[string][]string `json:"headers"`
	Body       string              `json:"body"`
	Encoding   string              `json:"encoding"`
}

func serve(_ context.Context, ev event) (response, error) {
	var req request
	if err := json.Unmarshal([]byte(ev.Body), &req); err != nil {
		return response{}, fmt.Errorf("the event's body is not a request: %w", err)
	}
	body := req.Body
	if req.Encoding == "base64" {
		b, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return response{}, fmt.Errorf("the request's body is not base64: %w", err)
		}
		body = string(b)
	}
	r := httptest.NewRequest(req.Method, "https://"+req.Host+req.Path, strings.NewReader(body))
	for k, v := range req.Headers {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	vercel.Handler(w, r)
	return response{
		StatusCode: w.Code,
		Headers:    w.Header(),
		Body:       base64.StdEncoding.EncodeToString(w.Body.Bytes()),
		Encoding:   "base64",
	}, nil
}

func main() {
	lambda.Start(serve)
}
