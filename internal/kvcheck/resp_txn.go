package kvcheck

import (
	"fmt"
	"slices"
	"strings"
)

// doTransaction runs a Transaction: WATCH and the watched reads in one
// write, if it has them, then MULTI, the queued commands and EXEC in
// another, so that nothing of the client's own slows the transaction down,
// and the reads' answers still come back before MULTI is sent, as a client
// deciding what to write would have them.
func (c *RESPClient) doTransaction(in Input) (Output, error) {
	if in.Watch > len(in.Commands) {
		return Output{}, fmt.Errorf("resp %s: %d watched reads of %d commands", in, in.Watch, len(in.Commands))
	}
	out := Output{Answers: make([]Output, len(in.Commands))}
	if in.Watch > 0 {
		watch := []string{"WATCH"}
		batch := [][]string{nil}
		for _, r := range in.Commands[:in.Watch] {
			if r.Kind != Get {
				return Output{}, fmt.Errorf("resp %s: a watched command that is not a read", in)
			}
			if !slices.Contains(watch, r.Key) {
				watch = append(watch, r.Key)
			}
			batch = append(batch, []string{"GET", r.Key})
		}
		batch[0] = watch
		rs, err := c.roundTrip(batch...)
		if err != nil {
			c.Close()
			return Output{Status: Unknown}, nil
		}
		if rs[0].kind != '+' || rs[0].str != "OK" {
			return Output{}, fmt.Errorf("resp %q: unexpected reply %+v", watch, rs[0])
		}
		for i, r := range rs[1:] {
			if out.Answers[i], err = respAnswer(in.Commands[i], batch[i+1], r); err != nil {
				return Output{}, err
			}
			if out.Answers[i].Status == Unknown {
				c.Close() // forget the watches: nothing else is sent
				return Output{Status: Unknown}, nil
			}
		}
	}
	queued := in.Commands[in.Watch:]
	batch := [][]string{{"MULTI"}}
	for _, q := range queued {
		args, err := respArgs(q)
		if err != nil {
			return Output{}, err
		}
		batch = append(batch, args)
	}
	batch = append(batch, []string{"EXEC"})
	rs, err := c.roundTrip(batch...)
	if err != nil {
		c.Close()
		return Output{Status: Unknown}, nil
	}
	if rs[0].kind != '+' || rs[0].str != "OK" {
		return Output{}, fmt.Errorf("resp MULTI: unexpected reply %+v", rs[0])
	}
	for i, r := range rs[1 : len(rs)-1] {
		if r.kind != '+' || r.str != "QUEUED" {
			// A refused command makes EXEC answer EXECABORT: the workload
			// sends none, so either is outside the contract.
			return Output{}, fmt.Errorf("resp %q inside MULTI: reply %+v", batch[i+1], r)
		}
	}
	exec := rs[len(rs)-1]
	switch {
	case exec.kind == '-' && strings.HasPrefix(exec.str, respUnavailable):
		return Output{Status: Unknown}, nil
	case exec.kind == '-':
		return Output{}, fmt.Errorf("resp %s: EXEC: -%s", in, exec.str)
	case exec.kind != '*':
		return Output{}, fmt.Errorf("resp %s: EXEC: unexpected reply %+v", in, exec)
	case exec.null:
		return Output{Aborted: true}, nil
	case len(exec.elems) != len(queued):
		return Output{}, fmt.Errorf("resp %s: EXEC answered %d replies", in, len(exec.elems))
	}
	for i, r := range exec.elems {
		a, err := respAnswer(queued[i], batch[i+1], r)
		if err != nil {
			return Output{}, err
		}
		if a.Status == Unknown {
			return Output{Status: Unknown}, nil
		}
		out.Answers[in.Watch+i] = a
	}
	return out, nil
}
