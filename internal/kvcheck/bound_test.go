package kvcheck

import (
	"testing"
	"time"
)

func on(instance int, op Op) Op {
	op.Instance = instance
	return op
}

func TestBound(t *testing.T) {
	bound := Bound{Staleness: time.Second}
	exempt := Bound{Staleness: time.Second, Exempt: func(op Op) bool { return op.Door == "resp" }}
	staleGet := func(from, to int64, v string) Op {
		o := at(from, to, get, val(v))
		o.Out.Stale = true
		return o
	}
	resp := func(o Op) Op { o.Door = "resp"; return o }
	tests := []struct {
		name  string
		bound Bound
		ops   []Op
		legal bool
	}{
		{"another instance's write, seen late within the bound", bound, []Op{
			on(0, at(0, 1, set("v1"), ok)), on(0, at(10, 11, set("v2"), ok)), on(1, at(900, 901, get, val("v1"))),
		}, true},
		{"seen late beyond the bound", bound, []Op{
			on(0, at(0, 1, set("v1"), ok)), on(0, at(10, 11, set("v2"), ok)), on(1, at(1100, 1101, get, val("v1"))),
		}, false},
		{"an instance reads its own writes", bound, []Op{
			on(1, at(0, 1, set("v1"), ok)), on(1, at(10, 11, set("v2"), ok)), on(1, at(20, 21, get, val("v1"))),
		}, false},
		{"its own write's result, though others wrote before the answer came", bound, []Op{
			on(1, at(0, 10, set("v1"), ok)), on(0, at(2, 3, set("v2"), ok)), on(1, at(20, 21, get, val("v1"))),
		}, true},
		{"marked stale: any age", bound, []Op{
			on(0, at(0, 1, set("v1"), ok)), on(0, at(10, 11, set("v2"), ok)), on(1, staleGet(5000, 5001, "v1")),
		}, true},
		{"marked stale, but older than its own write", bound, []Op{
			on(1, at(0, 1, set("v1"), ok)), on(1, at(10, 11, set("v2"), ok)), on(1, staleGet(5000, 5001, "v1")),
		}, false},
		{"exempt read", exempt, []Op{
			on(0, at(0, 1, set("v1"), ok)), on(0, at(10, 11, set("v2"), ok)), on(1, resp(at(5000, 5001, get, val("v1")))),
		}, true},
		{"never a value the key did not hold", exempt, []Op{
			on(0, at(0, 1, set("v1"), ok)), on(1, resp(at(5000, 5001, get, val("v0")))),
		}, false},
		{"never a value written after the read", exempt, []Op{
			on(1, resp(at(500, 501, get, val("v1")))), on(0, at(600, 601, set("v1"), ok)),
		}, false},
		{"writes stay linearizable", bound, []Op{
			on(0, at(0, 1, Input{Kind: Increment, Delta: 1}, num(1))), on(1, at(10, 11, Input{Kind: Increment, Delta: 1}, num(1))),
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := CheckBound(tt.ops, tt.bound, Options{}).Err(); (err == nil) != tt.legal {
				t.Fatalf("legal = %v, want %v: %v", err == nil, tt.legal, err)
			}
		})
	}
}

func TestCertainlyStale(t *testing.T) {
	ops := []Op{
		on(0, at(0, 1, set("v1"), ok)),
		on(0, at(10, 11, set("v2"), ok)),
		on(1, at(900, 901, get, val("v1"))),   // within the bound
		on(1, at(1500, 1501, get, val("v1"))), // 1489 ms after v2 replaced it
		on(1, at(1500, 1501, get, val("v2"))), // current
	}
	stale := CertainlyStale(ops, time.Second)
	if len(stale) != 1 || stale[0].Op.Call != 1500*ms || stale[0].By != 1489*time.Millisecond {
		t.Fatalf("certainly stale: %+v", stale)
	}
}
