// Package human formats figures for people to read: the rates that
// cmd/kestrel prints after a run and that the harness's reports print.
package human

import "fmt"

// Rate formats a count per unit of time with three significant figures
// or so and an SI suffix: "1.23M", "45.6k", "789". The caller adds the
// unit ("/s", " events/s").
func Rate(x float64) string {
	switch {
	case x >= 1e6:
		return fmt.Sprintf("%.2fM", x/1e6)
	case x >= 1e3:
		return fmt.Sprintf("%.1fk", x/1e3)
	}
	return fmt.Sprintf("%.0f", x)
}
