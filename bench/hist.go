package bench

import (
	"slices"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Percentiles summarises a latency distribution, in nanoseconds.
type Percentiles struct {
	Count int64   `json:"count"`
	P50   int64   `json:"p50_ns"`
	P90   int64   `json:"p90_ns"`
	P99   int64   `json:"p99_ns"`
	P999  int64   `json:"p999_ns"`
	Max   int64   `json:"max_ns"`
	Mean  float64 `json:"mean_ns"`
}

// Hist records latencies in nanoseconds, from 1 ns to 100 s, with three
// significant digits. The zero Hist is not usable: call NewHist.
type Hist struct {
	h *hdrhistogram.Histogram
	// dropped counts values out of range (clamped to the range and recorded).
	dropped int64
}

const (
	histMin = 1
	histMax = int64(100 * time.Second)
)

// NewHist returns an empty histogram, its memory already faulted in.
//
// Its 300 KB of counters come fresh from the OS more often than not (the
// runtime returns freed pages), and a page is mapped on its first write: a
// fault of 10-15 µs on the VMs this runs on. Left to the first Record of
// each value range, those faults land inside the measured window, on the
// producer or the consumer, and at GOMAXPROCS 1 every queued event waits
// for them: dozens per window, about the count of a P99.9. They fell
// mostly on whichever implementation ran first in a fresh heap, Kestrel.
// Reset writes every counter once, here, before any window.
func NewHist() *Hist {
	h := &Hist{h: hdrhistogram.New(histMin, histMax, 3)}
	h.h.Reset()
	return h
}

// Record adds one latency.
func (h *Hist) Record(ns int64) {
	if ns < histMin {
		ns = histMin
	} else if ns > histMax {
		ns, h.dropped = histMax, h.dropped+1
	}
	_ = h.h.RecordValue(ns) // in range by construction
}

// Merge adds every value of o to h.
func (h *Hist) Merge(o *Hist) {
	h.h.Merge(o.h)
	h.dropped += o.dropped
}

// Count returns the number of values recorded.
func (h *Hist) Count() int64 { return h.h.TotalCount() }

// Percentiles returns the summary of what was recorded.
func (h *Hist) Percentiles() Percentiles {
	if h.h.TotalCount() == 0 {
		return Percentiles{}
	}
	return Percentiles{
		Count: h.h.TotalCount(),
		P50:   h.h.ValueAtQuantile(50),
		P90:   h.h.ValueAtQuantile(90),
		P99:   h.h.ValueAtQuantile(99),
		P999:  h.h.ValueAtQuantile(99.9),
		Max:   h.h.Max(),
		Mean:  h.h.Mean(),
	}
}

// Quantile returns the value at percentile q (0 < q <= 100).
func (h *Hist) Quantile(q float64) int64 { return h.h.ValueAtQuantile(q) }

// Curve returns the percentile distribution as points (percentile, value in
// ns) at HdrHistogram's usual spacing: dense near the tail, for plotting on
// a log-scaled 1/(1-p) axis. It stops at the maximum.
func (h *Hist) Curve() []CurvePoint {
	if h.h.TotalCount() == 0 {
		return nil
	}
	var out []CurvePoint
	// 0, 50, 75, 87.5 ... halving the distance to 100 each step, 10 points per halving.
	for half := 0; half < 20; half++ {
		lo := 100 - 100/float64(uint64(1)<<half)
		hi := 100 - 100/float64(uint64(1)<<(half+1))
		for i := 0; i < 10; i++ {
			p := lo + (hi-lo)*float64(i)/10
			out = append(out, CurvePoint{Percentile: p, Nanos: h.h.ValueAtQuantile(p)})
		}
		if 100/float64(uint64(1)<<(half+1))*float64(h.h.TotalCount()) < 100 {
			break
		}
	}
	out = append(out, CurvePoint{Percentile: 100, Nanos: h.h.Max()})
	return out
}

// CurvePoint is one point of a percentile distribution.
type CurvePoint struct {
	Percentile float64 `json:"percentile"`
	Nanos      int64   `json:"ns"`
}

// latencyRounds is the number of consecutive rounds a latency window is cut
// into; the headline P99 is their median (see Rounds).
const latencyRounds = 5

// Rounds records latencies into consecutive rounds of a measurement window,
// by the time each event was stamped. Its headline P99 is the median of the
// rounds' P99s: one burst of interference from outside the process (another
// process, the hypervisor taking a vCPU for milliseconds) spoils one round,
// not the verdict, while a fault of the code under test, present in every
// round, still shows. The P99 of the whole window is kept beside it.
type Rounds struct {
	from, span int64
	h          []*Hist
}

// NewRounds returns n empty rounds covering [from, from+span) nanoseconds.
func NewRounds(from, span int64, n int) *Rounds {
	r := &Rounds{from: from, span: max(span, 1), h: make([]*Hist, max(n, 1))}
	for i := range r.h {
		r.h[i] = NewHist()
	}
	return r
}

// Record adds latency v of an event stamped at stamp; stamps outside the
// window count in the nearest round.
func (r *Rounds) Record(stamp, v int64) {
	i := int((stamp - r.from) * int64(len(r.h)) / r.span)
	i = min(max(i, 0), len(r.h)-1)
	r.h[i].Record(v)
}

// Merge adds o's rounds to r's, round by round; they must cover the same
// window.
func (r *Rounds) Merge(o *Rounds) {
	for i := range r.h {
		r.h[i].Merge(o.h[i])
	}
}

// All returns the whole window's histogram.
func (r *Rounds) All() *Hist {
	all := NewHist()
	for _, h := range r.h {
		all.Merge(h)
	}
	return all
}

// P99s returns each round's P99 (0 for an empty round).
func (r *Rounds) P99s() []int64 {
	out := make([]int64, len(r.h))
	for i, h := range r.h {
		if h.Count() > 0 {
			out[i] = h.Quantile(99)
		}
	}
	return out
}

// medianP99 returns the median of the non-zero round P99s.
func medianP99(p99s []int64) int64 {
	var v []int64
	for _, p := range p99s {
		if p > 0 {
			v = append(v, p)
		}
	}
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	return v[len(v)/2]
}
