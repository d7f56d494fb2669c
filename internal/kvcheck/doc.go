// Package kvcheck checks recorded histories of warmkv's commands against a
// sequential model of a key-value store, with the linearizability checker
// porcupine (github.com/anishathalye/porcupine). docs/verification.md says
// what it checks and what it found; e2e's TestVerify tests run it against
// the real binaries.
//
// A history is what concurrent clients (HTTPClient, RESPClient) did: each op
// is one single-key command with the moment it was sent and the moment its
// answer arrived (RunLoad draws them from a Workload). Check partitions the
// history by key and searches each key's history for a sequential order that
// respects real time and explains every answer (Model). An op whose answer
// never came, or said the store could not confirm it, may take effect at any
// moment after its call, once, or never.
//
// Expiry makes time part of the model: a key's expiry instant is known only
// to lie within the window of the command that set it (plus its TTL), so a
// command whose window comes within DefaultTolerance of that interval may
// find the key alive or gone. The model is nondeterministic there, and the
// answer usually decides.
//
// Bound relaxes linearizability for the reads of instances that share a
// tier, to exactly the staleness the tier promises; Restore checks a key read
// back from a snapshot against the window in which the snapshot was written.
// InjectStaleRead and InjectLostUpdate add an anomaly to a real history, to
// show that a check can fail.
//
// Transactions (MULTI/EXEC, Kind Transaction) are one op whose Input lists
// its commands (after the reads of the keys it WATCHes, if any) and whose
// Output lists the answers, or says EXEC answered a null array. The
// key-by-key partition no longer applies, so CheckTransactions searches the
// whole history with TransactionModel, whose state maps each key of a small
// key set to the state type here and whose step runs the commands in order
// through apply (one expiry candidate per key, judged at the transaction's
// window); single-key commands of both doors share the history, so one that
// saw a transaction half done is caught. Such histories are checked in
// separate runs of at most MaxTransactionOps ops, beside the single-key runs.
// InjectHalfApplied adds a read that sees a transaction half done. Lua
// scripts are not modelled.
package kvcheck
