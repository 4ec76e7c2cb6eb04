package cli

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/nndl/cnn/trainer"
)

// trainFlags are the flags of cnn train.
type trainFlags struct {
	fs      *flag.FlagSet
	mf      *modelFlags
	df      *dataFlags
	dataset *string
	epochs  *int
	optName *string
	lr      *float64
	decay   *float64
	batch   *int
	seed    *uint64

	momentum, dampening *float64
	nesterov            *bool
	schedule            *string
	stepSize            *int
	gamma, minLR        *float64
	period              *int
	warmup              *int
	warmupStart         *float64
	clip                *float64
	patience            *int
	best                *string

	logSteps, evalSteps, ckEvery *int
	resume, out                  *string
	force, asJSON                *bool
}

func addTrainFlags(fs *flag.FlagSet) *trainFlags {
	f := &trainFlags{fs: fs, mf: addModelFlags(fs, true), df: addDataFlags(fs)}
	f.dataset = fs.String("dataset", "", "mnist or cifar10 (default: cifar10 for resnet18-cifar, mnist otherwise); cifar10 reads the binary version from --data and its defaults are the chapter's 5.5 recipe")
	f.epochs = fs.Int("epochs", 5, "training epochs (cifar10: 30); with --resume, more epochs than the run had extend it")
	f.optName = fs.String("optimizer", "sgd", "sgd or adam (Paddle's Adam: beta1 0.9, beta2 0.999, epsilon 1e-8) (cifar10: adam)")
	f.lr = fs.Float64("lr", 0.1, "learning rate (cifar10: 0.001); the schedule's base rate")
	f.decay = fs.Float64("weight-decay", 0, "L2 weight decay coefficient: coeff*w is added to every gradient before the update, as Paddle's L2Decay (cifar10: 0.005)")
	f.batch = fs.Int("batch", 64, "batch size (the last partial batch of an epoch is kept)")
	f.seed = fs.Uint64("seed", 100, "seed of the initial weights and of the shuffling")
	f.momentum = fs.Float64("momentum", 0, "sgd: momentum, as torch.optim.SGD (0: none)")
	f.dampening = fs.Float64("dampening", 0, "sgd: dampening of the momentum, as torch.optim.SGD")
	f.nesterov = fs.Bool("nesterov", false, "sgd: Nesterov momentum (needs --momentum above 0 and no dampening)")
	f.schedule = fs.String("lr-schedule", trainer.ConstantLR, "learning rate over the steps: constant, step (StepLR: times --lr-gamma every --lr-step-size steps) or cosine (CosineAnnealingLR down to --lr-min over --lr-period steps)")
	f.stepSize = fs.Int("lr-step-size", 0, "step schedule: steps between decays (default: one epoch)")
	f.gamma = fs.Float64("lr-gamma", 0.1, "step schedule: the factor of each decay")
	f.period = fs.Int("lr-period", 0, "cosine schedule: T_max in steps (default: the run's steps; kept when --resume extends the run, unless given)")
	f.minLR = fs.Float64("lr-min", 0, "cosine schedule: eta_min, the rate at the end of the period")
	f.warmup = fs.Int("warmup-steps", 0, "linear warm-up over the first N steps (LinearLR), before and multiplying the schedule (0: none)")
	f.warmupStart = fs.Float64("warmup-start", 1.0/3, "warm-up: the factor of the first step (LinearLR's start_factor)")
	f.clip = fs.Float64("clip-grad-norm", 0, "scale each step's gradients to a global L2 norm of at most N, as clip_grad_norm_ (0: off)")
	f.patience = fs.Int("patience", 0, "stop early after N evaluations in a row without a new best (0: never)")
	f.best = fs.String("best", "dev-accuracy", "what picks the best weights: dev-accuracy (highest) or dev-loss (lowest)")
	f.logSteps = fs.Int("log-steps", 15, "print the training loss every N steps (0: never; cifar10: 100)")
	f.evalSteps = fs.Int("eval-steps", 15, "evaluate on dev every N steps and at the last step (0: never; cifar10: 3000)")
	f.ckEvery = fs.Int("checkpoint-every", 500, "write OUT/"+checkpointName+" (weights, optimiser state, position, best, history) every N steps (0: only when interrupted and at the end); Ctrl-C saves one after the current step")
	f.resume = fs.String("resume", "", "continue the run in folder DIR from DIR/"+checkpointName+" with its configuration (flags given must agree, but for --epochs, --patience, --log-steps and --checkpoint-every)")
	f.out = fs.String("out", "", "output folder (default runs/MODEL); it must not hold an earlier run (see --resume, --force)")
	f.force = fs.Bool("force", false, "start afresh in an --out that holds an earlier run: remove its "+strings.Join(runFiles, ", ")+" first")
	f.asJSON = fs.Bool("json", false, "print summary.json's content on stdout instead of the progress and the result lines")
	return f
}

// isSet reports whether a flag was given (or taken from the checkpoint being resumed).
func (f *trainFlags) isSet(name string) bool {
	set := false
	f.fs.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set
}

// setting is a flag of cnn train recorded in the run's configuration (the checkpoint's and
// the weights' metadata, summary.json), from which --resume DIR alone takes it.
type setting struct {
	flag, key string
	// toFlag turns a recorded value into the flag's (nil: the same).
	toFlag func(string) (string, error)
	// changeable settings may differ in a resumed session; the others must agree.
	changeable bool
	// optional settings are recorded only when they differ from the flag's default, so that
	// runs without them keep the configuration they had.
	optional bool
}

// trainSettings are the settings of the training run; model settings are modelSettings.
var trainSettings = []setting{
	{flag: "seed", key: "seed"},
	{flag: "lr", key: "lr"},
	{flag: "batch", key: "batch"},
	{flag: "epochs", key: "epochs", changeable: true},
	{flag: "optimizer", key: "optimizer"},
	{flag: "weight-decay", key: "weight_decay"},
	{flag: "dataset", key: "dataset"},
	{flag: "data", key: "data", optional: true},
	{flag: "eval-steps", key: "eval_steps"},
	{flag: "log-steps", key: "log_steps", changeable: true},
	{flag: "checkpoint-every", key: "checkpoint_every", changeable: true},
	{flag: "momentum", key: "momentum", optional: true},
	{flag: "dampening", key: "dampening", optional: true},
	{flag: "nesterov", key: "nesterov", optional: true},
	{flag: "lr-schedule", key: "lr_schedule", optional: true},
	{flag: "lr-step-size", key: "lr_step_size", optional: true},
	{flag: "lr-gamma", key: "lr_gamma", optional: true},
	{flag: "lr-period", key: "lr_period", changeable: true, optional: true},
	{flag: "lr-min", key: "lr_min", optional: true},
	{flag: "warmup-steps", key: "warmup_steps", optional: true},
	{flag: "warmup-start", key: "warmup_start", optional: true},
	{flag: "clip-grad-norm", key: "clip_grad_norm", optional: true},
	{flag: "patience", key: "patience", changeable: true, optional: true},
	{flag: "best", key: "best", optional: true},
}

// modelSettings map the model's metadata (modelFlags.metadata) back onto its flags.
var modelSettings = []setting{
	{flag: "shape", key: "input"},
	{flag: "in-channels", key: "in_channels"},
	{flag: "classes", key: "classes"},
	{flag: "width", key: "width"},
	{flag: "no-residual", key: "use_residual", toFlag: func(v string) (string, error) {
		b, err := parsePyBool(v)
		return fmt.Sprint(!b), err
	}},
	{flag: "stem-bias", key: "stem_bias", toFlag: func(v string) (string, error) {
		b, err := parsePyBool(v)
		return fmt.Sprint(b), err
	}},
	{flag: "train-size", key: "train_size"},
	{flag: "dev-size", key: "dev_size"},
	{flag: "test-size", key: "test_size"},
}

func parsePyBool(v string) (bool, error) {
	switch v {
	case "True":
		return true, nil
	case "False":
		return false, nil
	}
	return false, fmt.Errorf("want True or False")
}

// changeable reports whether a configuration key may differ in a resumed session.
func changeable(key string) bool {
	for _, s := range trainSettings {
		if s.key == key {
			return s.changeable
		}
	}
	return false
}

// fromCheckpoint prepares a resumption of the run in --resume DIR: it reads the
// checkpoint's configuration and gives every flag not on the command line the run's value.
// It returns the model's name: the checkpoint's, or pos's one name, which must agree.
func (f *trainFlags) fromCheckpoint(pos []string) (string, error) {
	path := filepath.Join(*f.resume, checkpointName)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%s: no training checkpoint to resume (a run writes one every --checkpoint-every steps, when interrupted and when it finishes)", path)
	}
	meta, err := trainer.CheckpointMeta(path)
	if err != nil {
		return "", err
	}
	name := meta["model"]
	if len(pos) > 0 {
		if name, err = oneModel(pos); err != nil {
			return "", err
		}
	} else if name != "" && !knownModel(name) && !isONNXPath(name) {
		return "", notInProgram(path, name)
	}
	for _, s := range append(append([]setting(nil), trainSettings...), modelSettings...) {
		v, ok := meta[s.key]
		if !ok || f.isSet(s.flag) {
			continue
		}
		if s.toFlag != nil {
			if v, err = s.toFlag(v); err != nil {
				return "", fmt.Errorf("%s: metadata %s %q: %v", path, s.key, meta[s.key], err)
			}
		}
		if err := f.fs.Set(s.flag, v); err != nil {
			return "", fmt.Errorf("%s: metadata %s %q: %v", path, s.key, meta[s.key], err)
		}
	}
	return name, nil
}

// settingsMeta records the training settings in meta.
func (f *trainFlags) settingsMeta(meta map[string]string) error {
	for _, s := range trainSettings {
		fl := f.fs.Lookup(s.flag)
		v := fl.Value.String()
		if s.optional && v == fl.DefValue {
			continue
		}
		if s.flag == "data" {
			abs, err := filepath.Abs(v)
			if err != nil {
				return fmt.Errorf("--data %s: %w", v, err)
			}
			v = abs
		}
		meta[s.key] = v
	}
	return nil
}

// optionalDefaults returns the defaults of the optional settings by key.
func (f *trainFlags) optionalDefaults() map[string]string {
	d := map[string]string{}
	for _, s := range trainSettings {
		if s.optional {
			d[s.key] = f.fs.Lookup(s.flag).DefValue
		}
	}
	return d
}

// check reports a training flag out of range, naming it.
func (f *trainFlags) check() error {
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case *f.batch < 1:
		return fmt.Errorf("--batch %d: want at least 1", *f.batch)
	case *f.epochs < 1:
		return fmt.Errorf("--epochs %d: want at least 1", *f.epochs)
	case !(*f.lr > 0) || math.IsInf(*f.lr, 0):
		return fmt.Errorf("--lr %v: want a positive learning rate", *f.lr)
	case !(*f.decay >= 0) || math.IsInf(*f.decay, 0):
		return fmt.Errorf("--weight-decay %v: want 0 or a positive coefficient", *f.decay)
	case *f.logSteps < 0 || *f.evalSteps < 0:
		return fmt.Errorf("--log-steps %d, --eval-steps %d: want 0 or more", *f.logSteps, *f.evalSteps)
	case *f.ckEvery < 0:
		return fmt.Errorf("--checkpoint-every %d: want 0 (off) or more", *f.ckEvery)
	case !(*f.clip >= 0) || !finite(*f.clip):
		return fmt.Errorf("--clip-grad-norm %v: want 0 (off) or a positive norm", *f.clip)
	case *f.patience < 0:
		return fmt.Errorf("--patience %d: want 0 (never) or more evaluations", *f.patience)
	case *f.patience > 0 && *f.evalSteps == 0:
		return fmt.Errorf("--patience %d: early stopping needs evaluations (--eval-steps above 0)", *f.patience)
	case *f.optName != "sgd" && (*f.momentum != 0 || *f.dampening != 0 || *f.nesterov):
		return fmt.Errorf("--momentum, --dampening and --nesterov are sgd's; --optimizer is %s", *f.optName)
	}
	return nil
}

// optimizer returns the optimiser of the flags.
func (f *trainFlags) optimizer() (trainer.Optimizer, error) {
	switch *f.optName {
	case "sgd":
		o := &trainer.SGD{LR: *f.lr, WeightDecay: *f.decay, Momentum: *f.momentum, Dampening: *f.dampening, Nesterov: *f.nesterov}
		if err := o.Check(); err != nil {
			return nil, fmt.Errorf("--momentum %v, --dampening %v, --nesterov=%v: %w", *f.momentum, *f.dampening, *f.nesterov, err)
		}
		return o, nil
	case "adam":
		return trainer.NewAdam(*f.lr, *f.decay), nil
	}
	return nil, fmt.Errorf("--optimizer %q: want sgd or adam", *f.optName)
}

// scheduleFor returns the learning-rate schedule of the flags for a run of steps steps of
// epochSteps an epoch, recording the defaults it resolves (--lr-step-size, --lr-period) in
// the flags so that the run's configuration holds them.
func (f *trainFlags) scheduleFor(steps, epochSteps int) (trainer.Schedule, error) {
	s := trainer.Schedule{Kind: *f.schedule, Gamma: *f.gamma, MinLR: *f.minLR, WarmupSteps: *f.warmup, WarmupStart: *f.warmupStart}
	switch s.Kind {
	case trainer.StepLR:
		if *f.stepSize == 0 {
			f.fs.Set("lr-step-size", fmt.Sprint(epochSteps))
		}
		s.StepSize = *f.stepSize
	case trainer.CosineLR:
		if *f.period == 0 {
			f.fs.Set("lr-period", fmt.Sprint(steps))
		}
		s.Period = *f.period
	}
	if err := s.Check(); err != nil {
		return s, fmt.Errorf("--lr-schedule %s: %w", *f.schedule, err)
	}
	return s, nil
}
