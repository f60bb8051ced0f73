package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/internal/ctxsleep"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Source is a consumer-group member that reads the events topic and
// publishes the events into a local engine.Bus (the detection side of the
// bridge). Run it on every detection node with the same Config.Group: the
// group spreads the topic's partitions over the nodes and moves them when a
// node joins or leaves.
//
// # Order
//
// The Forwarder keys records by entity, so an entity's events are in one
// Kafka partition, in order. A Source handles its records one at a time in
// offset order, from one goroutine, and publishes each record's events in
// order; the bus puts each entity on one of its partitions (by the same key)
// and keeps publish order there. So every entity's events reach their
// worker in the order the sensor published them, whatever the numbers of
// Kafka and bus partitions.
//
// # Delivery
//
// At least once, and exactly once when nothing fails. A record's offset is
// committed only after the bus's workers have handled every one of its
// events, in every bus partition that holds one, Route's copies included:
// after publishing records the Source takes the bus's position marks
// (engine.Bus.Mark), keeps those of the partitions whose position moved
// since the previous mark, and the records are handled once every one of
// them is reached (engine.Bus.Handled), which a worker's ring passes only
// after its Handler returned. A mark reads every bus partition, so on a
// bus of more than a few partitions it is taken once as many events as
// half of them are out, and at the latest after each poll, rather than
// after every record. Other publishers on the same bus, and copies of
// other records, can only delay a commit, never hasten it. Offsets are
// committed every Config.CommitInterval. When the group takes partitions
// away (a node joins or leaves), the Source waits up to
// Config.DrainTimeout for the workers to handle what it published from
// them, commits, and only then lets the partitions go, so the next owner
// starts exactly where this one stopped. When a node dies, or its workers stop, its uncommitted records
// are read again by the next owner: duplicates, never a loss.
//
// # Backpressure
//
// When a bus partition is full the bus refuses (Drop) or times out (Block)
// the event; the Source then pauses fetching, waits for room and publishes
// the event again: nothing is dropped, and each refusal is counted
// (SourceStats.BusRefusals) as the bus counts it (Dropped or TimedOut in
// engine.PartitionStats, for events that were later accepted).
//
// # Poison records
//
// A record whose value does not decode (bad header, corrupt block, bad JSON
// line, an event the registry rejects, too many events) publishes nothing:
// it is written to Config.DeadLetterTopic with the reason and its origin in
// headers (HeaderDLQReason, ...), counted, and skipped.
type Source struct {
	cfg Config
	bus *engine.Bus
	ran atomic.Bool

	mu      sync.Mutex // guards what follows, and is held across commits
	cl      *kgo.Client
	parts   map[topicPart]*partState
	closing bool     // Run is stopping: revocations commit without waiting
	dec     *decoder // the record decoder; used under mu
	// mark is the bus's position mark (engine.Bus.Mark) taken after the
	// last records marked; cur and reached are scratch for the next mark
	// and for engine.Bus.Handled. One entry per bus partition each.
	mark, cur, reached []uint64
	// unmarked are the records read since the last mark, in order, and
	// sinceMark counts the events they published: a mark reads every bus
	// partition, so it is taken once markEvery events are out (or when
	// the records are needed), not after every record.
	unmarked  []unmarked
	sinceMark int
	markEvery int
	paused    bool // fetching is paused for backpressure

	// Each counter publishes nothing but its own count to Stats.
	records, events, poison             atomic.Uint64
	deadLettered, deadLetterFailed      atomic.Uint64
	busRefusals, pauses                 atomic.Uint64
	commits, commitFailures, fetchErrs  atomic.Uint64
	assigned, revoked, lost, abandoned  atomic.Uint64
	pendingRecords                      atomic.Int64
	loggedPoison, loggedFetch, loggedDL atomic.Uint32
}

// SourceStats counts a Source's work. Every record read is either poison
// (counted in Poison, then in DeadLettered or DeadLetterFailed) or has its
// events published (Events); the only exception is the record a stopping
// Source was publishing while the bus stayed full, which it leaves
// uncommitted for the next owner.
type SourceStats struct {
	Records          uint64 // records read
	Events           uint64 // events the bus accepted
	Poison           uint64 // records that did not decode
	DeadLettered     uint64 // poison records the dead-letter topic acknowledged
	DeadLetterFailed uint64 // poison records not dead-lettered (topic off, or the write failed); skipped
	BusRefusals      uint64 // publishes the bus refused as full; retried, never dropped
	Pauses           uint64 // times fetching paused because the bus was full
	Commits          uint64 // offset commits that succeeded
	CommitFailures   uint64 // offset commits that failed (retried at the next interval)
	FetchErrors      uint64 // fetch errors reported by the client (it retries them)
	Assigned         uint64 // partitions assigned, over all rebalances
	Revoked          uint64 // partitions handed over in rebalances
	Lost             uint64 // partitions lost (session expired, fenced)
	Abandoned        uint64 // records published but not committed when their partition went: the next owner reads them again
	Pending          uint64 // records published whose events the workers have not all handled (now)
	Unmapped         uint64 // events of records in another schema whose type Local lacks; skipped
}

type topicPart struct {
	topic     string
	partition int32
}

// pending is a record published and not yet known to be handled: it is
// handled once the bus has reached marks (nil: nothing to wait for), or,
// withNext, once the next record of its Kafka partition is.
type pending struct {
	offset   int64
	epoch    int32
	withNext bool
	marks    *marks
}

// marks are the positions (engine.Bus.Mark) the bus must reach for the
// records marked together to be handled: only those of the partitions
// whose position moved since the previous mark. One marks is shared by the
// last record of each Kafka partition among them.
type marks struct {
	parts []int32
	pos   []uint64
	next  int // parts[:next] are reached (positions only grow)
}

// reached reports whether the handled positions at reach every mark.
func (m *marks) reached(at []uint64) bool {
	for m.next < len(m.parts) && at[m.parts[m.next]] >= m.pos[m.next] {
		m.next++
	}
	return m.next == len(m.parts)
}

// unmarked is a record read and published (or found poison) whose marks
// are not yet taken.
type unmarked struct {
	ps     *partState
	offset int64
	epoch  int32
}

// partState is one assigned Kafka partition: the records published from it
// and not yet known to be handled, in offset order.
type partState struct {
	q         []pending // q[head:] are waiting
	head      int
	done      kgo.EpochOffset // the offset after the last record fully handled
	committed int64           // the last offset committed, -1 before any
	carried   int             // withNext records passed, counted handled with the next one
	last      int             // markRecords' pass: the index of this partition's last record
}

// NewSource returns a Source that will publish into bus, or a
// *ConfigError. Nothing starts until Run.
func NewSource(cfg Config, bus *engine.Bus) (*Source, error) {
	cfg, err := cfg.validated()
	if err != nil {
		return nil, err
	}
	if bus == nil {
		return nil, bad("bus", "a Source needs a bus to publish into")
	}
	n := bus.Partitions()
	return &Source{
		cfg:       cfg,
		bus:       bus,
		parts:     make(map[topicPart]*partState),
		dec:       newDecoder(cfg.readerOptions(), cfg.MaxRecordEvents).withMapping(cfg.Local, cfg.Resolve, cfg.Mapping),
		mark:      make([]uint64, n),
		cur:       make([]uint64, n),
		reached:   make([]uint64, n),
		markEvery: max(1, n/2), // a mark's loads, spread over the events: at most two each
	}, nil
}

// Run joins the group and publishes events into the bus until ctx ends or
// the bus shuts down. Then it stops fetching, waits up to
// Config.DrainTimeout for the workers to handle what it published, commits,
// leaves the group and returns. It returns nil when ctx ended, an error
// wrapping engine.ErrClosed when the bus shut down under it, or the
// client's error when it could not start. Run may be called once.
func (s *Source) Run(ctx context.Context) error {
	if !s.ran.CompareAndSwap(false, true) {
		return ErrRunning
	}
	opts, err := s.cfg.clientOpts()
	if err != nil {
		return err
	}
	start := kgo.NewOffset().AtStart()
	if s.cfg.StartOffset == StartLatest {
		start = kgo.NewOffset().AtEnd()
	}
	opts = append(opts, s.cfg.producerOpts()...) // for the dead-letter topic
	opts = append(opts,
		kgo.ConsumerGroup(s.cfg.Group),
		kgo.ConsumeTopics(s.cfg.Topic),
		kgo.ConsumeResetOffset(start),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.SessionTimeout(s.cfg.SessionTimeout),
		kgo.HeartbeatInterval(s.cfg.HeartbeatInterval),
		kgo.RebalanceTimeout(s.cfg.RebalanceTimeout),
		kgo.OnPartitionsAssigned(s.onAssigned),
		kgo.OnPartitionsRevoked(s.onRevoked),
		kgo.OnPartitionsLost(s.onLost),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.cl = cl
	s.mark = s.bus.Mark(s.mark) // what others published before: not waited for
	s.mu.Unlock()
	s.cfg.Logger.Info("kafka: source joining", "group", s.cfg.Group, "topic", s.cfg.Topic)
	s.checkTopics(ctx)

	err = s.loop(ctx)

	// Stop: let the workers finish what was published, commit it, leave.
	drain, cancel := context.WithTimeout(context.Background(), s.cfg.DrainTimeout)
	s.mu.Lock()
	s.waitHandledLocked(drain, nil)
	cancel()
	s.commitLocked(context.Background(), nil) // bounded by commitTimeout
	s.closing = true
	s.mu.Unlock()
	cl.CloseAllowingRebalance()
	s.mu.Lock()
	s.dec.close()
	s.mu.Unlock()
	s.cfg.Logger.Info("kafka: source stopped", "group", s.cfg.Group, "err", err)
	return err
}

// checkTopics logs a warning for the events or dead-letter topic that the
// brokers do not know: consuming waits for the first, and poison records
// cannot be dead-lettered without the second.
func (s *Source) checkTopics(ctx context.Context) {
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range []string{s.cfg.Topic, s.cfg.DeadLetterTopic} {
		if t == NoDeadLetter {
			continue
		}
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	resp, err := req.RequestWith(ctx, s.cl)
	if err != nil {
		return // the client logs why it cannot reach the brokers
	}
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil && t.Topic != nil {
			s.cfg.Logger.Warn("kafka: topic not available", "topic", *t.Topic, "err", err)
		}
	}
}

// loop polls and publishes until ctx ends or publishing fails for good.
func (s *Source) loop(ctx context.Context) error {
	lastCommit := time.Now()
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, s.cfg.CommitInterval)
		fetches := s.cl.PollRecords(pctx, s.cfg.MaxPollRecords)
		cancel()
		if fetches.IsClientClosed() {
			return errors.New("kafka: the client closed under the source")
		}
		fetches.EachError(s.fetchError)

		s.mu.Lock()
		var err error
		for r := range fetches.RecordsAll() {
			if err = s.process(ctx, r); err != nil {
				break
			}
			if ctx.Err() != nil {
				break // stop between records; the rest is read again later
			}
		}
		s.markRecords() // none left unmarked across a poll, where rebalances run
		if s.paused {
			s.cl.ResumeFetchTopics(s.cfg.Topic)
			s.paused = false
		}
		if err == nil && ctx.Err() == nil && time.Since(lastCommit) >= s.cfg.CommitInterval {
			s.commitLocked(ctx, nil)
			lastCommit = time.Now()
		}
		s.mu.Unlock()
		s.cl.AllowRebalance()
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Source) fetchError(topic string, partition int32, err error) {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return // the poll's own timeout, or Run's context
	}
	s.fetchErrs.Add(1)
	if s.loggedFetch.Add(1) <= 10 {
		s.cfg.Logger.Warn("kafka: fetch error", "topic", topic, "partition", partition, "err", err)
	}
}

// part returns the state of a partition, creating it if the assignment
// callback has not (it always has, with BlockRebalanceOnPoll).
func (s *Source) part(topic string, partition int32) *partState {
	tp := topicPart{topic, partition}
	ps := s.parts[tp]
	if ps == nil {
		ps = &partState{done: kgo.EpochOffset{Epoch: -1, Offset: -1}, committed: -1}
		s.parts[tp] = ps
	}
	return ps
}

// process decodes one record and publishes its events; a poison record
// goes to the dead-letter topic. Called under mu. An error is final (the
// bus closed); ctx ending stops only the waits for room, after a grace of
// DrainTimeout, so a record is normally published whole.
func (s *Source) process(ctx context.Context, r *kgo.Record) error {
	ps := s.part(r.Topic, r.Partition)
	s.records.Add(1)
	n, derr := s.dec.decode(r.Headers, r.Value)
	if derr != nil {
		s.deadLetter(r, &RecordError{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Err: derr})
		s.unmarked = append(s.unmarked, unmarked{ps, r.Offset, r.LeaderEpoch})
		s.pendingRecords.Add(1)
		return nil
	}
	evs := s.dec.evs[:n]
	var grace context.Context
	for attempt := 0; len(evs) > 0; attempt++ {
		k, err := s.bus.PublishBatch(evs)
		s.events.Add(uint64(k))
		evs = evs[k:]
		if err == nil {
			break
		}
		if err != engine.ErrDropped && err != engine.ErrTimeout {
			return fmt.Errorf("kafka: publishing into the bus: %w", err)
		}
		s.busRefusals.Add(1)
		if !s.paused {
			s.cl.PauseFetchTopics(s.cfg.Topic)
			s.paused = true
			s.pauses.Add(1)
		}
		wait := ctx
		if ctx.Err() != nil {
			if grace == nil {
				var cancel context.CancelFunc
				grace, cancel = context.WithTimeout(context.Background(), s.cfg.DrainTimeout)
				defer cancel()
			}
			wait = grace
		}
		if !ctxsleep.Sleep(wait, backoff(attempt)) && grace != nil {
			// Stopping with the bus still full past the grace period: the
			// record is left uncommitted, so it is read again (the
			// published part twice). A sleep cut short by ctx itself goes
			// round once more, into the grace period.
			return nil
		}
	}
	s.unmarked = append(s.unmarked, unmarked{ps, r.Offset, r.LeaderEpoch})
	s.pendingRecords.Add(1)
	if s.sinceMark += n; s.sinceMark >= s.markEvery {
		s.markRecords()
	}
	return nil
}

// markRecords takes the bus's marks and queues the unmarked records: the
// last record of each Kafka partition among them waits for the positions
// of the bus partitions that moved since the previous mark (one marks
// shared by all, allocated once per mark), the earlier ones are handled
// with it (withNext). Every event of those records, and every routed copy,
// lies below the new positions, and none in a partition whose position did
// not move. Called under mu.
func (s *Source) markRecords() {
	if len(s.unmarked) == 0 {
		return
	}
	var m *marks
	if s.sinceMark > 0 {
		s.cur = s.bus.Mark(s.cur)
		moved := 0
		for i, pos := range s.cur {
			if pos != s.mark[i] {
				moved++
			}
		}
		if moved > 0 {
			m = &marks{parts: make([]int32, 0, moved), pos: make([]uint64, 0, moved)}
			for i, pos := range s.cur {
				if pos != s.mark[i] {
					m.parts = append(m.parts, int32(i))
					m.pos = append(m.pos, pos)
					s.mark[i] = pos
				}
			}
		}
	}
	for k, u := range s.unmarked {
		u.ps.last = k
	}
	for k, u := range s.unmarked {
		if u.ps.last != k {
			u.ps.push(pending{offset: u.offset, epoch: u.epoch, withNext: true})
		} else {
			u.ps.push(pending{offset: u.offset, epoch: u.epoch, marks: m})
		}
	}
	clear(s.unmarked) // drop the partStates
	s.unmarked, s.sinceMark = s.unmarked[:0], 0
}

// backoff is the wait before the attempt-th retry of a refused publish.
func backoff(attempt int) time.Duration {
	return min(time.Millisecond<<min(attempt, 6), 50*time.Millisecond)
}

// deadLetter writes a poison record to the dead-letter topic, or counts it
// as skipped.
func (s *Source) deadLetter(r *kgo.Record, rerr *RecordError) {
	s.poison.Add(1)
	if s.loggedPoison.Add(1) <= 10 {
		s.cfg.Logger.Warn("kafka: poison record", "err", rerr, "dead_letter_topic", s.cfg.DeadLetterTopic)
	}
	if s.cfg.DeadLetterTopic == NoDeadLetter {
		s.deadLetterFailed.Add(1)
		return
	}
	headers := append(slices.Clip(r.Headers),
		kgo.RecordHeader{Key: HeaderDLQReason, Value: []byte(rerr.Err.Error())},
		kgo.RecordHeader{Key: HeaderDLQTopic, Value: []byte(r.Topic)},
		kgo.RecordHeader{Key: HeaderDLQPartition, Value: strconv.AppendInt(nil, int64(r.Partition), 10)},
		kgo.RecordHeader{Key: HeaderDLQOffset, Value: strconv.AppendInt(nil, r.Offset, 10)},
		kgo.RecordHeader{Key: HeaderDLQGroup, Value: []byte(s.cfg.Group)},
	)
	dl := &kgo.Record{Topic: s.cfg.DeadLetterTopic, Key: r.Key, Value: r.Value, Headers: headers}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.DeliveryTimeout)
	defer cancel()
	if err := s.cl.ProduceSync(ctx, dl).FirstErr(); err != nil {
		s.deadLetterFailed.Add(1)
		if s.loggedDL.Add(1) <= 10 {
			s.cfg.Logger.Error("kafka: poison record not dead-lettered; skipped", "record", rerr, "err", err)
		}
		return
	}
	s.deadLettered.Add(1)
}

// push appends a record's mark.
func (ps *partState) push(p pending) { ps.q = append(ps.q, p) }

// waiting is the number of records queued and not yet handled.
func (ps *partState) waiting() int { return len(ps.q) - ps.head }

// advance drops the marks the workers have handled (reached holds each
// bus partition's handled position) and moves done past every record all
// of whose marks are gone. It returns how many records finished.
func (ps *partState) advance(reached []uint64) (records int) {
	for ps.head < len(ps.q) {
		e := ps.q[ps.head]
		if e.withNext {
			ps.head++
			ps.carried++ // done only with the next record
			continue
		}
		if e.marks != nil && !e.marks.reached(reached) {
			break
		}
		ps.head++
		ps.done = kgo.EpochOffset{Epoch: e.epoch, Offset: e.offset + 1}
		records += 1 + ps.carried
		ps.carried = 0
	}
	switch {
	case ps.head == len(ps.q):
		clear(ps.q) // drop the marks
		ps.q, ps.head = ps.q[:0], 0
	case ps.head >= 1024 && ps.head*2 >= len(ps.q):
		n := copy(ps.q, ps.q[ps.head:])
		clear(ps.q[n:])
		ps.q, ps.head = ps.q[:n], 0
	}
	return records
}

// handled reads the bus's handled positions and advances the given
// partitions (nil: all), returning the records still waiting. Called
// under mu.
func (s *Source) handled(tps map[topicPart]*partState) int {
	s.markRecords()
	s.reached = s.bus.Handled(s.reached)
	if tps == nil {
		tps = s.parts
	}
	left := 0
	for _, ps := range tps {
		s.pendingRecords.Add(-int64(ps.advance(s.reached)))
		left += ps.waiting()
	}
	return left
}

// waitHandledLocked waits until the workers handled every event published
// from the given partitions (nil: all), or ctx ends. Called under mu.
func (s *Source) waitHandledLocked(ctx context.Context, tps map[topicPart]*partState) bool {
	for s.handled(tps) > 0 {
		if !ctxsleep.Sleep(ctx, time.Millisecond) {
			return false
		}
	}
	return true
}

// commitTimeout bounds one offset commit.
const commitTimeout = 10 * time.Second

// commitLocked commits, for the given partitions (nil: all), the offset
// after the last record whose events were all handled, where it moved.
// Called under mu.
func (s *Source) commitLocked(ctx context.Context, tps map[topicPart]*partState) {
	s.handled(tps)
	if tps == nil {
		tps = s.parts
	}
	offsets := make(map[string]map[int32]kgo.EpochOffset)
	for tp, ps := range tps {
		if ps.done.Offset <= ps.committed {
			continue
		}
		m := offsets[tp.topic]
		if m == nil {
			m = make(map[int32]kgo.EpochOffset)
			offsets[tp.topic] = m
		}
		m[tp.partition] = ps.done
	}
	if len(offsets) == 0 {
		return
	}
	var failed map[topicPart]error
	var reqErr error
	ctx, cancel := context.WithTimeout(ctx, commitTimeout)
	defer cancel()
	s.cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			reqErr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					if failed == nil {
						failed = make(map[topicPart]error)
					}
					failed[topicPart{t.Topic, p.Partition}] = err
				}
			}
		}
	})
	if reqErr != nil {
		s.commitFailures.Add(1)
		s.cfg.Logger.Warn("kafka: offset commit failed", "group", s.cfg.Group, "err", reqErr)
		return
	}
	for topic, m := range offsets {
		for p, eo := range m {
			tp := topicPart{topic, p}
			if err := failed[tp]; err != nil {
				s.cfg.Logger.Warn("kafka: offset commit failed", "group", s.cfg.Group, "topic", topic, "partition", p, "err", err)
				continue
			}
			if ps := tps[tp]; ps != nil {
				ps.committed = eo.Offset
			}
		}
	}
	if len(failed) > 0 {
		s.commitFailures.Add(1)
		return
	}
	s.commits.Add(1)
}

// collect returns the states of the listed partitions that the Source has.
func (s *Source) collect(m map[string][]int32) map[topicPart]*partState {
	out := make(map[topicPart]*partState)
	for topic, ps := range m {
		for _, p := range ps {
			tp := topicPart{topic, p}
			if st := s.parts[tp]; st != nil {
				out[tp] = st
			}
		}
	}
	return out
}

func (s *Source) onAssigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// A partition assigned anew starts from its committed offset: state
	// left from an earlier assignment (there should be none) is stale.
	s.markRecords()
	var ignored atomic.Uint64
	s.forget(s.collect(assigned), &ignored)
	for topic, ps := range assigned {
		for _, p := range ps {
			s.part(topic, p)
			s.assigned.Add(1)
		}
	}
	s.cfg.Logger.Info("kafka: partitions assigned", "group", s.cfg.Group, "partitions", assigned)
}

// onRevoked hands partitions over: it waits for the workers to handle what
// was published from them, commits, and forgets them.
func (s *Source) onRevoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tps := s.collect(revoked)
	if len(tps) == 0 {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, s.cfg.DrainTimeout)
	if !s.closing && !s.waitHandledLocked(wctx, tps) {
		s.cfg.Logger.Warn("kafka: workers did not handle the revoked partitions' events in time; the next owner reads them again",
			"group", s.cfg.Group, "drain_timeout", s.cfg.DrainTimeout)
	}
	cancel()
	s.commitLocked(ctx, tps)
	s.forget(tps, &s.revoked)
	s.cfg.Logger.Info("kafka: partitions revoked", "group", s.cfg.Group, "partitions", revoked)
}

// onLost forgets partitions that are already someone else's: nothing can
// be committed for them.
func (s *Source) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handled(nil)
	s.forget(s.collect(lost), &s.lost)
	s.cfg.Logger.Warn("kafka: partitions lost", "group", s.cfg.Group, "partitions", lost)
}

// forget drops partitions, counting records still in flight as abandoned.
func (s *Source) forget(tps map[topicPart]*partState, counter *atomic.Uint64) {
	for tp, ps := range tps {
		abandoned := ps.carried + ps.waiting()
		// Records handled but not committed (a failed commit) are read
		// again too; they are not pending any more, so not counted here.
		s.abandoned.Add(uint64(abandoned))
		s.pendingRecords.Add(-int64(abandoned))
		delete(s.parts, tp)
		counter.Add(1)
	}
}

// Stats returns the Source's counters without taking a lock.
func (s *Source) Stats() SourceStats {
	return SourceStats{
		Records:          s.records.Load(),
		Events:           s.events.Load(),
		Poison:           s.poison.Load(),
		Unmapped:         s.dec.mapper.unmapped.Load(),
		DeadLettered:     s.deadLettered.Load(),
		DeadLetterFailed: s.deadLetterFailed.Load(),
		BusRefusals:      s.busRefusals.Load(),
		Pauses:           s.pauses.Load(),
		Commits:          s.commits.Load(),
		CommitFailures:   s.commitFailures.Load(),
		FetchErrors:      s.fetchErrs.Load(),
		Assigned:         s.assigned.Load(),
		Revoked:          s.revoked.Load(),
		Lost:             s.lost.Load(),
		Abandoned:        s.abandoned.Load(),
		Pending:          uint64(max(s.pendingRecords.Load(), 0)),
	}
}
