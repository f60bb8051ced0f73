package kafka

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kestrel-sec/kestrel/protoevent"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kestrel-sec/kestrel/internal/pad"
)

// Forwarder produces events to a topic (the sensor side of the bridge).
// Each event goes to one of Config.Lanes lanes chosen by its entity key;
// a lane buffers copies until it holds Config.BatchEvents events or its
// oldest has waited Config.Linger, then flushes: the buffered events are
// grouped by entity key (each group in arrival order) and each group
// becomes one record whose key is the entity key in decimal, whose value is
// the group in Config.Format, and whose HeaderFormat header names that
// format. Kafka sends every record of a key to one partition, so each
// entity's events stay in order from sensor to detection.
//
// Records are produced with acks=all and the idempotent producer by
// default: a broker failure neither loses an acknowledged record nor
// duplicates a retried one. Every event is accounted for (ForwarderStats);
// a record the brokers refuse, or that is not acknowledged within
// Config.DeliveryTimeout, counts its events as failed and is logged.
//
// Publish and Handle may be called from any number of goroutines; an
// entity's events keep the order of the calls that published them.
type Forwarder struct {
	cfg     Config
	cl      *kgo.Client
	lanes   []lane
	headers []kgo.RecordHeader // shared by every record, read-only
	epoch   time.Time          // lingering is measured from here

	ctx    context.Context // cancelled when Close gives up: fails what is in flight
	cancel context.CancelFunc
	wake   chan struct{} // one slot: a lane went from empty to not
	done   chan struct{} // closed by Close: stops the linger loop
	wg     sync.WaitGroup
	closed atomic.Bool // set once by Close; read under each lane's lock

	// Each counter publishes nothing but its own count to Stats.
	produced         atomic.Uint64 // events put into records handed to the client
	delivered        atomic.Uint64 // events in acknowledged records
	failed           atomic.Uint64 // events in refused or timed-out records
	encodeFailed     atomic.Uint64 // events the encoder refused (too large)
	refused          atomic.Uint64 // Publish calls after Close
	records          atomic.Uint64 // records handed to the client
	recordsDelivered atomic.Uint64
	recordsFailed    atomic.Uint64
	bytes            atomic.Uint64 // record value bytes handed to the client
	logged           atomic.Uint32 // delivery failures logged (the first few only)
	reported         atomic.Uint64 // of the failed events, those a Flush or Close returned
}

// lane is one batch being filled. Its fields are guarded by mu, except
// accepted, which Stats reads without it.
type lane struct {
	mu     sync.Mutex
	evs    []schema.Event // copies of the buffered events, len BatchEvents
	n      int            // buffered events: evs[:n]
	since  time.Duration  // when evs[0] came, from Forwarder.epoch
	enc    *encoder
	groups map[schema.EntityKey]int32 // entity → index into heads, per flush
	heads  []int32                    // first event of each group, in first-seen order
	tails  []int32                    // last event of each group
	next   []int32                    // next event of the same group, -1 at the end
	group  []*schema.Event            // one group's events, reused
	value  []byte                     // encoding scratch, reused

	accepted atomic.Uint64 // events this lane took (publishes its count to Stats)
	_        pad.Line      // lanes sit in one slice: keep their locks apart
}

// ForwarderStats counts a Forwarder's events. At quiescence (no Publish in
// progress, nothing in flight: after Close, for instance)
//
//	Events = Buffered + InFlight + Delivered + Failed
//
// where Failed includes EncodeFailed. A snapshot taken while events move
// reads each counter at a slightly different moment.
type ForwarderStats struct {
	Events       uint64 // accepted by Publish and Handle
	Buffered     uint64 // waiting in a lane for its flush
	InFlight     uint64 // in records produced and not yet acknowledged or failed
	Delivered    uint64 // in records the brokers acknowledged (as Config.Acks asks)
	Failed       uint64 // lost: in records that failed, or refused by the encoder
	EncodeFailed uint64 // of Failed: events too large for a record
	Refused      uint64 // Publish calls after Close (not in Events)

	Records          uint64 // records produced
	RecordsDelivered uint64 // records acknowledged
	RecordsFailed    uint64 // records that failed
	Bytes            uint64 // record value bytes produced
}

// recMeta rides on a produced record's Context to its promise.
type recMeta struct {
	context.Context
	events uint64
}

// NewForwarder returns a Forwarder producing to cfg.Topic, or a
// *ConfigError. It starts the Kafka client (which connects lazily) and one
// goroutine that flushes lanes as they linger; Close stops both.
func NewForwarder(cfg Config) (*Forwarder, error) {
	cfg, opts, err := cfg.validatedProducer()
	if err != nil {
		return nil, err
	}
	opts = append(opts, kgo.DefaultProduceTopic(cfg.Topic))
	headers := []kgo.RecordHeader{{Key: HeaderFormat, Value: []byte(cfg.Format.header())}}
	if cfg.SchemaID != "" {
		headers = append(headers, kgo.RecordHeader{Key: HeaderSchema,
			Value: []byte(cfg.SchemaID + "/" + strconv.FormatUint(uint64(cfg.SchemaVersion), 10))})
	}
	f := &Forwarder{
		cfg:     cfg,
		headers: headers,
		epoch:   time.Now(),
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		lanes:   make([]lane, cfg.Lanes),
	}
	for i := range f.lanes {
		l := &f.lanes[i]
		if l.enc, err = newEncoder(cfg.Format, cfg.CompressionLevel); err != nil {
			f.closeEncoders()
			return nil, err
		}
		l.enc.batch = protoevent.BatchHeader{SchemaID: cfg.SchemaID, SchemaVersion: cfg.SchemaVersion}
		l.evs = make([]schema.Event, cfg.BatchEvents)
		l.groups = make(map[schema.EntityKey]int32)
		l.next = make([]int32, cfg.BatchEvents)
	}
	if f.cl, err = kgo.NewClient(opts...); err != nil {
		f.closeEncoders()
		return nil, err
	}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.wg.Add(1)
	go f.lingerLoop()
	return f, nil
}

func (f *Forwarder) closeEncoders() {
	for i := range f.lanes {
		if e := f.lanes[i].enc; e != nil {
			e.close()
		}
	}
}

// laneOf picks an entity's lane: a multiplicative hash of its key.
func (f *Forwarder) laneOf(k schema.EntityKey) *lane {
	h := (k.Hi*0x9E3779B97F4A7C15 ^ k.Lo) * 0xBF58476D1CE4E5B9
	return &f.lanes[(h>>32)%uint64(len(f.lanes))]
}

// Publish copies ev into its lane and returns; the event is produced at the
// lane's next flush. ev may be reused at once; its String values are
// referenced, and Bytes and Array payloads must stay unmodified until the
// flush (as with engine.Bus.Publish). It returns ErrClosed after Close.
// It allocates nothing unless it flushes, and blocks only when it flushes
// into a client holding Config.MaxBufferedRecords unacknowledged records.
//
// Publish makes a Forwarder a replay.Publisher.
func (f *Forwarder) Publish(ev *schema.Event) error {
	l := f.laneOf(ev.Entity)
	l.mu.Lock()
	if f.closed.Load() {
		l.mu.Unlock()
		f.refused.Add(1)
		return ErrClosed
	}
	f.addLocked(l, ev)
	l.mu.Unlock()
	return nil
}

// addLocked buffers ev in l, flushing when the batch is full.
func (f *Forwarder) addLocked(l *lane, ev *schema.Event) {
	l.evs[l.n].CopyFrom(ev)
	l.n++
	l.accepted.Add(1)
	switch {
	case f.cfg.Linger < 0 || l.n == len(l.evs):
		f.flushLocked(l)
	case l.n == 1:
		l.since = time.Since(f.epoch)
		select {
		case f.wake <- struct{}{}:
		default:
		}
	}
}

// Handle is an engine.Handler: it publishes every event of the batch, so a
// sensor's bus can feed the Forwarder from its workers
// (bus.Run(fwd.Handle)). Events refused because the Forwarder is closed are
// counted in ForwarderStats.Refused.
func (f *Forwarder) Handle(partition int, batch []*schema.Event) {
	var l *lane
	for _, ev := range batch {
		nl := f.laneOf(ev.Entity)
		if nl != l {
			if l != nil {
				l.mu.Unlock()
			}
			l = nl
			l.mu.Lock()
		}
		if f.closed.Load() {
			f.refused.Add(1)
			continue
		}
		f.addLocked(l, ev)
	}
	if l != nil {
		l.mu.Unlock()
	}
}

// flushLocked turns l's buffered events into records, one per entity key.
func (f *Forwarder) flushLocked(l *lane) {
	if l.n == 0 {
		return
	}
	clear(l.groups)
	l.heads, l.tails = l.heads[:0], l.tails[:0]
	for i := 0; i < l.n; i++ {
		k := l.evs[i].Entity
		l.next[i] = -1
		if g, ok := l.groups[k]; ok {
			l.next[l.tails[g]] = int32(i)
			l.tails[g] = int32(i)
			continue
		}
		l.groups[k] = int32(len(l.heads))
		l.heads = append(l.heads, int32(i))
		l.tails = append(l.tails, int32(i))
	}
	for _, h := range l.heads {
		l.group = l.group[:0]
		for i := h; i >= 0; i = l.next[i] {
			l.group = append(l.group, &l.evs[i])
		}
		f.produceGroup(l, l.group)
	}
	for i := range l.group {
		l.group[i] = nil
	}
	l.n = 0
}

// recordOverhead bounds what a record adds to its value in a produce
// batch: key, format header, record and batch framing.
const recordOverhead = 512

// produceGroup encodes one entity's events as a record and produces it. A
// group whose record would pass Config.BatchBytes is split in halves, in
// order, so that no record is refused for its size.
func (f *Forwarder) produceGroup(l *lane, evs []*schema.Event) {
	var n, bad int
	var err error
	l.value, n, bad, err = l.enc.appendRecord(l.value[:0], evs)
	if len(l.value)+recordOverhead > f.cfg.BatchBytes && len(evs) > 1 {
		half := len(evs) / 2
		f.produceGroup(l, evs[:half])
		f.produceGroup(l, evs[half:])
		return
	}
	if bad > 0 {
		f.encodeFailed.Add(uint64(bad))
		f.logFailure("kafka: events could not be encoded", err, bad)
	}
	if n == 0 {
		return
	}
	// One allocation holds the key (the entity in decimal) and the value.
	k := evs[0].Entity
	buf := make([]byte, 0, 40+len(l.value))
	buf = k.AppendDecimal(buf)
	keyLen := len(buf)
	buf = append(buf, l.value...)
	rec := &kgo.Record{
		Topic:   f.cfg.Topic,
		Key:     buf[:keyLen:keyLen],
		Value:   buf[keyLen:],
		Headers: f.headers,
		Context: &recMeta{Context: f.ctx, events: uint64(n)},
	}
	f.produced.Add(uint64(n))
	f.records.Add(1)
	f.bytes.Add(uint64(len(rec.Value)))
	f.cl.Produce(f.ctx, rec, f.onProduced)
}

// onProduced is every record's promise: it counts the record's events as
// delivered or failed.
func (f *Forwarder) onProduced(r *kgo.Record, err error) {
	m := r.Context.(*recMeta)
	if err != nil {
		f.failed.Add(m.events)
		f.recordsFailed.Add(1)
		f.logFailure("kafka: record not delivered", err, int(m.events))
		return
	}
	f.delivered.Add(m.events)
	f.recordsDelivered.Add(1)
}

// logFailure logs the first few failures; Stats counts them all.
func (f *Forwarder) logFailure(msg string, err error, events int) {
	const most = 10
	switch n := f.logged.Add(1); {
	case n < most:
		f.cfg.Logger.Error(msg, "topic", f.cfg.Topic, "events", events, "err", err)
	case n == most:
		f.cfg.Logger.Error(msg+" (further failures are only counted)", "topic", f.cfg.Topic, "events", events, "err", err)
	}
}

// lingerLoop flushes lanes whose oldest event has waited Config.Linger.
// It sleeps on wake while every lane is empty, so an idle Forwarder costs
// nothing.
func (f *Forwarder) lingerLoop() {
	defer f.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-f.done:
			return
		case <-f.wake:
		}
		for {
			wait, busy := f.flushDue()
			if !busy {
				break
			}
			timer.Reset(wait)
			select {
			case <-f.done:
				timer.Stop()
				return
			case <-timer.C:
			}
		}
	}
}

// flushDue flushes the lanes that have lingered long enough and returns
// how long until the next is due, and whether any lane holds events.
func (f *Forwarder) flushDue() (wait time.Duration, busy bool) {
	wait = f.cfg.Linger
	for i := range f.lanes {
		l := &f.lanes[i]
		l.mu.Lock()
		if l.n > 0 {
			age := time.Since(f.epoch) - l.since
			if age >= f.cfg.Linger {
				f.flushLocked(l)
			} else {
				busy = true
				wait = min(wait, f.cfg.Linger-age)
			}
		}
		l.mu.Unlock()
	}
	return max(wait, 100*time.Microsecond), busy
}

// Flush produces every buffered event and waits until every record
// produced so far is acknowledged or failed, or ctx ends. It returns an
// *UndeliveredError counting the events that failed since the last Flush
// or Close reported (so each loss is reported once, and none is missed
// between calls), plus, when ctx ended first, those still in flight. Every
// loss also stays counted in ForwarderStats.
func (f *Forwarder) Flush(ctx context.Context) error {
	for i := range f.lanes {
		l := &f.lanes[i]
		l.mu.Lock()
		f.flushLocked(l)
		l.mu.Unlock()
	}
	err := f.cl.Flush(ctx)
	st := f.Stats()
	// Claim the failures no Flush has reported yet. A CAS, not a Swap:
	// with two Flushes at once, the one holding the older count must not
	// lower reported (and so underflow its own count and report twice).
	var lost uint64
	for {
		r := f.reported.Load()
		if st.Failed <= r {
			break
		}
		if f.reported.CompareAndSwap(r, st.Failed) {
			lost = st.Failed - r
			break
		}
	}
	if err != nil {
		return &UndeliveredError{Events: lost + st.InFlight + st.Buffered, Err: err}
	}
	if lost > 0 {
		return &UndeliveredError{Events: lost, Err: errors.New("records failed or could not be encoded; see the log")}
	}
	return nil
}

// Close stops taking events, produces what is buffered, waits until it is
// acknowledged or ctx ends, and closes the client. When ctx ends first, the
// records still in flight fail (counted in ForwarderStats.Failed). Close
// returns an *UndeliveredError when any event was lost that no earlier
// Flush reported, so a nil error means everything accepted since the last
// report was delivered. A second Close returns ErrClosed.
func (f *Forwarder) Close(ctx context.Context) error {
	if !f.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	// A producer can be blocked in the client (its buffer full, the
	// brokers away) while holding a lane; ctx ending must release it, or
	// Close would wait past ctx for DeliveryTimeout.
	stop := context.AfterFunc(ctx, f.cancel)
	defer stop()
	close(f.done)
	f.wg.Wait()
	err := f.Flush(ctx)
	if err != nil {
		// Fail what is still buffered in the client, so every promise
		// runs (and counts) before the client goes.
		f.cancel()
		abortCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		f.cl.AbortBufferedRecords(abortCtx) //nolint:errcheck // counted by the promises
		cancel()
	}
	f.cl.Close()
	f.cancel()
	f.closeEncoders()
	return err
}

// Stats returns the Forwarder's counters without taking a lock.
func (f *Forwarder) Stats() ForwarderStats {
	var st ForwarderStats
	for i := range f.lanes {
		st.Events += f.lanes[i].accepted.Load()
	}
	produced := f.produced.Load()
	encFailed := f.encodeFailed.Load()
	st.Delivered = f.delivered.Load()
	failed := f.failed.Load()
	st.Failed = failed + encFailed
	st.EncodeFailed = encFailed
	st.Refused = f.refused.Load()
	st.Records = f.records.Load()
	st.RecordsDelivered = f.recordsDelivered.Load()
	st.RecordsFailed = f.recordsFailed.Load()
	st.Bytes = f.bytes.Load()
	if settled := st.Delivered + failed; produced > settled {
		st.InFlight = produced - settled
	}
	if taken := produced + encFailed; st.Events > taken {
		st.Buffered = st.Events - taken
	}
	return st
}
