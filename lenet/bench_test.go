package lenet

import (
	"testing"

	"github.com/nndl/cnn/build"
	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/trainer"
	"gorgonia.org/tensor"
)

// BenchmarkTrainStep times one training step (forward, loss, backward, SGD update) of
// LeNet-5 at batch 64.
func BenchmarkTrainStep(b *testing.B) {
	params := graph.NewParams(tensor.Float32, 1)
	p, err := build.Compile(New(1, 10), params, build.Options{Batch: 64, Train: true})
	if err != nil {
		b.Fatal(err)
	}
	x := make([]float32, 64*32*32)
	y := make([]int, 64)
	for i := range x {
		x[i] = float32(i%97) / 97
	}
	for i := range y {
		y[i] = i % 10
	}
	opt := &trainer.SGD{LR: 0.01}
	var ups []trainer.Update
	b.ReportAllocs()
	for i := 0; i <= b.N; i++ {
		if i == 1 {
			b.ResetTimer() // the first step allocates the program's buffers
		}
		if err := p.Feed(x, y); err != nil {
			b.Fatal(err)
		}
		if err := p.Run(); err != nil {
			b.Fatal(err)
		}
		ups = ups[:0]
		for _, g := range p.Grads {
			ups = append(ups, trainer.Update{Param: g.Param, Grad: p.GradValue(g)})
		}
		opt.Step(ups)
	}
}
