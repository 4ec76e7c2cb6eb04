package graph

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/kernels"
	"github.com/nndl/cnn/kernels/purego"
)

// linear computes y = x w^T + b for x [N,in], w [out,in] (PyTorch's layout), b [out].
type linear[T kernels.Float] struct{ bias bool }

func (linear[T]) kind() string     { return "Linear" }
func (k linear[T]) String() string { return fmt.Sprintf("Linear(bias=%v)", k.bias) }
func (k linear[T]) dims() ([]int, int) {
	if k.bias {
		return []int{2, 2, 1}, 2
	}
	return []int{2, 2}, 2
}
func (k linear[T]) diffWRT() []bool {
	if k.bias {
		return []bool{true, true, true}
	}
	return []bool{true, true}
}
func (k linear[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	x, w := in[0], in[1]
	if len(x) != 2 || len(w) != 2 || x[1] != w[1] {
		return nil, fmt.Errorf("input shape %v does not fit weight %v (want [N,%d])", x, w, w[1])
	}
	if len(in) == 3 && (len(in[2]) != 1 || in[2][0] != w[0]) {
		return nil, fmt.Errorf("bias shape %v does not fit weight %v", in[2], w)
	}
	return tensor.Shape{x[0], w[0]}, nil
}
func (k linear[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	x, w := in[0].Shape(), in[1].Shape()
	n, din, dout := x[0], x[1], w[0]
	var b []T
	if k.bias {
		b = data[T](in[2])
	}
	y := data[T](out)
	var beta T
	if b != nil {
		for i := 0; i < n; i++ {
			copy(y[i*dout:(i+1)*dout], b)
		}
		beta = 1
	}
	kernels.Matmul(false, true, n, dout, din, 1, data[T](in[0]), din, data[T](in[1]), din, beta, y, dout)
	return nil
}

func (k linear[T]) grads(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	// dx = dy w ; dw = dy^T x ; db = sum_n dy
	dx, err := apply(matmul[T]{}, grad, in[1])
	if err != nil {
		return nil, err
	}
	dw, err := apply(matmul[T]{transA: true}, grad, in[0])
	if err != nil {
		return nil, err
	}
	if !k.bias {
		return gorgonia.Nodes{dx, dw}, nil
	}
	db, err := apply(biasGrad[T]{rank: 2}, grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dx, dw, db}, nil
}

// matmul computes op(a) b for 2-D a and b, op transposing a when transA is set.
type matmul[T kernels.Float] struct{ transA bool }

func (matmul[T]) kind() string         { return "MatMul" }
func (k matmul[T]) String() string     { return fmt.Sprintf("MatMul(transA=%v)", k.transA) }
func (k matmul[T]) dims() ([]int, int) { return []int{2, 2}, 2 }
func (k matmul[T]) rows(a tensor.Shape) (m, kk int) {
	if k.transA {
		return a[1], a[0]
	}
	return a[0], a[1]
}
func (k matmul[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	m, kk := k.rows(in[0])
	if in[1][0] != kk {
		return nil, fmt.Errorf("shapes %v and %v do not multiply", in[0], in[1])
	}
	return tensor.Shape{m, in[1][1]}, nil
}
func (k matmul[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	m, kk := k.rows(in[0].Shape())
	n := in[1].Shape()[1]
	lda := in[0].Shape()[1]
	kernels.Matmul(k.transA, false, m, n, kk, 1, data[T](in[0]), lda, data[T](in[1]), n, 0, data[T](out), n)
	return nil
}

// relu computes max(x, 0) element-wise; any rank.
type relu[T kernels.Float] struct{ rank int }

func (relu[T]) kind() string         { return "ReLU" }
func (k relu[T]) String() string     { return fmt.Sprintf("ReLU(rank %d)", k.rank) }
func (k relu[T]) dims() ([]int, int) { return []int{k.rank}, k.rank }
func (k relu[T]) diffWRT() []bool    { return []bool{true} }
func (k relu[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	return in[0].Clone(), nil
}
func (k relu[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	kernels.ApplyReLU(data[T](in[0]), data[T](out))
	return nil
}
func (k relu[T]) grads(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dx, err := apply(reluGrad[T](k), out, grad)
	return gorgonia.Nodes{dx}, err
}

func (k relu[T]) blocking([]tensor.Shape) Blocking               { return elementwise(1) }
func (k relu[T]) relayout(int, []bool, bool) (kernel, error)     { return k, nil }
func (k reluGrad[T]) blocking([]tensor.Shape) Blocking           { return elementwise(2) }
func (k reluGrad[T]) relayout(int, []bool, bool) (kernel, error) { return k, nil }

// reluGrad passes dy where the ReLU's output y is positive.
type reluGrad[T kernels.Float] relu[T]

func (reluGrad[T]) kind() string         { return "ReLUGrad" }
func (k reluGrad[T]) String() string     { return fmt.Sprintf("ReLUGrad(rank %d)", k.rank) }
func (k reluGrad[T]) dims() ([]int, int) { return []int{k.rank, k.rank}, k.rank }
func (k reluGrad[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	return in[0].Clone(), nil
}
func (k reluGrad[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	kernels.ApplyReLUBackward(data[T](in[0]), data[T](in[1]), data[T](out))
	return nil
}

// reshape copies its input into a new shape with the same number of elements.
type reshape[T kernels.Float] struct{ from, to tensor.Shape }

func (reshape[T]) kind() string         { return "Reshape" }
func (k reshape[T]) String() string     { return fmt.Sprintf("Reshape(%v->%v)", k.from, k.to) }
func (k reshape[T]) dims() ([]int, int) { return []int{len(k.from)}, len(k.to) }
func (k reshape[T]) diffWRT() []bool    { return []bool{true} }
func (k reshape[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	if in[0].TotalSize() != k.to.TotalSize() {
		return nil, fmt.Errorf("cannot reshape %v to %v", in[0], k.to)
	}
	return k.to.Clone(), nil
}
func (k reshape[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	copy(data[T](out), data[T](in[0]))
	return nil
}
func (k reshape[T]) grads(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dx, err := apply(reshape[T]{from: k.to, to: k.from}, grad)
	return gorgonia.Nodes{dx}, err
}

// softmaxCE is the mean softmax cross-entropy of logits [N,K] against class indices [N]
// (stored as floats), computed stably: log-softmax subtracts each row's maximum.
type softmaxCE[T kernels.Float] struct{}

func (softmaxCE[T]) kind() string       { return "SoftmaxCrossEntropy" }
func (softmaxCE[T]) String() string     { return "SoftmaxCrossEntropy" }
func (softmaxCE[T]) dims() ([]int, int) { return []int{2, 1}, 0 }
func (softmaxCE[T]) diffWRT() []bool    { return []bool{true, false} }
func (softmaxCE[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	if len(in[0]) != 2 || len(in[1]) != 1 || in[1][0] != in[0][0] {
		return nil, fmt.Errorf("logits %v and labels %v: want [N,K] and [N]", in[0], in[1])
	}
	return tensor.ScalarShape(), nil
}
func (softmaxCE[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	s := in[0].Shape()
	l, err := purego.CrossEntropy(s[0], s[1], data[T](in[0]), data[T](in[1]), nil, 0)
	setScalar(out, l)
	return err
}
func (softmaxCE[T]) grads(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dx, err := apply(softmaxCEGrad[T]{}, in[0], in[1], grad)
	return gorgonia.Nodes{dx, nil}, err
}

// softmaxCEGrad computes d(loss)/d(logits) from logits, labels and the scalar upstream
// gradient.
type softmaxCEGrad[T kernels.Float] struct{}

func (softmaxCEGrad[T]) kind() string       { return "SoftmaxCrossEntropyGrad" }
func (softmaxCEGrad[T]) String() string     { return "SoftmaxCrossEntropyGrad" }
func (softmaxCEGrad[T]) dims() ([]int, int) { return []int{2, 1, 0}, 2 }
func (softmaxCEGrad[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	return in[0].Clone(), nil
}
func (softmaxCEGrad[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	s := in[0].Shape()
	_, err := purego.CrossEntropy(s[0], s[1], data[T](in[0]), data[T](in[1]), data[T](out), scalar[T](in[2]))
	return err
}
