// Package clock provides Kestrel's monotonic time source: a minimal [Clock]
// interface, a process-wide real clock ([Real]), an adaptor for plain
// functions ([Func]), and a [Manager] that switches between real time and a
// mock time that can be set, advanced and made to flow at a multiple of real
// time, as replay does.
//
// All times are uint64 nanoseconds on a monotonic scale. Real time counts from
// the moment this package was initialised (close to process start), so values
// from every [Real] and every [Manager] in real mode are comparable with one
// another. Mock time is whatever the caller sets.
//
// Reading the time never takes a lock and never allocates: [Manager.NowMono]
// reads the monotonic clock and loads one atomic pointer to an immutable
// state. Writers serialise among themselves with a mutex and publish a new
// state; see the Invariants comment in manager.go for how mock time is kept
// from going backwards while a writer changes the speed.
package clock
