package clock_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/kestrel-sec/kestrel/clock"
)

func ExampleManager_SetMock() {
	m := clock.New() // real time until told otherwise
	m.SetMock(1_000)
	fmt.Println(m.IsMock(), m.NowMono())
	time.Sleep(time.Millisecond)
	fmt.Println(m.NowMono()) // frozen
	// Output:
	// true 1000
	// 1000
}

func ExampleManager_Advance() {
	var m clock.Manager // the zero value is usable: real time
	m.SetMock(0)
	_ = m.Advance(1500 * time.Millisecond)
	fmt.Println(m.NowMono())
	err := m.Advance(-time.Second)
	fmt.Println(errors.Is(err, clock.ErrNegativeDuration), m.NowMono())
	// Output:
	// 1500000000
	// true 1500000000
}

func ExampleManager_SetSpeed() {
	m := clock.New()
	m.SetMock(0)
	_ = m.SetSpeed(10) // mock time now runs ten times faster than real time
	fmt.Println(m.Speed())
	_ = m.SetSpeed(0) // and is frozen again, wherever it got to
	t := m.NowMono()
	fmt.Println(m.NowMono() == t)
	err := m.SetSpeed(-1)
	fmt.Println(errors.Is(err, clock.ErrInvalidSpeed))
	// Output:
	// 10
	// true
	// true
}

func ExampleFunc() {
	var c clock.Clock = clock.Func(func() uint64 { return 7 })
	fmt.Println(c.NowMono())
	// Output: 7
}

func ExampleReal() {
	var c clock.Clock = clock.Real{}
	a := c.NowMono()
	b := c.NowMono()
	fmt.Println(b >= a)
	// Output: true
}
