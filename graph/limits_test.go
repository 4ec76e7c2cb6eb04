package graph

import (
	"runtime"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestDeclarationLimits: a model that asks for too much memory is refused from its shapes,
// before anything of that size is allocated.
func TestDeclarationLimits(t *testing.T) {
	wide := func(out, relus int) Model {
		return Model{Name: "wide", Input: []int{1, 8, 8}, Classes: 10, Forward: func(n *Net, x *gorgonia.Node) *gorgonia.Node {
			x = n.Conv2D("conv", x, Conv{Out: out, Kernel: 3})
			for i := 0; i < relus; i++ {
				x = n.ReLU(x)
			}
			return n.Linear("fc", n.Flatten("flatten", x), 10)
		}}
	}
	for _, c := range []struct {
		m     Model
		batch int
		want  string
	}{
		{Model{Name: "huge-input", Input: []int{1, 65536, 65536}, Classes: 10}, 1, "input of shape [1, 1, 65536, 65536] is larger than the limit"},
		{Model{Name: "overflow", Input: []int{1 << 40, 1 << 40, 1 << 40}, Classes: 10}, 1 << 40, "is larger than the limit"},
		{wide(1<<30, 0), 1, "parameter conv.weight of shape [1073741824, 1, 3, 3] is larger than the limit"},
		{wide(1<<20, 0), 64, "output of shape [64, 1048576, 6, 6] is larger than the limit"},
		{wide(1<<12, 8), 1024, "the layers' outputs hold 1,509,959,680 elements together"},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _, _, err := Declare(c.m, NewParams(tensor.Float32, 1), Fast, c.batch, false)
		runtime.ReadMemStats(&after)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.m.Name, err, c.want)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
			t.Errorf("%s: allocated %d bytes before refusing", c.m.Name, grew)
		}
	}
}
