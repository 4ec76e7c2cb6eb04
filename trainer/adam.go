package trainer

import (
	"fmt"
	"github.com/nndl/cnn/tensorio"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/kernels"
	"github.com/nndl/cnn/tensorio/safetensors"
	"gorgonia.org/tensor"
)

// Adam is paddle.optimizer.Adam, with Paddle's L2 weight decay.
//
// At update t = 1, 2, ... every trainable parameter w with gradient g goes through
//
//	g      = g + WeightDecay*w                       (L2Decay: added to the gradient first)
//	m      = Beta1*m + (1-Beta1)*g
//	v      = Beta2*v + (1-Beta2)*g*g
//	lr_t   = LR * sqrt(1-Beta2^t) / (1-Beta1^t)
//	w      = w - lr_t * m / (sqrt(v) + Epsilon*sqrt(1-Beta2^t))
//
// which is Paddle's adam kernel (its beta1_pow and beta2_pow accumulators hold Beta1^t and
// Beta2^t during update t). Multiplying epsilon by sqrt(1-Beta2^t) makes the update
// mathematically the same as PyTorch's lr * m_hat / (sqrt(v_hat) + eps) with the
// bias-corrected m_hat = m/(1-Beta1^t) and v_hat = v/(1-Beta2^t); the two differ only in
// rounding. It is not the epsilon-hat form of the Adam paper's section 2 (TensorFlow's),
// which adds Epsilon to sqrt(v) unscaled.
//
// Weight decay is Paddle's L2Decay as the chapter uses it (paddle.optimizer.Adam with
// weight_decay=0.005): WeightDecay*w is added to the gradient before the moments are
// updated, so the decay goes through Adam's scaling. It is not AdamW's decoupled decay.
// It applies to every trainable parameter, biases and BatchNorm scales included, as
// Paddle's optimiser-wide regulariser does.
//
// The moments have the parameter's element type and are computed in it (float32 for
// float32 parameters); lr_t and the scaled epsilon are computed in float64 with math.Pow
// and then converted. The moments are kept by parameter name, and the update count t is
// one for the whole optimiser (every Step is one update of every parameter). State and
// LoadState save and restore both for a training checkpoint.
type Adam struct {
	LR          float64
	Beta1       float64
	Beta2       float64
	Epsilon     float64
	WeightDecay float64 // L2Decay coefficient; 0 for none

	t     int
	slots map[string]*adamSlot
	scheduled
}

// BaseLR returns LR.
func (o *Adam) BaseLR() float64 { return o.LR }

// adamSlot holds the moments of one parameter: []float32 or []float64 like the parameter.
type adamSlot struct {
	shape []int
	m, v  any
}

// NewAdam returns Adam with Paddle's defaults: beta1 0.9, beta2 0.999, epsilon 1e-8.
func NewAdam(lr, weightDecay float64) *Adam {
	return &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, WeightDecay: weightDecay}
}

// Steps returns the number of updates applied so far (t).
func (o *Adam) Steps() int { return o.t }

// Step applies update t+1 to every parameter. A parameter of an unsupported element type, or
// one whose moments have another size than it, is an error, and then nothing is changed.
func (o *Adam) Step(updates []Update) error {
	if !(o.Beta1 >= 0 && o.Beta1 < 1 && o.Beta2 >= 0 && o.Beta2 < 1 && o.Epsilon >= 0) {
		return fmt.Errorf("adam: beta1 %v, beta2 %v, epsilon %v: want betas in [0, 1) and epsilon >= 0", o.Beta1, o.Beta2, o.Epsilon)
	}
	if o.slots == nil {
		o.slots = map[string]*adamSlot{}
	}
	// Check everything before changing anything.
	for _, u := range updates {
		n := u.Param.Value.Shape().TotalSize()
		if err := checkUpdate(u); err != nil {
			return fmt.Errorf("adam: %w", err)
		}
		if s, ok := o.slots[u.Param.Name]; ok && (slotLen(s) != n || !sameType(s.m, u.Param.Value.Dtype())) {
			return fmt.Errorf("adam: parameter %s has %d %s values, its moments %d", u.Param.Name, n, u.Param.Value.Dtype(), slotLen(s))
		}
	}
	o.t++
	t := float64(o.t)
	b1t, b2t := math.Pow(o.Beta1, t), math.Pow(o.Beta2, t)
	lrT := o.rate(o.LR) * math.Sqrt(1-b2t) / (1 - b1t)
	epsT := o.Epsilon * math.Sqrt(1-b2t)
	for _, u := range updates {
		s, ok := o.slots[u.Param.Name]
		if !ok {
			s = &adamSlot{shape: []int(u.Param.Value.Shape().Clone())}
			if n := u.Param.Value.Shape().TotalSize(); u.Param.Value.Dtype() == tensor.Float32 {
				s.m, s.v = make([]float32, n), make([]float32, n)
			} else {
				s.m, s.v = make([]float64, n), make([]float64, n)
			}
			o.slots[u.Param.Name] = s
		}
		if u.Param.Value.Dtype() == tensor.Float32 {
			adamUpdate(u.Param.Value.Float32s(), u.Grad.Float32s(), s.m.([]float32), s.v.([]float32),
				float32(o.Beta1), float32(1-o.Beta1), float32(o.Beta2), float32(1-o.Beta2), float32(lrT), float32(epsT), float32(o.WeightDecay))
		} else {
			adamUpdate(u.Param.Value.Float64s(), u.Grad.Float64s(), s.m.([]float64), s.v.([]float64),
				o.Beta1, 1-o.Beta1, o.Beta2, 1-o.Beta2, lrT, epsT, o.WeightDecay)
		}
	}
	return nil
}

// adamUpdate is one Adam update of w in place (see Adam); c1 = 1-b1 and c2 = 1-b2.
func adamUpdate[T kernels.Float](w, g, m, v []T, b1, c1, b2, c2, lrT, epsT, decay T) {
	for i := range w {
		gi := g[i]
		if decay != 0 {
			gi += decay * w[i]
		}
		m[i] = b1*m[i] + c1*gi
		v[i] = b2*v[i] + c2*gi*gi
		w[i] -= lrT * (m[i] / (T(math.Sqrt(float64(v[i]))) + epsT))
	}
}

func slotLen(s *adamSlot) int {
	switch m := s.m.(type) {
	case []float32:
		return len(m)
	case []float64:
		return len(m)
	}
	return 0
}

func sameType(a any, dt tensor.Dtype) bool {
	switch a.(type) {
	case []float32:
		return dt == tensor.Float32
	case []float64:
		return dt == tensor.Float64
	}
	return false
}

func (o *Adam) String() string {
	s := fmt.Sprintf("Adam(lr=%g, beta1=%g, beta2=%g, epsilon=%g", o.LR, o.Beta1, o.Beta2, o.Epsilon)
	if o.WeightDecay != 0 {
		s += fmt.Sprintf(", weight_decay=L2Decay(%g)", o.WeightDecay)
	}
	return s + ")"
}

// State returns Adam's state for a checkpoint: the moments of every parameter it has
// updated, as "NAME.moment1" and "NAME.moment2" tensors of the parameter's shape and element
// type (copies), and the update count under "steps".
func (o *Adam) State() (map[string]safetensors.Tensor, map[string]string) {
	tensors := make(map[string]safetensors.Tensor, 2*len(o.slots))
	for name, s := range o.slots {
		switch m := s.m.(type) {
		case []float32:
			tensors[name+".moment1"] = tensorio.NewFloat32(slices.Clone(s.shape), slices.Clone(m))
			tensors[name+".moment2"] = tensorio.NewFloat32(slices.Clone(s.shape), slices.Clone(s.v.([]float32)))
		case []float64:
			tensors[name+".moment1"] = tensorio.NewFloat64(slices.Clone(s.shape), slices.Clone(m))
			tensors[name+".moment2"] = tensorio.NewFloat64(slices.Clone(s.shape), slices.Clone(s.v.([]float64)))
		}
	}
	return tensors, map[string]string{"steps": strconv.Itoa(o.t)}
}

// LoadState restores a state written by State. Every tensor must be a moment of a
// trainable parameter of params, with its shape and element type, and every parameter
// Adam has updated (all of them once steps > 0) must have both moments. On error Adam is
// left as it was.
func (o *Adam) LoadState(params *graph.Params, tensors map[string]safetensors.Tensor, meta map[string]string) error {
	t, err := strconv.Atoi(meta["steps"])
	if err != nil || t < 0 {
		return fmt.Errorf("adam state: steps %q is not a count", meta["steps"])
	}
	slots := map[string]*adamSlot{}
	seen := 0
	for _, q := range params.List() {
		if !q.Trainable {
			continue
		}
		m, okM := tensors[q.Name+".moment1"]
		v, okV := tensors[q.Name+".moment2"]
		if !okM && !okV {
			if t > 0 {
				return fmt.Errorf("adam state after %d steps has no moments for %s", t, q.Name)
			}
			continue
		}
		if okM != okV {
			return fmt.Errorf("adam state has one moment of %s but not the other", q.Name)
		}
		seen += 2
		s := &adamSlot{shape: []int(q.Value.Shape().Clone())}
		for _, x := range []safetensors.Tensor{m, v} {
			if !tensor.Shape(x.Shape).Eq(q.Value.Shape()) {
				return fmt.Errorf("adam state: the moments of %s have shape %v, the parameter %v", q.Name, x.Shape, q.Value.Shape())
			}
		}
		switch q.Value.Dtype() {
		case tensor.Float32:
			if m.DType != safetensors.F32 || v.DType != safetensors.F32 {
				return fmt.Errorf("adam state: the moments of %s are %s, the parameter float32", q.Name, m.DType)
			}
			s.m, s.v = slices.Clone(m.F32), slices.Clone(v.F32)
		case tensor.Float64:
			if m.DType != safetensors.F64 || v.DType != safetensors.F64 {
				return fmt.Errorf("adam state: the moments of %s are %s, the parameter float64", q.Name, m.DType)
			}
			s.m, s.v = slices.Clone(m.F64), slices.Clone(v.F64)
		default:
			return fmt.Errorf("parameter %s has unsupported type %v", q.Name, q.Value.Dtype())
		}
		slots[q.Name] = s
	}
	if seen != len(tensors) {
		var unknown []string
		for name := range tensors {
			base, ok := strings.CutSuffix(name, ".moment1")
			if !ok {
				base, ok = strings.CutSuffix(name, ".moment2")
			}
			if q := params.Get(base); !ok || q == nil || !q.Trainable {
				unknown = append(unknown, name)
			}
		}
		slices.Sort(unknown)
		return fmt.Errorf("adam state holds tensors of no trainable parameter: %s", strings.Join(unknown, ", "))
	}
	o.t, o.slots = t, slots
	return nil
}
