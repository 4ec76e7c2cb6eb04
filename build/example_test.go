package build_test

import (
	"fmt"
	"math"

	"github.com/nndl/cnn/build"
	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/lenet"
	"gorgonia.org/tensor"
)

// A frozen program serves inference on the parameters as they were when it was compiled,
// its convolutions' weights laid out once for their kernels; a program compiled without
// Frozen follows the parameters as they change.
func ExampleCompile_frozen() {
	m := lenet.New(1, 10)
	params := graph.NewParams(tensor.Float32, 1)
	live, _ := build.Compile(m, params, build.Options{Batch: 1})
	frozen, _ := build.Compile(m, params, build.Options{Batch: 1, Frozen: true})
	x := make([]float32, 32*32)
	for i := range x {
		x[i] = float32(i%5) / 5
	}
	logits := func(p *build.Program) []float64 {
		_ = p.Feed(x, nil)
		_ = p.Run()
		return p.LogitsValue()
	}
	before := logits(live)
	fmt.Println("frozen = live:", agree(logits(frozen), before))
	for _, p := range params.List() { // training, say, moves the parameters
		for i, v := range p.Value.Data().([]float32) {
			p.Value.Data().([]float32)[i] = v * 1.5
		}
	}
	fmt.Println("live moved:", !agree(logits(live), before))
	fmt.Println("frozen kept:", agree(logits(frozen), before))
	// Output:
	// frozen = live: true
	// live moved: true
	// frozen kept: true
}

// agree reports whether a and b agree to float32 rounding.
func agree(a, b []float64) bool {
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-5*(1+math.Abs(b[i])) {
			return false
		}
	}
	return true
}
