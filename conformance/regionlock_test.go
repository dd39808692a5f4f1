package conformance

import (
	"sync"
	"testing"
	"time"
)

// TestRegionLockKeepsModesApart: holders of changing and listing never overlap, an alone
// holder overlaps nothing, neutral holders overlap anything but alone, and holders of one
// shared mode do run together.
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
			switch {
			case n == 0:
			case m == neutral && other == neutral:
			case (m == neutral) != (other == neutral):
				if m == alone || other == alone {
					bad = append(bad, modeName(m)+" overlapped "+modeName(other))
				}
			case other != m || m == alone && n > 1:
				bad = append(bad, modeName(m)+" overlapped "+modeName(other))
			}
		}
		mu.Unlock()
		time.Sleep(200 * time.Microsecond)
		mu.Lock()
		active[m]--
		mu.Unlock()
		l.unlock(m)
	}
	var wg sync.WaitGroup
	for i := range 60 {
		m := []regionMode{changing, changing, listing, listing, alone, neutral}[i%6]
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
	for _, m := range []regionMode{changing, listing, neutral} {
		if together[m] < 2 {
			t.Errorf("at most %d %s holders at once; want several (the mode is shared)", together[m], modeName(m))
		}
	}
	if together[alone] != 1 {
		t.Errorf("%d alone holders at once, want 1", together[alone])
	}
}

func modeName(m regionMode) string {
	return [...]string{changing: "changing", listing: "listing", alone: "alone", neutral: "neutral"}[m]
}

// TestRegionLockAdmitsNeutralBesideTurns: a neutral command enters while a changing or a
// listing turn runs, and a command of the running turn's mode joins it when nothing else
// waits.
func TestRegionLockAdmitsNeutralBesideTurns(t *testing.T) {
	for _, turn := range []regionMode{changing, listing} {
		var l regionLock
		done := make(chan struct{})
		go func() {
			defer close(done)
			l.lock(turn)
			l.lock(neutral) // must not wait for the turn to end
			l.lock(turn)    // the same mode joins the running turn
			l.unlock(turn)
			l.unlock(neutral)
			l.unlock(turn)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("a neutral or a second %s command waited beside a running %s turn", modeName(turn), modeName(turn))
		}
	}
}
