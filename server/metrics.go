package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/warmkv/warmkv/resp"
)

// doorMetrics exports, beside the handler's own metrics, what the standalone
// server's doors count where the handler cannot see: connections refused at
// MAX_CONNS before any request is read, and the Redis-protocol port's
// commands and connections. Everything is read at scrape time from counters
// the doors keep anyway, so serving costs nothing more.
type doorMetrics struct {
	conns *connLimitListener // nil when MAX_CONNS=-1
	resp  *resp.Server       // nil when RESP_PORT=0
}

var (
	descHTTPConns        = prometheus.NewDesc("warmkv_http_connections", "HTTP connections open now.", nil, nil)
	descHTTPMaxConns     = prometheus.NewDesc("warmkv_http_max_connections", "MAX_CONNS, the bound on open HTTP connections.", nil, nil)
	descHTTPConnsRefused = prometheus.NewDesc("warmkv_http_connections_refused_total",
		"HTTP connections answered 503 and closed because MAX_CONNS were open.", nil, nil)
	descRESPCommands = prometheus.NewDesc("warmkv_resp_commands_total",
		"Redis-protocol commands run, by command (subcommands apart, as client|id; unknown ones as unknown).", []string{"command"}, nil)
	descRESPFailed = prometheus.NewDesc("warmkv_resp_command_errors_total",
		"Redis-protocol commands answered with an error, by command.", []string{"command"}, nil)
	descRESPConns        = prometheus.NewDesc("warmkv_resp_connections", "Redis-protocol connections open now.", nil, nil)
	descRESPConnsRefused = prometheus.NewDesc("warmkv_resp_connections_refused_total",
		"Redis-protocol connections refused because RESP_MAX_CLIENTS were open.", nil, nil)
)

func (doorMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descHTTPConns, descHTTPMaxConns, descHTTPConnsRefused,
		descRESPCommands, descRESPFailed, descRESPConns, descRESPConnsRefused} {
		ch <- d
	}
}

func (m doorMetrics) Collect(ch chan<- prometheus.Metric) {
	if l := m.conns; l != nil {
		ch <- prometheus.MustNewConstMetric(descHTTPConns, prometheus.GaugeValue, float64(l.open.Load()))
		ch <- prometheus.MustNewConstMetric(descHTTPMaxConns, prometheus.GaugeValue, float64(l.max))
		ch <- prometheus.MustNewConstMetric(descHTTPConnsRefused, prometheus.CounterValue, float64(l.refused.Load()))
	}
	if m.resp != nil {
		for _, c := range m.resp.CommandCounts(nil) {
			ch <- prometheus.MustNewConstMetric(descRESPCommands, prometheus.CounterValue, float64(c.Calls), c.Command)
			ch <- prometheus.MustNewConstMetric(descRESPFailed, prometheus.CounterValue, float64(c.Failed), c.Command)
		}
		open, refused := m.resp.Clients()
		ch <- prometheus.MustNewConstMetric(descRESPConns, prometheus.GaugeValue, float64(open))
		ch <- prometheus.MustNewConstMetric(descRESPConnsRefused, prometheus.CounterValue, float64(refused))
	}
}
