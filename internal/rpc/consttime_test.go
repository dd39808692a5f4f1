package rpc_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/url"
	"testing"

	"github.com/eipconform/eipconform/internal/rpc"
)

// TestVerifyComparesInConstantTime reads Verify's source: the signature it receives must be
// compared with the one it computes by crypto/subtle (or hmac.Equal), never with ==, !=,
// bytes.Equal or the strings package, whose time depends on how many leading bytes match
// and would let a client guess a valid signature byte by byte. Only comparisons with a
// constant (the empty signature, the compare function's result) are allowed. The time
// itself is measured by BenchmarkVerify, never asserted: timing tests are flaky.
func TestVerifyComparesInConstantTime(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "sign.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var verify *ast.FuncDecl
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == "Verify" {
			verify = fd
		}
	}
	if verify == nil {
		t.Fatal("sign.go has no func Verify")
	}
	constant := func(e ast.Expr) bool {
		switch e := e.(type) {
		case *ast.BasicLit:
			return true
		case *ast.Ident:
			return e.Name == "nil" || e.Name == "true" || e.Name == "false"
		}
		return false
	}
	constantTime := 0
	ast.Inspect(verify.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BinaryExpr:
			if (n.Op == token.EQL || n.Op == token.NEQ || n.Op == token.LSS || n.Op == token.GTR) && !constant(n.X) && !constant(n.Y) {
				t.Errorf("%s: Verify compares two computed values with %s; use subtle.ConstantTimeCompare", fset.Position(n.Pos()), n.Op)
			}
		case *ast.CallExpr:
			sel, ok := n.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			pkg, _ := sel.X.(*ast.Ident)
			if pkg == nil {
				return true
			}
			switch name := pkg.Name + "." + sel.Sel.Name; name {
			case "subtle.ConstantTimeCompare", "hmac.Equal":
				constantTime++
			case "bytes.Equal", "bytes.Compare", "strings.Compare", "strings.EqualFold", "reflect.DeepEqual", "slices.Equal":
				t.Errorf("%s: Verify compares with %s, whose time depends on the data; use subtle.ConstantTimeCompare", fset.Position(n.Pos()), name)
			}
		}
		return true
	})
	if constantTime != 1 {
		t.Errorf("Verify calls subtle.ConstantTimeCompare or hmac.Equal %d times, want exactly 1 (the signature comparison)", constantTime)
	}
}

// BenchmarkVerify verifies signatures that differ from the right one in their first byte,
// in their last byte, and not at all: with a constant-time comparison the three take the
// same time (within the machine's noise), whereas a comparison that stops at the first
// difference would make "first" the fastest.
func BenchmarkVerify(b *testing.B) {
	id, secret := testKey()
	p := url.Values{"Action": {"DescribeEipAddresses"}, "RegionId": {"cn-hangzhou"}, "AccessKeyId": {id},
		"SignatureNonce": {"n"}, "Timestamp": {"2024-01-01T00:00:00Z"}}
	good := rpc.Sign(http.MethodPost, p, secret)
	flip := func(i int) string {
		s := []byte(good)
		if s[i] == 'A' {
			s[i] = 'B'
		} else {
			s[i] = 'A'
		}
		return string(s)
	}
	for _, tc := range []struct{ name, sig string }{
		{"first", flip(0)}, {"last", flip(len(good) - 2)}, {"equal", good},
	} {
		q := cloneValues(p)
		q.Set(rpc.ParamSignature, tc.sig)
		b.Run(tc.name, func(b *testing.B) {
			want := tc.sig == good
			for b.Loop() {
				if ok, _ := rpc.Verify(http.MethodPost, q, secret); ok != want {
					b.Fatalf("Verify = %v, want %v", ok, want)
				}
			}
		})
	}
}
