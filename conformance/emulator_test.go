package conformance_test

import (
	"testing"

	"github.com/eipconform/eipconform/conformance"
	"github.com/eipconform/eipconform/emulator"
	"github.com/eipconform/eipconform/spec"
)

// embedded returns a fresh emulator as a target, with the documents' example key.
func embedded(t testing.TB, opts emulator.Options) conformance.Target {
	t.Helper()
	srv, err := emulator.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	sig := spec.Default().Signature
	return conformance.Target{Handler: srv, AccessKeyID: sig.ExampleAccessKeyID, AccessKeySecret: sig.ExampleAccessKeySecret, NoAuth: opts.NoAuth}
}

// TestRunAgainstTheEmulator is what an emulator author writes: the library against their
// endpoint (ours), with no violation.
func TestRunAgainstTheEmulator(t *testing.T) {
	conformance.Run(t, embedded(t, emulator.Options{}))
}
