// Command warmkv is an in-memory key-value cache with an HTTP API.
//
// main only wires the parts together: it reads the configuration from the
// environment, builds the app (cache, handler, snapshots) with the landing page
// embedded, and hands it to the Lambda runtime when AWS_LAMBDA_RUNTIME_API is
// set, or else to the standalone server (package server). The same binary is
// the container's image and Lambda's bootstrap. See docs/configuration.md
// for the configuration.
package main

import (
	"embed"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"runtime"

	"github.com/warmkv/warmkv/app"
	"github.com/warmkv/warmkv/awslambda"
	"github.com/warmkv/warmkv/config"
	"github.com/warmkv/warmkv/server"
)

// version is set at build time with -ldflags "-X main.version=…": the
// Makefile and the Dockerfile set it from git describe.
var version = "dev"

//go:embed public
var publicFiles embed.FS

func main() {
	healthcheck := flag.Bool("healthcheck", false,
		"probe /healthz of the server configured by PORT on loopback and exit 0 if healthy (for container health checks, which have no shell or curl)")
	showVersion := flag.Bool("version", false, "print the version and the Go version it was built with, then exit")
	flag.Usage = usage
	flag.Parse()
	if *showVersion {
		fmt.Printf("warmkv %s %s %s/%s\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return
	}
	if *healthcheck {
		if err := server.Healthcheck(os.Getenv("PORT")); err != nil {
			fmt.Fprintln(os.Stderr, "warmkv: healthcheck:", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(run())
}

// usage is -h's answer: what warmkv is, its flags, and where its
// configuration comes from.
func usage() {
	out := flag.CommandLine.Output()
	fmt.Fprintf(out, "warmkv %s: an in-memory key-value cache with an HTTP API.\n\n", version)
	fmt.Fprintf(out, "Usage: %s [flags]\n\nWithout flags it serves, configured by the environment\n", os.Args[0])
	fmt.Fprintf(out, "(PORT, MAX_MEMORY, AUTH_TOKEN, REDIS_URL, ...; see docs/configuration.md).\n\nFlags:\n")
	flag.PrintDefaults()
}

// run builds the app and serves it; it returns the exit code.
func run() int {
	cfg, err := config.Load(config.OSEnv())
	if err != nil {
		return configFailed(err)
	}
	logger := app.NewLogger(cfg)
	slog.SetDefault(logger)

	public, err := fs.Sub(publicFiles, "public")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	a, err := app.Build(cfg, public, version, logger)
	if err != nil {
		return configFailed(err)
	}
	defer a.Close()

	if cfg.Deployment == config.Lambda {
		// Invocations arrive through the Runtime API, not a listener. The process,
		// and so the cache, outlives each invocation: it stays warm between them.
		a.LogReady("warmkv ready for Lambda invocations")
		awslambda.Start(a.Handler) // never returns
	}
	return server.Run(a)
}

// configFailed reports a configuration error and returns the exit code for it.
func configFailed(err error) int {
	fmt.Fprintf(os.Stderr, "warmkv: invalid configuration:\n%v\n", err)
	if api := os.Getenv("AWS_LAMBDA_RUNTIME_API"); api != "" {
		// On Lambda an exit alone shows only as a crash loop; the init-error
		// report puts the message in front of whoever invoked the function.
		if rerr := awslambda.ReportInitError(api, fmt.Errorf("warmkv: invalid configuration: %w", err)); rerr != nil {
			fmt.Fprintln(os.Stderr, "warmkv:", rerr)
		}
	}
	return 2
}
