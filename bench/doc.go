// Package bench is Kestrel's benchmark harness as a library, shared by the
// kestrel-bench command and by tests: scenarios that drive the real code
// paths (publish, subscribe, throughput, replay, alert dispatch) beside
// peers measured in the same run (a buffered Go channel and Workiva's
// queue.RingBuffer), percentiles from HdrHistogram, the targets every run is
// verified against, the CPU price of each figure, and the report in text,
// Markdown, JSON and SVG. It also reads CPU profiles with
// github.com/google/pprof/profile to name the hottest functions.
//
// Figures on shared machines are noisy, so every figure is also given as a
// ratio to the channel peer measured in the same run.
package bench
