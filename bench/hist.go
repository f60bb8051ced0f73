package bench

import (
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

// NewHist returns an empty histogram.
func NewHist() *Hist { return &Hist{h: hdrhistogram.New(histMin, histMax, 3)} }

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
