package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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

// SaveState writes the state to Options.StatePath atomically: a temporary file in the same
// directory, synced, then renamed over the old one. It does nothing without a StatePath.
func (s *Server) SaveState() error {
	if s.opts.StatePath == "" {
		return nil
	}
	s.mu.Lock()
	data, err := json.MarshalIndent(stateFile{Version: stateVersion, State: s.st}, "", " ")
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return writeAtomic(s.opts.StatePath, data)
}

func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
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
