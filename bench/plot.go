package bench

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/kestrel-sec/kestrel/internal/human"
)

// WritePlotSVG draws the latency percentile distributions of every latency
// result, HdrHistogram style: the x axis is the percentile on a log scale of
// 1/(1-p) (50%, 90%, 99%, 99.9%, ...), the y axis latency on a log scale,
// one line per implementation, one panel per scenario. It is a small SVG
// writer of our own: the plot is a handful of polylines and labels.
func WritePlotSVG(w io.Writer, results []Result) error {
	var panels []*Result
	for i := range results {
		if results[i].Metric == MetricP99 && len(results[i].Figures) > 0 && results[i].Figures[0].Curve != nil {
			panels = append(panels, &results[i])
		}
	}
	const (
		pw, ph     = 560, 300 // panel size
		left, top  = 70, 40
		plotW      = pw - left - 150
		plotH      = ph - top - 50
		maxNinesXs = 5.0 // 99.999%
	)
	height := ph * max(1, len(panels))
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", pw, height)
	fmt.Fprintf(bw, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	colors := map[string]string{ImplKestrel: "#d62728", ImplChannel: "#1f77b4", ImplWorkiva: "#2ca02c"}
	if len(panels) == 0 {
		fmt.Fprintf(bw, `<text x="20" y="30">no latency results</text>`+"\n")
	}
	xOf := func(p float64) float64 {
		if p >= 100 {
			p = 100 - math.Pow(10, -maxNinesXs+2)
		}
		nines := math.Log10(100 / (100 - p)) // 50% -> 0.3, 99% -> 2
		return left + plotW*math.Min(nines, maxNinesXs)/maxNinesXs
	}
	for pi, res := range panels {
		oy := pi * ph
		lo, hi := math.MaxFloat64, 1.0
		for _, f := range res.Figures {
			for _, pt := range f.Curve {
				v := math.Max(1, float64(pt.Nanos))
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
		lo = math.Pow(10, math.Floor(math.Log10(lo)))
		hi = math.Pow(10, math.Ceil(math.Log10(hi)))
		if hi <= lo {
			hi = lo * 10
		}
		yOf := func(ns float64) float64 {
			ns = math.Max(ns, lo)
			return float64(oy) + top + plotH - plotH*(math.Log10(ns)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))
		}
		fmt.Fprintf(bw, `<text x="%d" y="%d" font-size="13" font-weight="bold">%s</text>`+"\n", left, oy+22, escapeXML(res.Title))
		fmt.Fprintf(bw, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>`+"\n", left, oy+top, plotW, plotH)
		for d := lo; d <= hi*1.001; d *= 10 {
			y := yOf(d)
			fmt.Fprintf(bw, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n",
				left, left+plotW, y, y, left-4, y+4, escapeXML(human.Nanos(d)))
		}
		for _, p := range []float64{0, 90, 99, 99.9, 99.99, 99.999} {
			x := xOf(p)
			fmt.Fprintf(bw, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#ddd"/><text x="%.1f" y="%d" text-anchor="middle">%s%%</text>`+"\n",
				x, x, oy+top, oy+top+plotH, x, oy+top+plotH+14, trimFloat(p))
		}
		fmt.Fprintf(bw, `<text x="%d" y="%d" text-anchor="middle">percentile</text>`+"\n", left+plotW/2, oy+top+plotH+32)
		figs := append([]Figure(nil), res.Figures...)
		sort.SliceStable(figs, func(i, j int) bool { return figs[i].Impl == ImplKestrel })
		for fi, f := range figs {
			color := colors[f.Impl]
			if color == "" {
				color = "#555"
			}
			bw.WriteString(`<polyline fill="none" stroke-width="2" stroke="` + color + `" points="`)
			for _, pt := range f.Curve {
				fmt.Fprintf(bw, "%.1f,%.1f ", xOf(pt.Percentile), yOf(float64(pt.Nanos)))
			}
			bw.WriteString(`"/>` + "\n")
			ly := oy + top + 14 + fi*16
			fmt.Fprintf(bw, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"/><text x="%d" y="%d">%s</text>`+"\n",
				left+plotW+10, left+plotW+30, ly-4, ly-4, color, left+plotW+34, ly, escapeXML(f.Impl))
		}
	}
	bw.WriteString("</svg>\n")
	return bw.Flush()
}

func trimFloat(p float64) string {
	s := fmt.Sprintf("%.3f", p)
	for s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	if s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	return s
}

func escapeXML(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '<':
			out = append(out, "&lt;"...)
		case '>':
			out = append(out, "&gt;"...)
		case '&':
			out = append(out, "&amp;"...)
		case '"':
			out = append(out, "&quot;"...)
		default:
			out = append(out, c)
		}
	}
	return string(out)
}
