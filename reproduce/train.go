package reproduce

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/nndl/cnn/build"
	"github.com/nndl/cnn/data"
	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/internal/atomicfile"
	"github.com/nndl/cnn/resnet"
	"github.com/nndl/cnn/trainer"
	"github.com/nndl/cnn/viz"
	"gorgonia.org/tensor"
)

// The training experiments: LeNet-5 and the two ResNet18s on the chapter's recipe, the
// parity of the hand-written and fast operators, the forward times and the prediction.

// splits are the chapter's MNIST subset, preprocessed to 32x32.
type splits struct{ train, dev, test *data.Dataset }

func (r *runner) loadSplits() (*splits, error) {
	if r.splits != nil {
		return r.splits, nil
	}
	s, err := data.ChapterSubset()
	if err != nil {
		return nil, err
	}
	tr, dv, ts := s.Datasets(data.ChapterSize, data.ChapterSize)
	r.splits = &splits{tr, dv, ts}
	return r.splits, nil
}

// head returns the first n samples of d (a view).
func head(d *data.Dataset, n int) (*data.Dataset, error) {
	n = min(n, d.N())
	return data.NewDataset(d.X[:n*d.SampleSize()], d.Y[:n], d.C, d.H, d.W)
}

// train runs the chapter's recipe through trainer.Recipe, as "cnn train" does: SGD, batch 64, the training set
// shuffled by the seed with the last partial batch kept, the loss logged and dev evaluated
// every 15 steps and at the last step, the best weights by dev accuracy kept (in memory),
// then loaded and evaluated on the test set.
func (r *runner) train(run *Run, m graph.Model, impl graph.Impl, tr, dev, test *data.Dataset) error {
	trainL, err := data.NewLoader(tr, run.Batch, true, run.Seed)
	if err != nil {
		return err
	}
	devL, err := data.NewLoader(dev, run.Batch, false, 0)
	if err != nil {
		return err
	}
	testL, err := data.NewLoader(test, run.Batch, false, 0)
	if err != nil {
		return err
	}
	params := graph.NewParams(tensor.Float32, run.Seed)
	tn := trainer.New(m, params, impl, &trainer.SGD{LR: run.LR})
	if _, err := tn.Program(run.Batch, true); err != nil {
		return err
	}
	run.Kernels, run.TrainN, run.DevN, run.TestN = impl.String(), tr.N(), dev.N(), test.N()
	run.Steps = run.Epochs * trainL.NumBatches()
	r.logf("  %s: %s of %d steps, %v, seed %d, %d train / %d dev / %d test images", run.Title, plural(run.Epochs, "epoch"), trainL.NumBatches(), tn.Opt, run.Seed, tr.N(), dev.N(), test.N())
	rc := &trainer.Recipe{Runner: tn, Train: trainL, Dev: devL, Test: testL, Config: trainer.Config{
		Epochs: run.Epochs, LogSteps: logSteps, EvalSteps: evalSteps,
		OnEval: func(e trainer.Eval, improved bool) {
			mark := ""
			if improved {
				mark = " (best so far)"
			}
			r.logf("  %s step %d/%d: dev accuracy %.5f, dev loss %.5f%s", run.Name, e.Step, run.Steps, e.Acc, e.Loss, mark)
		},
	}}
	out, err := rc.Run()
	run.TrainSecs = out.TrainSecs
	run.history, run.runner = tn.History, tn
	if err != nil {
		return err
	}
	if !out.Tested {
		return fmt.Errorf("%s: no dev evaluation improved on 0 accuracy, so there are no best weights", run.Name)
	}
	run.BestDevAcc, run.BestStep = tn.BestAcc, tn.BestStep
	run.TestAcc, run.TestLoss = out.TestAcc, out.TestLoss
	r.logf("  %s: trained in %.1fs; best dev accuracy %.4f at step %d; test accuracy/loss %.4f/%.4f", run.Name, run.TrainSecs, run.BestDevAcc, run.BestStep, run.TestAcc, run.TestLoss)
	dir := r.path(filepath.Join("runs", run.Name))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return tn.History.SaveCSV(filepath.Join(dir, "metrics.csv"))
}

func (r *runner) lenet() error {
	s, err := r.loadSplits()
	if err != nil {
		return err
	}
	run := &Run{Name: "lenet", Title: "LeNet-5", Model: "lenet", LR: 0.1, Batch: batchSize, Epochs: fullEpochs, Seed: r.o.Seed}
	if r.o.Quick {
		run.Epochs = 1
	}
	if err := r.train(run, r.res.LeNet.Model, graph.Fast, s.train, s.dev, s.test); err != nil {
		return err
	}
	r.res.Runs = append(r.res.Runs, run)
	loss, acc := viz.HistoryCurves(&run.history, "")
	return r.figure("lenet-curves", func(path string) error { return viz.PlotCurves(path, "LeNet-5", loss, acc) })
}

// forward compiles LeNet-5 for inference on the trained weights.
func (r *runner) forward(impl graph.Impl, batch int) (*build.Program, error) {
	lr := r.res.Runs[0].runner
	return build.Compile(lr.Model, lr.Params, build.Options{Batch: batch, Impl: impl})
}

func (r *runner) parity() error {
	s, err := r.loadSplits()
	if err != nil {
		return err
	}
	n := min(batchSize, s.test.N())
	x := s.test.X[:n*s.test.SampleSize()]
	var logits [2][]float64
	for i, impl := range []graph.Impl{graph.Naive, graph.Fast} {
		p, err := r.forward(impl, n)
		if err != nil {
			return err
		}
		if err := p.Feed(x, nil); err != nil {
			return err
		}
		if err := p.Run(); err != nil {
			return err
		}
		logits[i] = p.LogitsValue()
	}
	par := Parity{Images: n}
	k := len(logits[0]) / n
	for i := range logits[0] {
		par.MaxAbsDiff = math.Max(par.MaxAbsDiff, math.Abs(logits[0][i]-logits[1][i]))
		par.MaxAbsLogit = math.Max(par.MaxAbsLogit, math.Abs(logits[1][i]))
	}
	for i := 0; i < n; i++ {
		if trainer.Argmax(logits[0][i*k:(i+1)*k]) == trainer.Argmax(logits[1][i*k:(i+1)*k]) {
			par.SameClass++
		}
	}
	// The chapter's speed test: 10 warm-up runs, then the mean of 50 timed forward passes
	// of one image; we report medians, and a batch of 64 too.
	for _, c := range []struct {
		batch, warm, runs int
	}{{1, 10, 50}, {batchSize, 2, 10}} {
		if r.o.Quick {
			c.warm, c.runs = 2, 5
		}
		for _, impl := range []graph.Impl{graph.Naive, graph.Fast} {
			ms, err := r.timeForward(impl, c.batch, c.warm, c.runs, s.test)
			if err != nil {
				return err
			}
			par.Speeds = append(par.Speeds, Speed{Impl: impl.String(), Batch: c.batch, Warmup: c.warm, Runs: c.runs, Ms: ms})
			r.logf("  LeNet-5 forward, %s operators, batch %d: %.3f ms (median of %d)", impl, c.batch, ms, c.runs)
		}
	}
	r.res.Parity = par
	r.logf("  same weights, %d test images: max |naive - fast| logit difference %.3g; same class for %d of %d", n, par.MaxAbsDiff, par.SameClass, n)
	return nil
}

// timeForward returns the median time in milliseconds of a forward pass of a batch of test
// images through LeNet-5 on impl.
func (r *runner) timeForward(impl graph.Impl, batch, warm, runs int, test *data.Dataset) (float64, error) {
	p, err := r.forward(impl, batch)
	if err != nil {
		return 0, err
	}
	x := test.X[:batch*test.SampleSize()]
	one := func() error {
		if err := p.Feed(x, nil); err != nil {
			return err
		}
		return p.Run()
	}
	for i := 0; i < warm; i++ {
		if err := one(); err != nil {
			return 0, err
		}
	}
	times := make([]float64, runs)
	for i := range times {
		t := time.Now()
		if err := one(); err != nil {
			return 0, err
		}
		times[i] = float64(time.Since(t).Nanoseconds()) / 1e6
	}
	slices.Sort(times)
	return times[len(times)/2], nil
}

func (r *runner) predict() error {
	s, err := r.loadSplits()
	if err != nil {
		return err
	}
	x := s.test.Sample(predictIdx)
	logits, err := r.res.Runs[0].runner.Predict(x, 1)
	if err != nil {
		return err
	}
	p := Prediction{Index: predictIdx, True: s.test.Y[predictIdx], Pred: trainer.Argmax(logits), Probs: trainer.Softmax(logits), PNG: "digit.png"}
	if err := data.WritePNG(r.path(p.PNG), x, s.test.H, s.test.W); err != nil {
		return err
	}
	r.res.Files["digit"] = []string{p.PNG}
	r.res.Pred = p
	r.logf("  test image %d: the true category is %d and the predicted category is %d (probability %.4f)", p.Index, p.True, p.Pred, p.Probs[p.Pred])
	return nil
}

func (r *runner) resnets() error {
	s, err := r.loadSplits()
	if err != nil {
		return err
	}
	tr := s.train
	width, epochs := 64, fullEpochs
	if r.o.Quick {
		width, epochs = quickWidth, 1
		if tr, err = head(tr, quickTrainN); err != nil {
			return err
		}
	}
	var loss, acc []viz.Series
	for _, c := range []struct {
		name, title string
		residual    bool
		lr          float64
	}{
		{"resnet18-nores", "ResNet18 without residual", false, 0.005},
		{"resnet18", "ResNet18 with residual", true, 0.01},
	} {
		residual := c.residual
		run := &Run{Name: c.name, Title: c.title, Model: "resnet18", Width: width, Residual: &residual, LR: c.lr, Batch: batchSize, Epochs: epochs, Seed: r.o.Seed}
		m := resnet.New(resnet.Config{InChannels: 1, Classes: 10, Width: width, Residual: c.residual, StemBias: true})
		if err := r.train(run, m, graph.Fast, tr, s.dev, s.test); err != nil {
			return err
		}
		r.res.Runs = append(r.res.Runs, run)
		l, a := viz.HistoryCurves(&run.history, c.name+" ")
		loss, acc = append(loss, l...), append(acc, a...)
		run.runner = nil // free the programs and weights
	}
	return r.figure("resnet18-curves", func(path string) error {
		return viz.PlotCurves(path, "ResNet18 without / with residual", loss, acc)
	})
}

// write renders the report and writes index.html, README.md and report.json.
func (r *runner) write() error {
	d := compose(r.res)
	b, err := json.MarshalIndent(r.res, "", "  ")
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		body []byte
	}{
		{"report.json", append(b, '\n')},
		{"README.md", []byte(d.Markdown())},
		{"index.html", []byte(d.HTML())},
	} {
		if err := atomicfile.WriteBytes(r.path(f.name), f.body); err != nil {
			return err
		}
	}
	return nil
}
