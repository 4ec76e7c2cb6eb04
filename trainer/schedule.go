package trainer

import (
	"fmt"
	"math"
	"strings"

	"gorgonia.org/tensor"
)

// The learning-rate schedules of Schedule.Kind.
const (
	ConstantLR = "constant" // the optimiser's own rate at every step
	StepLR     = "step"     // torch.optim.lr_scheduler.StepLR
	CosineLR   = "cosine"   // torch.optim.lr_scheduler.CosineAnnealingLR
)

// Schedule gives the learning rate of every training step, counted from 0 over the whole
// run, as PyTorch's schedulers do when scheduler.step() follows every optimizer.step():
//
//	step:   lr(k) = base * Gamma^floor(k / StepSize)                       (StepLR)
//	cosine: lr(k) = MinLR + (base - MinLR) * (1 + cos(pi * k / Period)) / 2  (CosineAnnealingLR,
//	        T_max = Period, eta_min = MinLR; past Period the rate stays at MinLR)
//
// and a linear warm-up over the first WarmupSteps steps (LinearLR with start_factor
// WarmupStart, end_factor 1, total_iters WarmupSteps) multiplies either of them:
//
//	warm(k) = WarmupStart + (1 - WarmupStart) * min(k, WarmupSteps) / WarmupSteps
//
// which is PyTorch's ChainedScheduler of the two (exactly so when MinLR is 0). The rate of a
// step depends on k alone, so a resumed run continues the schedule where it stopped. The
// zero value is the constant rate.
type Schedule struct {
	Kind        string  // ConstantLR ("" too), StepLR or CosineLR
	StepSize    int     // StepLR: steps between decays
	Gamma       float64 // StepLR: the factor of each decay
	Period      int     // CosineLR: T_max in steps
	MinLR       float64 // CosineLR: eta_min
	WarmupSteps int     // steps of linear warm-up (0: none)
	WarmupStart float64 // the warm-up's first factor, in (0, 1]
}

// Constant reports whether the schedule keeps the optimiser's rate at every step.
func (s Schedule) Constant() bool {
	return (s.Kind == "" || s.Kind == ConstantLR) && s.WarmupSteps == 0
}

// Check reports a schedule that cannot run, naming the setting.
func (s Schedule) Check() error {
	switch s.Kind {
	case "", ConstantLR:
	case StepLR:
		if s.StepSize < 1 {
			return fmt.Errorf("step schedule: step size %d, want at least 1", s.StepSize)
		}
		if !(s.Gamma > 0) || math.IsInf(s.Gamma, 0) {
			return fmt.Errorf("step schedule: gamma %v, want a positive factor", s.Gamma)
		}
	case CosineLR:
		if s.Period < 1 {
			return fmt.Errorf("cosine schedule: period %d, want at least 1 step", s.Period)
		}
		if !(s.MinLR >= 0) || math.IsInf(s.MinLR, 0) {
			return fmt.Errorf("cosine schedule: minimum rate %v, want 0 or more", s.MinLR)
		}
	default:
		return fmt.Errorf("schedule %q: want %s, %s or %s", s.Kind, ConstantLR, StepLR, CosineLR)
	}
	if s.WarmupSteps < 0 {
		return fmt.Errorf("warm-up of %d steps: want 0 or more", s.WarmupSteps)
	}
	if s.WarmupSteps > 0 && !(s.WarmupStart > 0 && s.WarmupStart <= 1) {
		return fmt.Errorf("warm-up start factor %v: want more than 0 and at most 1", s.WarmupStart)
	}
	return nil
}

// LR returns the learning rate of step k for the optimiser's rate base.
func (s Schedule) LR(base float64, k int) float64 {
	lr := base
	switch s.Kind {
	case StepLR:
		lr = base * math.Pow(s.Gamma, float64(k/s.StepSize))
	case CosineLR:
		t := min(k, s.Period)
		lr = s.MinLR + (base-s.MinLR)*(1+math.Cos(math.Pi*float64(t)/float64(s.Period)))/2
	}
	if s.WarmupSteps > 0 {
		lr *= s.WarmupStart + (1-s.WarmupStart)*float64(min(k, s.WarmupSteps))/float64(s.WarmupSteps)
	}
	return lr
}

// String describes the schedule, "" for the constant rate.
func (s Schedule) String() string {
	var parts []string
	switch s.Kind {
	case StepLR:
		parts = append(parts, fmt.Sprintf("StepLR(step_size=%d, gamma=%g)", s.StepSize, s.Gamma))
	case CosineLR:
		parts = append(parts, fmt.Sprintf("CosineAnnealingLR(T_max=%d, eta_min=%g)", s.Period, s.MinLR))
	}
	if s.WarmupSteps > 0 {
		parts = append(parts, fmt.Sprintf("LinearLR(start_factor=%g, total_iters=%d)", s.WarmupStart, s.WarmupSteps))
	}
	return strings.Join(parts, " * ")
}

// Metric is what picks the best evaluation of a run.
type Metric int

// The metrics.
const (
	DevAccuracy Metric = iota // the highest dev accuracy (the chapter's)
	DevLoss                   // the lowest dev loss
)

func (m Metric) String() string {
	if m == DevLoss {
		return "dev-loss"
	}
	return "dev-accuracy"
}

// ParseMetric reads a metric's name: dev-accuracy or dev-loss.
func ParseMetric(s string) (Metric, error) {
	switch s {
	case "dev-accuracy":
		return DevAccuracy, nil
	case "dev-loss":
		return DevLoss, nil
	}
	return 0, fmt.Errorf("%q: want dev-accuracy or dev-loss", s)
}

// better reports whether evaluation e beats the best so far (bestStep < 0: none yet, and
// best the evaluation at bestStep otherwise). An accuracy must beat 0 to count, as
// RunnerV3's best_score starts at 0; a loss beats no best at all.
func (m Metric) better(e Eval, best Eval, bestStep int) bool {
	if m == DevLoss {
		return bestStep < 0 || e.Loss < best.Loss
	}
	return e.Acc > best.Acc
}

// bestOf returns the index in evals of the best evaluation by m, -1 for none: the first of
// the best, as Train records them.
func (m Metric) bestOf(evals []Eval) int {
	best, bi := Eval{}, -1
	for i, e := range evals {
		if m.better(e, best, bi) {
			best, bi = e, i
		}
	}
	return bi
}

// clipGradNorm scales the gradients of updates in place so that their global L2 norm is at
// most maxNorm, as torch.nn.utils.clip_grad_norm_(max_norm, norm_type=2): with the total
// norm n over every gradient, each is multiplied by min(1, maxNorm / (n + 1e-6)). It
// returns n. The norm is summed in float64.
func clipGradNorm(updates []Update, maxNorm float64) float64 {
	var sq float64
	for _, u := range updates {
		if u.Grad.Dtype() == tensor.Float32 {
			sq += sumSquares(u.Grad.Float32s())
		} else {
			sq += sumSquares(u.Grad.Float64s())
		}
	}
	n := math.Sqrt(sq)
	c := maxNorm / (n + 1e-6)
	if c >= 1 {
		return n
	}
	for _, u := range updates {
		if u.Grad.Dtype() == tensor.Float32 {
			scale(u.Grad.Float32s(), float32(c))
		} else {
			scale(u.Grad.Float64s(), c)
		}
	}
	return n
}

// sumSquares is the sum of v's squares in float64.
func sumSquares[T float32 | float64](v []T) float64 {
	var sq float64
	for _, x := range v {
		sq += float64(x) * float64(x)
	}
	return sq
}

// scale multiplies v by c in place.
func scale[T float32 | float64](v []T, c T) {
	for i := range v {
		v[i] *= c
	}
}
