package graph

import (
	"fmt"
	"math"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// linear computes y = x w^T + b for x [N,in], w [out,in] (PyTorch's layout), b [out].
type linear struct{ bias bool }

func (k linear) String() string { return fmt.Sprintf("Linear(bias=%v)", k.bias) }
func (k linear) dims() ([]int, int) {
	if k.bias {
		return []int{2, 2, 1}, 2
	}
	return []int{2, 2}, 2
}
func (k linear) diffWRT() []bool {
	if k.bias {
		return []bool{true, true, true}
	}
	return []bool{true, true}
}
func (k linear) shape(in ...tensor.Shape) (tensor.Shape, error) {
	x, w := in[0], in[1]
	if len(x) != 2 || len(w) != 2 || x[1] != w[1] {
		return nil, fmt.Errorf("input shape %v does not fit weight %v (want [N,%d])", x, w, w[1])
	}
	if len(in) == 3 && (len(in[2]) != 1 || in[2][0] != w[0]) {
		return nil, fmt.Errorf("bias shape %v does not fit weight %v", in[2], w)
	}
	return tensor.Shape{x[0], w[0]}, nil
}
func (k linear) do(out gorgonia.Value, in ...gorgonia.Value) error {
	x, w := in[0].Shape(), in[1].Shape()
	n, din, dout := x[0], x[1], w[0]
	switch out.Dtype() {
	case tensor.Float32:
		var b []float32
		if k.bias {
			b = data[float32](in[2])
		}
		linearForward(n, din, dout, data[float32](in[0]), data[float32](in[1]), b, data[float32](out))
	case tensor.Float64:
		var b []float64
		if k.bias {
			b = data[float64](in[2])
		}
		linearForward(n, din, dout, data[float64](in[0]), data[float64](in[1]), b, data[float64](out))
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
	return nil
}

func linearForward[T Float](n, din, dout int, x, w, b, y []T) {
	var beta T
	if b != nil {
		for i := 0; i < n; i++ {
			copy(y[i*dout:(i+1)*dout], b)
		}
		beta = 1
	}
	gemm(false, true, n, dout, din, 1, x, din, w, din, beta, y, dout)
}

func (k linear) grads(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	// dx = dy w ; dw = dy^T x ; db = sum_n dy
	dx, err := apply(matmul{}, grad, in[1])
	if err != nil {
		return nil, err
	}
	dw, err := apply(matmul{transA: true}, grad, in[0])
	if err != nil {
		return nil, err
	}
	if !k.bias {
		return gorgonia.Nodes{dx, dw}, nil
	}
	db, err := apply(biasGrad{rank: 2}, grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dx, dw, db}, nil
}

// matmul computes op(a) b for 2-D a and b, op transposing a when transA is set.
type matmul struct{ transA bool }

func (k matmul) String() string     { return fmt.Sprintf("MatMul(transA=%v)", k.transA) }
func (k matmul) dims() ([]int, int) { return []int{2, 2}, 2 }
func (k matmul) rows(a tensor.Shape) (m, kk int) {
	if k.transA {
		return a[1], a[0]
	}
	return a[0], a[1]
}
func (k matmul) shape(in ...tensor.Shape) (tensor.Shape, error) {
	m, kk := k.rows(in[0])
	if in[1][0] != kk {
		return nil, fmt.Errorf("shapes %v and %v do not multiply", in[0], in[1])
	}
	return tensor.Shape{m, in[1][1]}, nil
}
func (k matmul) do(out gorgonia.Value, in ...gorgonia.Value) error {
	m, kk := k.rows(in[0].Shape())
	n := in[1].Shape()[1]
	lda := in[0].Shape()[1]
	switch out.Dtype() {
	case tensor.Float32:
		gemm(k.transA, false, m, n, kk, 1, data[float32](in[0]), lda, data[float32](in[1]), n, 0, data[float32](out), n)
	case tensor.Float64:
		gemm(k.transA, false, m, n, kk, 1, data[float64](in[0]), lda, data[float64](in[1]), n, 0, data[float64](out), n)
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
	return nil
}

// relu computes max(x, 0) element-wise; any rank.
type relu struct{ rank int }

func (k relu) String() string     { return fmt.Sprintf("ReLU(rank %d)", k.rank) }
func (k relu) dims() ([]int, int) { return []int{k.rank}, k.rank }
func (k relu) diffWRT() []bool    { return []bool{true} }
func (k relu) shape(in ...tensor.Shape) (tensor.Shape, error) {
	return in[0].Clone(), nil
}
func (k relu) do(out gorgonia.Value, in ...gorgonia.Value) error {
	switch out.Dtype() {
	case tensor.Float32:
		reluForward(data[float32](in[0]), data[float32](out))
	case tensor.Float64:
		reluForward(data[float64](in[0]), data[float64](out))
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
	return nil
}
func (k relu) grads(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dx, err := apply(reluGrad(k), out, grad)
	return gorgonia.Nodes{dx}, err
}

func reluForward[T Float](x, y []T) {
	parallel(len(x), func(_, lo, hi int) {
		if reluNative(x[lo:hi], y[lo:hi]) {
			return
		}
		for i, v := range x[lo:hi] {
			y[lo+i] = max(v, 0)
		}
	})
}

// reluGrad passes dy where the ReLU's output y is positive.
type reluGrad relu

func (k reluGrad) String() string     { return fmt.Sprintf("ReLUGrad(rank %d)", k.rank) }
func (k reluGrad) dims() ([]int, int) { return []int{k.rank, k.rank}, k.rank }
func (k reluGrad) shape(in ...tensor.Shape) (tensor.Shape, error) {
	return in[0].Clone(), nil
}
func (k reluGrad) do(out gorgonia.Value, in ...gorgonia.Value) error {
	switch out.Dtype() {
	case tensor.Float32:
		reluBackward(data[float32](in[0]), data[float32](in[1]), data[float32](out))
	case tensor.Float64:
		reluBackward(data[float64](in[0]), data[float64](in[1]), data[float64](out))
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
	return nil
}

func reluBackward[T Float](y, dy, dx []T) {
	parallel(len(y), func(_, lo, hi int) {
		if reluGradNative(y[lo:hi], dy[lo:hi], dx[lo:hi]) {
			return
		}
		for i, v := range y[lo:hi] {
			if v > 0 {
				dx[lo+i] = dy[lo+i]
			} else {
				dx[lo+i] = 0
			}
		}
	})
}

// reshape copies its input into a new shape with the same number of elements.
type reshape struct{ from, to tensor.Shape }

func (k reshape) String() string     { return fmt.Sprintf("Reshape(%v->%v)", k.from, k.to) }
func (k reshape) dims() ([]int, int) { return []int{len(k.from)}, len(k.to) }
func (k reshape) diffWRT() []bool    { return []bool{true} }
func (k reshape) shape(in ...tensor.Shape) (tensor.Shape, error) {
	if in[0].TotalSize() != k.to.TotalSize() {
		return nil, fmt.Errorf("cannot reshape %v to %v", in[0], k.to)
	}
	return k.to.Clone(), nil
}
func (k reshape) do(out gorgonia.Value, in ...gorgonia.Value) error {
	switch out.Dtype() {
	case tensor.Float32:
		copy(data[float32](out), data[float32](in[0]))
	case tensor.Float64:
		copy(data[float64](out), data[float64](in[0]))
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
	return nil
}
func (k reshape) grads(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dx, err := apply(reshape{from: k.to, to: k.from}, grad)
	return gorgonia.Nodes{dx}, err
}

// softmaxCE is the mean softmax cross-entropy of logits [N,K] against class indices [N]
// (stored as floats), computed stably: log-softmax subtracts each row's maximum.
type softmaxCE struct{}

func (softmaxCE) String() string     { return "SoftmaxCrossEntropy" }
func (softmaxCE) dims() ([]int, int) { return []int{2, 1}, 0 }
func (softmaxCE) diffWRT() []bool    { return []bool{true, false} }
func (softmaxCE) shape(in ...tensor.Shape) (tensor.Shape, error) {
	if len(in[0]) != 2 || len(in[1]) != 1 || in[1][0] != in[0][0] {
		return nil, fmt.Errorf("logits %v and labels %v: want [N,K] and [N]", in[0], in[1])
	}
	return tensor.ScalarShape(), nil
}
func (softmaxCE) do(out gorgonia.Value, in ...gorgonia.Value) error {
	s := in[0].Shape()
	switch in[0].Dtype() {
	case tensor.Float32:
		l, err := crossEntropy(s[0], s[1], data[float32](in[0]), data[float32](in[1]), nil, 0)
		setScalar(out, l)
		return err
	case tensor.Float64:
		l, err := crossEntropy(s[0], s[1], data[float64](in[0]), data[float64](in[1]), nil, 0)
		setScalar(out, l)
		return err
	}
	return fmt.Errorf("unsupported dtype %v", in[0].Dtype())
}
func (softmaxCE) grads(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dx, err := apply(softmaxCEGrad{}, in[0], in[1], grad)
	return gorgonia.Nodes{dx, nil}, err
}

// crossEntropy returns the mean loss; with d != nil it also writes d(loss)/d(logits)
// scaled by g: g*(softmax - onehot)/N.
func crossEntropy[T Float](n, k int, logits, labels, d []T, g T) (T, error) {
	var total float64
	for i := 0; i < n; i++ {
		row := logits[i*k : (i+1)*k]
		y := int(labels[i])
		if y < 0 || y >= k || T(y) != labels[i] {
			return 0, fmt.Errorf("label %v of sample %d is not a class in [0,%d)", labels[i], i, k)
		}
		m := row[0]
		for _, v := range row {
			m = max(m, v)
		}
		var sum float64
		for _, v := range row {
			sum += math.Exp(float64(v - m))
		}
		lse := float64(m) + math.Log(sum)
		total += lse - float64(row[y])
		if d != nil {
			dr := d[i*k : (i+1)*k]
			for j, v := range row {
				dr[j] = T(math.Exp(float64(v)-lse)) * g / T(n)
			}
			dr[y] -= g / T(n)
		}
	}
	return T(total / float64(n)), nil
}

// softmaxCEGrad computes d(loss)/d(logits) from logits, labels and the scalar upstream
// gradient.
type softmaxCEGrad struct{}

func (softmaxCEGrad) String() string     { return "SoftmaxCrossEntropyGrad" }
func (softmaxCEGrad) dims() ([]int, int) { return []int{2, 1, 0}, 2 }
func (softmaxCEGrad) shape(in ...tensor.Shape) (tensor.Shape, error) {
	return in[0].Clone(), nil
}
func (softmaxCEGrad) do(out gorgonia.Value, in ...gorgonia.Value) error {
	s := in[0].Shape()
	switch out.Dtype() {
	case tensor.Float32:
		_, err := crossEntropy(s[0], s[1], data[float32](in[0]), data[float32](in[1]), data[float32](out), scalar[float32](in[2]))
		return err
	case tensor.Float64:
		_, err := crossEntropy(s[0], s[1], data[float64](in[0]), data[float64](in[1]), data[float64](out), scalar[float64](in[2]))
		return err
	}
	return fmt.Errorf("unsupported dtype %v", out.Dtype())
}
