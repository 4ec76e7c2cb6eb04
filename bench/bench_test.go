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
//	cd ../shared/torchref && python3 bench.py 2
//
// PyTorch 1.13 (oneDNN), 2 threads, measured here on 2026-11-27 (AMD EPYC with AVX-512, 2
// vCPUs, shared: fourteen back-to-back rounds), with this package's numbers from `cnn bench`
// (the dnnl build) in the same rounds; the ratio per round, median in brackets:
//
//	                              PyTorch         ours (oneDNN)    ratio
//	LeNet-5 train step, batch 64  3.65-6.19 ms    1.18-1.82 ms     0.19-0.45x (0.34x)
//	LeNet-5 inference, batch 1    0.205-0.394 ms  0.013-0.018 ms   0.03-0.06x (0.06x)
//	LeNet-5 inference, batch 64   1.64-4.04 ms    0.36-0.58 ms     0.09-0.34x (0.22x)
//	ResNet18 train step, batch 64 210-302 ms      96-140 ms        0.36-0.56x (0.44x)
//	ResNet18 inference, batch 1   7.4-10.0 ms     1.9-3.9 ms       0.20-0.50x (0.30x)
//	ResNet18 inference, batch 64  24.0-34.0 ms    19.5-36.1 ms     0.66-1.13x (0.93x)
//	peak RSS                      394-404 MiB     321-326 MiB

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
