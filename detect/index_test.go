package detect

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// pieces are the fragments random values and patterns are built of: case
// variants, runes whose fold partners differ in length (the Kelvin sign
// and k, long s and s, ẞ and ß), an invalid byte (values only).
var pieces = []string{"a", "A", "b", "K", "k", "\u212a", "ſ", "s", "S", "ß", "ẞ", ".exe", ".EXE", "/tmp/", "cmd", "CMD", "-enc", "é", "É", "x"}

func randValue(rnd *rand.Rand) string {
	var b strings.Builder
	for range rnd.IntN(6) {
		if rnd.IntN(20) == 0 {
			b.WriteString("\xff")
		}
		b.WriteString(pieces[rnd.IntN(len(pieces))])
	}
	return b.String()
}

// quoteEQL writes s as an EQL string literal.
func quoteEQL(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

var strFields = []string{"process.name", "process.executable", "process.command_line", "user.name", arrayField}

// randCond returns a random condition over the string fields and a
// number, in every form the index treats differently.
func randCond(rnd *rand.Rand, depth int) string {
	f := strFields[rnd.IntN(len(strFields))]
	lit := func() string { return quoteEQL(strings.ReplaceAll(randValue(rnd), "\xff", "")) }
	short := func() string { // one or two pieces: literals that overlap
		s := pieces[rnd.IntN(len(pieces))]
		if rnd.IntN(2) == 0 {
			s += pieces[rnd.IntN(len(pieces))]
		}
		return quoteEQL(s)
	}
	glob := func() string {
		p := []rune(strings.ReplaceAll(randValue(rnd), "\xff", ""))
		for range rnd.IntN(3) {
			i := rnd.IntN(len(p) + 1)
			p = slices.Insert(p, i, []rune{'*', '?'}[rnd.IntN(2)])
		}
		return quoteEQL(string(p))
	}
	if depth > 0 && rnd.IntN(3) == 0 {
		switch rnd.IntN(3) {
		case 0:
			return "(" + randCond(rnd, depth-1) + " and " + randCond(rnd, depth-1) + ")"
		case 1:
			return "(" + randCond(rnd, depth-1) + " or " + randCond(rnd, depth-1) + ")"
		default:
			return "not " + randCond(rnd, depth-1)
		}
	}
	switch rnd.IntN(16) {
	case 0:
		return f + " == " + lit()
	case 1:
		return f + " != " + lit()
	case 2:
		return f + " in (" + lit() + ", " + lit() + ")"
	case 3:
		return f + " in~ (" + lit() + ", " + lit() + ", " + lit() + ")"
	case 4:
		return f + " : " + glob()
	case 5:
		return f + " : (" + glob() + ", " + glob() + ")"
	case 6:
		return f + " like " + glob()
	case 7:
		return f + " like~ " + glob()
	case 8:
		return "startsWith" + []string{"", "~"}[rnd.IntN(2)] + "(" + f + ", " + short() + ", " + short() + ")"
	case 9:
		return "endsWith" + []string{"", "~"}[rnd.IntN(2)] + "(" + f + ", " + short() + ", " + short() + ")"
	case 10:
		return "stringContains" + []string{"", "~"}[rnd.IntN(2)] + "(" + f + ", " + short() + ", " + short() + ")"
	case 11:
		return f + " regex" + []string{"", "~"}[rnd.IntN(2)] + " " + quoteEQL([]string{`.*\.exe`, `.*(cmd|-enc).*`, `/tmp/.*`, `[a-z]+`, `.*k.?s.*`, `a|b`}[rnd.IntN(6)])
	case 12:
		n := fmt.Sprint(rnd.IntN(4))
		return []string{"process.pid > " + n, "process.pid == " + n, "process.pid in (7, " + n + ")", "process.pid in (null, " + n + ")"}[rnd.IntN(4)]
	case 13:
		return f + " == null"
	case 14:
		return []string{"true", "false"}[rnd.IntN(2)]
	}
	return f + " in (" + lit() + ", null)"
}

func randRules(t testing.TB, rnd *rand.Rand, n, depth int) []*rule.Package {
	types := []string{"process", "file", "any"}
	var out []*rule.Package
	for i := range n {
		var src string
		if rnd.IntN(3) == 0 {
			src = "sequence by user.name with maxspan=5s\n"
			for range 2 + rnd.IntN(2) {
				src += "  [" + types[rnd.IntN(2)] + " where " + randCond(rnd, 2) + "]\n"
			}
			if rnd.IntN(3) == 0 {
				src += "until [process where " + randCond(rnd, 1) + "]"
			}
		} else {
			src = types[rnd.IntN(len(types))] + " where " + randCond(rnd, depth)
		}
		id := fmt.Sprintf("r%d", i)
		q, err := rule.Compile(id+".eql", src, testReg)
		if err != nil {
			t.Fatalf("%s: %v\n%s", id, err, src)
		}
		out = append(out, &rule.Package{Manifest: &rule.Manifest{RuleID: id, RuleName: id, Severity: schema.SeverityLow}, Source: src, Query: q})
	}
	return out
}

func randEvents(t testing.TB, rnd *rand.Rand, n int) []schema.Event {
	evs := make([]schema.Event, 0, n)
	for i := range n {
		b := schema.NewBuilder(testReg).ID(uint64(i+1)).Mono(schema.TimestampMono(time.Duration(i)*100*time.Millisecond)).
			Entity(schema.EntityKeyFrom64(uint64(rnd.IntN(5)))).TypeName([]string{"process_exec", "file_open", "process_exit"}[rnd.IntN(3)]).
			Path("user.name", value.StringValue([]string{"alice", "bob"}[rnd.IntN(2)]))
		for _, f := range strFields[:3] {
			if rnd.IntN(4) > 0 {
				v := randValue(rnd)
				if rnd.IntN(30) == 0 {
					v = strings.Repeat(v+"é", 40) // past a small MaxPatternBytes
				}
				b.Path(f, value.StringValue(v))
			}
		}
		if rnd.IntN(2) == 0 {
			b.Path("process.pid", value.I64Value(int64(rnd.IntN(5))))
		}
		if v, ok := randArray(rnd); ok {
			b.Path(arrayField, v)
		}
		e, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
	}
	return evs
}

// alertsOf runs evs through one partition and returns the alerts in
// emission order.
func alertsOf(t testing.TB, cfg Config, evs []schema.Event) []string {
	c := &capture{}
	cfg.Output = c
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		d.Handle(0, []*schema.Event{&evs[i]})
	}
	var out []string
	for _, a := range c.alerts {
		out = append(out, alertKey(a))
	}
	return out
}

// TestIndexMatchesPlain is the index's property test: on random rules and
// events the indexed Detector raises exactly the plain one's alerts, in
// the same order, and routes every event the same, with and without a
// small pattern byte cap.
func TestIndexMatchesPlain(t *testing.T) {
	seeds := 40
	if raceEnabled {
		seeds = 10
	}
	total, decided := 0, 0
	for seed := range uint64(seeds) {
		rnd := rand.New(rand.NewPCG(seed, 99))
		rules := randRules(t, rnd, 5+rnd.IntN(60), int(seed%3)) // depth 0: many plain tests on few fields
		evs := randEvents(t, rnd, 400)
		for _, maxBytes := range []int{0, 24, -1} {
			cfg := Config{Rules: rules, MaxPatternBytes: maxBytes}
			plainCfg := cfg
			plainCfg.NoIndex = true
			got, want := alertsOf(t, cfg, evs), alertsOf(t, plainCfg, evs)
			if d, err := New(Config{Rules: rules, Output: discard{}}); err == nil {
				decided += decidedSteps(d)
			}
			total += len(want)
			if !slices.Equal(got, want) {
				i := firstDiff(got, want)
				t.Fatalf("seed %d cap %d: alerts differ at %d:\nindexed %v\nplain   %v\nrules:\n%s", seed, maxBytes, i, got[i:min(i+3, len(got))], want[i:min(i+3, len(want))], sources(rules))
			}
			part := func(k schema.EntityKey) int { return int(k.Lo % 4) }
			di, _ := New(Config{Rules: rules, MaxPatternBytes: maxBytes, Output: discard{}, Partitions: 4, EntityPartition: part})
			dp, _ := New(Config{Rules: rules, MaxPatternBytes: maxBytes, Output: discard{}, Partitions: 4, EntityPartition: part, NoIndex: true})
			for i := range evs {
				if a, b := di.Route(&evs[i]), dp.Route(&evs[i]); a != b {
					t.Fatalf("seed %d: event %d routed %b, plain %b", seed, evs[i].ID, a, b)
				}
			}
		}
	}
	if total < 100*seeds {
		t.Fatalf("%d alerts over %d seeds: the random rules match too rarely to test anything", total, seeds)
	}
	if decided < seeds {
		t.Fatalf("%d steps decided by their guard over %d seeds: the random rules do not exercise it", decided, seeds)
	}
}

// decidedSteps counts the steps and untils of d whose guard decides a
// conjunct (their predicate runs only in part).
func decidedSteps(d *Detector) int {
	n := 0
	for _, r := range d.rules {
		for i := range r.steps {
			if r.steps[i].rest != nil {
				n++
			}
		}
		if r.until != nil && r.until.rest != nil {
			n++
		}
	}
	return n
}

// TestIndexDecides: a guard that is exact for a conjunct spares running
// it; a wildcard's literal part, a regexp or an integer list is not exact.
func TestIndexDecides(t *testing.T) {
	for _, c := range []struct {
		src     string
		decided bool
	}{
		{`process where process.name in ("nc", "ncat")`, true},
		{`process where process.name in~ ("nc", "ncat") and process.pid > 1`, true},
		{`process where process.command_line : ("*-enc*", "*iex*")`, true},
		{`process where process.command_line regex~ ".*(dropbox|s3\\.amazonaws).*"`, true},
		{`process where process.executable : "/tmp/*" or process.name == "x"`, true},
		{`process where process.command_line : "*a?c*"`, false},
		{`process where process.command_line : "*curl*|*sh*"`, false},
		{`process where process.pid in (1, 2)`, false},
		{`process where process.name : "n*" or process.pid > 3`, false},
	} {
		d, err := New(Config{Rules: []*rule.Package{pkg(t, "r", c.src)}, Output: discard{}})
		if err != nil {
			t.Fatal(err)
		}
		if got := decidedSteps(d) > 0; got != c.decided {
			t.Errorf("%s: decided %v, want %v", c.src, got, c.decided)
		}
	}
}

func sources(rules []*rule.Package) string {
	var b strings.Builder
	for _, r := range rules {
		b.WriteString(r.Manifest.RuleID + ": " + r.Source + "\n")
	}
	return b.String()
}

// TestIndexOverlaps: patterns of one field that end inside each other must
// all be found (the automaton's output links).
func TestIndexOverlaps(t *testing.T) {
	rules := []*rule.Package{
		pkg(t, "c1", `process where stringContains(process.name, "xcmd")`),
		pkg(t, "c2", `process where process.name : "*md*"`),
		pkg(t, "c3", `process where stringContains~(process.name, "D")`),
		pkg(t, "c4", `process where endsWith~(process.name, "CMD")`),
		pkg(t, "c5", `process where endsWith(process.name, "d")`),
		pkg(t, "c6", `process where startsWith~(process.name, "AX")`),
		pkg(t, "c7", `process where startsWith(process.name, "a")`),
		pkg(t, "c8", `process where process.name in~ ("AXCMD")`),
	}
	_, c := run(t, Config{Rules: rules}, []ev{{1, "process_exec", 0, 1, []any{"process.name", "axcmd"}}})
	expectAlerts(t, c, "c1:1", "c2:1", "c3:1", "c4:1", "c5:1", "c6:1", "c7:1", "c8:1")
}

// TestIndexTooLarge: a type whose automaton would pass the size bound is
// not indexed (its rules all run), and the alerts stay the plain ones.
func TestIndexTooLarge(t *testing.T) {
	defer func(n int) { maxAutomatonCells = n }(maxAutomatonCells)
	maxAutomatonCells = 64
	rnd := rand.New(rand.NewPCG(7, 7))
	rules := randRules(t, rnd, 40, 0)
	evs := randEvents(t, rnd, 300)
	d, err := New(Config{Rules: rules, Output: discard{}})
	if err != nil {
		t.Fatal(err)
	}
	gaveUp := false
	for _, ti := range d.index.types {
		gaveUp = gaveUp || len(ti.fields) == 0 && len(ti.always) > 0
	}
	if !gaveUp {
		t.Fatal("no type fell back to running every rule")
	}
	got, want := alertsOf(t, Config{Rules: rules}, evs), alertsOf(t, Config{Rules: rules, NoIndex: true}, evs)
	if !slices.Equal(got, want) {
		t.Fatalf("alerts differ at %d", firstDiff(got, want))
	}
}

// FuzzIndex matches one pattern test, in each form, against one value,
// indexed and plain: the index must never hide a match. The seed corpus
// is in testdata/fuzz/FuzzIndex.
func FuzzIndex(f *testing.F) {
	f.Add("*.exe", "C:\\X.EXE", uint8(0))
	f.Add("k", "\u212a", uint8(3))
	f.Fuzz(func(t *testing.T, pat, val string, form uint8) {
		if strings.ContainsAny(pat, "\x00\n\r") || len(pat) > 64 || len(val) > 256 {
			return
		}
		forms := []string{
			`process where process.name : %s`, `process where process.name like %s`, `process where process.name like~ %s`,
			`process where process.name in~ (%s, "zz")`, `process where process.name in (%s, "zz")`, `process where process.name == %s`,
			`process where startsWith~(process.name, %s)`, `process where endsWith~(process.name, %s)`, `process where stringContains~(process.name, %s)`,
			`process where startsWith(process.name, %s)`, `process where endsWith(process.name, %s)`, `process where stringContains(process.name, %s)`,
			`process where process.name regex~ %s`, `process where process.name regex %s`,
			// Conjunctions and disjunctions a hit decides in part or whole.
			`process where process.name : %s and process.name != "zz"`, `process where process.name == "zz" or process.name : (%s, "*q*")`,
			`process where process.name in~ (%s) and not process.name like~ "*zz*"`,
			// A second conjunct the first's automaton decides (a second slot).
			`process where process.name : %[1]s and process.name : ("*e*", %[1]s)`,
		}
		src := fmt.Sprintf(forms[int(form)%len(forms)], quoteEQL(pat))
		q, err := rule.Compile("f.eql", src, testReg)
		if err != nil {
			return
		}
		rules := []*rule.Package{{Manifest: &rule.Manifest{RuleID: "f", RuleName: "f", Severity: schema.SeverityLow}, Source: src, Query: q}}
		e, err := schema.NewBuilder(testReg).ID(1).TypeName("process_exec").Path("process.name", value.StringValue(val)).Build()
		if err != nil {
			return
		}
		evs := []schema.Event{e}
		var costly *PatternCostError
		if _, err := New(Config{Rules: rules, Output: discard{}}); errors.As(err, &costly) {
			return // a regexp refused for its cost
		}
		for _, maxBytes := range []int{0, 8} {
			got := alertsOf(t, Config{Rules: rules, MaxPatternBytes: maxBytes}, evs)
			want := alertsOf(t, Config{Rules: rules, MaxPatternBytes: maxBytes, NoIndex: true}, evs)
			if !slices.Equal(got, want) {
				t.Fatalf("%s on %q (cap %d): indexed %v, plain %v", src, val, maxBytes, got, want)
			}
		}
	})
}

// A cidrMatch test gives the index no literal to guard on (an address is
// not its prefix's text): its rule always runs, beside indexed ones on the
// same field.
func TestIndexCIDRUnguarded(t *testing.T) {
	rules := []*rule.Package{
		pkg(t, "n1", `network where cidrMatch(destination.ip, "10.0.0.0/8")`),
		pkg(t, "n2", `network where destination.ip == "192.168.1.1"`),
		pkg(t, "n3", `network where destination.ip == "10.1.2.3" and cidrMatch(destination.ip, "10.0.0.0/8")`),
	}
	evs := []ev{
		{1, "network_connect", 0, 1, []any{"destination.ip", "10.1.2.3"}},
		{2, "network_connect", 0, 1, []any{"destination.ip", "192.168.1.1"}},
	}
	_, c := run(t, Config{Rules: rules}, evs)
	expectAlerts(t, c, "n1:1", "n3:1", "n2:2")
	_, c = run(t, Config{Rules: rules, NoIndex: true}, evs)
	expectAlerts(t, c, "n1:1", "n3:1", "n2:2")
}

// Second slots: a candidate of a name whose other conjunct is a command
// line substring is decided by the command line's scan, which another
// rule's guard builds, without its predicate; an idle sequence is no
// candidate for its second step until its first has matched. Alerts stay
// the plain matcher's.
func TestIndexSecondSlotsAndIdleSequences(t *testing.T) {
	rules := []*rule.Package{
		pkg(t, "both", `process where process.name in ("curl", "wget") and process.command_line : ("*-enc*", "*iex*")`),
		pkg(t, "cmd", `process where process.command_line : "*bypass*" and not user.name == "root"`),
		pkg(t, "seq", "sequence by user.name with maxspan=10s\n  [process where process.name : \"nc\"]\n  [file where file.path : \"*.sh\"]"),
	}
	evs := []ev{
		{1, "file_open", 1 * time.Second, 1, []any{"user.name", "bob", "file.path", "/tmp/a.sh"}},
		{2, "process_exec", 2 * time.Second, 1, []any{"user.name", "bob", "process.name", "curl", "process.command_line", "curl -ENC x"}},
		{3, "process_exec", 3 * time.Second, 1, []any{"user.name", "bob", "process.name", "curl", "process.command_line", "curl -x"}},
		{4, "process_exec", 4 * time.Second, 1, []any{"user.name", "bob", "process.name", "nc", "process.command_line", "nc -e bypass"}},
		{5, "file_open", 5 * time.Second, 1, []any{"user.name", "bob", "file.path", "/tmp/b.sh"}},
	}
	d, c := run(t, Config{Rules: rules}, evs)
	expectAlerts(t, c, "both:2", "cmd:4", "seq:4,5")
	_, c = run(t, Config{Rules: rules, NoIndex: true}, evs)
	expectAlerts(t, c, "both:2", "cmd:4", "seq:4,5")
	seconds, later := 0, 0
	for _, r := range d.index.slotRule {
		seconds += b2i(r == -1)
		later += b2i(r < -1)
	}
	if seconds != 1 || later != 1 {
		t.Errorf("%d second slots, %d later-step slots; want 1 and 1", seconds, later)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
