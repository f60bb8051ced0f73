package rule

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// ecsFieldSets are the top-level names of ECS field sets: an unknown field
// under one of them is a gap in the shipped schema, not a field of a
// vendor integration.
var ecsFieldSets = map[string]bool{
	"@timestamp": true, "agent": true, "as": true, "client": true, "cloud": true, "code_signature": true,
	"container": true, "data_stream": true, "destination": true, "device": true, "dll": true, "dns": true,
	"ecs": true, "elf": true, "email": true, "error": true, "event": true, "faas": true, "file": true,
	"geo": true, "group": true, "hash": true, "host": true, "http": true, "interface": true, "labels": true,
	"log": true, "macho": true, "message": true, "network": true, "observer": true, "orchestrator": true,
	"organization": true, "os": true, "package": true, "pe": true, "process": true, "registry": true,
	"related": true, "risk": true, "rule": true, "server": true, "service": true, "source": true,
	"tags": true, "threat": true, "tls": true, "url": true, "user": true, "user_agent": true,
	"volume": true, "vulnerability": true, "x509": true,
}

var unknownFieldRE = regexp.MustCompile(`unknown field ([^ ]+)`)

// TestElasticRules measures how many of Elastic's published EQL rules load
// against the default schema, and sorts every refusal by cause; see
// docs/elastic-rules.md. It runs when KESTREL_ELASTIC_RULES names the rules
// folder of a checkout of github.com/elastic/detection-rules:
//
//	KESTREL_ELASTIC_RULES=/path/to/detection-rules/rules go test ./rule -run TestElasticRules -v
//
// Rules under _deprecated are left out. It fails when a refusal names an
// unknown field of an ECS field set (the schema should hold it).
func TestElasticRules(t *testing.T) {
	root := os.Getenv("KESTREL_ELASTIC_RULES")
	if root == "" {
		t.Skip("KESTREL_ELASTIC_RULES is not set")
	}
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "_deprecated" {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".toml") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := DefaultRegistry()
	out := t.TempDir()
	var eql, loaded, skipped int
	causes := map[string][]string{} // cause -> rule files
	unknown := map[string]int{}     // unknown field -> rules
	arrays := 0                     // loaded rules reading an ECS keyword array
	elementWise, asJoin := 0, 0     // loaded rules testing an Array field (element-wise); joining by one (whole value)
	arrayRE := regexp.MustCompile(`\b(process\.(parent\.)?args|event\.(type|category)|registry\.data\.strings|process\.env_vars|related\.[a-z]+|host\.ip|dns\.resolved_ip|tags)\b`)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r, err := ParseElasticRule(f, data)
		if errors.Is(err, ErrNotEQL) {
			skipped++
			continue
		}
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		eql++
		p, err := r.WritePackage(filepath.Join(out, fmt.Sprint(eql)), reg)
		if err == nil {
			loaded++
			if arrayRE.MatchString(r.Query) {
				arrays++
			}
			elem, join := arrayUses(p.Query)
			if elem {
				elementWise++
			}
			if join {
				asJoin++
				t.Logf("joins by an array field: %s", filepath.Base(f))
			}
			continue
		}
		msg := err.Error()
		rel, _ := filepath.Rel(root, f)
		var cause string
		switch {
		case strings.Contains(msg, "missing-event steps"):
			cause = "missing-event step ![...] (parser work in progress)"
		case strings.Contains(msg, "sample queries"):
			cause = "sample (parser work in progress)"
		case strings.Contains(msg, "invalid CIDR prefix"):
			cause = "cidrMatch with a bare address (Elastic reads it as /32 or /128; the resolver wants a prefix)"
		case errors.Is(err, ErrUnknownField):
			cause = "unknown field of a vendor integration (not ECS)"
			for _, m := range unknownFieldRE.FindAllStringSubmatch(msg, -1) {
				unknown[m[1]]++
				top, _, _ := strings.Cut(m[1], ".")
				if ecsFieldSets[top] {
					cause = "unknown field of an ECS field set"
				}
			}
		case errors.Is(err, ErrUnknownEventType):
			cause = "unknown event type"
		default:
			cause = "other: " + msg
		}
		causes[cause] = append(causes[cause], rel+": "+msg)
	}
	t.Logf("%d TOML files, %d not EQL; %d EQL rules, %d load against %s/%d (%.1f%%); %d of those read an ECS keyword array",
		len(files), skipped, eql, loaded, DefaultSchemaID, DefaultSchemaVersion, 100*float64(loaded)/float64(max(eql, 1)), arrays)
	byNS := map[string]int{}
	for _, f := range reg.Fields() {
		if f.Dynamic {
			ns, _ := reg.NamespaceOf(f.Path)
			byNS[ns.Prefix]++
		}
	}
	t.Logf("fields registered under dynamic namespaces: %v", byNS)
	t.Logf("%d loaded rules test an Array<String> field (element-wise); %d join by one (the whole value)", elementWise, asJoin)
	keys := make([]string, 0, len(causes))
	for k := range causes {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return len(causes[keys[i]]) > len(causes[keys[j]]) })
	for _, k := range keys {
		t.Logf("%4d %s", len(causes[k]), k)
		for _, r := range causes[k] {
			t.Logf("       %s", r)
		}
	}
	fields := make([]string, 0, len(unknown))
	for f := range unknown {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		t.Logf("unknown field %s: %d rules", f, unknown[f])
	}
	if n := len(causes["unknown field of an ECS field set"]); n > 0 {
		t.Errorf("%d rules refused for an unknown field of an ECS field set: add it to schema/ecs.json", n)
	}
}

// arrayUses reports whether q tests an array field (Field.Array), which
// is element-wise in comparisons, in, pattern tests and expressions, and
// whether it joins by one, which compares whole values.
func arrayUses(q *Query) (elem, join bool) {
	if q == nil {
		return false, false
	}
	for _, f := range q.By {
		join = join || f.Array
	}
	steps := q.Steps
	if q.Until != nil {
		steps = append(steps[:len(steps):len(steps)], q.Until)
	}
	for _, st := range steps {
		for _, f := range st.By {
			join = join || f.Array
		}
		walk(st.Cond, func(f *Field) { elem = elem || f.Array })
	}
	return elem, join
}
