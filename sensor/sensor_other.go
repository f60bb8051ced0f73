//go:build !linux

package sensor

import "context"

// Sensor is the live sensor; on this system it cannot run.
type Sensor struct{}

// New returns ErrUnsupported: the sensor needs Linux.
func New(cfg Config) (*Sensor, error) { return nil, ErrUnsupported }

// Run returns ErrUnsupported.
func (s *Sensor) Run(ctx context.Context) error { return ErrUnsupported }

// Stats returns zero.
func (s *Sensor) Stats() Stats { return Stats{} }

// Ready returns a channel that is never closed.
func (s *Sensor) Ready() <-chan struct{} { return nil }
