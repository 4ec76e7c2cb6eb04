// Package trainer is the chapter's Runner: it trains a compiled model with an optimiser,
// evaluates it, predicts, keeps the best checkpoint and records the metrics.
package trainer

import (
	"fmt"
	"math"

	"github.com/nndl/cnn/build"
	"github.com/nndl/cnn/data"
	"github.com/nndl/cnn/graph"
)

// Runner trains and evaluates one model. It compiles a program per (batch size, mode) on
// first use; all of them share the parameter store.
type Runner struct {
	Model  graph.Model
	Params *graph.Params
	Impl   graph.Impl
	Opt    Optimizer
	// Frozen makes the evaluation programs compiled from now on frozen
	// (build.Options.Frozen): faster, with their own copy of the parameters as they are
	// when each is compiled. Set it once the parameters are final, as `cnn eval` and `cnn
	// predict` do after loading them; a runner that trains leaves it unset.
	Frozen bool

	History History
	// Best is the metric that picks the best evaluation (the zero value: dev accuracy).
	Best     Metric
	BestAcc  float64 // dev accuracy of the best evaluation so far (0 before any)
	BestLoss float64 // dev loss of the best evaluation so far
	BestStep int     // step of the best evaluation, -1 before any
	// EarlyStopped says that the last Train stopped before its last step because
	// Config.Patience evaluations in a row did not beat the best.
	EarlyStopped bool
	// StepsDone counts the training steps taken so far; Train starts at this step, so a
	// runner restored from a checkpoint (LoadCheckpoint) continues where it stopped.
	StepsDone int

	progs   map[progKey]*build.Program
	updates map[*build.Program][]Update
}

type progKey struct {
	batch         int
	train, frozen bool
}

// New returns a runner for the model on params.
func New(m graph.Model, params *graph.Params, impl graph.Impl, opt Optimizer) *Runner {
	return &Runner{Model: m, Params: params, Impl: impl, Opt: opt, BestStep: -1,
		progs: map[progKey]*build.Program{}, updates: map[*build.Program][]Update{}}
}

// Program returns the program for a batch size in training or evaluation mode, compiling it
// on first use.
func (r *Runner) Program(batch int, train bool) (*build.Program, error) {
	k := progKey{batch, train, r.Frozen && !train}
	if p, ok := r.progs[k]; ok {
		return p, nil
	}
	p, err := build.Compile(r.Model, r.Params, build.Options{Batch: batch, Loss: true, Train: train, Impl: r.Impl, Frozen: k.frozen})
	if err != nil {
		return nil, err
	}
	r.progs[k] = p
	return p, nil
}

// TrainStep runs forward and backward on one batch and applies the optimiser. It returns the
// batch's loss.
func (r *Runner) TrainStep(b *data.Batch) (float64, error) { return r.trainStep(b, 0) }

// trainStep is TrainStep with the gradients clipped to a global norm of clip first (0: not).
func (r *Runner) trainStep(b *data.Batch, clip float64) (float64, error) {
	p, err := r.Program(len(b.Y), true)
	if err != nil {
		return 0, err
	}
	if err := p.Feed(b.X, b.Y); err != nil {
		return 0, err
	}
	if err := p.Run(); err != nil {
		return 0, err
	}
	ups, ok := r.updates[p]
	if !ok {
		for _, g := range p.Grads {
			ups = append(ups, Update{Param: g.Param, Grad: p.GradValue(g)})
		}
		r.updates[p] = ups
	} else {
		for i, g := range p.Grads {
			ups[i].Grad = p.GradValue(g)
		}
	}
	loss := p.LossValue()
	if clip > 0 {
		clipGradNorm(ups, clip)
	}
	if err := r.Opt.Step(ups); err != nil {
		return loss, err
	}
	return loss, nil
}

// Evaluate runs the model in inference mode over every batch of l and returns the accuracy
// over all samples and the mean of the per-batch losses (the chapter's RunnerV3.evaluate).
func (r *Runner) Evaluate(l *data.Loader) (acc, loss float64, err error) {
	var a Accuracy
	var total float64
	bufs := map[int]*data.Batch{}
	for b := 0; b < l.NumBatches(); b++ {
		n := l.BatchLen(b)
		buf, ok := bufs[n]
		if !ok {
			buf = l.NewBatch(n)
			bufs[n] = buf
		}
		if err := l.Fill(buf, b); err != nil {
			return 0, 0, err
		}
		p, err := r.Program(n, false)
		if err != nil {
			return 0, 0, err
		}
		if err := p.Feed(buf.X, buf.Y); err != nil {
			return 0, 0, err
		}
		if err := p.Run(); err != nil {
			return 0, 0, err
		}
		a.Add(p.LogitsValue(), buf.Y)
		total += p.LossValue()
	}
	if l.NumBatches() == 0 {
		return 0, 0, fmt.Errorf("evaluate: no data")
	}
	return a.Value(), total / float64(l.NumBatches()), nil
}

// Predict returns the logits [n, classes] for n samples given as a flat NCHW slice.
func (r *Runner) Predict(x []float32, n int) ([]float64, error) {
	p, err := r.Program(n, false)
	if err != nil {
		return nil, err
	}
	if err := p.Feed(x, nil); err != nil {
		return nil, err
	}
	if err := p.Run(); err != nil {
		return nil, err
	}
	return p.LogitsValue(), nil
}

// Config is the schedule of a training run (RunnerV3.train's arguments).
type Config struct {
	Epochs    int
	LogSteps  int // call OnLog every LogSteps steps, when step % LogSteps == 0 (0: never)
	EvalSteps int // evaluate on dev when step > 0 and step % EvalSteps == 0, and at the last step (0: never)
	// Save is called with the step whenever an evaluation beats the best so far (by the
	// runner's Best metric); it should write the checkpoint.
	Save func(step int) error
	// OnStep and OnEval, when set, are called after every step and every evaluation,
	// OnEvalStart before every evaluation and OnLog after every LogSteps-th step.
	OnStep      func(s StepLoss, total int)
	OnLog       func(s StepLoss, total int)
	OnEvalStart func(step int)
	OnEval      func(e Eval, improved bool)

	// Schedule sets the optimiser's learning rate before every step (a Tunable
	// optimiser); the zero value keeps its rate.
	Schedule Schedule
	// ClipNorm, when above 0, scales every step's gradients to a global L2 norm of at most
	// ClipNorm before the update (torch.nn.utils.clip_grad_norm_).
	ClipNorm float64
	// Patience, when above 0, stops the run early once Patience evaluations in a row have
	// not beaten the best (Runner.EarlyStopped then says so; Train returns nil).
	Patience int

	// Checkpoint, when set, is called with the number of steps done after every
	// CheckpointEvery-th step (CheckpointEvery > 0) and when Stop ends the run. It should
	// save the training state (SaveCheckpoint); it runs after the step's evaluation and
	// best-weights save, so the state it sees is complete.
	Checkpoint      func(stepsDone int) error
	CheckpointEvery int
	// Stop, when set, is asked after every step (after its evaluation and checkpoint)
	// whether to stop; when it says yes, Train writes a checkpoint unless one was just
	// written and returns an *Interrupted error.
	Stop func() bool
}

// Interrupted is the error of a run that Config.Stop ended.
type Interrupted struct {
	StepsDone, Total int
	Saved            bool // whether the state after StepsDone steps is in a checkpoint
}

func (e *Interrupted) Error() string {
	if e.Saved {
		return fmt.Sprintf("interrupted after step %d of %d; the checkpoint holds the state", e.StepsDone, e.Total)
	}
	return fmt.Sprintf("interrupted after step %d of %d; no checkpoint was written", e.StepsDone, e.Total)
}

// Train runs the chapter's loop over train for cfg.Epochs epochs, starting after the
// r.StepsDone steps already taken (0 for a new run; the step count of a restored
// checkpoint). Step s is batch s mod B of epoch s div B (B batches an epoch); the loader's
// order of an epoch depends only on its seed and the epoch, so a resumed run sees the very
// batches the uninterrupted one would. The loss of every step goes to r.History.Train,
// every dev evaluation to r.History.Dev. A training or dev loss that is not finite stops
// the run with an error naming the step; the best checkpoint saved so far stays as it was.
func (r *Runner) Train(train, dev *data.Loader, cfg Config) error {
	nb := train.NumBatches()
	total := cfg.Epochs * nb
	if err := r.checkConfig(dev, cfg, total); err != nil {
		return err
	}
	r.EarlyStopped = false
	if cfg.Patience > 0 && r.sinceBest() >= cfg.Patience {
		r.EarlyStopped = true // the run had stopped early already
		return nil
	}
	tune, _ := r.Opt.(Tunable)
	bufs := map[int]*data.Batch{}
	for _, n := range train.BatchSizes() {
		bufs[n] = train.NewBatch(n)
	}
	for step := r.StepsDone; step < total; step++ {
		epoch, b := step/nb, step%nb
		if b == 0 || step == r.StepsDone {
			train.SetEpoch(epoch)
		}
		buf := bufs[train.BatchLen(b)]
		if err := train.Fill(buf, b); err != nil {
			return err
		}
		if !cfg.Schedule.Constant() {
			tune.SetLR(cfg.Schedule.LR(tune.BaseLR(), step))
		}
		loss, err := r.trainStep(buf, cfg.ClipNorm)
		if err != nil {
			return fmt.Errorf("step %d: %w", step, err)
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return fmt.Errorf("step %d (epoch %d): training loss is %v; stopped, %s", step, epoch, loss, r.kept())
		}
		s := StepLoss{Step: step, Epoch: epoch, Loss: loss}
		r.History.Train = append(r.History.Train, s)
		if cfg.OnStep != nil {
			cfg.OnStep(s, total)
		}
		if cfg.OnLog != nil && cfg.LogSteps > 0 && step%cfg.LogSteps == 0 {
			cfg.OnLog(s, total)
		}
		evaluated := cfg.EvalSteps > 0 && step > 0 && (step%cfg.EvalSteps == 0 || step == total-1)
		if evaluated {
			if err := r.evaluateStep(dev, cfg, step, epoch); err != nil {
				return err
			}
		}
		r.StepsDone = step + 1
		// Only an evaluation moves the count of evaluations since the best.
		if evaluated && cfg.Patience > 0 && r.sinceBest() >= cfg.Patience && r.StepsDone < total {
			r.EarlyStopped = true
			return nil
		}
		if err := r.checkpointOrStop(cfg, step, total); err != nil {
			return err
		}
	}
	return nil
}

// checkConfig reports a configuration Train cannot run.
func (r *Runner) checkConfig(dev *data.Loader, cfg Config, total int) error {
	if cfg.Epochs < 1 {
		return fmt.Errorf("epochs %d: want at least 1", cfg.Epochs)
	}
	if cfg.EvalSteps > 0 && dev == nil {
		return fmt.Errorf("evaluation every %d steps needs a dev set", cfg.EvalSteps)
	}
	if cfg.Patience > 0 && cfg.EvalSteps == 0 {
		return fmt.Errorf("early stopping after %d evaluations needs evaluations on dev", cfg.Patience)
	}
	if err := cfg.Schedule.Check(); err != nil {
		return err
	}
	if _, ok := r.Opt.(Tunable); !ok && !cfg.Schedule.Constant() {
		return fmt.Errorf("the optimiser %v takes no learning-rate schedule", r.Opt)
	}
	if !(cfg.ClipNorm >= 0) || math.IsInf(cfg.ClipNorm, 0) {
		return fmt.Errorf("gradient clipping to norm %v: want 0 (off) or a positive norm", cfg.ClipNorm)
	}
	if r.StepsDone < 0 || r.StepsDone > total {
		return fmt.Errorf("the run has taken %d steps; %d epochs of %d batches are %d", r.StepsDone, cfg.Epochs, total/max(cfg.Epochs, 1), total)
	}
	return nil
}

// evaluateStep evaluates on dev after step, records the evaluation and saves the best
// weights when it beats the best so far.
func (r *Runner) evaluateStep(dev *data.Loader, cfg Config, step, epoch int) error {
	if cfg.OnEvalStart != nil {
		cfg.OnEvalStart(step)
	}
	acc, dl, err := r.Evaluate(dev)
	if err != nil {
		return fmt.Errorf("step %d: evaluating: %w", step, err)
	}
	// The update of this step may have made the weights NaN: never save those.
	if math.IsNaN(dl) || math.IsInf(dl, 0) {
		return fmt.Errorf("step %d (epoch %d): dev loss is %v; stopped, %s", step, epoch, dl, r.kept())
	}
	e := Eval{Step: step, Epoch: epoch, Loss: dl, Acc: acc}
	r.History.Dev = append(r.History.Dev, e)
	improved := r.Best.better(e, Eval{Acc: r.BestAcc, Loss: r.BestLoss}, r.BestStep)
	if improved {
		if cfg.Save != nil {
			if err := cfg.Save(step); err != nil {
				return fmt.Errorf("step %d: saving the best checkpoint: %w", step, err)
			}
		}
		r.BestAcc, r.BestLoss, r.BestStep = acc, dl, step
	}
	if cfg.OnEval != nil {
		cfg.OnEval(e, improved)
	}
	return nil
}

// checkpointOrStop writes the periodic checkpoint after step when one is due, and asks
// cfg.Stop whether to stop, writing a checkpoint then if none was just written.
func (r *Runner) checkpointOrStop(cfg Config, step, total int) error {
	saved := false
	if cfg.Checkpoint != nil && cfg.CheckpointEvery > 0 && r.StepsDone%cfg.CheckpointEvery == 0 {
		if err := cfg.Checkpoint(r.StepsDone); err != nil {
			return fmt.Errorf("step %d: writing the checkpoint: %w", step, err)
		}
		saved = true
	}
	if cfg.Stop == nil || r.StepsDone >= total || !cfg.Stop() {
		return nil
	}
	if !saved && cfg.Checkpoint != nil {
		if err := cfg.Checkpoint(r.StepsDone); err != nil {
			return fmt.Errorf("step %d: interrupted, and writing the checkpoint failed: %w", step, err)
		}
		saved = true
	}
	return &Interrupted{StepsDone: r.StepsDone, Total: total, Saved: saved}
}

// sinceBest counts the evaluations after the best one (all of them before any best).
func (r *Runner) sinceBest() int {
	n := 0
	for _, e := range r.History.Dev {
		if e.Step > r.BestStep {
			n++
		}
	}
	return n
}

// kept says which best checkpoint a stopped run leaves.
func (r *Runner) kept() string {
	if r.BestStep < 0 {
		return "no best checkpoint was saved"
	}
	return fmt.Sprintf("the best checkpoint (step %d) is kept", r.BestStep)
}
