// Command hellolambda is the smallest aws-lambda-go function: the baseline
// bench/coldstart.sh measures warmkv's Lambda cold start against. It answers
// every event with a fixed API Gateway response.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, map[string]any) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: `{"status":"OK"}`}, nil
	})
}
