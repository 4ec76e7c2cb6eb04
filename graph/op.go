package graph

import (
	"fmt"
	"hash"
	"hash/fnv"
	"reflect"
	"unsafe"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/kernels"
	_ "github.com/nndl/cnn/kernels/all" // every implementation this build holds
)

// kernel is the computation behind one of our Gorgonia operations. The op type below turns a
// kernel into a full gorgonia.Op, so that each kernel only says what it computes.
type kernel interface {
	// kind names the operation without its settings, for profiles ("Conv2D+ReLU").
	kind() string
	// String describes the kernel and all of its settings; it doubles as the op's hash.
	String() string
	// dims gives the rank of each input and of the output (0 for a scalar).
	dims() (in []int, out int)
	// shape computes the output shape from the input shapes.
	shape(in ...tensor.Shape) (tensor.Shape, error)
	// do computes the output into out, which has the right shape and dtype. It must
	// overwrite every element of out.
	do(out gorgonia.Value, in ...gorgonia.Value) error
}

// diffKernel is a kernel with a symbolic gradient.
type diffKernel interface {
	kernel
	// grads returns, for each input, the node of d(loss)/d(input) given the node of
	// d(loss)/d(output); nil for inputs that are not differentiated.
	grads(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error)
	diffWRT() []bool
}

// op adapts a kernel to Gorgonia's Op, SDOp and UsePreallocDoer interfaces. A kernel
// computes in one element type, fixed when the network is declared (see typed); dt is it.
type op struct {
	k  kernel
	dt tensor.Dtype
}

var (
	_ gorgonia.Op              = op{}
	_ gorgonia.SDOp            = op{}
	_ gorgonia.UsePreallocDoer = op{}
)

// apply adds kernel k on the given inputs to their graph. Its element type is theirs.
func apply(k kernel, in ...*gorgonia.Node) (*gorgonia.Node, error) {
	return gorgonia.ApplyOp(op{k, in[0].Dtype()}, in...)
}

func (o op) Arity() int { in, _ := o.k.dims(); return len(in) }

func (o op) Type() hm.Type {
	a := hm.TypeVariable('a')
	in, out := o.k.dims()
	ts := make([]hm.Type, 0, len(in)+1)
	for _, d := range append(in, out) {
		if d == 0 {
			ts = append(ts, a)
		} else {
			ts = append(ts, gorgonia.TensorType{Dims: d, Of: a})
		}
	}
	return hm.NewFnType(ts...)
}

func (o op) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	shapes := make([]tensor.Shape, len(in))
	for i, d := range in {
		s, ok := d.(tensor.Shape)
		if !ok {
			return nil, fmt.Errorf("%v: input %d has no static shape", o.k, i)
		}
		shapes[i] = s
	}
	return o.k.shape(shapes...)
}

func (o op) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	return o.UsePreallocDo(nil, in...)
}

// UsePreallocDo computes into prealloc, which must be a value this op computed before on
// inputs of the same shapes (a VM's register), or into a new value when prealloc is nil.
// Shapes are static, so a warm call checks only the inputs' element types and allocates
// nothing.
func (o op) UsePreallocDo(prealloc gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	for i, v := range in {
		if v.Dtype() != o.dt {
			return nil, fmt.Errorf("%v computes in %v: input %d is %v", o.k, o.dt, i, v.Dtype())
		}
	}
	if prealloc != nil && prealloc.Dtype() == o.dt {
		if err := o.k.do(prealloc, in...); err != nil {
			return nil, fmt.Errorf("%v: %w", o.k, err)
		}
		return prealloc, nil
	}
	if len(in) != o.Arity() {
		return nil, fmt.Errorf("%v: got %d inputs, want %d", o.k, len(in), o.Arity())
	}
	shapes := make([]tensor.Shape, len(in))
	for i, v := range in {
		shapes[i] = v.Shape()
	}
	s, err := o.k.shape(shapes...)
	if err != nil {
		return nil, err
	}
	out := newValue(o.dt, s) // prealloc, if any, holds another element type
	if err := o.k.do(out, in...); err != nil {
		return nil, fmt.Errorf("%v: %w", o.k, err)
	}
	return out, nil
}

func newValue(dt tensor.Dtype, s tensor.Shape) gorgonia.Value {
	if s.IsScalar() {
		if dt == tensor.Float64 {
			return gorgonia.NewF64(0)
		}
		return gorgonia.NewF32(0)
	}
	return tensor.New(tensor.Of(dt), tensor.WithShape(s...))
}

func (o op) ReturnsPtr() bool      { return false }
func (o op) CallsExtern() bool     { return false }
func (o op) OverwritesInput() int  { return -1 }
func (o op) String() string        { return o.k.String() }
func (o op) WriteHash(h hash.Hash) { fmt.Fprint(h, o.k.String()) }
func (o op) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}

func (o op) DiffWRT(n int) []bool {
	if d, ok := o.k.(diffKernel); ok {
		return d.diffWRT()
	}
	return make([]bool, n)
}

func (o op) SymDiff(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	d, ok := o.k.(diffKernel)
	if !ok {
		return nil, fmt.Errorf("%v has no gradient", o.k)
	}
	return d.grads(in, out, grad)
}

// data returns the backing slice of a tensor value as []T without copying or allocating
// (the tensor package's Data goes through reflection and allocates on every call).
// It panics if v does not hold T (op checks the inputs' element type before a kernel runs).
func data[T kernels.Float](v gorgonia.Value) []T {
	d, ok := v.(*tensor.Dense)
	if !ok {
		return v.Data().([]T)
	}
	var z T
	switch any(z).(type) {
	case float32:
		if d.Dtype() != tensor.Float32 {
			panic(fmt.Sprintf("graph: a float32 kernel reads a %v tensor", d.Dtype()))
		}
		s := d.Float32s()
		return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
	default:
		if d.Dtype() != tensor.Float64 {
			panic(fmt.Sprintf("graph: a float64 kernel reads a %v tensor", d.Dtype()))
		}
		s := d.Float64s()
		return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
	}
}

// scalar reads a scalar value (or a one-element tensor) as T.
func scalar[T kernels.Float](v gorgonia.Value) T {
	switch x := v.Data().(type) {
	case float32:
		return T(x)
	case float64:
		return T(x)
	case []float32:
		return T(x[0])
	case []float64:
		return T(x[0])
	}
	panic(fmt.Sprintf("graph: %T is not a float value", v.Data()))
}

// setScalar writes a scalar value.
func setScalar[T kernels.Float](v gorgonia.Value, x T) {
	switch s := v.(type) {
	case *gorgonia.F32:
		*s = gorgonia.F32(x)
	case *gorgonia.F64:
		*s = gorgonia.F64(x)
	default:
		switch d := v.Data().(type) {
		case []float32:
			d[0] = float32(x)
		case []float64:
			d[0] = float64(x)
		}
	}
}

// OpKind names an operation of this package without its settings ("Conv2D+ReLU",
// "BatchNorm2DGrad"), for profiles; any other operation is named by its String.
func OpKind(o gorgonia.Op) string {
	if p, ok := o.(op); ok {
		return p.k.kind()
	}
	return o.String()
}

// ReusesBuffers reports whether o computes correctly into a value it computed before (a
// VM's register): every operation of this package does, overwriting all of it, and so do
// Gorgonia's element-wise binary operations (among them the sums gorgonia.Grad adds where a
// value has several readers, as at a residual join). Gorgonia's other operations are not all
// safe so: some add into the buffer they are given (the gradient of Slice) or fail on it
// (Dropout), so a VM gives them a new value at each run.
func ReusesBuffers(o gorgonia.Op) bool {
	if _, ok := o.(op); ok {
		return true
	}
	return reflect.TypeOf(o) == elemBinOp
}

// elemBinOp is the type of Gorgonia's element-wise binary operations, and gorgoniaAdd the
// name of its addition.
var elemBinOp, gorgoniaAdd = func() (reflect.Type, string) {
	g := gorgonia.NewGraph()
	x := gorgonia.NewVector(g, tensor.Float32, gorgonia.WithShape(2), gorgonia.WithName("x"))
	add := gorgonia.Must(gorgonia.Add(x, x)).Op()
	return reflect.TypeOf(add), add.String()
}()

// Sum returns, for Gorgonia's element-wise addition of two tensors of one shape (the sums
// of gradients that gorgonia.Grad forms where a value has several readers), the same
// addition on the project's kernels (kernels.ApplyAdd) and true; for any other operation,
// or other inputs, nil and false. dt is the element type and in the shapes of o's inputs.
func Sum(o gorgonia.Op, dt tensor.Dtype, in ...tensor.Shape) (gorgonia.Op, bool) {
	if reflect.TypeOf(o) != elemBinOp || o.String() != gorgoniaAdd || len(in) != 2 ||
		in[0].IsScalar() || !in[0].Eq(in[1]) {
		return nil, false
	}
	switch dt {
	case tensor.Float32:
		return op{add[float32]{rank: in[0].Dims()}, dt}, true
	case tensor.Float64:
		return op{add[float64]{rank: in[0].Dims()}, dt}, true
	}
	return nil, false
}
