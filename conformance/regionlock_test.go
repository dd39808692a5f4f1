package conformance

import (
	"sync"
	"testing"
	"time"
)

// TestRegionLockKeepsModesApart: holders of different modes never overlap, an alone holder
// overlaps nothing, and holders of one shared mode do run together.
func TestRegionLockKeepsModesApart(t *testing.T) {
	var l regionLock
	var mu sync.Mutex
	active := map[regionMode]int{}
	together := map[regionMode]int{} // the most holders of a mode seen at once
	var bad []string
	hold := func(m regionMode) {
		l.lock(m)
		mu.Lock()
		active[m]++
		together[m] = max(together[m], active[m])
		for other, n := range active {
			if n > 0 && (other != m || m == alone && n > 1) {
				bad = append(bad, modeName(m)+" overlapped "+modeName(other))
			}
		}
		mu.Unlock()
		time.Sleep(200 * time.Microsecond)
		mu.Lock()
		active[m]--
		mu.Unlock()
		l.unlock()
	}
	var wg sync.WaitGroup
	for i := range 60 {
		m := []regionMode{changing, changing, listing, listing, alone}[i%5]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				hold(m)
			}
		}()
	}
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("%d overlaps of modes that must not overlap; first: %s", len(bad), bad[0])
	}
	for _, m := range []regionMode{changing, listing} {
		if together[m] < 2 {
			t.Errorf("at most %d %s holders at once; want several (the mode is shared)", together[m], modeName(m))
		}
	}
	if together[alone] != 1 {
		t.Errorf("%d alone holders at once, want 1", together[alone])
	}
}

func modeName(m regionMode) string {
	return [...]string{changing: "changing", listing: "listing", alone: "alone"}[m]
}
