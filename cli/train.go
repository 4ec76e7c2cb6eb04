package cli

import (
	"encoding/json"
	"errors"
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
	"github.com/nndl/cnn/reproduce"
	"github.com/nndl/cnn/trainer"
	"github.com/nndl/cnn/viz"
	"gorgonia.org/tensor"
)

func init() {
	register("train", "train a model with the chapter's recipe, keep the best weights, report test accuracy", cmdTrain)
}

// trainSummary is DIR/summary.json.
type trainSummary struct {
	Model        string          `json:"model"`
	Config       map[string]any  `json:"config"` // the run's configuration, numbers as numbers
	Steps        int             `json:"steps"`
	BestMetric   string          `json:"best_metric"` // what picked the best weights: dev-accuracy or dev-loss
	BestDevAcc   float64         `json:"best_dev_accuracy"`
	BestDevLoss  float64         `json:"best_dev_loss"`
	BestStep     int             `json:"best_step"` // -1: no evaluation, no best weights, no test
	EarlyStopped bool            `json:"early_stopped,omitempty"`
	TestAcc      float64         `json:"test_accuracy"`
	TestLoss     float64         `json:"test_loss"`
	TrainSecs    float64         `json:"train_seconds"`
	WallSecs     float64         `json:"wall_seconds"`
	Weights      string          `json:"weights"`
	Kernels      string          `json:"kernels"`
	GoMaxProcs   int             `json:"gomaxprocs"`
	DevSize      int             `json:"dev_size"`
	TrainSize    int             `json:"train_size"`
	TestSize     int             `json:"test_size"`
	ResumedAt    int             `json:"resumed_at_step,omitempty"` // steps done when this session resumed the run; the times are this session's
	FinishedUTC  string          `json:"finished_utc"`
	Build        reproduce.Build `json:"build"` // the binary's module version and commit
}

// checkpointName is the training checkpoint in a run folder.
const checkpointName = trainer.CheckpointFile

// trainRun is one cnn train session, prepared.
type trainRun struct {
	f                *trainFlags
	name             string
	impl             graph.Impl
	what             string // "images" or "CIFAR-10 images"
	train, dev, test *data.Dataset
	rc               *trainer.Recipe
}

func cmdTrain(args []string, stdout io.Writer) error {
	start := time.Now()
	fs := newFlags("train", "MODEL [flags] | --resume DIR [flags]")
	f := addTrainFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	mode := modeFresh
	switch {
	case *f.resume != "" && *f.force:
		return fmt.Errorf("--resume and --force: a run either continues or starts afresh, not both")
	case *f.resume != "":
		mode = modeResume
	case *f.force:
		mode = modeForce
	}
	var name string
	if *f.resume != "" {
		name, err = f.fromCheckpoint(pos)
	} else {
		name, err = oneModel(pos)
	}
	if err != nil {
		return err
	}
	tr, err := prepareTrain(f, name)
	if err != nil {
		return err
	}
	folder, err := openRunFolder(tr.rc.Dir, mode)
	if err != nil {
		return err
	}
	defer folder.release()
	if mode == modeResume {
		if err := resumeRun(tr.rc, f.optionalDefaults()); err != nil {
			return err
		}
	}
	return tr.run(stdout, start)
}

// prepareTrain resolves the flags into a recipe: the dataset and its defaults, the model, the
// data, the runner with its optimiser and compiled training program, and the configuration.
func prepareTrain(f *trainFlags, name string) (*trainRun, error) {
	tr := &trainRun{f: f, name: name, what: "images"}
	if err := f.datasetDefaults(name); err != nil {
		return nil, err
	}
	m, impl, err := f.mf.model(name)
	if err != nil {
		return nil, err
	}
	tr.impl = impl
	if err := f.check(); err != nil {
		return nil, err
	}
	opt, err := f.optimizer()
	if err != nil {
		return nil, err
	}
	best, err := trainer.ParseMetric(*f.best)
	if err != nil {
		return nil, fmt.Errorf("--best %w", err)
	}
	if *f.resume != "" {
		if f.isSet("out") && filepath.Clean(*f.out) != filepath.Clean(*f.resume) {
			return nil, fmt.Errorf("--out %s and --resume %s: a resumed run writes into its own folder", *f.out, *f.resume)
		}
		*f.out = *f.resume
	}
	if *f.out == "" {
		*f.out = filepath.Join("runs", name)
	}
	if err := tr.loadData(m); err != nil {
		return nil, err
	}
	trainL, err := data.NewLoader(tr.train, *f.batch, true, *f.seed)
	if err != nil {
		return nil, fmt.Errorf("--batch: %w", err)
	}
	devL, _ := data.NewLoader(tr.dev, *f.batch, false, 0)
	testL, _ := data.NewLoader(tr.test, *f.batch, false, 0)
	r := trainer.New(m, graph.NewParams(tensor.Float32, *f.seed), impl, opt)
	r.Best = best
	if err := checkLastBatch(r, trainL, tr.train.N()); err != nil {
		return nil, err
	}
	// Compile the training program first so that a model error shows before any file is written.
	if _, err := r.Program(*f.batch, true); err != nil {
		return nil, err
	}
	sched, err := f.scheduleFor(*f.epochs*trainL.NumBatches(), trainL.NumBatches())
	if err != nil {
		return nil, err
	}
	tr.rc = &trainer.Recipe{Runner: r, Train: trainL, Dev: devL, Test: testL, Dir: *f.out, Config: trainer.Config{
		Epochs: *f.epochs, LogSteps: *f.logSteps, EvalSteps: *f.evalSteps, CheckpointEvery: *f.ckEvery,
		Schedule: sched, ClipNorm: *f.clip, Patience: *f.patience,
	}}
	// The run's configuration: in both checkpoints, and what a resumption must match.
	tr.rc.Meta = f.mf.metadata(name, m)
	for k, v := range map[string]int{"train_size": tr.train.N(), "dev_size": tr.dev.N(), "test_size": tr.test.N()} {
		tr.rc.Meta[k] = strconv.Itoa(v)
	}
	return tr, f.settingsMeta(tr.rc.Meta)
}

// datasetDefaults resolves --dataset and, for CIFAR-10, gives the flags not set the
// chapter's 5.5 recipe.
func (f *trainFlags) datasetDefaults(name string) error {
	if *f.dataset == "" {
		*f.dataset = defaultDataset(name)
	}
	switch *f.dataset {
	case datasetMNIST:
	case datasetCIFAR:
		rc := cifarRecipe
		for _, d := range []struct {
			flag string
			set  func()
		}{
			{"optimizer", func() { *f.optName = rc.optimizer }},
			{"lr", func() { *f.lr = rc.lr }},
			{"weight-decay", func() { *f.decay = rc.weightDecay }},
			{"epochs", func() { *f.epochs = rc.epochs }},
			{"log-steps", func() { *f.logSteps = rc.logSteps }},
			{"eval-steps", func() { *f.evalSteps = rc.evalSteps }},
		} {
			if !f.isSet(d.flag) {
				d.set()
			}
		}
		if !f.mf.isSet("in-channels") {
			f.mf.inChannels = 3
		}
	default:
		return fmt.Errorf("--dataset %q: want mnist or cifar10", *f.dataset)
	}
	return nil
}

// loadData reads the three splits of the dataset for model m.
func (tr *trainRun) loadData(m graph.Model) error {
	if len(m.Input) != 3 {
		return fmt.Errorf("%s: input %v: want CxHxW", tr.name, m.Input)
	}
	var err error
	switch *tr.f.dataset {
	case datasetMNIST:
		if m.Input[0] != 1 {
			return fmt.Errorf("%s: input %v: MNIST needs one input channel (--in-channels 1; --dataset cifar10 trains on CIFAR-10)", tr.name, m.Input)
		}
		tr.train, tr.dev, tr.test, err = tr.f.df.load(m.Input[1], m.Input[2])
	case datasetCIFAR:
		if m.Input[0] != 3 || m.Input[1] != data.CIFARSide || m.Input[2] != data.CIFARSide {
			return fmt.Errorf("%s: input %v: CIFAR-10 images are 3x32x32 (--in-channels 3, --shape 3x32x32)", tr.name, m.Input)
		}
		tr.what = "CIFAR-10 images"
		tr.train, tr.dev, tr.test, err = loadCIFAR(tr.f.df, tr.f.isSet)
	}
	return err
}

// describe is the first line of a run: the model, its kernels, the data and the recipe.
func (tr *trainRun) describe() string {
	rc, nb := tr.rc, tr.rc.Train.NumBatches()
	s := fmt.Sprintf("%s (%s kernels: %s): %d train / %d dev / %d test %s, %d epochs of %d steps, %v",
		tr.name, tr.impl, kernelPath(), tr.train.N(), tr.dev.N(), tr.test.N(), tr.what, rc.Config.Epochs, nb, rc.Runner.Opt)
	if d := rc.Config.Schedule.String(); d != "" {
		s += ", lr " + d
	}
	if rc.Config.ClipNorm > 0 {
		s += fmt.Sprintf(", gradients clipped to norm %g", rc.Config.ClipNorm)
	}
	if rc.Runner.Best != trainer.DevAccuracy {
		s += ", best by " + rc.Runner.Best.String()
	}
	if rc.Config.Patience > 0 {
		s += fmt.Sprintf(", early stopping after %d evaluations without a new best", rc.Config.Patience)
	}
	return s
}

// bestNote describes the best evaluation so far.
func bestNote(r *trainer.Runner) string {
	switch {
	case r.BestStep < 0:
		return "no best checkpoint yet"
	case r.Best == trainer.DevLoss:
		return fmt.Sprintf("best dev loss %.5f at step %d", r.BestLoss, r.BestStep)
	}
	return fmt.Sprintf("best dev accuracy %.5f at step %d", r.BestAcc, r.BestStep)
}

// run trains and tests, printing the progress, and writes the curves and summary.json.
func (tr *trainRun) run(stdout io.Writer, start time.Time) error {
	rc, r, f := tr.rc, tr.rc.Runner, tr.f
	text := stdout
	if *f.asJSON {
		text = io.Discard
	}
	total, nb := rc.Total(), rc.Train.NumBatches()
	fmt.Fprintln(text, tr.describe())
	resumedAt := r.StepsDone
	if *f.resume != "" {
		fmt.Fprintf(text, "[Resume] %s: %d of %d steps done (epoch %d, batch %d), %s\n",
			rc.CheckpointPath(), r.StepsDone, total, r.StepsDone/nb, r.StepsDone%nb, bestNote(r))
	}
	prog := newProgress(text, total, r.StepsDone, *f.epochs)
	intr := catchInterrupts(prog.notice(os.Stderr))
	defer intr.release()
	prog.attach(&rc.Config)
	rc.Config.Stop = func() bool {
		if afterStep != nil {
			afterStep(r.StepsDone, intr)
		}
		return intr.requested()
	}
	res, err := rc.Run()
	prog.done()
	// The curves are drawn even when the run stopped early.
	if werr := writeCurves(rc.Dir, tr.name, &r.History); werr != nil && err == nil {
		err = werr
	}
	var stopped *trainer.Interrupted
	if errors.As(err, &stopped) && stopped.Saved {
		return &interruptedError{fmt.Sprintf("interrupted after step %d of %d; the run is saved in %s; resume with: %s",
			stopped.StepsDone, stopped.Total, rc.CheckpointPath(), resumeCommand(rc.Dir))}
	}
	if err != nil {
		return err
	}
	if r.EarlyStopped {
		fmt.Fprintf(text, "[Train] stopped early after %d of %d steps: %d evaluations without a new best\n", r.StepsDone, total, *f.patience)
	}
	s := tr.summary(res, resumedAt, start)
	if r.BestStep < 0 {
		fmt.Fprintf(text, "[Train] done in %.1fs; no dev evaluation ran, so no best checkpoint (set --eval-steps)\n", res.TrainSecs)
		return printJSON(stdout, *f.asJSON, s)
	}
	fmt.Fprintf(text, "[Train] done in %.1fs; %s -> %s\n", res.TrainSecs, bestNote(r), rc.BestPath())
	fmt.Fprintf(text, "[Test] accuracy/loss: %.4f/%.4f\n", res.TestAcc, res.TestLoss)
	b, _ := json.MarshalIndent(s, "", "  ")
	if err := atomicfile.WriteBytes(filepath.Join(rc.Dir, "summary.json"), append(b, '\n')); err != nil {
		return err
	}
	fmt.Fprintf(text, "Wrote %s/{best.safetensors,metrics.csv,curves.png,curves.svg,summary.json}\n", rc.Dir)
	return printJSON(stdout, *f.asJSON, s)
}

// summary is the session's summary.json.
func (tr *trainRun) summary(res trainer.Outcome, resumedAt int, start time.Time) trainSummary {
	r := tr.rc.Runner
	cfg := maps.Clone(tr.rc.Meta)
	cfg["step"] = strconv.Itoa(r.BestStep)
	return trainSummary{
		Model: tr.name, Config: typedConfig(cfg), Steps: len(r.History.Train), BestMetric: r.Best.String(),
		BestDevAcc: r.BestAcc, BestDevLoss: r.BestLoss, BestStep: r.BestStep, EarlyStopped: r.EarlyStopped,
		TestAcc: res.TestAcc, TestLoss: res.TestLoss, TrainSecs: res.TrainSecs, WallSecs: time.Since(start).Seconds(),
		Weights: tr.rc.BestPath(), Kernels: kernelPath(), GoMaxProcs: runtimeProcs(),
		TrainSize: tr.train.N(), DevSize: tr.dev.N(), TestSize: tr.test.N(), ResumedAt: resumedAt,
		FinishedUTC: time.Now().UTC().Format(time.RFC3339), Build: reproduce.ThisBuild(),
	}
}

// typedConfig returns a configuration with its numbers as JSON numbers and its booleans
// (true/false, and the PyTorch exports' True/False) as JSON booleans.
func typedConfig(meta map[string]string) map[string]any {
	out := make(map[string]any, len(meta))
	for k, v := range meta {
		if i, err := strconv.ParseInt(v, 10, 64); err == nil {
			out[k] = i
		} else if x, err := strconv.ParseFloat(v, 64); err == nil && !math.IsInf(x, 0) && !math.IsNaN(x) && !strings.ContainsAny(v, "xX") {
			out[k] = x
		} else if b, err := parsePyBool(v); err == nil {
			out[k] = b
		} else if b, err := strconv.ParseBool(v); err == nil && (v == "true" || v == "false") {
			out[k] = b
		} else {
			out[k] = v
		}
	}
	return out
}

// printJSON prints v as indented JSON when on is set.
func printJSON(w io.Writer, on bool, v any) error {
	if !on {
		return nil
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
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
