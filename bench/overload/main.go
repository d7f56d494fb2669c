// Command overload drives warmkv with open-loop load at rising rates and reports
// the throughput-latency curve; bench/overload.sh runs it.
//
// Open loop matters: a closed-loop tool (wrk) sends the next request only when
// an answer came back, so an overloaded server slows the tool down and the
// queue that would build in front of a real server never forms. vegeta's
// attacker sends at the given rate whatever the server does, opening more
// connections when all are busy, which is what independent clients do.
//
//	overload attack -url http://127.0.0.1:PORT -label shed -rates 10000,20000 -out shed.tsv
//	overload report -png curve.png shed.tsv baseline.tsv
//
// attack writes one TSV row per rate step (see stepHeader); report reads such
// files, prints them as one table and draws the curve. growth (growth.go)
// compares GET latency while the cache fills from empty with latency once it
// is full; bench/growth.sh runs it.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "attack":
		err = attackMain(os.Args[2:])
	case "report":
		err = reportMain(os.Args[2:])
	case "growth":
		err = growthMain(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "overload:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: overload attack [flags] | overload report [flags] FILE.tsv... | overload growth [flags]")
	os.Exit(2)
}
