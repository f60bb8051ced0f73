// Package sink delivers alerts: the Alert type and its JSON form, the Output
// that takes alerts from detection workers and dispatches them to
// destinations, deduplication, routing, and the local destinations (writer,
// stdout, file). Network destinations (webhook, Splunk HEC, Elasticsearch,
// syslog) live in this package too, in their own files.
//
// The path of an alert:
//
//	Emit ──▶ MPSC ring ──▶ dispatcher goroutine: dedup ─▶ route ─▶ per-destination queue ──▶ destination goroutine: batch ─▶ Send (retry)
//
// Emit never blocks its caller beyond Config.EmitTimeout; each destination
// has its own bounded queue and goroutine, so a slow or broken destination
// stalls only itself. Nothing is lost silently: per destination,
// emitted = delivered + rejected + dropped + queued, and Stats shows it
// without a lock. The library never prints (the stdout destination writes
// alerts, by design) and logs only through Config.Logger.
package sink
