-- The original ships a Lua twin of the EQL rule; Kestrel runs rule.eql.
function predicate(event) return false end
