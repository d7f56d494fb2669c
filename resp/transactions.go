package resp

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/warmkv/warmkv/cache"
)

// Transactions: MULTI, EXEC, DISCARD, WATCH and UNWATCH, with Redis 7's
// semantics and replies. Commands after MULTI are checked (name, arity) and
// queued; a refusal makes EXEC answer EXECABORT. EXEC runs the queue as one
// cache transaction (cache.Atomically) over the keys the queued commands name,
// found from each command's key positions as Redis's command table gives
// them: while it runs, the commands see the transaction's store (conn.kv), and
// no other client, through either door, sees any of it half done. A watched
// key that changed makes EXEC answer a null array without running anything.

const (
	msgExecAbort        = "EXECABORT Transaction discarded because of previous errors."
	msgNotInMulti       = "Command not allowed inside a transaction"
	msgNoTransactions   = "ERR this store cannot run transactions"
	msgBusy             = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
	msgUndeclaredKey    = "ERR the command touched a key its transaction or script did not declare"
	msgCrossSlot        = "CROSSSLOT Keys in request don't hash to the same slot"
	msgWholeStore       = "ERR with a shared tier (REDIS_URL), a transaction cannot take every key: KEYS, SCAN, FLUSHALL, FLUSHDB and RANDOMKEY cannot run inside MULTI"
	msgQueueTooLarge    = "ERR the commands queued in this transaction exceed %d bytes"
	defaultMaxQueueSize = 64 << 20
)

// txnState is a connection's transaction state.
type txnState struct {
	session cache.Session // nil until the connection watches or runs a transaction

	multi  bool     // between MULTI and EXEC or DISCARD
	failed bool     // a command was refused while queueing
	queue  []queued // the commands since MULTI
	queued int      // their bytes
}

// queued is a command waiting for EXEC, with its own copy of its arguments.
type queued struct {
	cmd  *command
	args [][]byte
}

// atomicCommands are the commands of the transactions, the multi-key
// commands and the scripts, which the command table lists after its own.
func atomicCommands() []*command {
	return slices.Concat(transactionCommands(), multiKeyCommands(), scriptCommands())
}

// transactionCommands are the commands of this file, for the command table.
func transactionCommands() []*command {
	txn := func(name string, arity int, summary, since, complexity string, fast bool, docArgs ...argDoc) *command {
		flags := []string{"noscript", "loading", "stale", "fast", "allow_busy"}
		acl := []string{"@fast", "@transaction"}
		if !fast {
			flags = []string{"noscript", "loading", "stale", "skip_slowlog"}
			acl = []string{"@slow", "@transaction"}
		}
		return &command{name: name, arity: arity, flags: flags, acl: acl,
			group: "transactions", summary: summary, since: since, complexity: complexity, docArgs: docArgs}
	}
	multi := txn("multi", 1, "Starts a transaction.", "1.2.0", "O(1)", true)
	multi.run = cmdMulti
	exec := txn("exec", 1, "Executes all commands in a transaction.", "1.2.0", "Depends on commands in the transaction", false)
	exec.run = cmdExec
	discard := txn("discard", 1, "Discards a transaction.", "2.0.0", "O(N), when N is the number of queued commands", true)
	discard.run = cmdDiscard
	watch := txn("watch", -2, "Monitors changes to keys to determine the execution of a transaction.", "2.2.0", "O(1) for every key.", true,
		multiple(keyArg("key")))
	watch.run, watch.firstKey, watch.lastKey, watch.step = cmdWatch, 1, -1, 1
	unwatch := txn("unwatch", 1, "Forgets about watched keys of a transaction.", "2.2.0", "O(1)", true)
	unwatch.run = cmdUnwatch
	return []*command{multi, exec, discard, watch, unwatch}
}

// state returns the connection's transaction state, creating it.
func (c *conn) state() *txnState {
	if c.txn == nil {
		c.txn = &txnState{}
	}
	return c.txn
}

// session returns the connection's store session, or nil if the store runs
// no transactions.
func (c *conn) session() cache.Session {
	t := c.state()
	if t.session == nil {
		ts, ok := c.srv.store.(cache.Transactional)
		if !ok {
			return nil
		}
		t.session = ts.NewSession()
	}
	return t.session
}

// endSession releases what the connection holds in the store; the server
// calls it when the connection closes.
func (c *conn) endSession() {
	if c.txn != nil && c.txn.session != nil {
		c.txn.session.Close()
		c.txn.session = nil
	}
}

// inMulti reports whether commands are being queued.
func (c *conn) inMulti() bool { return c.txn != nil && c.txn.multi }

// reject answers a command refused before it runs (unknown, wrong arity).
// Between MULTI and EXEC that makes EXEC refuse the transaction, as Redis's
// flagTransaction does; a refused EXEC itself ends the transaction, as
// Redis's execCommandAbort does, even without one.
func (c *conn) reject(cmd *command, msg string) {
	if cmd != nil {
		c.countRejected(cmd.slot)
	}
	if cmd != nil && cmd.name == "exec" {
		if c.txn != nil {
			c.txn.reset()
		}
		c.unwatch()
		c.out.err("EXECABORT Transaction discarded because of: " + strings.TrimPrefix(msg, "ERR "))
		return
	}
	c.out.err(msg)
	if c.inMulti() {
		c.txn.failed = true
	}
}

// queue handles a command that arrives between MULTI and EXEC: it queues it
// and answers QUEUED, or refuses it, and reports true; or it reports false
// for the commands that run at once even then.
func (c *conn) queue(cmd *command, args [][]byte) bool {
	switch cmd.name {
	case "exec", "discard", "multi", "watch", "quit", "reset":
		return false
	}
	t := c.txn
	if slices.Contains(cmd.flags, "no_multi") {
		c.out.err("ERR " + msgNotInMulti)
		t.failed = true
		return true
	}
	size := 0
	for _, a := range args {
		size += len(a)
	}
	if t.queued+size > c.maxQueueBytes() {
		c.out.err(fmt.Sprintf(msgQueueTooLarge, c.maxQueueBytes()))
		t.failed = true
		return true
	}
	// One copy for all the arguments: they are views of the read buffer.
	buf := make([]byte, 0, size)
	copied := make([][]byte, len(args))
	for i, a := range args {
		buf = append(buf, a...)
		copied[i] = buf[len(buf)-len(a):]
	}
	t.queue = append(t.queue, queued{cmd: cmd, args: copied})
	t.queued += size
	c.out.simple("QUEUED")
	return true
}

// maxQueueBytes bounds what one transaction may queue: many times the
// largest command, since a transaction of large commands is legitimate, but
// not without end.
func (c *conn) maxQueueBytes() int { return max(defaultMaxQueueSize, 4*c.srv.lim.maxCommand) }

func (t *txnState) reset() {
	t.multi, t.failed, t.queue, t.queued = false, false, nil, 0
}

func cmdMulti(c *conn, _ [][]byte) {
	if c.inMulti() {
		c.out.err("ERR MULTI calls can not be nested")
		return
	}
	c.state().multi = true
	c.out.ok()
}

func cmdDiscard(c *conn, _ [][]byte) {
	if !c.inMulti() {
		c.out.err("ERR DISCARD without MULTI")
		return
	}
	c.txn.reset()
	c.unwatch()
	c.out.ok()
}

func cmdWatch(c *conn, args [][]byte) {
	if c.inMulti() {
		c.out.err("ERR WATCH inside MULTI is not allowed")
		return
	}
	if !c.validKeys(args[1:]) {
		return
	}
	ss := c.session()
	if ss == nil {
		c.out.err(msgNoTransactions)
		return
	}
	keys := make([]string, len(args)-1)
	for i, k := range args[1:] {
		keys[i] = string(k)
	}
	if err := ss.Watch(keys...); err != nil {
		c.storeFailed(err)
		return
	}
	c.out.ok()
}

func cmdUnwatch(c *conn, _ [][]byte) {
	c.unwatch()
	c.out.ok()
}

func (c *conn) unwatch() {
	if c.txn != nil && c.txn.session != nil {
		c.txn.session.Unwatch()
	}
}

// cmdExec runs the queue as one transaction. Its replies go in an array that
// the transaction writes from its start each time it runs (a shared tier may
// run it again after a conflict), so an error that stops it before it runs
// replaces the array.
func cmdExec(c *conn, _ [][]byte) {
	if !c.inMulti() {
		c.out.err("ERR EXEC without MULTI")
		return
	}
	t := c.txn
	queue, failed := t.queue, t.failed
	t.reset()
	if failed {
		c.unwatch()
		c.out.err(msgExecAbort)
		return
	}
	ss := c.session()
	if ss == nil {
		c.out.err(msgNoTransactions)
		return
	}
	scope := cache.Scope{Watched: true}
	for _, q := range queue {
		keys, all := commandKeys(q.cmd, q.args)
		scope.Keys = append(scope.Keys, keys...)
		scope.All = scope.All || all
	}
	// The queued commands are counted as they ran in the run that stands
	// (a store may run the body more than once), each with its own failure,
	// as Redis counts them; EXEC fails only by its own error.
	errs := c.out.errs
	err := c.transaction(ss, scope, func() {
		c.out.array(len(queue))
		for _, q := range queue {
			c.last = q.cmd
			before := c.out.errs
			if q.cmd.monitorFirst {
				c.monitorLater(c.remote, q.cmd, q.args)
			}
			q.cmd.run(c, q.args)
			c.countLater(q.cmd.slot, c.out.errs != before)
			if !q.cmd.monitorFirst {
				c.monitorLater(c.remote, q.cmd, q.args)
			}
		}
	})
	c.out.errs = errs
	switch {
	case errors.Is(err, cache.ErrWatchChanged):
		c.out.nullArray()
	case err != nil:
		c.storeFailed(err)
	}
}

// transaction runs body with the connection's commands on a transaction over
// scope. body writes replies; if the store runs it more than once, only the
// last run's stay.
func (c *conn) transaction(ss cache.Session, scope cache.Scope, body func()) error {
	mark, resp3 := len(c.out.b), c.out.resp3
	kv, keys, onError := c.kv, c.keys, c.out.onError
	defer func() { c.kv, c.keys, c.out.onError = kv, keys, onError }()
	// What the body's commands count (stats.go) waits for the run that
	// stands, so that a run again counts nothing twice.
	c.resetLater()
	c.out.onError = func(msg string) { c.laterErrors = append(c.laterErrors, msg) }
	err := ss.Atomically(scope, func(tx cache.Tx) error {
		c.out.b, c.out.resp3 = c.out.b[:mark], resp3
		c.resetLater()
		c.kv, c.keys = tx, nil
		if scope.All {
			c.keys = tx
		}
		body()
		return nil
	})
	if err != nil {
		c.out.b, c.out.resp3 = c.out.b[:mark], resp3
	} else {
		c.countNow(onError)
		c.feedLater()
	}
	c.resetLater()
	return err
}

// resetLater forgets what a transaction's run kept for when it stands: its
// calls and errors to count and its monitor lines.
func (c *conn) resetLater() {
	c.later, c.laterErrors, c.laterLines = c.later[:0], c.laterErrors[:0], c.laterLines[:0]
}

// atomically runs fn as one operation over keys: on the transaction the
// connection is already in (EXEC, a script), else on a new one.
func (c *conn) atomically(keys []string, fn func(tx cache.Tx) error) error {
	if tx, ok := c.kv.(cache.Tx); ok {
		return fn(tx)
	}
	ts, ok := c.kv.(cache.Transactional)
	if !ok {
		return errNoTransactions
	}
	return ts.Atomically(cache.Scope{Keys: keys}, fn)
}

var errNoTransactions = errors.New("this store cannot run transactions")

// wholeKeyspace are the commands that touch every key: in a transaction they
// need all of the cache, and scripts, which run on the keys they declare,
// may not call them. (INFO in a transaction over some keys leaves out its
// count of keys with an expiry, which would list every shard.)
var wholeKeyspace = map[string]bool{
	"keys": true, "scan": true, "flushall": true, "flushdb": true, "randomkey": true,
}

// keyFinders find the keys of the commands whose key positions the command
// table's first, last and step cannot describe.
var keyFinders = map[string]func(args [][]byte) []string{}

// commandKeys returns the keys a command names, as Redis's key
// specifications find them, and whether it touches every key. The keys view
// args.
func commandKeys(cmd *command, args [][]byte) (keys []string, all bool) {
	if wholeKeyspace[cmd.name] {
		return nil, true
	}
	if find := keyFinders[cmd.name]; find != nil {
		return find(args), false
	}
	if cmd.firstKey <= 0 {
		return nil, false
	}
	last := cmd.lastKey
	if last < 0 {
		last += len(args)
	}
	step := max(cmd.step, 1)
	for i := cmd.firstKey; i <= last && i < len(args); i += step {
		// A view, not a copy: the keys serve the transaction the arguments
		// outlive (a queued command's own copy, or the command running).
		keys = append(keys, unsafeString(args[i]))
	}
	return keys, false
}

// dump lists one shard for KEYS, SCAN and INFO. A store that can refuses
// with cache.ErrBusy rather than wait for a script past its busy time.
func (c *conn) dump(shard int, dst []cache.Item) ([]cache.Item, error) {
	if d, ok := c.keys.(interface {
		DumpOrBusy(int, []cache.Item) ([]cache.Item, error)
	}); ok {
		return d.DumpOrBusy(shard, dst)
	}
	return c.keys.Dump(shard, dst), nil
}

// nullArray is a null array reply: EXEC's when a watched key changed.
func (r *reply) nullArray() {
	if r.resp3 {
		r.b = append(r.b, "_\r\n"...)
	} else {
		r.b = append(r.b, "*-1\r\n"...)
	}
}
