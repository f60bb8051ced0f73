// Package sink delivers alerts: the Alert type and its JSON form, the Output
// that takes alerts from detection workers and dispatches them to
// destinations, deduplication, routing, and the destinations themselves.
//
// The path of an alert:
//
//	Emit ──▶ MPSC ring ──▶ dispatcher goroutine: dedup ─▶ route ─▶ per-destination queue ──▶ destination goroutine: batch ─▶ Send (retry)
//
// Emit never blocks its caller beyond Config.EmitTimeout (by default it
// does not wait at all) and allocates nothing. Each destination has its own
// bounded queue and goroutine, so a slow or broken destination stalls only
// itself: when its queue is full it drops the alert (counted), or, with
// OverflowBlock, holds the dispatcher up to a timeout first. Transient
// failures are retried with exponential backoff and full jitter; permanent
// ones are counted as rejected. Nothing is lost silently: per destination,
// emitted = delivered + rejected + dropped + queued, and Stats shows it
// without a lock. Close flushes what it can within its context and reports
// the rest in a *CloseError: alerts dropped (lost) apart from alerts still
// held by a Send that ignored its ctx (in flight, outcome unknown, counted
// by Stats when that Send returns, never both lost and delivered).
//
// # Recycling alerts
//
// An Alert handed to Emit belongs to the Output. A producer that wants
// its memory back, to raise alerts without allocating (detect does), sets
// a Recycler on each alert; the Output counts the destinations that hold
// it and hands it back once the last is done (delivered, rejected,
// dropped, or deduplicated away), so a steady stream of alerts through an
// Output allocates nothing. A Destination must therefore not keep an
// alert, or memory it references, past Send (see Destination).
//
// # Outages
//
// A failing destination sends one batch at a time, retried with backoff
// capped at RetryConfig.Max (1 s by default): that batch is the probe.
// The attempt that succeeds after the far side recovers comes within one
// backoff step, and the queue then drains at full speed, batch after
// batch with no wait. With the defaults (a queue of 1,048,576 alerts per
// destination, Max 1 s) a 60 s outage at 10,000 alerts/s loses nothing;
// a longer outage, or a higher rate, overflows the queue and drops
// (counted, logged once). See DefaultDestQueue for the memory this takes.
//
// # Alert JSON
//
// Every destination writes the same JSON object per alert (Alert.AppendJSON,
// golden files in testdata/), one line, keys in this order:
//
//	{"alert_id":"7642d0ea7f0508e4e99fe17f8511019c","rule_id":"curl-pipe-shell",
//	 "rule_name":"Download piped into a shell","severity":"high","tags":["execution"],
//	 "ts_mono_ns":0,"ts_wall_ns":1767225600000000000,"time":"2026-01-01T00:00:00.000000000Z",
//	 "entity_key":42,"event_ids":[1,2],"message":"curl piped into bash",
//	 "fields":{"process.pid":{"I64":4242}},"suppressed_count":3}
//
// alert_id is NewAlertID(rule_id, event_ids): the same in every run, so
// downstream systems deduplicate replays. severity is one of informational,
// low, medium, high, critical. time is ts_wall_ns in RFC 3339, UTC, nine
// fraction digits. entity_key is a JSON integer up to 2^128-1. fields
// values are in value's externally tagged form, or, with Config.Fields
// FieldsFlat ("alert_fields": "flat" in the outputs file), ECS-flat plain
// JSON ("fields":{"process.pid":4242}) for a SIEM to index without a
// variant suffix. suppressed_count, present
// only when non-zero, counts the repeats deduplication suppressed in the
// window before this alert.
//
// # Destinations
//
//   - WriterDestination: JSON lines to any io.Writer (os.Stdout; io.Discard
//     for benchmarks of the dispatch path).
//   - FileDestination: JSON lines appended to a file created 0600, rotated
//     by size with numbered backups, fsynced always, every interval or
//     never, reopened on demand.
//   - WebhookDestination: a JSON array per HTTP POST.
//   - HECDestination: Splunk's HTTP Event Collector, events concatenated.
//   - ElasticsearchDestination: the _bulk API with create actions and
//     _id = alert_id, read item by item.
//   - SyslogDestination: RFC 5424 over UDP, TCP or TLS (octet counting).
//
// The HTTP destinations share HTTPConfig: a request timeout, custom
// headers, secrets read from the environment, bodies split to an exact
// size limit, and TLS with a custom CA and a client certificate (mTLS);
// the server's certificate is verified unless InsecureSkipVerify is set.
// 429, 5xx and network errors are retried (Retry-After honoured), other
// statuses rejected. Any other Destination implementation plugs in the
// same way.
//
// # What syslog over TCP and TLS can promise
//
// A successful write to a stream socket is not delivery: the bytes may sit
// unread in the collector's socket buffer and ours, and a collector that
// stops reading and then crashes loses them. SyslogDestination therefore
// keeps a resend window of the latest written messages (ResendWindow,
// default 8 MiB: our send buffer, fixed at 2 MiB, plus the 6 MiB a Linux
// collector's receive buffer can grow to by default) and writes it again first on every new connection after
// a failure: at-least-once within the window, the repeats counted in
// DestinationStats.Resent (alert_id identifies them downstream). Alerts
// count as Delivered when written; the window is what backs that count.
// It cannot cover a message written more than ResendWindow bytes before
// the failure, nor one the collector read and then lost internally; Close
// asks the collector to confirm (it half-closes and waits for the
// collector's close) and returns ErrSyslogUnconfirmed when it does not.
// RELP would give per-message acknowledgements, but it is a different
// protocol on a separate collector listener (transaction numbers, its own
// window and session handshake) and is not implemented; use an HTTP
// destination where loss must be ruled out per alert. UDP promises
// nothing beyond the datagram leaving the host.
//
// The library never prints (WriterDestination writes alerts where it is
// told to) and logs only through Config.Logger, each distinct rejection
// reason once per destination.
//
// # One package
//
// The network destinations (webhook, Splunk HEC, Elasticsearch bulk,
// syslog) stay in this package rather than a subpackage: LoadConfig reads
// one outputs file into every kind of destination, so a subpackage would
// need a third package above both for it, and the destinations share the
// unexported HTTP client, TLS, redaction and retry code that a split
// would have to export. What an embedder reads first is Output, Config,
// Alert and Destination; the destination constructors follow, each with
// its own config type.
package sink
