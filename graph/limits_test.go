package graph

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/tensorio"
	"github.com/nndl/cnn/tensorio/safetensors"
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

// TestLoadErrorLength: a file of many stray tensors gives an error line of bounded length
// that names the first few and counts the rest.
func TestLoadErrorLength(t *testing.T) {
	p := NewParams(tensor.Float32, 1)
	if _, err := p.get("w", tensor.Shape{2}, true, Zeros, 0, 0); err != nil {
		t.Fatal(err)
	}
	p.initPending()
	tensors := map[string]safetensors.Tensor{"w": tensorio.NewFloat32([]int{2}, []float32{1, 2})}
	for i := range 99999 {
		tensors[fmt.Sprintf("stray.%05d.%s", i, strings.Repeat("x", 100))] = tensorio.NewFloat32([]int{1}, []float32{0})
	}
	_, err := p.Load(tensors, true)
	if err == nil || len(err.Error()) > 1500 || !strings.Contains(err.Error(), "and 99983 more") || !strings.Contains(err.Error(), "stray.00000.") {
		t.Errorf("error of %d bytes: %.300v", len(fmt.Sprint(err)), err)
	}
}

// TestParamBudget: parameters each within the per-tensor limit but together over the
// store's are refused, naming the one that would pass it, before it is allocated.
func TestParamBudget(t *testing.T) {
	p := NewParams(tensor.Float32, 1)
	for i := 0; ; i++ {
		_, err := p.get(fmt.Sprint("w", i), tensor.Shape{1 << 27}, true, Zeros, 0, 0) // 512 MiB each, never initialised
		if err != nil {
			if i != 8 || !strings.Contains(err.Error(), "parameter w8 of shape [134217728] would bring the parameters to 1,207,959,552 elements, more than the limit of 1,073,741,824") {
				t.Errorf("after %d: %v", i, err)
			}
			return
		}
		if i > 8 {
			t.Fatal("no limit")
		}
	}
}
