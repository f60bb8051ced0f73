//go:build linux

package sensor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/kestrel-sec/kestrel/clock"
	"github.com/kestrel-sec/kestrel/engine"
)

// Sensor reads the kernel programs' records and publishes them as events.
// Create it with New, start it with Run.
type Sensor struct {
	cfg     Config
	log     *slog.Logger
	started atomic.Bool
	ready   chan struct{} // closed once the programs are attached and /proc read

	read, published, busDropped, decodeErrs, skipped, recordErrs atomic.Uint64
	seeded, evicted, argsTrunc, cwdTrunc                         atomic.Uint64
	filesOn, netOn, acceptOn                                     atomic.Bool

	mu          sync.Mutex
	drops       *ebpf.Map       // nil when not running
	kernelDrops uint64          // last value read from drops
	progs       *kestrelObjects // the loaded programs while running, for kernelStats
}

// New checks cfg and returns a Sensor; nothing is loaded until Run.
func New(cfg Config) (*Sensor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.MaxProcesses = cmp.Or(cfg.MaxProcesses, DefaultMaxProcesses)
	cfg.MaxDelay = cmp.Or(cfg.MaxDelay, DefaultMaxDelay)
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	log := cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	return &Sensor{cfg: cfg, log: log, ready: make(chan struct{})}, nil
}

// Ready is closed once Run has attached the programs and read /proc: from
// then on, every process event reaches the ring buffer.
func (s *Sensor) Ready() <-chan struct{} { return s.ready }

// Stats returns the counters; safe to call at any time, from any goroutine.
func (s *Sensor) Stats() Stats {
	st := Stats{
		Read: s.read.Load(), Published: s.published.Load(), BusDropped: s.busDropped.Load(),
		DecodeErrors: s.decodeErrs.Load(), Skipped: s.skipped.Load(), RecordErrors: s.recordErrs.Load(),
		ProcsSeeded: s.seeded.Load(), ProcsEvicted: s.evicted.Load(),
		ArgsTruncated: s.argsTrunc.Load(), CwdTruncated: s.cwdTrunc.Load(),
		FilesOn: s.filesOn.Load(), NetworkOn: s.netOn.Load(), AcceptOn: s.acceptOn.Load(),
	}
	s.mu.Lock()
	if s.drops != nil {
		s.kernelDrops = sumDrops(s.drops, s.kernelDrops)
	}
	st.KernelDrops = s.kernelDrops
	s.mu.Unlock()
	return st
}

func sumDrops(m *ebpf.Map, prev uint64) uint64 {
	var per []uint64
	if err := m.Lookup(uint32(0), &per); err != nil {
		return prev
	}
	var n uint64
	for _, v := range per {
		n += v
	}
	return n
}

// Run loads and attaches the programs, seeds the process table from /proc,
// and publishes events until ctx ends or the bus closes; then it detaches
// everything and returns: nil when ctx ended, otherwise an *Error (matching
// ErrPermission, ErrNoBTF, ...) or the bus's ErrClosed. It starts one
// goroutine only while ctx is alive, to wake the reader, and none outlives
// it.
func (s *Sensor) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return ErrRunning
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return &Error{Op: "load", Err: ErrNoBTF}
	}
	_ = rlimit.RemoveMemlock() // needed only before kernel 5.11's memcg accounting

	spec, err := loadKestrel()
	if err != nil {
		return &Error{Op: "load eBPF objects", Err: err}
	}
	if s.cfg.MaxDelay > 0 {
		if err := spec.Variables[kestrelVarBatchWakeup].Set(uint32(1)); err != nil {
			return &Error{Op: "configure eBPF objects", Err: err}
		}
	}
	var objs kestrelObjects
	if err := spec.LoadAndAssign(&objs, nil); err != nil {
		return &Error{Op: "load eBPF programs", Err: permission(err)}
	}
	defer objs.Close()

	var links []link.Link
	defer func() {
		for _, l := range links {
			_ = l.Close()
		}
	}()
	for _, p := range []*ebpf.Program{objs.HandleExec, objs.HandleFork, objs.HandleExit} {
		l, err := link.AttachTracing(link.TracingOptions{Program: p})
		if err != nil {
			return &Error{Op: "attach " + p.String(), Err: permission(err)}
		}
		links = append(links, l)
	}
	if !s.cfg.NoNetwork {
		if l, err := link.AttachTracing(link.TracingOptions{Program: objs.HandleSockState}); err != nil {
			s.log.Warn("sensor: network events off", "err", err)
		} else {
			links = append(links, l)
			s.netOn.Store(true)
		}
	}
	// The file programs and accept are on the syscalls' classic
	// tracepoints, which need tracefs.
	var syscalls []syscallProg
	if !s.cfg.NoFiles {
		syscalls = append(syscalls,
			syscallProg{"sys_enter_openat", objs.HandleOpenat, &s.filesOn}, syscallProg{"sys_enter_open", objs.HandleOpen, &s.filesOn},
			syscallProg{"sys_enter_openat2", objs.HandleOpenat2, &s.filesOn}, syscallProg{"sys_enter_creat", objs.HandleCreat, &s.filesOn},
			syscallProg{"sys_enter_unlinkat", objs.HandleUnlinkat, &s.filesOn}, syscallProg{"sys_enter_unlink", objs.HandleUnlink, &s.filesOn},
			syscallProg{"sys_enter_renameat2", objs.HandleRenameat2, &s.filesOn}, syscallProg{"sys_enter_renameat", objs.HandleRenameat, &s.filesOn},
			syscallProg{"sys_enter_rename", objs.HandleRename, &s.filesOn})
	}
	if !s.cfg.NoNetwork {
		syscalls = append(syscalls,
			syscallProg{"sys_exit_accept4", objs.HandleAccept4, &s.acceptOn}, syscallProg{"sys_exit_accept", objs.HandleAccept, &s.acceptOn})
	}
	if len(syscalls) > 0 {
		if err := ensureTracefs(tracefsDir); err != nil {
			s.log.Warn("sensor: file and accept events off: tracefs is not mounted and could not be", "dir", tracefsDir, "err", err)
		} else {
			for _, tp := range syscalls {
				l, err := link.Tracepoint("syscalls", tp.name, tp.prog, nil)
				if err != nil {
					// open, creat, unlink, rename and renameat do not
					// exist on arm64.
					s.log.Debug("sensor: tracepoint not attached", "name", tp.name, "err", err)
					continue
				}
				links = append(links, l)
				tp.on.Store(true)
			}
		}
	}

	rd, err := ringbuf.NewReader(objs.Events)
	if err != nil {
		return &Error{Op: "ring buffer", Err: err}
	}
	defer rd.Close()
	s.mu.Lock()
	s.drops = objs.Drops
	s.progs = &objs
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.kernelDrops = sumDrops(s.drops, s.kernelDrops)
		s.drops = nil
		s.progs = nil
		s.mu.Unlock()
	}()

	b := &builder{procs: newProcTable(s.cfg.MaxProcesses)}
	b.f, b.t = resolve(s.cfg.Registry)
	b.monoOff, b.wallOff = clockOffsets(s.cfg.Clock)
	// Seed after attaching: a process started in between is in both, and
	// the kernel's record simply updates it.
	s.seeded.Store(uint64(seedProcs(b.procs, "/proc")))

	close(s.ready)

	// Closing the reader is the only way to wake a blocked ReadInto.
	stop := context.AfterFunc(ctx, func() { _ = rd.Close() })
	defer stop()
	err = s.loop(rd, b)
	s.evicted.Store(b.procs.evicted)
	if ctx.Err() != nil && (err == nil || errors.Is(err, ringbuf.ErrClosed) || errors.Is(err, os.ErrClosed)) {
		return nil
	}
	return err
}

// loop reads and publishes records until the reader is closed or the bus is.
func (s *Sensor) loop(rd *ringbuf.Reader, b *builder) error {
	var rec ringbuf.Record
	bus := s.cfg.Bus
	delay := s.cfg.MaxDelay
	if delay > 0 {
		rd.SetDeadline(time.Now().Add(delay))
	}
	for {
		if err := rd.ReadInto(&rec); err != nil {
			if delay > 0 && errors.Is(err, os.ErrDeadlineExceeded) {
				// Woken by the clock: what was waiting has been read.
				rd.SetDeadline(time.Now().Add(delay))
				continue
			}
			return err
		}
		s.read.Add(1)
		raw := rec.RawSample
		if len(raw) < minRecordSize {
			s.decodeErrs.Add(1)
			continue
		}
		h := parseHdr(raw)
		if n := recordSize(h.kind); n == 0 || len(raw) < n {
			s.decodeErrs.Add(1)
			continue
		}
		b.update(h, raw)
		if h.kind == kindExec {
			// Counted here, whether or not the bus takes the event.
			fl := le.Uint32(raw[offExecFlags:])
			if fl&execArgsTruncated != 0 {
				s.argsTrunc.Add(1)
			}
			if fl&execCwdTruncated != 0 {
				s.cwdTrunc.Add(1)
			}
		}
		typ := b.eventType(h, raw)
		if typ == 0 {
			s.skipped.Add(1)
			b.after(h)
			continue
		}
		c, err := bus.Claim(entityKey(h.pid, h.start))
		if err != nil {
			b.after(h)
			if errors.Is(err, engine.ErrClosed) {
				return err
			}
			s.busDropped.Add(1)
			continue
		}
		ev := c.Event()
		b.fill(ev, h, typ, raw)
		if s.cfg.Record != nil {
			if err := s.cfg.Record.Write(ev); err != nil {
				if s.recordErrs.Add(1) == 1 {
					s.log.Warn("sensor: recording failed", "err", err)
				}
			}
		}
		c.Commit()
		s.published.Add(1)
		b.after(h)
		s.evicted.Store(b.procs.evicted)
	}
}

// kernelStats returns the run count and time of each program while Run
// runs (nil otherwise). The kernel counts them only while statistics are
// enabled (ebpf.EnableStats, or sysctl kernel.bpf_stats_enabled); the
// overhead test reads them, since a program's time is charged to the
// process it runs in, not to the sensor.
func (s *Sensor) kernelStats() map[string]ebpf.ProgramStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.progs == nil {
		return nil
	}
	out := map[string]ebpf.ProgramStats{}
	o := s.progs
	for name, p := range map[string]*ebpf.Program{"exec": o.HandleExec, "fork": o.HandleFork, "exit": o.HandleExit,
		"openat": o.HandleOpenat, "sock_state": o.HandleSockState, "accept4": o.HandleAccept4} {
		if st, err := p.Stats(); err == nil {
			out[name] = *st
		}
	}
	return out
}

// syscallProg is a program for a syscalls/NAME tracepoint, and the flag
// that says its kind of event is on.
type syscallProg struct {
	name string
	prog *ebpf.Program
	on   *atomic.Bool
}

// clockOffsets returns what to subtract from CLOCK_MONOTONIC nanoseconds to
// read clk, and what to add to get wall time.
func clockOffsets(clk clock.Clock) (uint64, int64) {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	kmono := uint64(ts.Nano())
	wall := time.Now().UnixNano()
	var off uint64
	if c := clk.NowMono(); kmono > c {
		off = kmono - c
	}
	return off, wall - int64(kmono)
}

// permission makes a refusal by the kernel match ErrPermission.
func permission(err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("%w (%w)", ErrPermission, err)
	}
	return err
}

// tracefsDir is where the sensor mounts tracefs, one of the two places the
// tracepoint loader looks (the other is /sys/kernel/debug/tracing). The
// mount is left in place when the sensor stops: others may use it by then.
const tracefsDir = "/sys/kernel/tracing"

// ensureTracefs mounts tracefs on dir unless it is there already.
func ensureTracefs(dir string) error {
	if _, err := os.Stat(dir + "/events"); err == nil {
		return nil
	}
	if err := unix.Mount("tracefs", dir, "tracefs", 0, ""); err != nil {
		return fmt.Errorf("mount -t tracefs tracefs %s: %w", dir, permission(err))
	}
	return nil
}
