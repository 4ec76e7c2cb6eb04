package purego

import (
	"math"

	"github.com/nndl/cnn/kernels"
)

// Act names an element-wise activation function. Each is PyTorch's definition exactly,
// its gradient at the kinks included (see Activate and ActivateBackward).
type Act int

// The activations. ReLU is the zero value.
const (
	ActReLU        Act = iota // max(x, 0)
	ActReLU6                  // min(max(x, 0), 6)
	ActLeakyReLU              // x if x > 0, slope*x otherwise
	ActSigmoid                // 1 / (1 + exp(-x))
	ActTanh                   // tanh(x)
	ActSiLU                   // x * sigmoid(x)
	ActGELU                   // x/2 * (1 + erf(x/sqrt(2))): the exact form, PyTorch's default
	ActHardswish              // x * min(max(x+3, 0), 6) / 6
	ActHardsigmoid            // min(max(x+3, 0), 6) / 6
	NumActs                   // the number of activations
)

var actNames = [NumActs]string{"ReLU", "ReLU6", "LeakyReLU", "Sigmoid", "Tanh", "SiLU", "GELU", "Hardswish", "Hardsigmoid"}

// String returns PyTorch's name of the activation's module ("ReLU6", "Hardswish").
func (a Act) String() string {
	if a < 0 || a >= NumActs {
		return "Act(?)"
	}
	return actNames[a]
}

// activationSplit is the number of elements below which an activation runs on the calling
// goroutine alone.
const activationSplit = 1 << 14

// Activate computes y = a(x) element-wise (slope is LeakyReLU's negative slope), the
// workers splitting long vectors. It computes in float64 and rounds once to T.
func Activate[T kernels.Float](a Act, slope float64, x, y []T) {
	y = y[:len(x)]
	f := func(_, lo, hi int) { activate(a, slope, x[lo:hi], y[lo:hi]) }
	if len(x) < activationSplit {
		f(0, 0, len(x))
		return
	}
	kernels.Parallel(len(x), f)
}

func activate[T kernels.Float](a Act, slope float64, x, y []T) {
	switch a {
	case ActReLU:
		for i, v := range x {
			y[i] = max(v, 0)
		}
	case ActReLU6:
		for i, v := range x {
			y[i] = min(max(v, 0), 6)
		}
	case ActLeakyReLU:
		for i, v := range x {
			if v > 0 {
				y[i] = v
			} else {
				y[i] = T(float64(v) * slope)
			}
		}
	case ActSigmoid:
		for i, v := range x {
			y[i] = T(sigmoid(float64(v)))
		}
	case ActTanh:
		for i, v := range x {
			y[i] = T(math.Tanh(float64(v)))
		}
	case ActSiLU:
		for i, v := range x {
			y[i] = T(float64(v) * sigmoid(float64(v)))
		}
	case ActGELU:
		for i, v := range x {
			y[i] = T(float64(v) * normalCDF(float64(v)))
		}
	case ActHardswish:
		for i, v := range x {
			y[i] = T(float64(v) * hardsigmoid(float64(v)))
		}
	case ActHardsigmoid:
		for i, v := range x {
			y[i] = T(hardsigmoid(float64(v)))
		}
	}
}

// ActivateBackward computes dx = dy * a'(x) element-wise from the activation's input x,
// its output y and the gradient dy, with PyTorch's gradient at the kinks: ReLU 0 at 0
// (taken from y > 0); ReLU6 0 at 0 and at 6; LeakyReLU slope at 0; Hardswish -1/2 at -3
// (the middle piece's x/3 + 1/2) and 1 at 3 (the identity's), as PyTorch 1.13's vectorised
// kernel gives them (its scalar loop, which only takes the few elements past the last
// full vector, gives 3/2 at 3); Hardsigmoid 0 at -3 and at 3. Sigmoid and Tanh take their
// derivative from y, as PyTorch does.
func ActivateBackward[T kernels.Float](a Act, slope float64, x, y, dy, dx []T) {
	y, dy, dx = y[:len(x)], dy[:len(x)], dx[:len(x)]
	f := func(_, lo, hi int) { activateBackward(a, slope, x[lo:hi], y[lo:hi], dy[lo:hi], dx[lo:hi]) }
	if len(x) < activationSplit {
		f(0, 0, len(x))
		return
	}
	kernels.Parallel(len(x), f)
}

func activateBackward[T kernels.Float](a Act, slope float64, x, y, dy, dx []T) {
	for i, v := range x {
		xv, yv, g := float64(v), float64(y[i]), float64(dy[i])
		var d float64
		switch a {
		case ActReLU:
			if yv > 0 {
				d = 1
			}
		case ActReLU6:
			if xv > 0 && xv < 6 {
				d = 1
			}
		case ActLeakyReLU:
			d = slope
			if xv > 0 {
				d = 1
			}
		case ActSigmoid:
			d = yv * (1 - yv)
		case ActTanh:
			d = 1 - yv*yv
		case ActSiLU:
			s := sigmoid(xv)
			d = s * (1 + xv*(1-s))
		case ActGELU:
			d = normalCDF(xv) + xv*math.Exp(-xv*xv/2)/math.Sqrt(2*math.Pi)
		case ActHardswish:
			switch {
			case xv < -3:
				d = 0
			case xv < 3:
				d = xv/3 + 0.5
			default:
				d = 1
			}
		case ActHardsigmoid:
			if xv > -3 && xv < 3 {
				d = 1.0 / 6
			}
		}
		dx[i] = T(g * d)
	}
}

// sigmoid is 1 / (1 + exp(-x)); exp overflows to +Inf for x below -709, giving 0.
func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// normalCDF is the standard normal distribution function (1 + erf(x/sqrt(2))) / 2.
func normalCDF(x float64) float64 { return 0.5 * (1 + math.Erf(x/math.Sqrt2)) }

// hardsigmoid is min(max(x+3, 0), 6) / 6.
func hardsigmoid(x float64) float64 { return min(max(x+3, 0), 6) / 6 }
