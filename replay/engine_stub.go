package replay

// isEngineDrop is replaced by engine.ErrDropped / engine.ErrTimeout once the
// engine package builds.
func isEngineDrop(error) bool { return false }
