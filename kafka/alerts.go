package kafka

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/kestrel-sec/kestrel/sink"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// AlertDestination is a sink.Destination that produces alerts to
// Config.AlertTopic: one record per alert, keyed by its alert_id (so the
// repeats of one alert, from a replay or a redelivery, land on one partition
// and a compacted topic keeps one), valued by its JSON form
// (sink.Alert.AppendJSON), with a "content-type: application/json" header,
// acknowledged as Config.Acks asks (all in-sync replicas by default, with
// the idempotent producer).
//
// Send waits for the brokers' answer and reports to the sink.Output which
// alerts to retry and which were refused for good (a record too large, a
// topic the client may not write), so nothing is lost without being counted
// in the Output's statistics.
type AlertDestination struct {
	cfg    Config
	name   string
	cl     *kgo.Client
	closed atomic.Bool
}

// alertHeaders are shared by every alert record, read-only.
var alertHeaders = []kgo.RecordHeader{{Key: "content-type", Value: []byte("application/json")}}

// NewAlertDestination returns a destination producing to cfg.AlertTopic,
// named "kafka:" + the topic, or a *ConfigError. Hand it to sink.New in a
// sink.DestinationConfig; the Output closes it.
func NewAlertDestination(cfg Config) (*AlertDestination, error) {
	cfg, opts, err := cfg.validatedProducer()
	if err != nil {
		return nil, err
	}
	opts = append(opts, kgo.DefaultProduceTopic(cfg.AlertTopic))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	return &AlertDestination{cfg: cfg, name: "kafka:" + cfg.AlertTopic, cl: cl}, nil
}

// Name returns "kafka:" followed by the alert topic.
func (d *AlertDestination) Name() string { return d.name }

// Send produces batch and waits for every record's acknowledgement. It
// returns nil when all were acknowledged, a *sink.PartialError naming the
// alerts to retry and those refused for good, or a *sink.PermanentError
// when every alert was refused for good; an error of ctx or of the whole
// batch is transient (the Output retries it).
func (d *AlertDestination) Send(ctx context.Context, batch []*sink.Alert) error {
	if d.closed.Load() {
		return &sink.PermanentError{Reason: "kafka alert destination closed", Err: ErrClosed}
	}
	recs := make([]*kgo.Record, len(batch))
	for i, a := range batch {
		// The alert is only valid during Send: its bytes are copied out.
		recs[i] = &kgo.Record{
			Topic:   d.cfg.AlertTopic,
			Key:     []byte(a.ID),
			Value:   a.AppendJSON(nil),
			Headers: alertHeaders,
		}
	}
	results := d.cl.ProduceSync(ctx, recs...)
	// Results come in the order the records finished, not the batch's.
	index := make(map[*kgo.Record]int, len(recs))
	for i, r := range recs {
		index[r] = i
	}
	var retry []int
	var rejected []sink.Rejection
	var firstRetry error
	for _, r := range results {
		if r.Err == nil {
			continue
		}
		i := index[r.Record]
		if permanent(r.Err) {
			rejected = append(rejected, sink.Rejection{Index: i, Reason: rejectReason(r.Err), Detail: r.Err.Error()})
			continue
		}
		retry = append(retry, i)
		if firstRetry == nil {
			firstRetry = r.Err
		}
	}
	switch {
	case len(retry) == 0 && len(rejected) == 0:
		return nil
	case len(rejected) == len(batch):
		return &sink.PermanentError{Reason: rejected[0].Reason, Err: results[0].Err}
	case len(retry) == len(batch):
		return firstRetry // transient: the whole batch is retried
	}
	return &sink.PartialError{Retry: retry, Rejected: rejected, Err: firstRetry}
}

// rejectReason is the short, stable text of a permanent produce error: the
// Kafka error's name.
func rejectReason(err error) string {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return "kafka " + ke.Message
	}
	return "kafka produce refused"
}

// permanent reports whether a produce error cannot be cured by retrying.
func permanent(err error) bool {
	return errorsIsAny(err,
		kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidRecord,
		kerr.TopicAuthorizationFailed, kerr.ClusterAuthorizationFailed,
		kerr.InvalidTopicException, kerr.CorruptMessage, kerr.UnsupportedForMessageFormat,
		kerr.PolicyViolation, kerr.InvalidRequiredAcks,
	) && !errors.Is(err, context.Canceled)
}

// Close waits for nothing (Send is synchronous) and closes the client.
// A second Close returns ErrClosed.
func (d *AlertDestination) Close() error {
	if !d.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	d.cl.Close()
	return nil
}
