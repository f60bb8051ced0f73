function predicate(event) return true end
