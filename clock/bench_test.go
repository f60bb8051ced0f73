package clock

import (
	"testing"
	"time"
)

// sink keeps benchmark results alive against dead-code elimination.
var sink uint64

func BenchmarkNowMonoReal(b *testing.B) {
	var m Manager
	b.ReportAllocs()
	for b.Loop() {
		sink = m.NowMono()
	}
}

func BenchmarkNowMonoMock(b *testing.B) {
	var m Manager
	m.SetMock(1)
	b.ReportAllocs()
	for b.Loop() {
		sink = m.NowMono()
	}
}

func BenchmarkNowMonoMockSpeed(b *testing.B) {
	var m Manager
	m.SetMock(1)
	if err := m.SetSpeed(2.5); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		sink = m.NowMono()
	}
}

// BenchmarkNowMonoMockSpeedParallel shows readers do not contend.
func BenchmarkNowMonoMockSpeedParallel(b *testing.B) {
	var m Manager
	m.SetMock(1)
	if err := m.SetSpeed(2.5); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var s uint64
		for pb.Next() {
			s += m.NowMono()
		}
		sink = s
	})
}

// BenchmarkNowMonoInterface is the call engine and replay make.
func BenchmarkNowMonoInterface(b *testing.B) {
	var c Clock = New()
	b.ReportAllocs()
	for b.Loop() {
		sink = c.NowMono()
	}
}

func BenchmarkRealNowMono(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sink = Real{}.NowMono()
	}
}

// Baselines: the standard library's clock reads.

func BenchmarkTimeNow(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sink = uint64(time.Now().UnixNano())
	}
}

func BenchmarkTimeSince(b *testing.B) {
	start := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		sink = uint64(time.Since(start))
	}
}
