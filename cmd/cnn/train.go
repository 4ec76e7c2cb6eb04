package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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
	ResumedAt   int               `json:"resumed_at_step,omitempty"` // steps done when this session resumed the run; the times are this session's
	FinishedUTC string            `json:"finished_utc"`
}

// checkpointName is the training checkpoint in a run folder (trainer.SaveCheckpoint).
const checkpointName = "checkpoint.safetensors"

func cmdTrain(args []string, stdout io.Writer) error {
	start := time.Now()
	fs := newFlags("train", "MODEL [flags]")
	mf := addModelFlags(fs, true)
	df := addDataFlags(fs)
	dataset := fs.String("dataset", "", "mnist or cifar10 (default: cifar10 for resnet18-cifar, mnist otherwise); cifar10 reads the binary version from --data and its defaults are the chapter's 5.5 recipe")
	epochs := fs.Int("epochs", 5, "training epochs (cifar10: 30)")
	optName := fs.String("optimizer", "sgd", "sgd or adam (Paddle's Adam: beta1 0.9, beta2 0.999, epsilon 1e-8) (cifar10: adam)")
	lr := fs.Float64("lr", 0.1, "learning rate (cifar10: 0.001)")
	weightDecay := fs.Float64("weight-decay", 0, "L2 weight decay coefficient: coeff*w is added to every gradient before the update, as Paddle's L2Decay (cifar10: 0.005)")
	batch := fs.Int("batch", 64, "batch size (the last partial batch of an epoch is kept)")
	seed := fs.Uint64("seed", 100, "seed of the initial weights and of the shuffling")
	logSteps := fs.Int("log-steps", 15, "print the training loss every N steps (0: never; cifar10: 100)")
	evalSteps := fs.Int("eval-steps", 15, "evaluate on dev every N steps and at the last step (0: never; cifar10: 3000)")
	ckEvery := fs.Int("checkpoint-every", 500, "write OUT/"+checkpointName+" (weights, optimiser state, position, best accuracy, history) every N steps (0: only when interrupted); Ctrl-C saves one after the current step")
	resume := fs.String("resume", "", "continue the run in folder DIR from DIR/"+checkpointName+"; give the first run's flags (--out defaults to DIR)")
	out := fs.String("out", "", "output folder (default runs/MODEL); it must not hold an earlier run (see --resume, --force)")
	force := fs.Bool("force", false, "start afresh in an --out that holds an earlier run: remove its "+strings.Join(runFiles, ", ")+" first")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	name, err := oneModel(pos)
	if err != nil {
		return err
	}
	isSet := func(flagName string) bool {
		set := false
		fs.Visit(func(f *flag.Flag) { set = set || f.Name == flagName })
		return set
	}
	if *dataset == "" {
		*dataset = defaultDataset(name)
	}
	switch *dataset {
	case datasetMNIST:
	case datasetCIFAR:
		rc := cifarRecipe
		for _, d := range []struct {
			flag string
			set  func()
		}{
			{"optimizer", func() { *optName = rc.optimizer }},
			{"lr", func() { *lr = rc.lr }},
			{"weight-decay", func() { *weightDecay = rc.weightDecay }},
			{"epochs", func() { *epochs = rc.epochs }},
			{"log-steps", func() { *logSteps = rc.logSteps }},
			{"eval-steps", func() { *evalSteps = rc.evalSteps }},
		} {
			if !isSet(d.flag) {
				d.set()
			}
		}
		if !mf.isSet("in-channels") {
			mf.inChannels = 3
		}
	default:
		return fmt.Errorf("--dataset %q: want mnist or cifar10", *dataset)
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
	case !(*lr > 0) || math.IsInf(*lr, 0):
		return fmt.Errorf("--lr %v: want a positive learning rate", *lr)
	case !(*weightDecay >= 0) || math.IsInf(*weightDecay, 0):
		return fmt.Errorf("--weight-decay %v: want 0 or a positive coefficient", *weightDecay)
	case *logSteps < 0 || *evalSteps < 0:
		return fmt.Errorf("--log-steps %d, --eval-steps %d: want 0 or more", *logSteps, *evalSteps)
	case *ckEvery < 0:
		return fmt.Errorf("--checkpoint-every %d: want 0 (off) or more", *ckEvery)
	}
	var opt trainer.Optimizer
	switch *optName {
	case "sgd":
		opt = &trainer.SGD{LR: *lr, WeightDecay: *weightDecay}
	case "adam":
		opt = trainer.NewAdam(*lr, *weightDecay)
	default:
		return fmt.Errorf("--optimizer %q: want sgd or adam", *optName)
	}
	mode := modeFresh
	switch {
	case *resume != "" && *force:
		return fmt.Errorf("--resume and --force: a run either continues or starts afresh, not both")
	case *resume != "":
		mode = modeResume
	case *force:
		mode = modeForce
	}
	if *resume != "" {
		if isSet("out") && filepath.Clean(*out) != filepath.Clean(*resume) {
			return fmt.Errorf("--out %s and --resume %s: a resumed run writes into its own folder", *out, *resume)
		}
		*out = *resume
	}
	if *out == "" {
		*out = filepath.Join("runs", name)
	}
	best := filepath.Join(*out, "best.safetensors")
	ckPath := filepath.Join(*out, checkpointName)
	if _, err := os.Stat(ckPath); mode == modeResume && errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: no training checkpoint to resume (a run writes one every --checkpoint-every steps and when interrupted)", ckPath)
	}
	if len(m.Input) != 3 {
		return fmt.Errorf("%s: input %v: want CxHxW", name, m.Input)
	}
	var trainSet, devSet, testSet *data.Dataset
	switch *dataset {
	case datasetMNIST:
		if m.Input[0] != 1 {
			return fmt.Errorf("%s: input %v: MNIST needs one input channel (--in-channels 1)", name, m.Input)
		}
		trainSet, devSet, testSet, err = df.load(m.Input[1], m.Input[2])
	case datasetCIFAR:
		if m.Input[0] != 3 || m.Input[1] != data.CIFARSide || m.Input[2] != data.CIFARSide {
			return fmt.Errorf("%s: input %v: CIFAR-10 images are 3x32x32 (--in-channels 3, --input 3x32x32)", name, m.Input)
		}
		trainSet, devSet, testSet, err = loadCIFAR(df, isSet)
	}
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
	r := trainer.New(m, params, impl, opt)
	if err := checkLastBatch(r, trainL, trainSet.N()); err != nil {
		return err
	}
	// Compile the training program first so that a model error shows before any file is written.
	if _, err := r.Program(*batch, true); err != nil {
		return err
	}
	// meta is the run's configuration: in both checkpoints, and what a resumption must match.
	meta := mf.metadata(name, m)
	meta["seed"] = strconv.FormatUint(*seed, 10)
	meta["lr"] = strconv.FormatFloat(*lr, 'g', -1, 64)
	meta["batch"] = strconv.Itoa(*batch)
	meta["epochs"] = strconv.Itoa(*epochs)
	meta["optimizer"] = *optName
	meta["weight_decay"] = strconv.FormatFloat(*weightDecay, 'g', -1, 64)
	meta["dataset"] = *dataset
	meta["train_size"] = strconv.Itoa(trainSet.N())
	meta["dev_size"] = strconv.Itoa(devSet.N())
	meta["test_size"] = strconv.Itoa(testSet.N())
	meta["eval_steps"] = strconv.Itoa(*evalSteps)
	total := *epochs * trainL.NumBatches()
	folder, err := openRunFolder(*out, mode)
	if err != nil {
		return err
	}
	defer folder.release()
	rc := &trainer.Recipe{Runner: r, Train: trainL, Dev: devL, Test: testL, Dir: *out, Meta: meta}
	rc.Config = trainer.Config{Epochs: *epochs, LogSteps: *logSteps, EvalSteps: *evalSteps, CheckpointEvery: *ckEvery}
	if *resume != "" {
		if err := resumeRun(rc); err != nil {
			return err
		}
	}

	what := "images"
	if *dataset == datasetCIFAR {
		what = "CIFAR-10 images"
	}
	fmt.Fprintf(stdout, "%s (%s kernels: %s): %d train / %d dev / %d test %s, %d epochs of %d steps, %v\n",
		name, impl, kernelPath(), trainSet.N(), devSet.N(), testSet.N(), what, *epochs, trainL.NumBatches(), r.Opt)
	resumedAt := r.StepsDone
	if *resume != "" {
		bestNote := "no best checkpoint yet"
		if r.BestStep >= 0 {
			bestNote = fmt.Sprintf("best dev accuracy %.5f at step %d", r.BestAcc, r.BestStep)
		}
		fmt.Fprintf(stdout, "[Resume] %s: %d of %d steps done (epoch %d, batch %d), %s\n",
			ckPath, r.StepsDone, total, r.StepsDone/trainL.NumBatches(), r.StepsDone%trainL.NumBatches(), bestNote)
	}
	prog := newProgress(stdout, total)
	intr := catchInterrupts(os.Stderr)
	defer intr.release()
	cfg := &rc.Config
	cfg.Stop = func() bool {
		if afterStep != nil {
			afterStep(r.StepsDone, intr)
		}
		return intr.requested()
	}
	cfg.OnStep = func(s trainer.StepLoss, total int) {
		prog.step(s.Step, func() string {
			if *logSteps > 0 && s.Step%*logSteps == 0 {
				return fmt.Sprintf("[Train] epoch: %d/%d, step: %d/%d, loss: %.5f", s.Epoch, *epochs, s.Step, total, s.Loss)
			}
			return ""
		}())
	}
	cfg.OnEval = func(e trainer.Eval, improved bool) {
		msg := fmt.Sprintf("[Evaluate] step %d: dev accuracy %.5f, dev loss %.5f", e.Step, e.Acc, e.Loss)
		if improved {
			msg += " (best so far, saved)"
		}
		prog.log(msg)
	}
	res, err := rc.Run()
	trainSecs := res.TrainSecs
	prog.done()
	// The curves are drawn even when the run stopped early.
	if werr := writeCurves(*out, name, &r.History); werr != nil && err == nil {
		err = werr
	}
	var stopped *trainer.Interrupted
	if errors.As(err, &stopped) && stopped.Saved {
		return &interruptedError{fmt.Sprintf("interrupted after step %d of %d; the run is saved in %s; resume with: %s",
			stopped.StepsDone, stopped.Total, ckPath, resumeCommand(args, *out))}
	}
	if err != nil {
		return err
	}
	if r.BestStep < 0 {
		fmt.Fprintf(stdout, "[Train] done in %.1fs; no dev evaluation ran, so no best checkpoint (set --eval-steps)\n", trainSecs)
		return nil
	}
	fmt.Fprintf(stdout, "[Train] done in %.1fs; best dev accuracy %.5f at step %d -> %s\n", trainSecs, r.BestAcc, r.BestStep, best)

	acc, loss := res.TestAcc, res.TestLoss
	fmt.Fprintf(stdout, "[Test] accuracy/loss: %.4f/%.4f\n", acc, loss)
	sc := maps.Clone(meta)
	sc["step"] = strconv.Itoa(r.BestStep)
	s := trainSummary{
		Model: name, Config: sc, Steps: len(r.History.Train), BestDevAcc: r.BestAcc, BestStep: r.BestStep,
		TestAcc: acc, TestLoss: loss, TrainSecs: trainSecs, WallSecs: time.Since(start).Seconds(),
		Weights: best, Kernels: kernelPath(), GoMaxProcs: runtimeProcs(),
		TrainSize: trainSet.N(), DevSize: devSet.N(), TestSize: testSet.N(), ResumedAt: resumedAt,
		FinishedUTC: time.Now().UTC().Format(time.RFC3339),
	}
	b, _ := json.MarshalIndent(s, "", "  ")
	if err := atomicfile.WriteBytes(filepath.Join(*out, "summary.json"), append(b, '\n')); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Wrote %s/{best.safetensors,metrics.csv,curves.png,curves.svg,summary.json}\n", *out)
	return nil
}

// afterStep, when set (by tests), is called with the steps done after every step, before
// the run asks whether a signal came.
var afterStep func(stepsDone int, in *interrupts)

// checkLastBatch refuses, before training, a batch size that leaves a last batch of one
// image when the model has BatchNorm: in training BatchNorm needs at least two values per
// channel to normalise by the batch's own statistics.
func checkLastBatch(r *trainer.Runner, train *data.Loader, images int) error {
	if !slices.Contains(train.BatchSizes(), 1) {
		return nil
	}
	if _, err := r.Program(1, false); err != nil { // declares the parameters and buffers
		return err
	}
	if _, buffers := r.Params.Count(); buffers == 0 {
		return nil
	}
	if train.BatchSize() == 1 {
		return fmt.Errorf("--batch 1: %s has BatchNorm, which needs batches of at least 2 images in training", r.Model.Name)
	}
	return fmt.Errorf("--batch %d: the last batch of an epoch holds 1 of the %d training images, and %s has BatchNorm, which needs at least 2 in training; choose another --batch", train.BatchSize(), images, r.Model.Name)
}

// writeCurves draws the loss and accuracy curves of a run into DIR/curves.png and .svg.
func writeCurves(dir, name string, h *trainer.History) error {
	loss, acc := viz.HistoryCurves(h, "")
	for _, ext := range []string{".png", ".svg"} {
		if err := viz.PlotCurves(filepath.Join(dir, "curves"+ext), name, loss, acc); err != nil {
			return err
		}
	}
	return nil
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
