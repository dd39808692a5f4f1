package conformance

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sync"

	"github.com/leanovate/gopter/commands"
)

// Sequences runs short lifecycle sequences, decoded from bytes, against one endpoint and
// judges them as the stateful phase does: the same model, the same post-conditions, the same
// response checks. It is the stateful fuzz target's engine, and an emulator author's:
//
//	func FuzzLifecycle(f *testing.F) {
//		seq, err := conformance.NewSequences(context.Background(), conformance.Target{Handler: myHandler(), NoAuth: true}, conformance.Options{})
//		if err != nil {
//			f.Fatal(err)
//		}
//		defer seq.Close()
//		f.Add([]byte{0, 0, 3, 1, 6, 0})
//		f.Fuzz(func(t *testing.T, data []byte) {
//			vs, err := seq.Check(data)
//			if err != nil {
//				t.Fatal(err)
//			}
//			for _, v := range vs {
//				t.Error(v)
//			}
//		})
//	}
//
// The setup (probing the world's instances, as the stateful phase does) happens once, in
// NewSequences. Check is safe for concurrent use but runs one sequence at a time.
type Sequences struct {
	mu      sync.Mutex
	s       *session
	t       *statefulRun
	closeFn func()
}

// SequenceSteps is the most commands Sequences.Check decodes from its input.
const SequenceSteps = statefulSteps

// sequenceProperty is the command mix of decoded sequences: every kind.
var sequenceProperty = statefulProperty{name: "sequence", tokens: 50, weights: [numKinds]int{
	seqAllocate: 3, seqRepeat: 1, seqReallocate: 1, seqAssociate: 2, seqUnassociate: 2, seqModify: 1,
	seqRelease: 2, seqMonitor: 1, seqDescribeID: 1, seqDescribeStatus: 1, seqDescribePages: 1, seqECS: 1,
}}

// NewSequences prepares target for Check: it reads the spec, checks that the endpoint
// answers, and probes the world's instances as the stateful phase does. Close releases what
// it started.
func NewSequences(ctx context.Context, target Target, opts Options) (*Sequences, error) {
	opts.Workers = 1
	s, closeFn, err := newSession(target, opts)
	if err != nil {
		return nil, err
	}
	if err := s.preflight(ctx); err != nil {
		closeFn()
		return nil, err
	}
	t, why, err := newStatefulRun(ctx, s)
	if err == nil && why != "" {
		err = errors.New("conformance: sequences: " + why)
	}
	if err != nil {
		closeFn()
		return nil, err
	}
	t.props = []*statefulProperty{&sequenceProperty}
	t.shards, t.found = 1, map[string]*Violation{}
	return &Sequences{s: s, t: t, closeFn: closeFn}, nil
}

// Check decodes data into at most SequenceSteps commands, one per three bytes (each chosen,
// among the commands the model allows next, by the bytes as a random source, one byte per
// choice: the same bytes give the same sequence), runs them against the endpoint, releases what they created, and returns the
// violations: every failed response check, and the first failed post-condition with the
// sequence as its counterexample. The error is for sequences that could not run (the
// endpoint stopped answering, the context ended).
func (q *Sequences) Check(data []byte) ([]Violation, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	s, t := q.s, q.t
	s.rep = newReport(s.opts.Seed, s.target, s.opts)
	t.quiet = s // every answer is recorded
	t.sh = &statefulShared{ids: map[string]bool{}, addrs: map[string]string{}, gone: map[string]bool{}, ecsAddrs: map[string]bool{}}
	if why := t.baseline(); why != "" {
		return nil, errors.New("conformance: sequences: " + why)
	}
	if _, err := t.sh.state(); err != nil {
		return nil, err
	}

	r := rand.New(&byteSource{data: data})
	n := min(len(data)/3, SequenceSteps)
	m := &seqModel{}
	var steps []commands.Command
	for range n {
		c := t.pick(&sequenceProperty, m, r)
		if !c.PreCondition(m) {
			continue
		}
		steps = append(steps, c)
		m = c.NextState(m).(*seqModel)
	}
	d := t.newDriver(&sequenceProperty, &seqModel{}, true)
	commands.Replay(d, &seqModel{}, steps...)
	d.cleanup()
	if dead, err := t.sh.state(); err != nil || dead != "" {
		if err == nil {
			err = errors.New("conformance: sequences: " + dead)
		}
		return s.rep.Errors(), err
	}
	if d.failAt > 0 {
		pb := d.problem
		v := s.violationOf(pb.x.r, pb.x.resp, pb.check, pb.msg, pb.got, pb.want, pb.diff)
		v.Case = fmt.Sprintf("sequence, step %d of %d: %s", d.failAt, len(d.steps), d.steps[d.failAt-1])
		v.Counterexample = d.listing()
		s.rep.violation(v)
	}
	return s.rep.Errors(), nil
}

// Close stops what NewSequences started (the in-process handler's server). The janitor's work
// is done by every Check.
func (q *Sequences) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closeFn()
}

// byteSource is a rand.Source that plays back bytes, one per draw, then zeros: the fuzzer's
// bytes choose the commands. The byte is repeated through the 63 bits, so that rand.Intn
// (which reads the high bits, or the value modulo n) depends on all of it.
type byteSource struct {
	data []byte
	off  int
}

func (b *byteSource) Int63() int64 {
	var v uint64
	if b.off < len(b.data) {
		v = uint64(b.data[b.off]) * 0x0101010101010101
		b.off++
	}
	return int64(v >> 1)
}

func (b *byteSource) Seed(int64) {}
