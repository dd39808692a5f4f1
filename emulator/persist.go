package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// stateVersion is written into every state file; another version is refused.
const stateVersion = 1

// maxStateFile bounds a state file.
const maxStateFile = 256 << 20

var errNoState = errors.New("no state file")

type stateFile struct {
	Version int    `json:"version"`
	State   *state `json:"state"`
}

// loadState reads a state file written by SaveState. A missing file is errNoState; anything
// else that is wrong is an error naming the file, and the file is left untouched.
func loadState(path string) (*state, error) {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNoState
	}
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	if info.Size() > maxStateFile {
		return nil, fmt.Errorf("state file %s: %d bytes, more than the %d allowed; refusing to start", path, info.Size(), maxStateFile)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	var f stateFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("state file %s is corrupt (%v); refusing to start: move it away to start from the world again", path, err)
	}
	if f.Version != stateVersion || f.State == nil {
		return nil, fmt.Errorf("state file %s: version %d, want %d with a state; refusing to start", path, f.Version, stateVersion)
	}
	if err := f.State.World.Validate(); err != nil {
		return nil, fmt.Errorf("state file %s: world: %v; refusing to start", path, err)
	}
	st := f.State
	if st.EIPs == nil {
		st.EIPs = map[string]*EIP{}
	}
	if st.Tokens == nil {
		st.Tokens = map[string]tokenEntry{}
	}
	if st.PublicIPs == nil {
		st.PublicIPs = map[string]string{}
	}
	if st.Opened == nil {
		st.Opened = map[string]bool{}
	}
	for id, e := range st.EIPs {
		if e == nil || e.AllocationID != id {
			return nil, fmt.Errorf("state file %s: eips[%q] does not carry its own allocation ID; refusing to start", path, id)
		}
	}
	return st, nil
}

// saver serializes the writes of the state file and groups them: a change waits for the
// first write that starts after it, and one write covers every change made before it began.
type saver struct {
	mu     sync.Mutex
	cond   sync.Cond // signalled when a write ends; L is mu
	saving bool      // a write is under way
	saved  uint64    // the newest Server.gen the file holds
}

// SaveState writes the whole state to Options.StatePath atomically: a temporary file in the
// same directory, synced, then renamed over the old one, and the directory synced. It does
// nothing without a StatePath.
//
// A server with a StatePath also saves on its own: every request that changes the state is
// answered only after a write that includes its change has completed (concurrent changes
// share one write), so a crash never loses an acknowledged change and never leaves a torn
// file. If that write fails, the request is answered with ServiceUnavailable instead.
// SaveState is for callers that want the file written now, such as a graceful shutdown.
func (s *Server) SaveState() error {
	if s.opts.StatePath == "" {
		return nil
	}
	v := &s.saver
	v.mu.Lock()
	defer v.mu.Unlock()
	for v.saving {
		v.cond.Wait()
	}
	return s.writeLocked()
}

// commit returns once the state file holds generation gen of the state: it waits for the
// write under way, which may include gen, and writes only if none did.
func (s *Server) commit(gen uint64) error {
	v := &s.saver
	v.mu.Lock()
	defer v.mu.Unlock()
	for v.saved < gen {
		if v.saving {
			v.cond.Wait()
			continue
		}
		if err := s.writeLocked(); err != nil {
			return err
		}
	}
	return nil
}

// writeLocked writes the state as it is now. It is called with saver.mu held and no write
// under way, and releases the lock while writing.
func (s *Server) writeLocked() error {
	v := &s.saver
	v.saving = true
	v.mu.Unlock()
	gen, err := s.save()
	v.mu.Lock()
	v.saving = false
	if err == nil && gen > v.saved {
		v.saved = gen
	}
	v.cond.Broadcast()
	return err
}

// save writes the state and returns the generation it wrote.
func (s *Server) save() (uint64, error) {
	s.mu.Lock()
	data, err := json.MarshalIndent(stateFile{Version: stateVersion, State: s.st}, "", " ")
	gen := s.gen
	s.mu.Unlock()
	if err != nil {
		return 0, fmt.Errorf("state: %w", err)
	}
	return gen, writeAtomic(s.opts.StatePath, data)
}

// tempPrefix is how the temporary files of writeAtomic for path begin.
func tempPrefix(path string) string { return "." + filepath.Base(path) + ".tmp-" }

// removeStaleTemps removes the temporary files a write of path left when its process died
// before the rename; the state file itself is always whole.
func removeStaleTemps(path string) {
	names, _ := filepath.Glob(filepath.Join(filepath.Dir(path), tempPrefix(path)+"*"))
	for _, name := range names {
		os.Remove(name)
	}
}

func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, tempPrefix(path)+"*")
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("state: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("state: sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
