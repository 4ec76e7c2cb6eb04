package build_test

import (
	"testing"

	"gorgonia.org/tensor"

	"github.com/nndl/cnn/build"
	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/kernels"
	"github.com/nndl/cnn/lenet"
	"github.com/nndl/cnn/resnet"
)

// TestRunAllocations: on oneDNN and the SIMD kernels, a warm run of a training step or of a
// frozen inference allocates a handful of small objects at most (the kernels hand their
// workers borrowed jobs, not closures). Without oneDNN the matrix products run on gonum's
// sgemm, which allocates at every parallel call.
func TestRunAllocations(t *testing.T) {
	if !enabled("onednn") || kernels.MaxISA() == kernels.NoISA {
		t.Skip("needs oneDNN (-tags dnnl) and a CPU with AVX2")
	}
	for _, c := range []struct {
		name  string
		model graph.Model
		opts  build.Options
		most  float64
	}{
		{"resnet18 train", resnet.ResNet18(1, 10), build.Options{Batch: 16, Train: true, Loss: true}, 16},
		{"lenet train", lenet.New(1, 10), build.Options{Batch: 16, Train: true, Loss: true}, 24},
		{"resnet18 frozen b1", resnet.ResNet18(1, 10), build.Options{Batch: 1, Frozen: true}, 4},
		{"resnet18 frozen b16", resnet.ResNet18(1, 10), build.Options{Batch: 16, Frozen: true}, 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := build.Compile(c.model, graph.NewParams(tensor.Float32, 1), c.opts)
			if err != nil {
				t.Fatal(err)
			}
			in := c.model.Input
			var labels []int
			if c.opts.Loss {
				labels = make([]int, c.opts.Batch)
			}
			if err := p.Feed(make([]float32, c.opts.Batch*in[0]*in[1]*in[2]), labels); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if err := p.Run(); err != nil {
					t.Fatal(err)
				}
			}
			n := testing.AllocsPerRun(5, func() { p.Run() })
			t.Logf("%v allocations a run", n)
			if n > c.most {
				t.Errorf("%v allocations a run: want at most %v", n, c.most)
			}
		})
	}
}

// enabled reports whether the implementation of that name is registered and enabled.
func enabled(name string) bool {
	for _, in := range kernels.List() {
		if in.Name == name {
			return in.Enabled
		}
	}
	return false
}
