package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/kestrel-sec/kestrel/detect"
	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/sink"
)

// ImplUnindexed is the rule-scale scenario's peer: the same Detector with
// its rule index off (detect.Config.NoIndex), every predicate of every
// rule of an event's type run, as before the index.
const ImplUnindexed = "unindexed"

// RuleScaleCounts are the rule-set sizes the rules scenario measures.
var RuleScaleCounts = []int{10, 100, 1000, 3000}

// Vocabulary of the generated rules: real binaries, arguments and paths
// detections name, some of which the workload's events hold (so rules
// fire now and then), and many that it does not (so most rules are idle,
// as in a real rule set).
var (
	scaleBins = []string{"powershell.exe", "cmd.exe", "rundll32.exe", "regsvr32.exe", "mshta.exe", "certutil.exe",
		"wmic.exe", "bitsadmin.exe", "schtasks.exe", "msbuild.exe", "installutil.exe", "cscript.exe", "wscript.exe",
		"curl", "nc", "ncat", "socat", "perl", "ruby", "dash", "zsh", "sudo", "su", "scp", "rsync", "base64", "xxd",
		"openssl", "chmod", "chattr", "crontab", "at", "systemctl", "insmod", "modprobe", "iptables", "tcpdump",
		"nmap", "masscan", "hydra", "john", "hashcat", "mimikatz.exe"}
	scaleArgs = []string{"-enc", "-encodedcommand", "iex", "downloadstring", "frombase64string", "-nop", "bypass",
		"/dev/tcp/", "base64 -d", "| sh", "| bash", "chmod +x", "--upload-file", "-e /bin/sh", "ld_preload=",
		"authorized_keys", "nohup", "wget -q", "ssh-keygen"}
	scaleExts = []string{".exe", ".dll", ".ps1", ".vbs", ".hta", ".sh", ".so", ".py", ".elf", ".bin", ".conf", ".service",
		".timer", ".key", ".pem", ".db", ".kdbx", ".log", ".hist", ".maps"}
	scaleDirs = []string{"/tmp/", "/dev/shm/", "/var/tmp/", "/etc/cron.d/", "/etc/systemd/", "/root/.ssh/", "/home/",
		`\\appdata\\roaming\\`, `\\windows\\temp\\`, `\\programdata\\`, "/usr/lib/", "/proc/", "/etc/"}
)

// ScaleRules returns n rules in the shape of Elastic's detection rules,
// resolved against reg (demo.Registry's fields): mostly
// `process where process.name in (...)` with or without a wildcard on the
// command line, `file where file.path : "*.ext"` and directory
// wildcards, 2-step sequences by user, and a few rules on numbers that no
// index can guard. The same n gives the same rules.
func ScaleRules(n int, reg *schema.Registry) ([]*rule.Package, error) {
	rnd := rand.New(rand.NewPCG(uint64(n), 0x72756c6573))
	pick := func(xs []string) string { return xs[rnd.IntN(len(xs))] }
	name := func() string {
		if rnd.IntN(8) == 0 {
			return pick(scaleBins)
		}
		return fmt.Sprintf("tool%d%s", rnd.IntN(5000), []string{"", ".exe"}[rnd.IntN(2)]) // the long tail of names
	}
	names := func(k int) string {
		var q []string
		for range k {
			q = append(q, fmt.Sprintf("%q", name()))
		}
		return strings.Join(q, ", ")
	}
	arg := func() string {
		if rnd.IntN(8) == 0 {
			return pick(scaleArgs)
		}
		return fmt.Sprintf("%s%d", pick(scaleArgs), rnd.IntN(1000))
	}
	out := make([]*rule.Package, 0, n)
	for i := range n {
		var src string
		switch k := rnd.IntN(100); {
		case k < 35:
			src = fmt.Sprintf(`process where process.name in (%s)`, names(1+rnd.IntN(6)))
		case k < 55:
			src = fmt.Sprintf(`process where process.name in (%s) and process.command_line : ("*%s*", "*%s*")`, names(1+rnd.IntN(3)), arg(), arg())
		case k < 65:
			src = fmt.Sprintf(`process where process.command_line : "*%s*" and not user.name in ("root", "deploy")`, arg())
		case k < 78:
			src = fmt.Sprintf(`file where file.path : ("*%s%d%s", "*%s")`, pick(scaleDirs), rnd.IntN(500), pick(scaleExts), pick(scaleDirs)+fmt.Sprint(rnd.IntN(900))+pick(scaleExts))
		case k < 85:
			src = fmt.Sprintf(`file where file.path : "%s*" and process.name : "%s"`, pick(scaleDirs), name())
		case k < 97:
			src = fmt.Sprintf("sequence by user.name with maxspan=30s\n  [process where process.name : %q]\n  [file where file.path : \"*%s\"]",
				name(), pick(scaleExts))
		default:
			src = fmt.Sprintf(`network where destination.port in (%d, %d) and process.name != "sshd"`, 1024+rnd.IntN(60000), 4444+i%7)
		}
		id := fmt.Sprintf("scale-%04d", i)
		q, err := rule.Compile(id+".eql", src, reg)
		if err != nil {
			return nil, fmt.Errorf("bench: generated rule %s: %w", id, err)
		}
		out = append(out, &rule.Package{
			Manifest: &rule.Manifest{RuleID: id, RuleName: id, Severity: schema.SeverityMedium},
			Source:   src, Query: q,
		})
	}
	return out, nil
}

// nullEmitter counts alerts and releases each at once, as a sink.Output
// does once its destinations are done with an alert: the Detector then
// raises its next alerts in the same memory. The scenario measures
// detection, not delivery (the Output's cost is the sink benchmarks'), so
// the release comes at once rather than after an encode on another
// goroutine; without it, every alert would be left to the garbage
// collector, which no Output does.
type nullEmitter struct{ n int }

func (e *nullEmitter) Emit(a *sink.Alert) error { e.n++; a.Release(); return nil }

// RuleScale is one rule-set size measured: the median ns per event over
// rounds of the workload, allocations per event, and alerts.
type RuleScale struct {
	Rules          int
	NsPerEvent     float64
	AllocsPerEvent float64
	Alerts         int
	Events         int
}

// MeasureRuleScale runs evs through one partition of a Detector over
// rules, in batches of 256, in rounds of the whole workload for about d
// (at least minRounds, after one to warm up), and returns the median
// round's ns per event.
func MeasureRuleScale(rules []*rule.Package, evs []schema.Event, noIndex bool, d time.Duration, minRounds int) (RuleScale, error) {
	em := &nullEmitter{}
	det, err := detect.New(detect.Config{Rules: rules, Output: em, NoIndex: noIndex})
	if err != nil {
		return RuleScale{}, err
	}
	batches := make([][]*schema.Event, 0, len(evs)/256+1)
	for i := 0; i < len(evs); i += 256 {
		b := make([]*schema.Event, 0, 256)
		for j := i; j < min(i+256, len(evs)); j++ {
			b = append(b, &evs[j])
		}
		batches = append(batches, b)
	}
	round := func() {
		for _, b := range batches {
			det.Handle(0, b)
		}
	}
	round() // warm: states and arenas grow once
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mallocs := ms.Mallocs
	rounds := make([]float64, 0, 1000) // the loop's bound: no allocation of ours while counting
	start := time.Now()
	events := 0
	for len(rounds) < minRounds || time.Since(start) < d && len(rounds) < 1000 {
		t := time.Now()
		round()
		rounds = append(rounds, float64(time.Since(t).Nanoseconds())/float64(len(evs)))
		events += len(evs)
	}
	runtime.ReadMemStats(&ms)
	slices.Sort(rounds)
	return RuleScale{Rules: len(rules), NsPerEvent: rounds[len(rounds)/2], AllocsPerEvent: float64(ms.Mallocs-mallocs) / float64(events),
		Alerts: em.n, Events: events}, nil
}

// runRuleScenarios measures detection cost per event as the rule set
// grows, indexed and not.
func runRuleScenarios(ctx context.Context, r *runner) ([]Result, error) {
	measure, minRounds := r.cfg.Measure/2, 3
	if r.cfg.Quick {
		measure, minRounds = 60*time.Millisecond, 1
	}
	var out []Result
	var base float64
	for _, n := range RuleScaleCounts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rules, err := ScaleRules(n, r.w.reg)
		if err != nil {
			return nil, err
		}
		res := Result{Name: fmt.Sprintf("rules/%d", n), Title: fmt.Sprintf("detection, %d rules, one partition", n), Metric: MetricRate, Baseline: ImplUnindexed}
		var idx RuleScale
		for _, impl := range []string{ImplKestrel, ImplUnindexed} {
			r.progress(res.Name + " " + impl)
			d := measure
			if impl == ImplUnindexed && n > 1000 {
				d = measure / 2 // the slow peer: its rounds are long enough
			}
			s, err := MeasureRuleScale(rules, r.w.events, impl == ImplUnindexed, d, minRounds)
			if err != nil {
				return nil, err
			}
			if impl == ImplKestrel {
				idx = s
			}
			res.Figures = append(res.Figures, Figure{Impl: impl, Rate: 1e9 / s.NsPerEvent, Events: int64(s.Events), AllocsPerEvent: s.AllocsPerEvent})
		}
		if n == RuleScaleCounts[0] {
			base = idx.NsPerEvent
		}
		res.Note = fmt.Sprintf("%.0f ns/event (median round over the %d-event workload), %.3f allocs/event, %d alerts; slope %.2fx the %d-rule cost",
			idx.NsPerEvent, len(r.w.events), idx.AllocsPerEvent, idx.Alerts, idx.NsPerEvent/base, RuleScaleCounts[0])
		out = append(out, res)
	}
	return out, nil
}
