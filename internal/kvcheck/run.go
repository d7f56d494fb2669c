package kvcheck

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Do runs one command and records it as an op of the history: its window is
// read from the clock just before the command is sent and just after the
// answer is read. An op whose outcome is unknown gets Return Infinity.
//
// Both ends are separate readings of the wall clock, the one the servers
// read: time.Now's wall and monotonic readings are taken one after the other,
// and a goroutine descheduled in between gets them milliseconds apart, so an
// end computed as call plus a monotonic duration can fall before the answer
// was actually read.
func Do(c Client, client, instance int, in Input) (Op, error) {
	call := time.Now().UnixNano()
	out, err := c.Do(in)
	ret := time.Now().UnixNano()
	if err != nil {
		return Op{}, err
	}
	took := time.Duration(ret - call)
	in.Call = call
	in.Return = ret
	if out.Status == Unknown {
		in.Return, ret = Infinity, Infinity
	}
	return Op{Client: client, Instance: instance, Door: c.Door(), In: in, Out: out, Call: in.Call, Return: ret, Took: took}, nil
}

// Target is a client and the server it talks to.
type Target struct {
	Client   Client
	Instance int
}

// LoadOptions say what a load sends and for how long.
type LoadOptions struct {
	Workload *Workload
	Seed     uint64
	// MaxOps stops the load once this many commands were answered in all;
	// 0 runs it until the context ends.
	MaxOps int64
	// FirstClient numbers the clients from here, so that several loads can
	// share a history.
	FirstClient int
	// Backoff, after an answer that leaves a write's outcome open, holds
	// the client's writes back for that long, as a client honouring
	// Retry-After would; it keeps reading meanwhile. Every such write may
	// take effect at any later moment, and the checker's search grows with
	// each one pending on a key.
	Backoff time.Duration
	// Pace is the least time between one client's commands. Fewer commands
	// on a key at once keep the search for an order short when windows are
	// long (slow answers, reads widened by a staleness bound).
	Pace time.Duration
}

// RunLoad runs one goroutine per target, each sending the workload's
// commands one after another, until ctx ends or MaxOps is reached, and
// returns the history. An answer outside the contract stops the load and is
// returned as the error, with the history so far.
func RunLoad(ctx context.Context, targets []Target, o LoadOptions) ([]Op, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		total    atomic.Int64
		mu       sync.Mutex
		history  []Op
		firstErr error
		wg       sync.WaitGroup
	)
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := o.Workload.Generator(o.FirstClient+i, o.Seed)
			var mine []Op
			defer func() {
				mu.Lock()
				history = append(history, mine...)
				mu.Unlock()
			}()
			var holdUntil time.Time
			var next time.Time
			for ctx.Err() == nil && (o.MaxOps == 0 || total.Load() < o.MaxOps) {
				if o.Pace > 0 {
					time.Sleep(time.Until(next))
					next = time.Now().Add(o.Pace)
				}
				in := g.Next(t.Client.Door())
				if in.Kind.writes() && time.Now().Before(holdUntil) {
					key := in.Key
					if in.Kind == Transaction {
						key = in.Commands[0].Key
					}
					in = Input{Kind: Get, Key: key, MaxRunes: in.MaxRunes}
				}
				op, err := Do(t.Client, o.FirstClient+i, t.Instance, in)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					return
				}
				g.Observe(op.In, op.Out)
				mine = append(mine, op)
				total.Add(1)
				if op.Out.Status == Unknown && o.Backoff > 0 {
					if in.Kind.writes() {
						holdUntil = time.Now().Add(o.Backoff)
					} else {
						time.Sleep(10 * time.Millisecond) // no tight loop of refused reads
					}
				}
			}
		}()
	}
	wg.Wait()
	return history, firstErr
}
