// Package human formats figures for people to read: the rates and
// latencies that cmd/kestrel prints after a run and that the harness's
// reports print.
package human

import "fmt"

// step is one magnitude of a scale: figures of at least min are divided
// by div and printed with format.
type step struct {
	min, div float64
	format   string
}

var (
	rates = []step{{1e6, 1e6, "%.2fM"}, {1e3, 1e3, "%.1fk"}, {0, 1, "%.0f"}}
	nanos = []step{{1e9, 1e9, "%.2f s"}, {1e6, 1e6, "%.2f ms"}, {1e4, 1e3, "%.1f µs"}, {1e3, 1e3, "%.2f µs"}, {0, 1, "%.0f ns"}}
)

// scaled prints x at the first step of scale it reaches, or the last.
func scaled(x float64, scale []step) string {
	s := scale[len(scale)-1]
	for _, st := range scale {
		if x >= st.min {
			s = st
			break
		}
	}
	return fmt.Sprintf(s.format, x/s.div)
}

// Rate formats a count per unit of time with three significant figures
// or so and an SI suffix: "1.23M", "45.6k", "789". The caller adds the
// unit ("/s", " events/s").
func Rate(x float64) string { return scaled(x, rates) }

// Nanos formats a latency given in nanoseconds: "1.50 s", "2.25 ms",
// "12.5 µs", "1.25 µs", "800 ns".
func Nanos(ns float64) string { return scaled(ns, nanos) }
