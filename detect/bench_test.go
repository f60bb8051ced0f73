package detect

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/kestrel-sec/kestrel/internal/demo"
	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/sink"
	"github.com/kestrel-sec/kestrel/value"
)

// discard is an Emitter that drops alerts (counted by the Detector).
type discard struct{}

func (discard) Emit(*sink.Alert) error { return nil }

var benchEvents = demo.GenerateEvents(1, 1<<14, testReg)

// benchRules returns n rules over the generated mix, cycling through three
// kinds, written as detections are: event rules on processes and on files
// that rarely fire, and 2-step sequences whose first step matches often
// (about one event in 40 starts or replaces a partial match) and whose
// second step now and then completes one.
func benchRules(b *testing.B, n int) []*rule.Package {
	bins := []string{"/usr/bin/curl", "/usr/bin/wget", "/bin/bash", "/usr/bin/python3", "/usr/bin/ssh", "/usr/bin/nc"}
	rare := []string{"--upload-file", " -e /bin/sh", "base64 -d", "/dev/tcp/", "chmod +s", "LD_PRELOAD="}
	files := []string{"/etc/shadow", "/tmp/payload.sh", "/root/.bash_history", "/etc/ld.so.preload"}
	var out []*rule.Package
	for i := range n {
		var src string
		switch i % 3 {
		case 0:
			src = fmt.Sprintf(`process where process.executable == %q and process.command_line : "*%s*"`,
				bins[i%len(bins)], rare[i/3%len(rare)])
		case 1:
			src = fmt.Sprintf(`sequence with maxspan=%dms
  [process where process.executable == %q]
  [file where file.path == %q and user.name == "root"]`, 5+i%20, bins[i%len(bins)], files[i%len(files)])
		case 2:
			src = fmt.Sprintf(`file where file.path == %q and user.name in ("nobody", "www-data") and not process.name in ("sshd", "sudo")`,
				files[i%len(files)])
		}
		out = append(out, pkg(b, fmt.Sprintf("r%03d", i), src))
	}
	return out
}

func benchHandle(b *testing.B, rules []*rule.Package) {
	d, err := New(Config{Output: discard{}, Rules: rules})
	if err != nil {
		b.Fatal(err)
	}
	batches := make([][]*schema.Event, 0, len(benchEvents)/256)
	for i := 0; i < len(benchEvents); i += 256 {
		batch := make([]*schema.Event, 0, 256)
		for j := i; j < i+256 && j < len(benchEvents); j++ {
			batch = append(batch, &benchEvents[j])
		}
		batches = append(batches, batch)
	}
	b.ReportAllocs()
	b.ResetTimer()
	events := 0
	for i := 0; b.Loop(); i++ {
		batch := batches[i%len(batches)]
		d.Handle(0, batch)
		events += len(batch)
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
}

// BenchmarkWorker measures one partition's worker over the generated event
// mix with 1, 10 and 100 rules, half event rules and half 2-step sequences.
func BenchmarkWorker(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) { benchHandle(b, benchRules(b, n)) })
	}
}

// BenchmarkSequence measures a 2-step and a 10-step sequence alone over
// the generated mix: the steps cycle through an exec of curl (1 event in
// 40), an open of /etc/passwd (1 in 25) and a connection to port 443 (1 in
// 20), joined by entity within 50ms, so partial matches start, advance,
// expire and now and then complete.
func BenchmarkSequence(b *testing.B) {
	steps := []string{
		`[process where process.executable == "/usr/bin/curl"]`,
		`[file where file.path == "/etc/passwd"]`,
		`[network where destination.port == 443]`,
	}
	for _, n := range []int{2, 10} {
		src := "sequence with maxspan=50ms"
		for i := range n {
			src += "\n  " + steps[i%len(steps)]
		}
		b.Run(fmt.Sprintf("steps=%d", n), func(b *testing.B) { benchHandle(b, []*rule.Package{pkg(b, "s", src)}) })
	}
}

// BenchmarkBaselineInterpreted is the peer: the same 2-step rule's
// conditions evaluated the way a naive engine does, resolving each field
// path through the registry per event and walking the syntax tree.
func BenchmarkBaselineInterpreted(b *testing.B) {
	q, err := rule.Compile("", `sequence [any where process.executable == "/usr/bin/curl" or file.path == "/etc/passwd" or destination.port == 443]
  [any where process.executable == "/usr/bin/curl" or file.path == "/etc/passwd" or destination.port == 443]`, testReg)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	events := 0
	hits := 0
	for i := 0; b.Loop(); i++ {
		ev := &benchEvents[i%len(benchEvents)]
		for _, st := range q.Steps {
			if interpret(st.Cond, ev) {
				hits++
			}
		}
		events++
	}
	sinkInt = hits
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
}

var sinkInt int

func interpret(e rule.Expr, ev *schema.Event) bool {
	switch e := e.(type) {
	case *rule.BinaryExpr:
		if e.Op == rule.OpOr {
			return interpret(e.X, ev) || interpret(e.Y, ev)
		}
		return interpret(e.X, ev) && interpret(e.Y, ev)
	case *rule.NotExpr:
		return !interpret(e.X, ev)
	case *rule.CompareExpr:
		id, _ := testReg.FieldID(e.Field.Path) // a map lookup per field per event
		v, ok := ev.Get(id)
		if !ok {
			return false
		}
		return v.String() == e.Value.Value.String() // and a conversion
	case *rule.BoolLit:
		return e.Value
	}
	_ = value.Value{}
	return false
}

// BenchmarkScanScale measures the command-line scan of a rule set at
// scale: n folded substrings shaped as bench.ScaleRules writes them (an
// argument detections name, most often with a number appended), over the
// generated command lines, per command line.
func BenchmarkScanScale(b *testing.B) {
	args := strings.Fields(`-enc -encodedcommand iex downloadstring frombase64string -nop bypass /dev/tcp/ ld_preload=
		authorized_keys nohup ssh-keygen --upload-file`)
	args = append(args, "base64 -d", "| sh", "| bash", "chmod +x", "-e /bin/sh", "wget -q")
	cmd, _ := testReg.FieldID("process.command_line")
	var lines []string
	for i := range benchEvents {
		if v, ok := benchEvents[i].Get(cmd); ok {
			if s, ok := v.Str(); ok {
				lines = append(lines, s)
			}
		}
	}
	for _, n := range []int{10, 100, 600, 1800} {
		rnd := rand.New(rand.NewPCG(uint64(n), 1))
		pats := make([]string, n)
		for i := range pats {
			pats[i] = args[rnd.IntN(len(args))]
			if rnd.IntN(8) != 0 {
				pats[i] += strconv.Itoa(rnd.IntN(1000))
			}
			pats[i] = string(appendFold(nil, pats[i]))
		}
		slots := make([]int32, n)
		for i := range slots {
			slots[i] = int32(i)
		}
		a := buildAutomaton(pats, slots, true, true)
		sc := &evalScratch{slotMark: make([]uint32, n), ruleMark: make([]uint32, n), slotRule: slots}
		b.Run(fmt.Sprintf("literals=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				sc.epoch++
				sc.cands = sc.cands[:0]
				a.scan(lines[i%len(lines)], true, sc)
			}
		})
	}
}
