package trainer

import (
	"fmt"
	"math"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/kernels"
	"gorgonia.org/tensor"
)

// Update pairs a trainable parameter with the gradient the last step computed for it.
type Update struct {
	Param *graph.Param
	Grad  *tensor.Dense
}

// Optimizer changes the parameters in place from their gradients. Implementations keep their
// own state (velocities, moments) keyed by parameter.
type Optimizer interface {
	Step(updates []Update) error
	String() string
}

// Tunable is an optimiser whose learning rate a Schedule sets before every step.
type Tunable interface {
	Optimizer
	// BaseLR is the rate the optimiser was made with, which String reports.
	BaseLR() float64
	// SetLR sets the rate of the following steps.
	SetLR(lr float64)
}

// SGD is stochastic gradient descent, torch.optim.SGD. At every step each trainable
// parameter w with gradient g goes through
//
//	g = g + WeightDecay*w                                   (weight decay, Paddle's L2Decay)
//	b = g at the first step, Momentum*b + (1-Dampening)*g after it   (with Momentum > 0)
//	g = g + Momentum*b with Nesterov, g = b without it      (with Momentum > 0)
//	w = w - LR*g
//
// Without momentum it is plain w -= LR * (g + WeightDecay*w). The momentum buffers b have
// the parameter's element type and are kept by parameter name; State and LoadState save and
// restore them for a training checkpoint.
type SGD struct {
	LR          float64
	WeightDecay float64 // L2Decay coefficient; 0 for none
	Momentum    float64 // 0 for none
	Dampening   float64 // of the momentum; PyTorch's dampening
	Nesterov    bool    // Nesterov momentum (needs Momentum > 0 and Dampening 0)

	scheduled
	buffer map[string]any // momentum buffers: []float32 or []float64 like the parameter
}

// scheduled is the rate a schedule set for the following steps, over an optimiser's LR.
type scheduled struct {
	lr    float64
	tuned bool
}

// SetLR sets the rate of the following steps (LR, which String reports, stays).
func (s *scheduled) SetLR(lr float64) { s.lr, s.tuned = lr, true }

// rate is the rate set, or base when none is.
func (s *scheduled) rate(base float64) float64 {
	if s.tuned {
		return s.lr
	}
	return base
}

// BaseLR returns LR.
func (o *SGD) BaseLR() float64 { return o.LR }

// Check reports settings torch.optim.SGD refuses.
func (o *SGD) Check() error {
	switch {
	case !(o.Momentum >= 0) || math.IsInf(o.Momentum, 0):
		return fmt.Errorf("sgd: momentum %v, want 0 or more", o.Momentum)
	case !(o.Dampening >= 0 && o.Dampening <= 1):
		return fmt.Errorf("sgd: dampening %v, want 0 to 1", o.Dampening)
	case o.Nesterov && (o.Momentum == 0 || o.Dampening != 0):
		return fmt.Errorf("sgd: Nesterov momentum needs a momentum above 0 and no dampening")
	}
	return nil
}

// Step applies one update to every parameter. The gradients are not changed.
func (o *SGD) Step(updates []Update) error {
	if err := o.Check(); err != nil {
		return err
	}
	for _, u := range updates {
		if err := checkUpdate(u); err != nil {
			return err
		}
		if b, ok := o.buffer[u.Param.Name]; ok && (bufLen(b) != u.Param.Value.Shape().TotalSize() || !sameType(b, u.Param.Value.Dtype())) {
			return fmt.Errorf("sgd: parameter %s has %d %s values, its momentum buffer %d", u.Param.Name, u.Param.Value.Shape().TotalSize(), u.Param.Value.Dtype(), bufLen(b))
		}
	}
	lr := o.rate(o.LR)
	for _, u := range updates {
		if o.Momentum == 0 {
			if u.Param.Value.Dtype() == tensor.Float32 {
				sgdUpdate(float32(lr), float32(o.WeightDecay), u.Grad.Float32s(), u.Param.Value.Float32s())
			} else {
				sgdUpdate(lr, o.WeightDecay, u.Grad.Float64s(), u.Param.Value.Float64s())
			}
			continue
		}
		if o.buffer == nil {
			o.buffer = map[string]any{}
		}
		b, started := o.buffer[u.Param.Name]
		if u.Param.Value.Dtype() == tensor.Float32 {
			if !started {
				b = make([]float32, u.Param.Value.Shape().TotalSize())
			}
			momentumUpdate(u.Param.Value.Float32s(), u.Grad.Float32s(), b.([]float32), !started, float32(lr), float32(o.WeightDecay), float32(o.Momentum), float32(1-o.Dampening), o.Nesterov)
		} else {
			if !started {
				b = make([]float64, u.Param.Value.Shape().TotalSize())
			}
			momentumUpdate(u.Param.Value.Float64s(), u.Grad.Float64s(), b.([]float64), !started, lr, o.WeightDecay, o.Momentum, 1-o.Dampening, o.Nesterov)
		}
		o.buffer[u.Param.Name] = b
	}
	return nil
}

// momentumUpdate is one step of SGD with momentum on w in place (see SGD); keep = 1 - dampening.
func momentumUpdate[T kernels.Float](w, g, b []T, first bool, lr, decay, momentum, keep T, nesterov bool) {
	for i := range w {
		gi := g[i] + decay*w[i]
		if first {
			b[i] = gi
		} else {
			b[i] = momentum*b[i] + keep*gi
		}
		if nesterov {
			gi += momentum * b[i]
		} else {
			gi = b[i]
		}
		w[i] -= lr * gi
	}
}

func bufLen(b any) int {
	switch v := b.(type) {
	case []float32:
		return len(v)
	case []float64:
		return len(v)
	}
	return 0
}

// checkUpdate reports an update whose gradient does not match its parameter, or whose
// parameter is neither float32 nor float64.
func checkUpdate(u Update) error {
	w, g := u.Param.Value, u.Grad
	if dt := w.Dtype(); dt != tensor.Float32 && dt != tensor.Float64 {
		return fmt.Errorf("parameter %s has unsupported type %v", u.Param.Name, dt)
	}
	if g.Dtype() != w.Dtype() || g.Shape().TotalSize() != w.Shape().TotalSize() {
		return fmt.Errorf("parameter %s: gradient %v %v does not match the parameter's %v %v", u.Param.Name, g.Shape(), g.Dtype(), w.Shape(), w.Dtype())
	}
	return nil
}

func (o *SGD) String() string {
	s := fmt.Sprintf("SGD(lr=%g", o.LR)
	if o.Momentum != 0 {
		s += fmt.Sprintf(", momentum=%g", o.Momentum)
	}
	if o.Dampening != 0 {
		s += fmt.Sprintf(", dampening=%g", o.Dampening)
	}
	if o.Nesterov {
		s += ", nesterov=True"
	}
	if o.WeightDecay != 0 {
		s += fmt.Sprintf(", weight_decay=L2Decay(%g)", o.WeightDecay)
	}
	return s + ")"
}

// sgdUpdate computes w -= lr*(g + decay*w), or w -= lr*g without decay.
func sgdUpdate[T kernels.Float](lr, decay T, g, w []T) {
	if decay == 0 {
		kernels.Update(-lr, g, w)
		return
	}
	for i, v := range g {
		w[i] -= lr * (v + decay*w[i])
	}
}
