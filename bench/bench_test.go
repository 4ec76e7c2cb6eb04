package bench

import (
	"testing"

	"github.com/nndl/cnn/build"
	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/lenet"
	"github.com/nndl/cnn/resnet"
	"github.com/nndl/cnn/trainer"
	"gorgonia.org/tensor"
)

// The Go benchmarks behind `cnn bench`: run them with
//
//	go test -tags dnnl -run '^$' -bench . -benchmem ./bench/
//
// and compare with the PyTorch reference in the same session on the same machine:
//
//	python3 bench.py 2    # the PyTorch reference (torchref/bench.py)
//
// The README's Speed section gives the measured ratios, with the machine they came from.

func trainStep(b *testing.B, m graph.Model, batch int) {
	params := graph.NewParams(tensor.Float32, 1)
	p, err := build.Compile(m, params, build.Options{Batch: batch, Train: true})
	if err != nil {
		b.Fatal(err)
	}
	x := make([]float32, batch*sampleSize(m))
	y := make([]int, batch)
	for i := range x {
		x[i] = float32(i%97)/97 - 0.5
	}
	for i := range y {
		y[i] = i % m.Classes
	}
	opt := &trainer.SGD{LR: 1e-4}
	ups := make([]trainer.Update, len(p.Grads))
	step := func() {
		if err := p.Feed(x, y); err != nil {
			b.Fatal(err)
		}
		if err := p.Run(); err != nil {
			b.Fatal(err)
		}
		for i, g := range p.Grads {
			ups[i] = trainer.Update{Param: g.Param, Grad: p.GradValue(g)}
		}
		if err := opt.Step(ups); err != nil {
			b.Fatal(err)
		}
	}
	step() // the first step allocates the program's buffers
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
	b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "img/s")
}

func inference(b *testing.B, m graph.Model, batch int) {
	p, err := build.Compile(m, graph.NewParams(tensor.Float32, 1), build.Options{Batch: batch})
	if err != nil {
		b.Fatal(err)
	}
	x := make([]float32, batch*sampleSize(m))
	if err := p.Feed(x, nil); err != nil {
		b.Fatal(err)
	}
	if err := p.Run(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := p.Run(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "img/s")
}

func BenchmarkLeNetTrainStep(b *testing.B)       { trainStep(b, lenet.New(1, 10), 64) }
func BenchmarkLeNetInference1(b *testing.B)      { inference(b, lenet.New(1, 10), 1) }
func BenchmarkLeNetInference64(b *testing.B)     { inference(b, lenet.New(1, 10), 64) }
func BenchmarkLeNetNaiveInference1(b *testing.B) { naive(b, 1) }
func BenchmarkResNet18TrainStep(b *testing.B)    { trainStep(b, resnet.ResNet18(1, 10), 64) }
func BenchmarkResNet18Inference1(b *testing.B)   { inference(b, resnet.ResNet18(1, 10), 1) }
func BenchmarkResNet18Inference64(b *testing.B)  { inference(b, resnet.ResNet18(1, 10), 64) }

// naive times the chapter's hand-written operators (section 5.3.2's speed test).
func naive(b *testing.B, batch int) {
	p, err := build.Compile(lenet.New(1, 10), graph.NewParams(tensor.Float32, 1), build.Options{Batch: batch, Impl: graph.Naive})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := p.Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResNet18Compile times declaring, initialising and compiling the chapter's
// ResNet18 for training at batch 64.
func BenchmarkResNet18Compile(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := build.Compile(resnet.ResNet18(1, 10), graph.NewParams(tensor.Float32, 1), build.Options{Batch: 64, Train: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRunSmoke checks that Run measures every number for a small model.
func TestRunSmoke(t *testing.T) {
	r, err := Run(Case{Name: "lenet", Model: lenet.New(1, 10), Impl: graph.Fast}, Options{Batch: 8, Warmup: 1, MinRuns: 2})
	if err != nil {
		t.Fatal(err)
	}
	if r.TrainMs <= 0 || r.Infer1Ms <= 0 || r.InferBatchMs <= 0 || r.ForwardMACs != 416520 || r.PeakRSSMiB <= 0 || r.TrainRuns < 2 {
		t.Errorf("incomplete result %+v", r)
	}
}
