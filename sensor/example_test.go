package sensor_test

import (
	"context"
	"os/signal"
	"syscall"

	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/sensor"
)

// A live sensor into a bus until SIGINT: what kestrel sense does, without
// the rules. It needs Linux and root (so the example is compiled, not run).
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT)
	defer stop()
	bus, err := engine.New(engine.Config{})
	if err != nil {
		return
	}
	_ = bus.Run(nil) // a handler, such as detect's, goes here
	defer bus.Shutdown(context.Background())
	s, err := sensor.New(sensor.Config{Bus: bus, Registry: rule.DefaultRegistry()})
	if err != nil {
		return // ErrUnsupported off Linux
	}
	err = s.Run(ctx) // until SIGINT; ErrPermission without root or CAP_BPF+CAP_PERFMON
	st := s.Stats()
	_, _ = err, st.KernelDrops // records the kernel could not queue: the ring buffer was full
}
