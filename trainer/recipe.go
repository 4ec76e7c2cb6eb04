package trainer

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nndl/cnn/data"
	"github.com/nndl/cnn/tensorio/safetensors"
)

// The files a recipe writes into its run folder.
const (
	BestFile       = "best.safetensors"       // the best weights, by the run's metric
	CheckpointFile = "checkpoint.safetensors" // the training state (SaveCheckpoint)
	MetricsFile    = "metrics.csv"            // the history (History.SaveCSV)
)

// BestDigestKey is the checkpoint metadata key that records the digest of the best weights
// the run had saved (DigestKey of BestFile), so that a resumption can tell that the
// folder's best weights are its own.
const BestDigestKey = "best_sha256"

// Recipe is the chapter's train-then-test sequence (sections 5.3.3 and 5.3.4, RunnerV3's
// train and evaluate): train on Train for Config.Epochs epochs, evaluating on Dev every
// Config.EvalSteps steps and keeping the weights of the best evaluation, then load those
// weights and evaluate them on Test. "cnn train" and the report of "cnn reproduce" both run
// their experiments through it.
//
// With a Dir the run lives in that folder: the best weights go to BestFile (Meta in their
// header, with the step), the training state to CheckpointFile every
// Config.CheckpointEvery steps, when Config.Stop ends the run and when it finishes, and the
// history to MetricsFile with every checkpoint and at the end. A finished run (or one that
// stopped early, Config.Patience) leaves its final checkpoint, from which a longer run, with
// more epochs, continues. Without one nothing is
// written and the best weights are kept in memory.
type Recipe struct {
	Runner           *Runner
	Train, Dev, Test *data.Loader // Test may be nil: then Run trains only
	// Config is the schedule and the callbacks of the training run; its Save and
	// Checkpoint are the recipe's own and are replaced.
	Config Config
	Dir    string
	Meta   map[string]string // the run's configuration, recorded in the weights and the checkpoint

	bestDigest string                        // of BestFile as this run saved it
	best       map[string]safetensors.Tensor // the best weights, without a Dir
	savedAt    int                           // the steps done at the last checkpoint, -1 for none
}

// Outcome is what Run measured.
type Outcome struct {
	TrainSecs float64 // the time spent in training (evaluations on dev included)
	// Tested says whether the best weights were evaluated on Test: false without a Test set
	// or when no evaluation saved best weights (Runner.BestStep < 0).
	Tested            bool
	TestAcc, TestLoss float64
}

// BestPath is the path of the run's best weights (with a Dir).
func (rc *Recipe) BestPath() string { return filepath.Join(rc.Dir, BestFile) }

// CheckpointPath is the path of the run's training checkpoint (with a Dir).
func (rc *Recipe) CheckpointPath() string { return filepath.Join(rc.Dir, CheckpointFile) }

// Total is the number of steps of the whole run.
func (rc *Recipe) Total() int { return rc.Config.Epochs * rc.Train.NumBatches() }

// Restore continues the run in Dir: it loads CheckpointFile into the runner (see
// LoadCheckpoint) and checks that it has not gone past the run's steps and that the
// folder's best weights are the ones the checkpoint's run saved. Comparing the
// configuration with the checkpoint's (CheckpointMeta) is the caller's: which settings
// may change from one session to the next is its choice.
func (rc *Recipe) Restore() error {
	path := rc.CheckpointPath()
	saved, err := rc.Runner.LoadCheckpoint(path)
	if err != nil {
		return err
	}
	r := rc.Runner
	if total := rc.Total(); r.StepsDone > total {
		return fmt.Errorf("%s: %d steps done, more than the run's %d", path, r.StepsDone, total)
	}
	if err := ownBest(path, rc.BestPath(), r.BestStep, saved[BestDigestKey]); err != nil {
		return err
	}
	rc.bestDigest = saved[BestDigestKey]
	return nil
}

// ownBest checks that the folder's best weights are the ones the checkpoint's run saved:
// none before its first best step, and after it a file with the digest the checkpoint
// recorded.
func ownBest(path, best string, bestStep int, digest string) error {
	_, statErr := os.Stat(best)
	if bestStep < 0 {
		if statErr == nil {
			return fmt.Errorf("%s: the run saved no best weights yet, but the folder holds %s: it mixes two runs; start afresh with --force", path, best)
		}
		return nil
	}
	if statErr != nil {
		return fmt.Errorf("%s: the checkpoint records the best dev accuracy at step %d, but its weights are gone: %v", path, bestStep, unwrapPath(statErr))
	}
	bm, err := ReadMeta(best)
	if err != nil {
		return err
	}
	if digest == "" || bm[DigestKey] != digest {
		return fmt.Errorf("%s: %s is not the best weights this run saved (its checksum is not the one the checkpoint records): the folder mixes two runs; start afresh with --force", path, best)
	}
	return nil
}

// unwrapPath drops the path of an *os.PathError, for messages that name the path themselves.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Run trains from the runner's position (0, or where Restore left it), then evaluates the
// best weights on Test. A run that Config.Stop interrupts returns the *Interrupted error
// after its checkpoint; any error leaves the best weights saved so far as they were.
func (rc *Recipe) Run() (Outcome, error) {
	var out Outcome
	r := rc.Runner
	cfg := rc.Config
	cfg.Save = rc.saveBest
	cfg.Checkpoint = nil
	rc.savedAt = -1
	if rc.Dir != "" {
		cfg.Checkpoint = rc.checkpoint
	}
	start := time.Now()
	err := r.Train(rc.Train, rc.Dev, cfg)
	out.TrainSecs = time.Since(start).Seconds()
	if rc.Dir != "" {
		// A finished run leaves its final state, which a longer run can continue from.
		if err == nil && rc.savedAt != r.StepsDone {
			err = rc.checkpoint(r.StepsDone)
		}
		// The history is written even when the run stopped early.
		if werr := r.History.SaveCSV(filepath.Join(rc.Dir, MetricsFile)); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil || r.BestStep < 0 || rc.Test == nil {
		return out, err
	}
	if err := rc.loadBest(); err != nil {
		return out, err
	}
	out.TestAcc, out.TestLoss, err = r.Evaluate(rc.Test)
	if err != nil {
		return out, fmt.Errorf("evaluating on test: %w", err)
	}
	out.Tested = true
	return out, nil
}

// saveBest keeps the weights of a new best evaluation at step.
func (rc *Recipe) saveBest(step int) error {
	if rc.Dir == "" {
		rc.best = rc.Runner.Params.Tensors()
		return nil
	}
	bm := maps.Clone(rc.Meta)
	if bm == nil {
		bm = map[string]string{}
	}
	bm["step"] = strconv.Itoa(step)
	d, err := SaveWeightsDigest(rc.BestPath(), rc.Runner.Params, bm)
	if err != nil {
		return err
	}
	rc.bestDigest = d
	return nil
}

// loadBest puts the best weights back into the runner's parameters: from BestFile, which
// checks its digest, or from memory.
func (rc *Recipe) loadBest() error {
	if rc.Dir == "" {
		if rc.best == nil {
			return fmt.Errorf("no best weights were kept")
		}
		_, err := rc.Runner.Params.Load(rc.best, true)
		return err
	}
	_, _, err := LoadWeights(rc.BestPath(), rc.Runner.Params, true)
	return err
}

// checkpoint writes the training state after stepsDone steps, with the digest of the best
// weights, and the history beside it.
func (rc *Recipe) checkpoint(stepsDone int) error {
	cm := maps.Clone(rc.Meta)
	if cm == nil {
		cm = map[string]string{}
	}
	if rc.bestDigest != "" {
		cm[BestDigestKey] = rc.bestDigest
	}
	if err := rc.Runner.SaveCheckpoint(rc.CheckpointPath(), cm); err != nil {
		return err
	}
	rc.savedAt = stepsDone
	return rc.Runner.History.SaveCSV(filepath.Join(rc.Dir, MetricsFile))
}
