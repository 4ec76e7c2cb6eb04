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

// SGD is plain stochastic gradient descent: w -= LR * g.
type SGD struct {
	LR float64
}

// Step applies one update to every parameter.
func (o *SGD) Step(updates []Update) error {
	for _, u := range updates {
		switch w := u.Param.Value.Data().(type) {
		case []float32:
			axpy(float32(-o.LR), u.Grad.Data().([]float32), w)
		case []float64:
			axpy(-o.LR, u.Grad.Data().([]float64), w)
		default:
			return fmt.Errorf("parameter %s has unsupported type %T", u.Param.Name, w)
		}
	}
	return nil
}

func (o *SGD) String() string { return fmt.Sprintf("SGD(lr=%g)", o.LR) }

// axpy computes y += a*x.
func axpy[T graph.Float](a T, x, y []T) {
	for i, v := range x {
		y[i] += a * v
	}
}
