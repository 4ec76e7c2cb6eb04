// Package bench measures the speed of compiled models: a training step (forward, loss,
// backward, SGD update), inference at two batch sizes, the build and compile time, and the
// memory a step allocates. The command-line tool's bench command and the package's Go
// benchmarks both run it.
package bench

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	"github.com/nndl/cnn/build"
	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/kernels"
	"github.com/nndl/cnn/trainer"
	"gorgonia.org/tensor"
)

// Case is one model to measure.
type Case struct {
	Name  string
	Model graph.Model
	Impl  graph.Impl
}

// Options set how long to measure.
type Options struct {
	Batch     int           // training and large-inference batch size (64)
	Warmup    int           // untimed runs before measuring
	MinRuns   int           // at least this many timed runs
	MinTime   time.Duration // and at least this long
	SkipTrain bool          // inference only
}

// Result is what was measured for one case. Times are medians over the timed runs.
type Result struct {
	Name         string  `json:"name"`
	Impl         string  `json:"impl"`
	BLAS         string  `json:"blas"`
	Threads      int     `json:"threads"`
	Batch        int     `json:"batch"`
	CompileMs    float64 `json:"compile_ms"`
	TrainMs      float64 `json:"train_step_ms"`
	TrainImgS    float64 `json:"train_images_per_s"`
	TrainGFLOPs  float64 `json:"train_gflop_per_s"`
	TrainBytes   int64   `json:"train_bytes_per_step"`
	TrainAllocs  int64   `json:"train_allocs_per_step"`
	Infer1Ms     float64 `json:"infer_batch1_ms"`
	InferBatchMs float64 `json:"infer_batch_ms"`
	InferImgS    float64 `json:"infer_images_per_s"`
	ForwardMACs  int64   `json:"forward_macs_per_image"`
	PeakRSSMiB   float64 `json:"peak_rss_mib"`
	TrainRuns    int     `json:"train_runs"`
	HeapStartMiB float64 `json:"heap_start_mib"`
	HeapEndMiB   float64 `json:"heap_end_mib"`
}

// Run measures one case.
func Run(c Case, o Options) (Result, error) {
	if o.Batch < 1 {
		return Result{}, fmt.Errorf("batch %d: want at least 1", o.Batch)
	}
	r := Result{Name: c.Name, Impl: c.Impl.String(), BLAS: kernels.Describe(), Threads: runtime.GOMAXPROCS(0), Batch: o.Batch}
	params := graph.NewParams(tensor.Float32, 1)

	t0 := time.Now()
	var train *build.Program
	var err error
	if !o.SkipTrain {
		if train, err = build.Compile(c.Model, params, build.Options{Batch: o.Batch, Train: true, Impl: c.Impl}); err != nil {
			return r, err
		}
	}
	r.CompileMs = ms(time.Since(t0))
	// Inference runs frozen programs, as a deployed model does: their weights laid out once.
	infer1, err := build.Compile(c.Model, params, build.Options{Batch: 1, Impl: c.Impl, Frozen: true})
	if err != nil {
		return r, err
	}
	inferN, err := build.Compile(c.Model, params, build.Options{Batch: o.Batch, Impl: c.Impl, Frozen: true})
	if err != nil {
		return r, err
	}
	r.ForwardMACs = graph.Summarize(infer1.Net.Layers(), tensor.Float32).MACs

	rng := rand.New(rand.NewPCG(1, 2))
	input := func(n int) []float32 {
		x := make([]float32, n*sampleSize(c.Model))
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		return x
	}
	if train != nil {
		if err := r.measureTraining(train, c, o, input(o.Batch), rng); err != nil {
			return r, err
		}
	}
	for _, p := range []struct {
		prog *build.Program
		out  *float64
	}{{infer1, &r.Infer1Ms}, {inferN, &r.InferBatchMs}} {
		x := input(p.prog.Batch)
		run := func() error {
			if err := p.prog.Feed(x, nil); err != nil {
				return err
			}
			return p.prog.Run()
		}
		for i := 0; i < o.Warmup; i++ {
			if err := run(); err != nil {
				return r, err
			}
		}
		times, err := timeRuns(run, o)
		if err != nil {
			return r, err
		}
		*p.out = median(times)
	}
	r.InferImgS = float64(o.Batch) / (r.InferBatchMs / 1e3)
	r.PeakRSSMiB = PeakRSSMiB()
	return r, nil
}

func sampleSize(m graph.Model) int {
	n := 1
	for _, d := range m.Input {
		n *= d
	}
	return n
}

// timeRuns runs f at least o.MinRuns times and for at least o.MinTime, returning each run's
// time in milliseconds.
func timeRuns(f func() error, o Options) ([]float64, error) {
	var times []float64
	start := time.Now()
	for len(times) < max(o.MinRuns, 1) || time.Since(start) < o.MinTime {
		t := time.Now()
		if err := f(); err != nil {
			return nil, err
		}
		times = append(times, ms(time.Since(t)))
	}
	return times, nil
}

func ms(d time.Duration) float64 { return d.Seconds() * 1e3 }

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Profile runs a training step of the case (after o.Warmup untimed steps, at least one) for
// at least o.MinRuns runs and o.MinTime, and returns the time spent in each kind of operation
// per step, longest first.
func Profile(c Case, o Options) ([]build.OpTime, error) {
	p, err := build.Compile(c.Model, graph.NewParams(tensor.Float32, 1), build.Options{Batch: o.Batch, Train: true, Impl: c.Impl})
	if err != nil {
		return nil, err
	}
	x := make([]float32, o.Batch*sampleSize(c.Model))
	y := make([]int, o.Batch)
	for i := range x {
		x[i] = float32(i%97)/97 - 0.5
	}
	for i := range y {
		y[i] = i % c.Model.Classes
	}
	if err := p.Feed(x, y); err != nil {
		return nil, err
	}
	// The first runs allocate the program's buffers and let oneDNN compile its kernels: leave
	// them out, or they weigh on the operations that run first.
	for i := 0; i < max(o.Warmup, 1); i++ {
		if err := p.Run(); err != nil {
			return nil, err
		}
	}
	p.Profile(true)
	runs := 0
	for start := time.Now(); runs < o.MinRuns || time.Since(start) < o.MinTime; runs++ {
		if err := p.Run(); err != nil {
			return nil, err
		}
	}
	ops := p.Profile(false)
	for i := range ops {
		ops[i].Time /= time.Duration(runs) // Calls already counts one step's
	}
	return ops, nil
}

// measureTraining times the training step of program train (SGD updates included) on the
// batch x with random labels, and records its time, rate, allocations and heap.
func (r *Result) measureTraining(train *build.Program, c Case, o Options, x []float32, rng *rand.Rand) error {
	y := make([]int, o.Batch)
	for i := range y {
		y[i] = rng.IntN(c.Model.Classes)
	}
	opt := &trainer.SGD{LR: 1e-4}
	ups := make([]trainer.Update, len(train.Grads))
	step := func() error {
		if err := train.Feed(x, y); err != nil {
			return err
		}
		if err := train.Run(); err != nil {
			return err
		}
		for i, g := range train.Grads {
			ups[i] = trainer.Update{Param: g.Param, Grad: train.GradValue(g)}
		}
		return opt.Step(ups)
	}
	var ms0, ms1 runtime.MemStats
	for i := 0; i < o.Warmup; i++ {
		if err := step(); err != nil {
			return err
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	times, err := timeRuns(step, o)
	if err != nil {
		return err
	}
	runtime.ReadMemStats(&ms1)
	runtime.GC()
	var ms2 runtime.MemStats
	runtime.ReadMemStats(&ms2)
	n := int64(len(times))
	r.TrainRuns = len(times)
	r.TrainMs = median(times)
	r.TrainImgS = float64(o.Batch) / (r.TrainMs / 1e3)
	// A training step does the forward multiply-adds three times (forward, input and
	// weight gradients), 2 FLOPs each.
	r.TrainGFLOPs = 3 * 2 * float64(r.ForwardMACs) * float64(o.Batch) / (r.TrainMs / 1e3) / 1e9
	r.TrainBytes = int64(ms1.TotalAlloc-ms0.TotalAlloc) / n
	r.TrainAllocs = int64(ms1.Mallocs-ms0.Mallocs) / n
	r.HeapStartMiB = float64(ms0.HeapInuse) / (1 << 20)
	r.HeapEndMiB = float64(ms2.HeapInuse) / (1 << 20)
	return nil
}
