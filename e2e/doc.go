// Package e2e holds the tests that build warmkv's binaries and run them as
// their platforms do: the standalone server over TCP, the Lambda bootstrap
// against a fake Runtime API, the container's static build, the Vercel
// function, compose.yaml's topology run natively, and the landing page in a
// real browser.
package e2e
