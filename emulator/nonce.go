package emulator

import (
	"sync"
	"time"
)

// nonceCache remembers the SignatureNonces seen within the window, at most max of them (the
// oldest are forgotten first), so a replay within the window is refused.
type nonceCache struct {
	mu     sync.Mutex
	window time.Duration
	max    int
	seen   map[string]time.Time
	order  []string // insertion order, for eviction
	head   int
}

// DefaultMaxNonces is the nonce memory when Options.MaxNonces is 0.
const DefaultMaxNonces = 1_000_000

func newNonceCache(window time.Duration, max int) *nonceCache {
	if max <= 0 {
		max = DefaultMaxNonces
	}
	return &nonceCache{window: window, max: max, seen: map[string]time.Time{}}
}

// add records nonce at now and reports whether it was fresh.
func (c *nonceCache) add(nonce string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if at, ok := c.seen[nonce]; ok && now.Sub(at) < c.window {
		return false
	}
	// Evict expired or, when full, the oldest entries.
	for c.head < len(c.order) {
		oldest := c.order[c.head]
		at, ok := c.seen[oldest]
		if ok && now.Sub(at) < c.window && len(c.seen) < c.max {
			break
		}
		delete(c.seen, oldest)
		c.head++
	}
	if c.head > len(c.order)/2 && c.head > 1024 {
		c.order = append(c.order[:0], c.order[c.head:]...)
		c.head = 0
	}
	c.seen[nonce] = now
	c.order = append(c.order, nonce)
	return true
}
