package pollers_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadmeExample: the README's "Using it" code is the body of Example,
// verbatim (one level of indentation less), so that the README shows code
// that compiles and runs.
func TestReadmeExample(t *testing.T) {
	src, err := os.ReadFile("example_linux_test.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "example_linux_test.go", src, parser.ParseComments)
	require.NoError(t, err)
	var body string
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Name.Name == "Example" {
			body = string(src[fset.Position(fn.Body.Lbrace).Offset+2 : fset.Position(fn.Body.Rbrace).Offset-1])
		}
	}
	require.NotEmpty(t, body, "Example not found")
	var lines []string
	for _, l := range strings.Split(body, "\n") {
		lines = append(lines, strings.TrimPrefix(l, "\t"))
	}
	want := strings.Join(lines, "\n")

	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	section := string(readme)
	i := strings.Index(section, "## Using it")
	require.GreaterOrEqual(t, i, 0, "README has no \"Using it\" section")
	section = section[i:]
	blocks := strings.Split(section, "```go\n")
	require.GreaterOrEqual(t, len(blocks), 3, "README's Using it has no second go block")
	code := blocks[2][:strings.Index(blocks[2], "```")]
	assert.Equal(t, want, strings.TrimSuffix(code, "\n"), "README's Using it code differs from pollers.Example")
}
