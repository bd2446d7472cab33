//go:build race

package exchange

// raceEnabled reports a -race build: sync.Pool then drops items at random,
// so pooled paths allocate and allocation tests of them are skipped.
const raceEnabled = true
