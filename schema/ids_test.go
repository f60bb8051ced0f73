package schema_test

import (
	"errors"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/quick"

	"github.com/kestrel-sec/kestrel/schema"
)

// bigKey returns k as a big.Int.
func bigKey(k schema.EntityKey) *big.Int {
	b := k.Bytes()
	return new(big.Int).SetBytes(b[:])
}

// keyOf parses a decimal string with math/big and splits it into an
// EntityKey; it panics past 128 bits.
func keyOf(dec string) schema.EntityKey {
	n, ok := new(big.Int).SetString(dec, 10)
	if !ok || n.Sign() < 0 || n.BitLen() > 128 {
		panic("keyOf: bad key " + dec)
	}
	lo := new(big.Int).And(n, new(big.Int).SetUint64(^uint64(0)))
	return schema.EntityKey{Hi: new(big.Int).Rsh(n, 64).Uint64(), Lo: lo.Uint64()}
}

func pow(base, exp int64) string {
	return new(big.Int).Exp(big.NewInt(base), big.NewInt(exp), nil).String()
}

func minus1(dec string) string {
	n, _ := new(big.Int).SetString(dec, 10)
	return n.Sub(n, big.NewInt(1)).String()
}

func TestEntityKeyDecimal(t *testing.T) {
	f := func(dec string) {
		t.Helper()
		k := keyOf(dec)
		if got := string(k.AppendDecimal(nil)); got != dec {
			t.Errorf("%+v.AppendDecimal = %s, want %s", k, got, dec)
		}
		if got := k.String(); got != dec {
			t.Errorf("%+v.String() = %s, want %s", k, got, dec)
		}
		if got := string(k.AppendDecimal([]byte("x="))); got != "x="+dec {
			t.Errorf("AppendDecimal does not append: %q", got)
		}
		back, err := schema.ParseEntityKey(dec)
		if err != nil || back != k {
			t.Errorf("ParseEntityKey(%s) = %+v, %v; want %+v", dec, back, err, k)
		}
		if bigKey(k).String() != dec {
			t.Errorf("Bytes of %s = %s", dec, bigKey(k))
		}
	}
	f("0")
	f("1")
	f("9")
	f("10")
	f(minus1(pow(2, 64)))                       // 2^64-1
	f(pow(2, 64))                               // 2^64: Hi 1, Lo 0
	f(minus1(pow(10, 19)))                      // the largest 19-digit group
	f(pow(10, 19))                              // one group boundary
	f(minus1(pow(10, 38)))                      // 38 nines
	f(pow(10, 38))                              // two group boundaries
	f(pow(10, 19) + "000")                      // zeros inside a group
	f("10000000000000000000000000000000000001") // zeros between digits
	f(minus1(pow(2, 128)))                      // 2^128-1, the largest
	f(pow(2, 127))
	if k := schema.EntityKeyFrom64(42); k != (schema.EntityKey{Lo: 42}) || k.IsZero() {
		t.Errorf("EntityKeyFrom64(42) = %+v", k)
	}
	if !(schema.EntityKey{}).IsZero() || (schema.EntityKey{Hi: 1}).IsZero() {
		t.Error("IsZero is wrong")
	}
	b := schema.EntityKey{Hi: 0x0102030405060708, Lo: 0x090a0b0c0d0e0f10}.Bytes()
	for i := range b {
		if b[i] != byte(i+1) {
			t.Fatalf("Bytes() = %x, want big-endian 0102..10", b)
		}
	}
}

func TestParseEntityKeyErrors(t *testing.T) {
	f := func(s, wantInMsg string) {
		t.Helper()
		k, err := schema.ParseEntityKey(s)
		if err == nil {
			t.Errorf("ParseEntityKey(%q) = %+v, want an error", s, k)
			return
		}
		if !errors.Is(err, schema.ErrInvalidEvent) {
			t.Errorf("ParseEntityKey(%q): %v does not match ErrInvalidEvent", s, err)
		}
		var se *schema.SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("ParseEntityKey(%q): %T is not a *SyntaxError", s, err)
		}
		if !strings.Contains(err.Error(), wantInMsg) {
			t.Errorf("ParseEntityKey(%q) = %q, want it to mention %q", s, err, wantInMsg)
		}
		if k != (schema.EntityKey{}) {
			t.Errorf("ParseEntityKey(%q) failed but returned %+v", s, k)
		}
	}
	f(pow(2, 128), "overflows 128 bits")
	f(pow(10, 39), "overflows")
	f(strings.Repeat("9", 40), "overflows")
	f(strings.Repeat("1", 100), "overflows")
	f("", "empty")
	f("00", "leading zero")
	f("01", "leading zero")
	f("0"+minus1(pow(2, 128)), "") // 40 digits with a leading zero
	f("-1", "-1")
	f("+1", "+1")
	f("-0", "")
	f(" 1", "")
	f("1 ", "")
	f("1.0", "1.0")
	f("1e3", "1e3")
	f("0x10", "0x10")
	f("１", "") // a full-width digit
	f("12a", "12a")
}

func TestEntityKeyProperty(t *testing.T) {
	roundTrip := func(hi, lo uint64) bool {
		k := schema.EntityKey{Hi: hi, Lo: lo}
		dec := string(k.AppendDecimal(nil))
		if dec != bigKey(k).String() {
			t.Logf("%+v: AppendDecimal %s, math/big %s", k, dec, bigKey(k))
			return false
		}
		back, err := schema.ParseEntityKey(dec)
		return err == nil && back == k
	}
	if err := quick.Check(roundTrip, &quick.Config{MaxCount: 2000}); err != nil {
		t.Error(err)
	}
	// quick draws uniform 64-bit halves, which are nearly all 20 digits;
	// shift them to cover every length from 1 to 39 digits.
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 5000; i++ {
		n := new(big.Int).Lsh(new(big.Int).SetUint64(rng.Uint64()), uint(rng.IntN(65)))
		n.Rsh(n, uint(rng.IntN(64)))
		n.Add(n, new(big.Int).SetUint64(uint64(rng.IntN(3))))
		if n.BitLen() > 128 {
			continue
		}
		k := keyOf(n.String())
		if !roundTrip(k.Hi, k.Lo) {
			t.Fatalf("round trip of %s failed", n)
		}
	}
	// Every number past 2^128-1 is rejected.
	over := func(hi, lo uint64) bool {
		n := new(big.Int).Lsh(new(big.Int).SetUint64(hi|1), 128)
		n.Add(n, new(big.Int).SetUint64(lo))
		_, err := schema.ParseEntityKey(n.String())
		return errors.Is(err, schema.ErrInvalidEvent)
	}
	if err := quick.Check(over, &quick.Config{MaxCount: 500}); err != nil {
		t.Error(err)
	}
}
