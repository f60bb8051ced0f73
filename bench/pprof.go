package bench

import (
	"fmt"
	"io"
	"sort"

	"github.com/google/pprof/profile"
)

// FuncStat is one function's share of a CPU profile.
type FuncStat struct {
	Name string `json:"name"`
	// Flat is the sample value (ns of CPU) spent in the function itself.
	Flat        int64   `json:"flat"`
	FlatPercent float64 `json:"flat_percent"`
	// Cum includes the functions it called.
	Cum        int64   `json:"cum"`
	CumPercent float64 `json:"cum_percent"`
}

// TopFunctions reads a pprof CPU profile (gzipped or not) and returns the n
// functions with the most flat time, as `go tool pprof -top` orders them.
func TopFunctions(r io.Reader, n int) ([]FuncStat, error) {
	p, err := profile.Parse(r)
	if err != nil {
		return nil, fmt.Errorf("bench: reading profile: %w", err)
	}
	// Use the cpu/nanoseconds sample type when there is one (a CPU profile
	// has samples/count and cpu/nanoseconds), otherwise the last.
	idx := len(p.SampleType) - 1
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			idx = i
		}
	}
	if idx < 0 {
		return nil, fmt.Errorf("bench: profile has no sample types")
	}
	flat := map[string]int64{}
	cum := map[string]int64{}
	var total int64
	for _, s := range p.Sample {
		v := s.Value[idx]
		total += v
		seen := map[string]bool{}
		for li, loc := range s.Location {
			for j, line := range loc.Line {
				if line.Function == nil {
					continue
				}
				name := line.Function.Name
				// The leaf frame of the first location is the flat one
				// (inlined frames come first in Line, innermost at 0).
				if li == 0 && j == 0 {
					flat[name] += v
				}
				if !seen[name] {
					seen[name] = true
					cum[name] += v
				}
			}
		}
	}
	out := make([]FuncStat, 0, len(flat))
	for name, f := range flat {
		out = append(out, FuncStat{Name: name, Flat: f, Cum: cum[name]})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Flat != out[j].Flat {
			return out[i].Flat > out[j].Flat
		}
		return out[i].Name < out[j].Name
	})
	if len(out) > n {
		out = out[:n]
	}
	for i := range out {
		if total > 0 {
			out[i].FlatPercent = 100 * float64(out[i].Flat) / float64(total)
			out[i].CumPercent = 100 * float64(out[i].Cum) / float64(total)
		}
	}
	return out, nil
}
