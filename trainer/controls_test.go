package trainer

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/lenet"
	"gorgonia.org/tensor"
)

// torchRef is testdata/controls.json, made by testdata/controls_ref.py with PyTorch 1.13.
type torchRef struct {
	W0    []float64   `json:"w0"`
	Grads [][]float64 `json:"grads"`
	SGD   []struct {
		Name        string      `json:"name"`
		LR          float64     `json:"lr"`
		Momentum    float64     `json:"momentum"`
		Dampening   float64     `json:"dampening"`
		WeightDecay float64     `json:"weight_decay"`
		Nesterov    bool        `json:"nesterov"`
		Weights     [][]float64 `json:"weights"`
	} `json:"sgd"`
	Schedules []struct {
		Name string
		Base float64
		LRs  []float64
	} `json:"schedules"`
	Clip []struct {
		MaxNorm float64     `json:"max_norm"`
		Norm    float64     `json:"norm"`
		Grads   [][]float64 `json:"grads"`
	} `json:"clip"`
}

func readTorchRef(t *testing.T) torchRef {
	t.Helper()
	b, err := os.ReadFile("testdata/controls.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref torchRef
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	return ref
}

// sgdSteps runs the given gradients through opt on a copy of w0, in float64 and float32,
// and returns the weights after every step.
func sgdSteps(t *testing.T, opt func() *SGD, w0 []float64, grads [][]float64) (w64, w32 [][]float64) {
	t.Helper()
	p64 := &graph.Param{Name: "w", Value: dense([]int{len(w0)}, slices.Clone(w0)), Trainable: true}
	w0f := make([]float32, len(w0))
	for i, v := range w0 {
		w0f[i] = float32(v)
	}
	p32 := &graph.Param{Name: "w", Value: dense([]int{len(w0)}, w0f), Trainable: true}
	o64, o32 := opt(), opt()
	for _, g := range grads {
		g32 := make([]float32, len(g))
		for i, v := range g {
			g32[i] = float32(v)
		}
		if err := o64.Step([]Update{{p64, dense([]int{len(g)}, slices.Clone(g))}}); err != nil {
			t.Fatal(err)
		}
		if err := o32.Step([]Update{{p32, dense([]int{len(g)}, g32)}}); err != nil {
			t.Fatal(err)
		}
		w64 = append(w64, slices.Clone(p64.Value.Float64s()))
		var w []float64
		for _, v := range p32.Value.Float32s() {
			w = append(w, float64(v))
		}
		w32 = append(w32, w)
	}
	return w64, w32
}

// TestSGDMomentumByHand: torch.optim.SGD's formulas worked by hand for w = 1 and two
// gradients of 1 at lr 0.1: momentum 0.9 gives b = 1, w = 0.9, then b = 1.9, w = 0.71;
// Nesterov gives 1 - 0.1*(1 + 0.9) = 0.81, then 0.81 - 0.1*(1 + 0.9*1.9) = 0.539;
// dampening 0.5 gives b = 1, w = 0.9, then b = 0.9 + 0.5 = 1.4, w = 0.76; weight decay
// 0.5 with momentum 0.9 gives g = 1.5, w = 0.85, then g = 1.425, b = 2.775, w = 0.5725.
func TestSGDMomentumByHand(t *testing.T) {
	for _, c := range []struct {
		name string
		opt  SGD
		want []float64
	}{
		{"plain", SGD{LR: 0.1}, []float64{0.9, 0.8}},
		{"momentum", SGD{LR: 0.1, Momentum: 0.9}, []float64{0.9, 0.71}},
		{"nesterov", SGD{LR: 0.1, Momentum: 0.9, Nesterov: true}, []float64{0.81, 0.539}},
		{"dampening", SGD{LR: 0.1, Momentum: 0.9, Dampening: 0.5}, []float64{0.9, 0.76}},
		{"momentum, weight decay", SGD{LR: 0.1, Momentum: 0.9, WeightDecay: 0.5}, []float64{0.85, 0.5725}},
	} {
		w64, w32 := sgdSteps(t, func() *SGD { o := c.opt; return &o }, []float64{1}, [][]float64{{1}, {1}})
		for i, want := range c.want {
			if !near(w64[i][0], want, 1e-15) || !near(w32[i][0], want, 1e-6) {
				t.Errorf("%s: step %d: w %v (float32 %v), want %v", c.name, i+1, w64[i][0], w32[i][0], want)
			}
		}
	}
}

// TestSGDAgainstPyTorch: four steps of SGD in every setting give torch.optim.SGD's
// weights, to 1e-14 in float64 and 1e-6 in float32.
func TestSGDAgainstPyTorch(t *testing.T) {
	ref := readTorchRef(t)
	if len(ref.SGD) != 6 {
		t.Fatalf("%d SGD cases in testdata/controls.json", len(ref.SGD))
	}
	for _, c := range ref.SGD {
		opt := func() *SGD {
			return &SGD{LR: c.LR, Momentum: c.Momentum, Dampening: c.Dampening, Nesterov: c.Nesterov, WeightDecay: c.WeightDecay}
		}
		w64, w32 := sgdSteps(t, opt, ref.W0, ref.Grads)
		for s, want := range c.Weights {
			for i := range want {
				if !near(w64[s][i], want[i], 1e-14) || !near(w32[s][i], want[i], 1e-6) {
					t.Errorf("%s (%v): step %d, w[%d] = %v (float32 %v), PyTorch %v", c.Name, opt(), s+1, i, w64[s][i], w32[s][i], want[i])
				}
			}
		}
	}
}

// refSchedules are the schedules of testdata/controls_ref.py by name.
var refSchedules = map[string]Schedule{
	"step":           {Kind: StepLR, StepSize: 3, Gamma: 0.5},
	"cosine":         {Kind: CosineLR, Period: 8, MinLR: 0.01},
	"warmup":         {WarmupSteps: 4, WarmupStart: 0.25},
	"warmup, cosine": {Kind: CosineLR, Period: 10, WarmupSteps: 4, WarmupStart: 0.25},
	"warmup, step":   {Kind: StepLR, StepSize: 4, Gamma: 0.1, WarmupSteps: 3, WarmupStart: 0.5},
}

// TestScheduleAgainstPyTorch: the rate of every step is PyTorch's StepLR,
// CosineAnnealingLR, LinearLR and their ChainedScheduler, to 1e-14.
func TestScheduleAgainstPyTorch(t *testing.T) {
	ref := readTorchRef(t)
	if len(ref.Schedules) != len(refSchedules) {
		t.Fatalf("%d schedules in testdata/controls.json, %d here", len(ref.Schedules), len(refSchedules))
	}
	for _, c := range ref.Schedules {
		s, ok := refSchedules[c.Name]
		if !ok {
			t.Fatalf("no schedule %q", c.Name)
		}
		if err := s.Check(); err != nil {
			t.Fatal(err)
		}
		for k, want := range c.LRs {
			if got := s.LR(c.Base, k); !near(got, want, 1e-14) {
				t.Errorf("%s (%v): step %d: lr %v, PyTorch %v", c.Name, s, k, got, want)
			}
		}
	}
}

// TestScheduleByHand: the formulas worked by hand at base rate 1.
func TestScheduleByHand(t *testing.T) {
	for _, c := range []struct {
		s    Schedule
		want []float64
	}{
		{Schedule{}, []float64{1, 1, 1}},
		{Schedule{Kind: StepLR, StepSize: 2, Gamma: 0.5}, []float64{1, 1, 0.5, 0.5, 0.25}},
		{Schedule{Kind: CosineLR, Period: 2}, []float64{1, 0.5, 0, 0}}, // held at eta_min past T_max
		{Schedule{Kind: CosineLR, Period: 4, MinLR: 0.2}, []float64{1, 0.2 + 0.8*(1+math.Sqrt2/2)/2, 0.6}},
		{Schedule{WarmupSteps: 2, WarmupStart: 0.5}, []float64{0.5, 0.75, 1, 1}},
		{Schedule{Kind: StepLR, StepSize: 1, Gamma: 0.5, WarmupSteps: 2, WarmupStart: 0.5}, []float64{0.5, 0.375, 0.25}},
	} {
		for k, want := range c.want {
			if got := c.s.LR(1, k); !near(got, want, 1e-15) {
				t.Errorf("%v: step %d: lr %v, want %v", c.s, k, got, want)
			}
		}
	}
}

// TestScheduleCheck: settings PyTorch refuses are errors.
func TestScheduleCheck(t *testing.T) {
	for _, s := range []Schedule{
		{Kind: "exp"}, {Kind: StepLR}, {Kind: StepLR, StepSize: 2, Gamma: -1}, {Kind: CosineLR},
		{Kind: CosineLR, Period: 3, MinLR: math.NaN()}, {WarmupSteps: -1}, {WarmupSteps: 3}, {WarmupSteps: 3, WarmupStart: 1.5},
	} {
		if err := s.Check(); err == nil {
			t.Errorf("%+v: no error", s)
		}
	}
}

// TestClipGradNorm: clip_grad_norm_'s total norm and clipped gradients, to 1e-14; a norm
// under the bound leaves the gradients as they were.
func TestClipGradNorm(t *testing.T) {
	ref := readTorchRef(t)
	for _, c := range ref.Clip {
		a := dense([]int{2, 2}, []float64{0.3, -1.2, 2.5, 0})
		b := dense([]int{3}, []float64{-0.7, 0.4, 1.1})
		ups := []Update{{&graph.Param{Name: "a", Value: dense([]int{2, 2}, make([]float64, 4))}, a},
			{&graph.Param{Name: "b", Value: dense([]int{3}, make([]float64, 3))}, b}}
		if n := clipGradNorm(ups, c.MaxNorm); !near(n, c.Norm, 1e-14) {
			t.Errorf("max %v: norm %v, PyTorch %v", c.MaxNorm, n, c.Norm)
		}
		for j, g := range [][]float64{a.Float64s(), b.Float64s()} {
			for i := range g {
				if !near(g[i], c.Grads[j][i], 1e-14) {
					t.Errorf("max %v: grad %d[%d] = %v, PyTorch %v", c.MaxNorm, j, i, g[i], c.Grads[j][i])
				}
			}
		}
	}
}

// TestSGDCheck: Nesterov without momentum or with dampening, and a negative momentum, are
// refused before anything changes.
func TestSGDCheck(t *testing.T) {
	for _, o := range []SGD{{LR: 0.1, Nesterov: true}, {LR: 0.1, Momentum: 0.9, Dampening: 0.1, Nesterov: true}, {LR: 0.1, Momentum: -1}, {LR: 0.1, Dampening: 2}} {
		w := &graph.Param{Name: "w", Value: dense([]int{1}, []float64{1}), Trainable: true}
		if err := o.Step([]Update{{w, dense([]int{1}, []float64{1})}}); err == nil || w.Value.Float64s()[0] != 1 {
			t.Errorf("%v: error %v, w %v", &o, err, w.Value.Float64s())
		}
	}
}

// TestSGDMomentumState: one step, State, LoadState into a fresh SGD and two more give the
// weights of three steps in one go, bit for bit; buffers are refused by SGD without
// momentum and for another model.
func TestSGDMomentumState(t *testing.T) {
	mk := func() *SGD { return &SGD{LR: 0.1, Momentum: 0.9, Nesterov: true, WeightDecay: 0.01} }
	pa, upsA := adamParams(t)
	a := mk()
	for range 3 {
		if err := a.Step(upsA); err != nil {
			t.Fatal(err)
		}
	}
	pb, upsB := adamParams(t)
	b := mk()
	if err := b.Step(upsB); err != nil {
		t.Fatal(err)
	}
	tensors, meta := b.State()
	if len(tensors) != 2 {
		t.Fatalf("state of %d tensors, want 2", len(tensors))
	}
	c := mk()
	if err := c.LoadState(pb, tensors, meta); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := c.Step(upsB); err != nil {
			t.Fatal(err)
		}
	}
	sameTensors(t, pb.Tensors(), pa.Tensors())
	if err := (&SGD{LR: 0.1}).LoadState(pb, tensors, meta); err == nil {
		t.Errorf("momentum buffers loaded into SGD without momentum")
	}
	other := graph.NewParams(tensor.Float32, 1)
	n := graph.New(other, graph.Fast)
	n.Conv2D("other", n.Input("x", 1, 1, 3, 3), graph.Conv{Out: 2, Kernel: 2})
	if err := mk().LoadState(other, tensors, meta); err == nil {
		t.Errorf("the buffers of conv loaded for a model of other")
	}
}

// trainLeNet trains LeNet-5 on the chapter's subset with cfg (5 epochs of 16 steps).
func trainLeNet(t *testing.T, opt Optimizer, best Metric, cfg Config) *Runner {
	t.Helper()
	train, dev, _ := chapterLoaders(t, 100)
	r := New(lenet.New(1, 10), graph.NewParams(tensor.Float32, 100), graph.Fast, opt)
	r.Best = best
	if err := r.Train(train, dev, cfg); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestTrainControls: in a LeNet-5 run, OnLog comes every LogSteps steps; every step runs
// at its schedule's rate; clipping bounds how far the weights move; early stopping ends
// the run at the first evaluation that leaves Patience evaluations without a new best,
// with the history of the full run up to there; Best picks the lowest dev loss.
func TestTrainControls(t *testing.T) {
	var logged []int
	sched := Schedule{Kind: CosineLR, Period: 80, WarmupSteps: 10, WarmupStart: 0.1}
	opt := &SGD{LR: 0.1, Momentum: 0.9}
	var rates []float64
	r := trainLeNet(t, opt, DevLoss, Config{Epochs: 5, LogSteps: 15, EvalSteps: 5, Schedule: sched,
		OnLog:  func(s StepLoss, _ int) { logged = append(logged, s.Step) },
		OnStep: func(s StepLoss, _ int) { rates = append(rates, opt.rate(opt.LR)) }})
	if !slices.Equal(logged, []int{0, 15, 30, 45, 60, 75}) {
		t.Errorf("logged at steps %v, want every 15th", logged)
	}
	for k, lr := range rates {
		if lr != sched.LR(0.1, k) {
			t.Errorf("step %d ran at lr %v, want %v", k, lr, sched.LR(0.1, k))
		}
	}
	bi := DevLoss.bestOf(r.History.Dev)
	if best := r.History.Dev[bi]; r.BestStep != best.Step || r.BestLoss != best.Loss || r.BestAcc != best.Acc {
		t.Errorf("best by dev loss %v at %d (acc %v), the history's %+v", r.BestLoss, r.BestStep, r.BestAcc, best)
	}

	// Clipping: no step moves the weights further than lr * max norm.
	params0 := graph.NewParams(tensor.Float32, 100)
	ref := New(lenet.New(1, 10), params0, graph.Fast, nil)
	if _, err := ref.Program(1, false); err != nil {
		t.Fatal(err)
	}
	clipped := trainLeNet(t, &SGD{LR: 0.1}, DevAccuracy, Config{Epochs: 1, ClipNorm: 1e-3})
	var sq float64
	for _, q := range clipped.Params.List() {
		w0 := params0.Get(q.Name).Value.Float32s()
		for i, v := range q.Value.Float32s() {
			sq += float64(v-w0[i]) * float64(v-w0[i])
		}
	}
	if limit := 16 * 0.1 * 1e-3 * 1.001; math.Sqrt(sq) > limit {
		t.Errorf("clipped to norm 1e-3, 16 steps at lr 0.1 moved the weights by %v, more than %v", math.Sqrt(sq), limit)
	}

	// Early stopping: the full run's evaluations say where a patience of 2 stops.
	full := trainLeNet(t, &SGD{LR: 0.1}, DevLoss, Config{Epochs: 5, EvalSteps: 3})
	stopAt, since, best := -1, 0, -1
	for i, e := range full.History.Dev {
		if DevLoss.better(e, bestEval(full.History.Dev, best), best) {
			best, since = e.Step, 0
		} else if since++; since == 2 {
			stopAt = i
			break
		}
	}
	if stopAt < 0 {
		t.Skip("the full run never went two evaluations without a new best")
	}
	early := trainLeNet(t, &SGD{LR: 0.1}, DevLoss, Config{Epochs: 5, EvalSteps: 3, Patience: 2})
	want := full.History.Dev[:stopAt+1]
	if !early.EarlyStopped || !slices.Equal(early.History.Dev, want) || early.StepsDone != want[stopAt].Step+1 {
		t.Errorf("patience 2: stopped %v after %d steps with evaluations %v; want a stop after step %d with %v",
			early.EarlyStopped, early.StepsDone, early.History.Dev, want[stopAt].Step, want)
	}
	// Training it again stops at once: the run had stopped.
	n := early.StepsDone
	train, dev, _ := chapterLoaders(t, 100)
	if err := early.Train(train, dev, Config{Epochs: 5, EvalSteps: 3, Patience: 2}); err != nil || early.StepsDone != n || !early.EarlyStopped {
		t.Errorf("an early-stopped run trained on to %d steps (%v)", early.StepsDone, err)
	}
}

// bestEval is the evaluation at step, the zero one for -1.
func bestEval(evals []Eval, step int) Eval {
	for _, e := range evals {
		if e.Step == step {
			return e
		}
	}
	return Eval{}
}

// TestResumeMomentumSchedule: a run with Nesterov momentum, a warmed-up cosine schedule and
// clipping, stopped after 7 steps and resumed from its checkpoint in a fresh runner, ends
// with the uninterrupted run's weights and history bit for bit.
func TestResumeMomentumSchedule(t *testing.T) {
	mk := func(seed uint64) *Runner {
		r := tinyResNet(t, seed)
		r.Opt = &SGD{LR: 0.05, Momentum: 0.9, Nesterov: true}
		return r
	}
	cfg := func() Config {
		return Config{Schedule: Schedule{Kind: CosineLR, Period: 15, WarmupSteps: 4, WarmupStart: 0.2}, ClipNorm: 0.5}
	}
	full := &resumeRun{r: mk(3)}
	full.train(t, cfg())
	if full.err != nil {
		t.Fatal(full.err)
	}
	path := filepath.Join(t.TempDir(), "checkpoint.safetensors")
	first := &resumeRun{r: mk(3)}
	c := cfg()
	c.Checkpoint = func(int) error { return first.r.SaveCheckpoint(path, nil) }
	c.Stop = func() bool { return first.r.StepsDone == 7 }
	first.train(t, c)
	second := &resumeRun{r: mk(999)}
	if _, err := second.r.LoadCheckpoint(path); err != nil {
		t.Fatal(err)
	}
	second.train(t, cfg())
	if second.err != nil {
		t.Fatal(second.err)
	}
	sameTensors(t, second.r.Params.Tensors(), full.r.Params.Tensors())
	sameRunHistory(t, second.r.History, full.r.History)
	got, _ := second.r.Opt.(*SGD).State()
	want, _ := full.r.Opt.(*SGD).State()
	sameTensors(t, got, want)
}
