package node

import (
	"errors"
	"fmt"
)

// Sentinel errors.
var (
	// ErrRunning is returned by Run when the node already ran.
	ErrRunning = errors.New("node: Run called twice")
	// ErrNoRules is returned by New and Reload when the rules directory
	// holds no runnable package.
	ErrNoRules = errors.New("node: no runnable rules")
	// ErrLost matches a *LossError.
	ErrLost = errors.New("node: events or alerts lost")
	// ErrNotRunning is returned by Reload on a node that runs without
	// rules.
	ErrNotRunning = errors.New("node: no rules to reload")
	// ErrNoSchemaFile is returned by ReloadSchemaFile on a node whose
	// schema was not read from a file (Config.SchemaPath).
	ErrNoSchemaFile = errors.New("node: no schema file to reload")
)

// RulesError says why rules did not load: Err joins every problem
// (*rule.Error values, each with its file, line and column).
type RulesError struct {
	Dir string
	Err error
}

// Error returns "rules in DIR: ...".
func (e *RulesError) Error() string { return fmt.Sprintf("rules in %s: %v", e.Dir, e.Err) }

// Unwrap returns the joined problems.
func (e *RulesError) Unwrap() error { return e.Err }

// StageError is a failure of one stage of the node: "schema", "outputs",
// "detect", "bus", or "source".
type StageError struct {
	Stage string
	Err   error
}

// Error returns "node: STAGE: ...".
func (e *StageError) Error() string { return "node: " + e.Stage + ": " + e.Err.Error() }

// Unwrap returns the stage's error.
func (e *StageError) Unwrap() error { return e.Err }

// LossError is returned by Run when, the node stopped, some events or
// alerts were lost; Stats says by what cause.
type LossError struct {
	Events, Alerts uint64
}

// Error returns how many were lost.
func (e *LossError) Error() string {
	return fmt.Sprintf("node: lost %d events and %d alerts", e.Events, e.Alerts)
}

// Is matches ErrLost.
func (e *LossError) Is(target error) bool { return target == ErrLost }
