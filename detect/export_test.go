package detect

// RaceEnabled tells the external tests whether the race detector, which
// allocates, is on.
var RaceEnabled = raceEnabled
