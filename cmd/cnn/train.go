package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nndl/cnn/data"
	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/internal/atomicfile"
	"github.com/nndl/cnn/trainer"
	"github.com/nndl/cnn/viz"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
	"gorgonia.org/tensor"
)

func init() {
	register("train", "train a model with the chapter's recipe, keep the best weights, report test accuracy", cmdTrain)
}

// trainSummary is DIR/summary.json.
type trainSummary struct {
	Model       string            `json:"model"`
	Config      map[string]string `json:"config"`
	Steps       int               `json:"steps"`
	BestDevAcc  float64           `json:"best_dev_accuracy"`
	BestStep    int               `json:"best_step"`
	TestAcc     float64           `json:"test_accuracy"`
	TestLoss    float64           `json:"test_loss"`
	TrainSecs   float64           `json:"train_seconds"`
	WallSecs    float64           `json:"wall_seconds"`
	Weights     string            `json:"weights"`
	Kernels     string            `json:"kernels"`
	GoMaxProcs  int               `json:"gomaxprocs"`
	DevSize     int               `json:"dev_size"`
	TrainSize   int               `json:"train_size"`
	TestSize    int               `json:"test_size"`
	FinishedUTC string            `json:"finished_utc"`
}

func cmdTrain(args []string, stdout io.Writer) error {
	start := time.Now()
	fs := newFlags("train", "MODEL [flags]")
	mf := addModelFlags(fs, true)
	df := addDataFlags(fs)
	epochs := fs.Int("epochs", 5, "training epochs")
	lr := fs.Float64("lr", 0.1, "SGD learning rate")
	batch := fs.Int("batch", 64, "batch size (the last partial batch of an epoch is kept)")
	seed := fs.Uint64("seed", 100, "seed of the initial weights and of the shuffling")
	logSteps := fs.Int("log-steps", 15, "print the training loss every N steps (0: never)")
	evalSteps := fs.Int("eval-steps", 15, "evaluate on dev every N steps and at the last step (0: never)")
	out := fs.String("out", "", "output folder (default runs/MODEL)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	name, err := oneModel(pos)
	if err != nil {
		return err
	}
	m, impl, err := mf.model(name)
	if err != nil {
		return err
	}
	switch {
	case *batch < 1:
		return fmt.Errorf("--batch %d: want at least 1", *batch)
	case *epochs < 1:
		return fmt.Errorf("--epochs %d: want at least 1", *epochs)
	case !(*lr > 0):
		return fmt.Errorf("--lr %v: want a positive learning rate", *lr)
	case *logSteps < 0 || *evalSteps < 0:
		return fmt.Errorf("--log-steps %d, --eval-steps %d: want 0 or more", *logSteps, *evalSteps)
	}
	if *out == "" {
		*out = filepath.Join("runs", name)
	}
	if len(m.Input) != 3 || m.Input[0] != 1 {
		return fmt.Errorf("%s: input %v: MNIST needs one input channel (--in-channels 1)", name, m.Input)
	}
	trainSet, devSet, testSet, err := df.load(m.Input[1], m.Input[2])
	if err != nil {
		return err
	}
	trainL, err := data.NewLoader(trainSet, *batch, true, *seed)
	if err != nil {
		return fmt.Errorf("--batch: %w", err)
	}
	devL, _ := data.NewLoader(devSet, *batch, false, 0)
	testL, _ := data.NewLoader(testSet, *batch, false, 0)
	params := graph.NewParams(tensor.Float32, *seed)
	r := trainer.New(m, params, impl, &trainer.SGD{LR: *lr})
	// Compile the training program first so that a model error shows before any file is written.
	if _, err := r.Program(*batch, true); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	meta := mf.metadata(name, m)
	meta["seed"] = strconv.FormatUint(*seed, 10)
	meta["lr"] = strconv.FormatFloat(*lr, 'g', -1, 64)
	meta["batch"] = strconv.Itoa(*batch)
	meta["epochs"] = strconv.Itoa(*epochs)
	best := filepath.Join(*out, "best.safetensors")

	fmt.Fprintf(stdout, "%s (%s kernels, %s): %d train / %d dev / %d test images, %d epochs of %d steps, %v\n",
		name, impl, kernelPath(), trainSet.N(), devSet.N(), testSet.N(), *epochs, trainL.NumBatches(), r.Opt)
	prog := newProgress(stdout, *epochs*trainL.NumBatches())
	trainStart := time.Now()
	err = r.Train(trainL, devL, trainer.Config{
		Epochs: *epochs, LogSteps: *logSteps, EvalSteps: *evalSteps,
		Save: func(step int) error {
			meta["step"] = strconv.Itoa(step)
			return trainer.SaveWeights(best, params, meta)
		},
		OnStep: func(s trainer.StepLoss, total int) {
			prog.step(s.Step, func() string {
				if *logSteps > 0 && s.Step%*logSteps == 0 {
					return fmt.Sprintf("[Train] epoch: %d/%d, step: %d/%d, loss: %.5f", s.Epoch, *epochs, s.Step, total, s.Loss)
				}
				return ""
			}())
		},
		OnEval: func(e trainer.Eval, improved bool) {
			msg := fmt.Sprintf("[Evaluate] step %d: dev accuracy %.5f, dev loss %.5f", e.Step, e.Acc, e.Loss)
			if improved {
				msg += " (best so far, saved)"
			}
			prog.log(msg)
		},
	})
	trainSecs := time.Since(trainStart).Seconds()
	prog.done()
	// Metrics and curves are written even when the run stopped early.
	if werr := writeRunFiles(*out, name, &r.History); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return err
	}
	if r.BestStep < 0 {
		fmt.Fprintf(stdout, "[Train] done in %.1fs; no dev evaluation ran, so no best checkpoint (set --eval-steps)\n", trainSecs)
		return nil
	}
	fmt.Fprintf(stdout, "[Train] done in %.1fs; best dev accuracy %.5f at step %d -> %s\n", trainSecs, r.BestAcc, r.BestStep, best)

	// The chapter's 5.3.4: load the best weights and evaluate them on the test set.
	if _, _, err := trainer.LoadWeights(best, params, true); err != nil {
		return err
	}
	acc, loss, err := r.Evaluate(testL)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "[Test] accuracy/loss: %.4f/%.4f\n", acc, loss)
	s := trainSummary{
		Model: name, Config: meta, Steps: len(r.History.Train), BestDevAcc: r.BestAcc, BestStep: r.BestStep,
		TestAcc: acc, TestLoss: loss, TrainSecs: trainSecs, WallSecs: time.Since(start).Seconds(),
		Weights: best, Kernels: kernelPath(), GoMaxProcs: runtimeProcs(),
		TrainSize: trainSet.N(), DevSize: devSet.N(), TestSize: testSet.N(),
		FinishedUTC: time.Now().UTC().Format(time.RFC3339),
	}
	b, _ := json.MarshalIndent(s, "", "  ")
	if err := atomicfile.WriteBytes(filepath.Join(*out, "summary.json"), append(b, '\n')); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Wrote %s/{best.safetensors,metrics.csv,curves.png,curves.svg,summary.json}\n", *out)
	return nil
}

// writeRunFiles writes DIR/metrics.csv and the loss and accuracy curves.
func writeRunFiles(dir, name string, h *trainer.History) error {
	if err := h.SaveCSV(filepath.Join(dir, "metrics.csv")); err != nil {
		return err
	}
	loss, acc := curves(h, "")
	for _, ext := range []string{".png", ".svg"} {
		if err := viz.PlotCurves(filepath.Join(dir, "curves"+ext), name, loss, acc); err != nil {
			return err
		}
	}
	return nil
}

// curves turns a history into the plotted series, their names prefixed by prefix.
func curves(h *trainer.History, prefix string) (loss, acc []viz.Series) {
	tr := viz.Series{Name: prefix + "train loss"}
	for _, s := range h.Train {
		tr.X = append(tr.X, float64(s.Step))
		tr.Y = append(tr.Y, s.Loss)
	}
	dl := viz.Series{Name: prefix + "dev loss"}
	da := viz.Series{Name: prefix + "dev accuracy"}
	for _, e := range h.Dev {
		dl.X = append(dl.X, float64(e.Step))
		dl.Y = append(dl.Y, e.Loss)
		da.X = append(da.X, float64(e.Step))
		da.Y = append(da.Y, e.Acc)
	}
	return []viz.Series{tr, dl}, []viz.Series{da}
}

// progress shows a bar on a terminal and plain log lines otherwise.
type progress struct {
	w   io.Writer
	bar *progressbar.ProgressBar
}

func newProgress(w io.Writer, total int) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("training"),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish(), progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("steps"))
	}
	return p
}

func (p *progress) step(step int, msg string) {
	if msg != "" {
		p.log(msg)
	}
	if p.bar != nil {
		p.bar.Set(step + 1)
	}
}

func (p *progress) log(msg string) {
	if p.bar != nil {
		p.bar.Clear()
	}
	fmt.Fprintln(p.w, msg)
	if p.bar != nil {
		p.bar.RenderBlank()
	}
}

func (p *progress) done() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
