package value

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/kestrel-sec/kestrel/internal/valuejson"
)

// builder assembles one Value from the callbacks of sonic's ast.Preorder
// (it implements ast.Visitor; run it with VisitorOptions.OnlyNumber so that
// integers are parsed here, exactly, and never through float64). Decoder uses
// it for whole documents; a codec that embeds Values in a larger document,
// such as schema's event lines, forwards the callbacks for one Value to a
// builder until Done reports true. Kestrel's own codecs reach it through
// internal/valuejson (NewBuilder), which init registers it with: it is not
// API.
//
// Its zero value is ready to use. Strings are copied into the Arena given to
// Reset (or cloned one by one when it is nil), so the input may be reused.
type builder struct {
	stack []frame
	vals  []Value // elements of the Arrays being built
	bytes []byte  // elements of the Bytes being built
	arena *valuejson.Arena
	done  bool
	out   Value
	// maxDepth bounds Array nesting; 0 means the package's MaxDepth.
	maxDepth int
}

func init() {
	valuejson.RegisterBuilder(func() valuejson.Builder[Value] { return new(builder) })
}

type frameState uint8

const (
	expectValue   frameState = iota // "Null" or {variant: payload}
	expectVariant                   // inside {, before the key
	expectPayload                   // after the key
	expectEnd                       // payload read, before }
	inBytes                         // inside the Bytes payload's [ ]
	inArray                         // inside the Array payload's [ ]
)

type frame struct {
	state   frameState
	variant Kind
	start   int   // index into vals or bytes where this frame's elements begin
	pending Value // the payload, once read
}

// Reset prepares b for a new Value, copying strings into arena (nil: clone)
// and bounding Array nesting by maxDepth (0 or less: MaxDepth).
func (b *builder) Reset(arena *valuejson.Arena, maxDepth int) {
	b.stack = append(b.stack[:0], frame{state: expectValue})
	// A decode that failed mid-Array leaves elements behind; drop them so
	// the Builder does not keep their strings alive.
	clear(b.vals)
	b.vals = b.vals[:0]
	b.bytes = b.bytes[:0]
	b.arena = arena
	b.maxDepth = maxDepth
	b.done = false
	b.out = Value{}
}

// Done reports whether a whole Value has been read.
func (b *builder) Done() bool { return b.done }

// Value returns the Value read, once Done.
func (b *builder) Value() Value { return b.out }

func (b *builder) top() *frame {
	if len(b.stack) == 0 {
		return nil
	}
	return &b.stack[len(b.stack)-1]
}

// complete hands a finished Value to the enclosing frame.
func (b *builder) complete(v Value) {
	b.stack = b.stack[:len(b.stack)-1]
	if len(b.stack) == 0 {
		b.done, b.out = true, v
		return
	}
	// The only frame that holds nested Values is an Array.
	b.vals = append(b.vals, v)
}

// elementStart is called when a new Value begins; inside an Array it opens a
// frame for the element.
func (b *builder) elementStart() (*frame, error) {
	f := b.top()
	if f == nil {
		if b.done {
			return nil, errorf("unexpected input after the value")
		}
		// A zero Builder that was never Reset starts its first Value here.
		b.stack = append(b.stack, frame{state: expectValue})
		f = b.top()
	}
	if f.state == inArray {
		b.stack = append(b.stack, frame{state: expectValue})
		f = b.top()
	}
	return f, nil
}

func (b *builder) unexpected(f *frame, got string) error {
	switch f.state {
	case expectValue:
		return errorf(`expected a value ("Null" or {"Variant":payload}), got %s`, got)
	case expectPayload:
		return errorf("%s payload: expected %s, got %s", f.variant, payloadWant[f.variant], got)
	case expectEnd:
		return errorf("%s value: expected } after the payload, got %s", f.variant, got)
	case inBytes:
		return errorf("Bytes payload: expected integers 0..255, got %s", got)
	}
	return errorf("unexpected %s", got)
}

var payloadWant = [numKinds]string{
	KindI64:    "an integer in int64 range",
	KindU64:    "an integer in uint64 range",
	KindF64:    "a number (or null for NaN)",
	KindBool:   "true or false",
	KindString: "a string",
	KindBytes:  "an array of integers 0..255",
	KindArray:  "an array of values",
}

// OnNull implements ast.Visitor.
func (b *builder) OnNull() error {
	f, err := b.elementStart()
	if err != nil {
		return err
	}
	if f.state == expectPayload && f.variant == KindF64 {
		f.state, f.pending = expectEnd, F64Value(nan())
		return nil
	}
	return b.unexpected(f, "null")
}

// OnBool implements ast.Visitor.
func (b *builder) OnBool(v bool) error {
	f, err := b.elementStart()
	if err != nil {
		return err
	}
	if f.state == expectPayload && f.variant == KindBool {
		f.state, f.pending = expectEnd, BoolValue(v)
		return nil
	}
	return b.unexpected(f, strconv.FormatBool(v))
}

// OnString implements ast.Visitor.
func (b *builder) OnString(s string) error {
	f, err := b.elementStart()
	if err != nil {
		return err
	}
	switch {
	case f.state == expectValue && (s == "Null" || s == "null"):
		b.complete(Value{})
		return nil
	case f.state == expectValue:
		if _, ok := variantOf(s); ok {
			return errorf("variant %q needs a payload: write {%q:...}", s, s)
		}
		return errorf("unknown variant %s (want Null, I64, U64, F64, Bool, String, Bytes or Array)", valuejson.Snippet(s, 0))
	case f.state == expectPayload && f.variant == KindString:
		if b.arena != nil {
			s = b.arena.String(s)
		} else {
			s = strings.Clone(s)
		}
		f.state, f.pending = expectEnd, StringValue(s)
		return nil
	}
	return b.unexpected(f, "string "+valuejson.Snippet(s, 0))
}

// OnInt64 implements ast.Visitor; with OnlyNumber, n is the number's text.
func (b *builder) OnInt64(_ int64, n json.Number) error { return b.onNumber(string(n)) }

// OnFloat64 implements ast.Visitor; with OnlyNumber, n is the number's text.
func (b *builder) OnFloat64(_ float64, n json.Number) error { return b.onNumber(string(n)) }

func (b *builder) onNumber(n string) error {
	f, err := b.elementStart()
	if err != nil {
		return err
	}
	switch {
	case f.state == inBytes:
		u, err := strconv.ParseUint(n, 10, 8)
		if err != nil {
			return errorf("Bytes payload: element %s is not an integer 0..255", n)
		}
		b.bytes = append(b.bytes, byte(u))
		return nil
	case f.state != expectPayload:
		return b.unexpected(f, "number "+n)
	}
	var v Value
	switch f.variant {
	case KindI64:
		i, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			return numberError(f.variant, n, err)
		}
		v = I64Value(i)
	case KindU64:
		u, err := strconv.ParseUint(n, 10, 64)
		if err != nil {
			return numberError(f.variant, n, err)
		}
		v = U64Value(u)
	case KindF64:
		x, err := strconv.ParseFloat(n, 64)
		if err != nil {
			return errorf("F64 payload %s is out of float64 range", n)
		}
		v = F64Value(x)
	default:
		return b.unexpected(f, "number "+n)
	}
	f.state, f.pending = expectEnd, v
	return nil
}

func numberError(k Kind, n string, err error) error {
	if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
		return errorf("%s payload %s overflows %s", k, n, map[Kind]string{KindI64: "int64", KindU64: "uint64"}[k])
	}
	if k == KindU64 && strings.HasPrefix(n, "-") && !strings.ContainsAny(n, ".eE") {
		return errorf("U64 payload %s is negative", n)
	}
	return errorf("%s payload %s is not an integer", k, n)
}

// OnObjectBegin implements ast.Visitor.
func (b *builder) OnObjectBegin(int) error {
	f, err := b.elementStart()
	if err != nil {
		return err
	}
	if f.state != expectValue {
		return b.unexpected(f, "an object")
	}
	f.state = expectVariant
	return nil
}

// OnObjectKey implements ast.Visitor.
func (b *builder) OnObjectKey(key string) error {
	f := b.top()
	if f == nil || f.state != expectVariant {
		if f != nil && f.state == expectEnd {
			return errorf("%s value has a second key %s: a value is an object with exactly one key", f.variant, valuejson.Snippet(key, 0))
		}
		return errorf("unexpected key %s", valuejson.Snippet(key, 0))
	}
	k, ok := variantOf(key)
	if !ok {
		return errorf("unknown variant %s (want Null, I64, U64, F64, Bool, String, Bytes or Array)", valuejson.Snippet(key, 0))
	}
	if k == KindNull {
		return errorf(`Null takes no payload: write "Null"`)
	}
	f.state, f.variant = expectPayload, k
	return nil
}

// OnObjectEnd implements ast.Visitor.
func (b *builder) OnObjectEnd() error {
	f := b.top()
	if f == nil {
		return errorf("unexpected }")
	}
	switch f.state {
	case expectEnd:
		b.complete(f.pending)
		return nil
	case expectVariant:
		return errorf("empty object: a value is an object with exactly one key")
	}
	return b.unexpected(f, "}")
}

// OnArrayBegin implements ast.Visitor.
func (b *builder) OnArrayBegin(int) error {
	f, err := b.elementStart()
	if err != nil {
		return err
	}
	if f.state == expectPayload {
		switch f.variant {
		case KindBytes:
			f.state, f.start = inBytes, len(b.bytes)
			return nil
		case KindArray:
			// Checked where an Array opens, not where an element does, so
			// that an empty innermost Array counts towards the depth too.
			depth := 1
			for i := range b.stack {
				if b.stack[i].state == inArray {
					depth++
				}
			}
			max := b.maxDepth
			if max <= 0 {
				max = MaxDepth
			}
			if depth > max {
				return errorf("Array nesting deeper than %d", max)
			}
			f.state, f.start = inArray, len(b.vals)
			return nil
		}
	}
	return b.unexpected(f, "an array")
}

// OnArrayEnd implements ast.Visitor.
func (b *builder) OnArrayEnd() error {
	f := b.top()
	if f == nil {
		return errorf("unexpected ]")
	}
	switch f.state {
	case inBytes:
		out := make([]byte, len(b.bytes)-f.start)
		copy(out, b.bytes[f.start:])
		b.bytes = b.bytes[:f.start]
		f.state, f.pending = expectEnd, BytesValue(out)
		return nil
	case inArray:
		out := make([]Value, len(b.vals)-f.start)
		copy(out, b.vals[f.start:])
		clear(b.vals[f.start:])
		b.vals = b.vals[:f.start]
		f.state, f.pending = expectEnd, ArrayValue(out...)
		return nil
	}
	return b.unexpected(f, "]")
}

func (b *builder) wrap(err error) error {
	if _, ok := err.(*DecodeError); ok {
		return err
	}
	return errorf("malformed JSON: %v", err)
}

// variantOf maps a variant name, as written or in lower case, to its Kind.
func variantOf(s string) (Kind, bool) {
	switch s {
	case "Null", "null":
		return KindNull, true
	case "I64", "i64":
		return KindI64, true
	case "U64", "u64":
		return KindU64, true
	case "F64", "f64":
		return KindF64, true
	case "Bool", "bool":
		return KindBool, true
	case "String", "string":
		return KindString, true
	case "Bytes", "bytes":
		return KindBytes, true
	case "Array", "array":
		return KindArray, true
	}
	return 0, false
}
