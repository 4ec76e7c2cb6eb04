package cli

import (
	"strings"
	"testing"

	"github.com/awalterschulze/gographviz"
)

// cnn dot draws ResNet18 (69 layers) one node per block unless told otherwise, and LeNet
// (12 layers) layer by layer.
func TestDOTCollapse(t *testing.T) {
	for _, tc := range []struct {
		args             []string
		nodes, clusters  int
		collapsedInTitle bool
	}{
		{[]string{"resnet18"}, 16, 0, true},
		{[]string{"resnet18", "--collapse"}, 16, 0, true},
		{[]string{"resnet18", "--collapse=auto"}, 16, 0, true},
		{[]string{"resnet18", "--collapse=false"}, 70, 11, false},
		{[]string{"lenet"}, 13, 0, false},
		{[]string{"lenet", "--collapse"}, 13, 0, false},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, errOut, st := cnn(append([]string{"dot"}, tc.args...)...)
			if st != 0 {
				t.Fatalf("status %d: %s", st, errOut)
			}
			g, err := gographviz.Read([]byte(out))
			if err != nil {
				t.Fatalf("DOT does not parse: %v", err)
			}
			if len(g.Nodes.Nodes) != tc.nodes || len(g.SubGraphs.SubGraphs) != tc.clusters {
				t.Errorf("%d nodes in %d clusters, want %d in %d", len(g.Nodes.Nodes), len(g.SubGraphs.SubGraphs), tc.nodes, tc.clusters)
			}
			if got := strings.Contains(g.Attrs["label"], "drawn as one node each"); got != tc.collapsedInTitle {
				t.Errorf("title %s", g.Attrs["label"])
			}
		})
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"resnet18", "--ops", "--collapse"}, "--collapse draws the layer graph, --ops every operation: choose one"},
		{[]string{"resnet18", "--collapse=maybe"}, `"maybe" for -collapse: want true, false or auto`},
	} {
		_, errOut, st := cnn(append([]string{"dot"}, tc.args...)...)
		if st != 2 || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("dot %v: status %d, stderr %q; want 2 and one line with %q", tc.args, st, errOut, tc.want)
		}
	}
}
