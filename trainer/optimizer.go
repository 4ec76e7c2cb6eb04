package trainer

import (
	"fmt"

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
		if err := checkUpdate(u); err != nil {
			return err
		}
	}
	for _, u := range updates {
		if u.Param.Value.Dtype() == tensor.Float32 {
			sgdUpdate(float32(o.LR), float32(o.WeightDecay), u.Grad.Float32s(), u.Param.Value.Float32s())
		} else {
			sgdUpdate(o.LR, o.WeightDecay, u.Grad.Float64s(), u.Param.Value.Float64s())
		}
	}
	return nil
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
	if o.WeightDecay != 0 {
		return fmt.Sprintf("SGD(lr=%g, weight_decay=L2Decay(%g))", o.LR, o.WeightDecay)
	}
	return fmt.Sprintf("SGD(lr=%g)", o.LR)
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
