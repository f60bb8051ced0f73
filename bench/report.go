package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/kestrel-sec/kestrel/internal/human"
)

// Machine describes where a run happened.
type Machine struct {
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
}

// ThisMachine describes the current machine.
func ThisMachine() Machine {
	return Machine{
		CPU:        cpuModel(),
		Cores:      runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion:  runtime.Version(),
		OS:         runtime.GOOS,
		Arch:       runtime.GOARCH,
	}
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// Report is everything one run measured.
type Report struct {
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
	Machine  Machine       `json:"machine"`
	Config   Config        `json:"config"`
	Results  []Result      `json:"results"`
	Verdicts []Verdict     `json:"verdicts"`
	// HotFunctions are the hottest functions of the CPU profile, when one
	// was taken.
	HotFunctions []FuncStat `json:"hot_functions,omitempty"`
}

// Passed reports whether every gating target was met.
func (r *Report) Passed() bool { return Passed(r.Verdicts) }

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// row is one line of the table.
type row struct {
	scenario, metric, ours, channel, workiva, other, ratio, cpu, target, met string
}

func (r *Report) rows() []row {
	byResult := map[string][]Verdict{}
	for _, v := range r.Verdicts {
		byResult[v.Result] = append(byResult[v.Result], v)
	}
	var rows []row
	for i := range r.Results {
		res := &r.Results[i]
		rw := row{scenario: res.Title, metric: metricLabel(res.Metric)}
		cell := func(impl string) string {
			if f := res.Figure(impl); f != nil {
				if f.empty(res.Metric) {
					return "no data"
				}
				return formatValue(res.Metric, f.Value(res.Metric))
			}
			return "-"
		}
		rw.ours, rw.channel, rw.workiva = cell(ImplKestrel), cell(ImplChannel), cell(ImplWorkiva)
		var others []string
		for _, f := range res.Figures {
			switch f.Impl {
			case ImplKestrel, ImplChannel, ImplWorkiva:
			default:
				others = append(others, f.Impl+" "+formatValue(res.Metric, f.Value(res.Metric)))
			}
		}
		rw.other = strings.Join(others, ", ")
		if rw.other == "" {
			rw.other = "-"
		}
		rw.cpu = cpuCell(res)
		rw.ratio = "-"
		if x := res.Ratio(res.BaselineImpl()); x > 0 {
			rw.ratio = fmt.Sprintf("%.1fx", x)
			if res.BaselineImpl() != ImplChannel {
				rw.ratio += " vs " + res.BaselineImpl()
			}
		}
		var targets, mets []string
		for _, v := range byResult[res.Name] {
			op := "<"
			if !v.Metric.LowerIsBetter() {
				op = ">="
			}
			targets = append(targets, op+" "+formatValue(v.Metric, v.Bound))
			switch {
			case v.Met:
				mets = append(mets, "yes")
			case v.Gate:
				mets = append(mets, "NO")
			default:
				mets = append(mets, "not yet")
			}
			if !v.Gate {
				targets[len(targets)-1] += " (goal)"
			}
		}
		rw.target, rw.met = strings.Join(targets, ", "), strings.Join(mets, ", ")
		if rw.target == "" {
			rw.target, rw.met = "-", "-"
		}
		rows = append(rows, rw)
	}
	return rows
}

func metricLabel(m Metric) string {
	switch m {
	case MetricP99:
		return "P99*"
	case MetricRate:
		return "rate"
	case MetricCPU:
		return "CPU"
	}
	return string(m)
}

var header = row{"scenario", "metric", "ours", "channel", "workiva", "other peer", "ours vs peer", "CPU s/M events (ours/chan/workiva)", "target", "met"}

// cpuCell shows the price of a result's figures: process CPU seconds per
// million events for Kestrel and the queue peers.
func cpuCell(res *Result) string {
	var parts []string
	any := false
	for _, impl := range []string{ImplKestrel, ImplChannel, ImplWorkiva} {
		f := res.Figure(impl)
		if f == nil || f.CPUSecondsPerMillion <= 0 {
			parts = append(parts, "-")
			continue
		}
		any = true
		parts = append(parts, fmt.Sprintf("%.2f", f.CPUSecondsPerMillion))
	}
	if !any {
		return "-"
	}
	return strings.Join(parts, " / ")
}

// WriteText writes the run as an aligned table with the machine and the
// verdicts, for a terminal.
func (r *Report) WriteText(w io.Writer) error {
	rows := append([]row{header}, r.rows()...)
	width := make([]int, len(header.cells()))
	for _, rw := range rows {
		for i, c := range rw.cells() {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "kestrel-bench on %s (%d cores, GOMAXPROCS %d, %s)\n\n", r.Machine.CPU, r.Machine.Cores, r.Machine.GOMAXPROCS, r.Machine.GoVersion)
	for _, rw := range rows {
		for i, c := range rw.cells() {
			if i > 0 {
				bw.WriteString("  ")
			}
			bw.WriteString(c)
			if i < len(width)-1 {
				bw.WriteString(strings.Repeat(" ", width[i]-len([]rune(c))))
			}
		}
		bw.WriteString("\n")
	}
	bw.WriteString(p99Footnote + "\n\n")
	for _, v := range r.Verdicts {
		fmt.Fprintln(bw, v.String())
	}
	writeList(bw, "\nthe machine while the gated figures were measured:\n", "  %s\n", r.machineLines())
	writeList(bw, "\nhottest functions (CPU profile, flat):\n", "  %s\n", r.hotLines("%5.1f%%  %s"))
	verdict := "all targets met"
	if !r.Passed() {
		verdict = "TARGET MISSED"
	}
	fmt.Fprintf(bw, "\n%s in %.1fs\n", verdict, r.Duration.Seconds())
	return bw.Flush()
}

// writeList writes head, then each line in the format item ("  %s\n",
// "- %s\n"); nothing when there are no lines.
func writeList(bw *bufio.Writer, head, item string, lines []string) {
	if len(lines) == 0 {
		return
	}
	bw.WriteString(head)
	for _, l := range lines {
		fmt.Fprintf(bw, item, l)
	}
}

// hotLines formats each hot function with format, given its flat percent
// and its name.
func (r *Report) hotLines(format string) []string {
	lines := make([]string, 0, len(r.HotFunctions))
	for _, f := range r.HotFunctions {
		lines = append(lines, fmt.Sprintf(format, f.FlatPercent, f.Name))
	}
	return lines
}

// machineLines describes the machine's disturbance during each result a
// target refers to, and the process's own page faults there, Kestrel's
// figure.
func (r *Report) machineLines() []string {
	var lines []string
	seen := map[string]bool{}
	for _, v := range r.Verdicts {
		if seen[v.Result] {
			continue
		}
		seen[v.Result] = true
		for i := range r.Results {
			if r.Results[i].Name != v.Result {
				continue
			}
			if f := r.Results[i].Figure(ImplKestrel); f != nil && f.Disturbance != nil {
				line := fmt.Sprintf("%s: %s", v.Result, f.Disturbance)
				if f.PageFaults != nil {
					line += fmt.Sprintf("; page faults in the window %d", *f.PageFaults)
				}
				lines = append(lines, line)
			}
		}
	}
	return lines
}

// p99Footnote explains the starred P99s under a table.
const p99Footnote = "* P99: the median of the P99s of 5 consecutive rounds of the window (so one burst of outside interference moves one round, not the figure); the whole window's P99 and each round's are in -json."

// WriteMarkdown writes the table as Markdown, for PERF.md.
func (r *Report) WriteMarkdown(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "Machine: %s, %d cores, GOMAXPROCS %d, %s, %s/%s.\n\n", r.Machine.CPU, r.Machine.Cores, r.Machine.GOMAXPROCS, r.Machine.GoVersion, r.Machine.OS, r.Machine.Arch)
	write := func(rw row) {
		bw.WriteString("| " + strings.Join(rw.cells(), " | ") + " |\n")
	}
	write(header)
	bw.WriteString("|" + strings.Repeat(" --- |", len(header.cells())) + "\n")
	for _, rw := range r.rows() {
		write(rw)
	}
	bw.WriteString("\n" + p99Footnote + "\n\n")
	for _, v := range r.Verdicts {
		fmt.Fprintf(bw, "- %s\n", strings.Join(strings.Fields(v.String()), " "))
	}
	writeList(bw, "\nThe machine while the gated figures were measured:\n\n", "- %s\n", r.machineLines())
	writeList(bw, "\nHottest functions of the CPU profile (flat):\n\n", "- %s\n", r.hotLines("%.1f%% `%s`"))
	return bw.Flush()
}

func (rw row) cells() []string {
	return []string{rw.scenario, rw.metric, rw.ours, rw.channel, rw.workiva, rw.other, rw.ratio, rw.cpu, rw.target, rw.met}
}

// formatValue prints a figure with its unit.
func formatValue(m Metric, v float64) string {
	switch m {
	case MetricP99:
		return human.Nanos(v)
	case MetricRate:
		return human.Rate(v) + "/s"
	case MetricCPU:
		return fmt.Sprintf("%.1f%%", v*100)
	}
	return fmt.Sprint(v)
}
