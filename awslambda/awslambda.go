// Package awslambda runs an http.Handler as an AWS Lambda function.
//
// Lambda does not speak HTTP to a function: whatever sits in front of it (API
// Gateway REST APIs, HTTP APIs, Function URLs, Application Load Balancers)
// turns each request into a JSON event, in one of three shapes, and expects a
// JSON answer in the matching shape. Handler tells the shapes apart and hands
// each to the matching adapter of github.com/awslabs/aws-lambda-go-api-proxy,
// so one function serves every front door, and fixes what those adapters get
// wrong for us: a named API stage left in the path, and ALB's undecoded query
// strings and single-value headers.
//
// The package knows Lambda, not the handler's routes.
package awslambda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
)

// Start serves h as a Lambda function through the Runtime API named by
// AWS_LAMBDA_RUNTIME_API. It does not return: Lambda ends the process.
//
// The process, and with it everything h holds in memory, lives as long as the
// execution environment, so state survives from one invocation to the next.
func Start(h http.Handler) {
	lambda.Start(Handler(h))
}

// Handler returns a Lambda handler that serves h for API Gateway REST APIs
// (payload 1.0), HTTP APIs and Function URLs (payload 2.0, also HTTP APIs set
// to payload 1.0) and ALB target groups. It is safe for concurrent use, which
// Lambda's multi-concurrency runtimes need.
func Handler(h http.Handler) lambda.Handler {
	return &dispatcher{
		rest: httpadapter.New(h),
		http: httpadapter.NewV2(h),
		alb:  httpadapter.NewALB(h),
	}
}

type dispatcher struct {
	rest *httpadapter.HandlerAdapter    // payload 1.0: REST APIs, HTTP APIs set to 1.0
	http *httpadapter.HandlerAdapterV2  // payload 2.0: HTTP APIs, Function URLs
	alb  *httpadapter.HandlerAdapterALB // ALB target groups
}

// Event shapes.
type shape int

const (
	unknownShape shape = iota
	payloadV1
	payloadV2
	albTarget
)

// probe holds the few fields that tell the shapes apart: payload 2.0 says
// "version":"2.0", only ALB events carry requestContext.elb, and payload 1.0
// (REST, or an HTTP API set to "version":"1.0") has httpMethod at the top.
type probe struct {
	Version        string `json:"version"`
	HTTPMethod     string `json:"httpMethod"`
	RequestContext struct {
		ELB json.RawMessage `json:"elb"`
	} `json:"requestContext"`
}

func shapeOf(payload []byte) (shape, error) {
	var p probe
	if err := json.Unmarshal(payload, &p); err != nil {
		return unknownShape, fmt.Errorf("awslambda: the event is not a JSON object: %w", err)
	}
	switch {
	case p.Version == "2.0":
		return payloadV2, nil
	case len(p.RequestContext.ELB) > 0 && string(p.RequestContext.ELB) != "null":
		return albTarget, nil
	case p.HTTPMethod != "":
		return payloadV1, nil
	}
	return unknownShape, errUnsupportedEvent
}

var errUnsupportedEvent = errors.New("awslambda: unsupported event: want an HTTP request from API Gateway " +
	`(REST API or HTTP API, payload 1.0 or 2.0), a Function URL or an ALB target group`)

// Invoke implements lambda.Handler. An event that is no HTTP request, or one
// the adapters cannot turn into one, is an invocation error: Lambda reports it
// and the front door answers 502, as for any failed function. Everything the
// handler answers, 4xx and 5xx included, is a successful invocation.
func (d *dispatcher) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	kind, err := shapeOf(payload)
	if err != nil {
		return nil, err
	}
	switch kind {
	case payloadV2:
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("awslambda: reading a payload 2.0 event: %w", err)
		}
		stripStageV2(&ev)
		resp, err := d.http.ProxyWithContext(ctx, ev)
		if err != nil {
			return nil, err
		}
		return marshal(resp)
	case albTarget:
		var ev events.ALBTargetGroupRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("awslambda: reading an ALB event: %w", err)
		}
		decodeALBQuery(&ev)
		resp, err := d.alb.ProxyWithContext(ctx, ev)
		if err != nil {
			return nil, err
		}
		fitALBResponse(&resp, ev.MultiValueHeaders != nil)
		return marshal(resp)
	default: // payloadV1
		var ev events.APIGatewayProxyRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("awslambda: reading a payload 1.0 event: %w", err)
		}
		ev.Path = stripStage(ev.Path, ev.RequestContext.Stage)
		resp, err := d.rest.ProxyWithContext(ctx, ev)
		if err != nil {
			return nil, err
		}
		return marshal(resp)
	}
}

// marshal writes the answer without encoding/json's HTML escaping, which
// would only make HTML bodies (the landing page) larger.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("awslambda: writing the response: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// stripStage removes a named stage from the front of path. An HTTP API with a
// stage other than $default puts it in the path ("/prod/get"), and the
// adapters pass it on; a REST API leaves it out of "path" already, so nothing
// matches there. Only a whole first segment is removed: "/production" stays.
func stripStage(path, stage string) string {
	if stage == "" || stage == "$default" {
		return path
	}
	prefix := "/" + stage
	switch {
	case path == prefix:
		return "/"
	case strings.HasPrefix(path, prefix+"/"):
		return path[len(prefix):]
	}
	return path
}

func stripStageV2(ev *events.APIGatewayV2HTTPRequest) {
	stage := ev.RequestContext.Stage
	ev.RawPath = stripStage(ev.RawPath, stage)
	// The adapter falls back to requestContext.http.path when rawPath is empty.
	ev.RequestContext.HTTP.Path = stripStage(ev.RequestContext.HTTP.Path, stage)
}

// decodeALBQuery URL-decodes the query parameters of an ALB event. Unlike API
// Gateway, ALB passes them on exactly as the client encoded them, and the
// adapter encodes them again, so "?key=a%20b" would reach the handler as the
// key "a%20b". A parameter that does not decode is kept as it came.
func decodeALBQuery(ev *events.ALBTargetGroupRequest) {
	if len(ev.QueryStringParameters) > 0 {
		decoded := make(map[string]string, len(ev.QueryStringParameters))
		for k, v := range ev.QueryStringParameters {
			decoded[unescape(k)] = unescape(v)
		}
		ev.QueryStringParameters = decoded
	}
	if len(ev.MultiValueQueryStringParameters) > 0 {
		decoded := make(map[string][]string, len(ev.MultiValueQueryStringParameters))
		for k, vs := range ev.MultiValueQueryStringParameters {
			key := unescape(k)
			for _, v := range vs {
				decoded[key] = append(decoded[key], unescape(v))
			}
		}
		ev.MultiValueQueryStringParameters = decoded
	}
}

func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// fitALBResponse puts the headers where the target group reads them. Without
// multi-value headers enabled (the default), ALB reads only "headers" and the
// adapter fills only "multiValueHeaders", so the answer would lose its
// Content-Type; ALB then also has one value per header name, so repeated ones
// are joined (a repeated Set-Cookie keeps only its last value: enable
// lambda.multi_value_headers.enabled on the target group for more). ALB also
// wants the status line in statusDescription ("200 OK"), not just the text.
func fitALBResponse(resp *events.ALBTargetGroupResponse, multiValue bool) {
	resp.StatusDescription = fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	if multiValue {
		return
	}
	resp.Headers = make(map[string]string, len(resp.MultiValueHeaders))
	for name, values := range resp.MultiValueHeaders {
		if len(values) == 0 {
			continue
		}
		if http.CanonicalHeaderKey(name) == "Set-Cookie" {
			resp.Headers[name] = values[len(values)-1]
		} else {
			resp.Headers[name] = strings.Join(values, ", ")
		}
	}
	resp.MultiValueHeaders = nil
}

// ConfigErrorType is the error type ReportInitError reports.
const ConfigErrorType = "Runtime.ConfigError"

// ReportInitError tells Lambda, through the Runtime API at runtimeAPI (the
// value of AWS_LAMBDA_RUNTIME_API), that the function cannot start because of
// err. Lambda then fails the pending invocation with err's message as the
// error, where the caller and the logs show it, instead of seeing a process
// that exits before asking for work. The process should exit afterwards.
func ReportInitError(runtimeAPI string, err error) error {
	body, merr := json.Marshal(struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}{err.Error(), ConfigErrorType})
	if merr != nil {
		return fmt.Errorf("awslambda: reporting the init error: %w", merr)
	}
	endpoint := "http://" + runtimeAPI + "/2018-06-01/runtime/init/error"
	req, rerr := http.NewRequest(http.MethodPost, endpoint, bytes.NewReader(body))
	if rerr != nil {
		return fmt.Errorf("awslambda: reporting the init error: %w", rerr)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Lambda-Runtime-Function-Error-Type", ConfigErrorType)
	// A transport of its own: the Runtime API is link-local, and an
	// HTTP_PROXY set for the function's own traffic must not catch it.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	resp, derr := client.Do(req)
	if derr != nil {
		return fmt.Errorf("awslambda: reporting the init error: %w", derr)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("awslambda: reporting the init error: %s answered %s", endpoint, resp.Status)
	}
	return nil
}
