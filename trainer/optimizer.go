package trainer

import (
	"fmt"

	"github.com/nndl/cnn/graph"
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

// SGD is plain stochastic gradient descent: w -= LR * g. With WeightDecay set it is
// paddle.optimizer.SGD with L2Decay(WeightDecay): WeightDecay*w is added to the gradient
// first, w -= LR * (g + WeightDecay*w).
type SGD struct {
	LR          float64
	WeightDecay float64 // L2Decay coefficient; 0 for none
}

// Step applies one update to every parameter. The gradients are not changed.
func (o *SGD) Step(updates []Update) error {
	for _, u := range updates {
		switch w := u.Param.Value.Data().(type) {
		case []float32:
			sgdUpdate(float32(o.LR), float32(o.WeightDecay), u.Grad.Data().([]float32), w)
		case []float64:
			sgdUpdate(o.LR, o.WeightDecay, u.Grad.Data().([]float64), w)
		default:
			return fmt.Errorf("parameter %s has unsupported type %T", u.Param.Name, w)
		}
	}
	return nil
}

func (o *SGD) String() string {
	if o.WeightDecay != 0 {
		return fmt.Sprintf("SGD(lr=%g, weight_decay=L2Decay(%g))", o.LR, o.WeightDecay)
	}
	return fmt.Sprintf("SGD(lr=%g)", o.LR)
}

// sgdUpdate computes w -= lr*(g + decay*w), or w -= lr*g without decay.
func sgdUpdate[T graph.Float](lr, decay T, g, w []T) {
	if decay == 0 {
		axpy(-lr, g, w)
		return
	}
	for i, v := range g {
		w[i] -= lr * (v + decay*w[i])
	}
}

// axpy computes y += a*x.
func axpy[T graph.Float](a T, x, y []T) {
	for i, v := range x {
		y[i] += a * v
	}
}
