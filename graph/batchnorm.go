package graph

import (
	"fmt"
	"math"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BatchNorm settings of the chapter's code (Paddle's defaults, REFERENCE.md section 4).
const (
	// BatchNormEpsilon is added to the variance before its square root.
	BatchNormEpsilon = 1e-5
	// BatchNormMomentum is the weight of the old running statistics in Paddle's sense:
	// running = 0.9*running + 0.1*batch (PyTorch calls the same layer momentum 0.1).
	BatchNormMomentum = 0.9
)

// BatchNorm2D adds a batch normalisation layer over the channels of x [N,C,H,W]:
// y = (x - mean) / sqrt(var + eps) * scale + shift, per channel, with eps = 1e-5.
//
// Its parameters use PyTorch's names: name.weight (the scale, starting at 1) and name.bias
// (the shift, starting at 0) are trainable; name.running_mean (starting at 0) and
// name.running_var (starting at 1) are buffers, saved with the weights but not trained.
//
// In training mode (Net.Training) the layer normalises with the statistics of the batch
// (biased variance) and, as a side effect of every forward pass, updates the buffers:
// running = 0.9*running + 0.1*batch, with the batch variance unbiased (divided by n-1).
// Batch statistics need more than one value per channel (N*H*W > 1): otherwise running the
// forward pass fails, as PyTorch's does. In inference mode the layer normalises with the
// buffers and leaves them alone. Both modes have exact gradients.
//
// Accounting: 2C trainable values and 2C buffers. paddle.flops counts 2 per input element;
// FLOPs counts the same, one multiply and one add per element once each channel's
// normalisation and affine map are folded into y = a*x + b (the per-channel statistics,
// O(C) work, and the statistics pass over the batch in training are not counted).
// The receptive field is unchanged.
func (n *Net) BatchNorm2D(name string, x *gorgonia.Node) *gorgonia.Node {
	name = n.fullName(name, "BatchNorm2D")
	if n.err != nil {
		return x
	}
	xs := x.Shape()
	if len(xs) != 4 {
		n.fail(name, "BatchNorm2D", x, fmt.Errorf("want a 4-D [N,C,H,W] input"))
		return x
	}
	k := batchNorm{training: n.training, eps: BatchNormEpsilon, momentum: BatchNormMomentum}
	c := xs[1]
	in := []*gorgonia.Node{x}
	for _, p := range []struct {
		suffix    string
		trainable bool
		init      Init
	}{
		{".weight", true, Ones},
		{".bias", true, Zeros},
		{".running_mean", false, Zeros},
		{".running_var", false, Ones},
	} {
		node, err := n.param(name+p.suffix, tensor.Shape{c}, p.trainable, p.init, 0, 0)
		if err != nil {
			n.fail(name, "BatchNorm2D", x, err)
			return x
		}
		in = append(in, node)
	}
	numel := int64(xs.TotalSize())
	l := &Layer{
		Name: name, Type: "BatchNorm2D",
		Trainable: 2 * c, Buffers: 2 * c,
		PaddleFLOPs: 2 * numel, FLOPs: 2 * numel,
		Attrs: fmt.Sprintf("%d eps %g momentum %g", c, k.eps, k.momentum),
	}
	if k.training {
		l.Attrs += " batch statistics"
	} else {
		l.Attrs += " running statistics"
	}
	out := n.add(l, k, in...)
	if out != x {
		r := n.rf[x]
		n.setRF(out, r[0], r[1])
	}
	return out
}

// batchNorm normalises x [N,C,H,W] per channel. Inputs: x, scale [C], shift [C], running
// mean [C], running variance [C]; only the first three are differentiated. In training mode
// the forward pass normalises with the batch statistics and updates the running statistics
// in place; in inference mode it reads them.
type batchNorm struct {
	training      bool
	eps, momentum float64
	relu          bool // apply a following ReLU too (see Fuse)
}

func (k batchNorm) String() string {
	mode := "inference"
	if k.training {
		mode = "training"
	}
	return fmt.Sprintf("BatchNorm2D(%s eps=%g momentum=%g)%s", mode, k.eps, k.momentum, reluSuffix(k.relu))
}

func (k batchNorm) withReLU() kernel   { k.relu = true; return k }
func (k batchNorm) dims() ([]int, int) { return []int{4, 1, 1, 1, 1}, 4 }
func (k batchNorm) diffWRT() []bool    { return []bool{true, true, true, false, false} }

func (k batchNorm) shape(in ...tensor.Shape) (tensor.Shape, error) {
	if len(in[0]) != 4 {
		return nil, fmt.Errorf("input shape %v is not [N,C,H,W]", in[0])
	}
	if err := channelShapes(in[0], in[1:5]...); err != nil {
		return nil, err
	}
	return in[0].Clone(), nil
}

// channelShapes checks that each of per is [C] for x [N,C,H,W].
func channelShapes(x tensor.Shape, per ...tensor.Shape) error {
	for _, s := range per {
		if len(s) != 1 || s[0] != x[1] {
			return fmt.Errorf("per-channel shape %v does not fit input %v (want [%d])", s, x, x[1])
		}
	}
	return nil
}

func (k batchNorm) do(out gorgonia.Value, in ...gorgonia.Value) error {
	s := in[0].Shape()
	if m := s[0] * s[2] * s[3]; k.training && m < 2 {
		return fmt.Errorf("batch statistics need more than one value per channel, got %d (batch %d of %dx%d maps)", m, s[0], s[2], s[3])
	}
	switch out.Dtype() {
	case tensor.Float32:
		bnForward(k, s, data[float32](in[0]), data[float32](in[1]), data[float32](in[2]), data[float32](in[3]), data[float32](in[4]), data[float32](out))
	case tensor.Float64:
		bnForward(k, s, data[float64](in[0]), data[float64](in[1]), data[float64](in[2]), data[float64](in[3]), data[float64](in[4]), data[float64](out))
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
	return nil
}

// bnForward normalises x [N,C,H,W] per channel. The workers split the channels; each reads
// and writes its channels image by image, in memory order, as deep layers have maps of a
// few values.
func bnForward[T Float](k batchNorm, s tensor.Shape, x, scale, shift, rmean, rvar, y []T) {
	n, c, hw := s[0], s[1], s[2]*s[3]
	parallel(c, func(_, lo, hi int) {
		buf, w := borrow(hi - lo)
		defer giveBack(buf)
		mean, a := w[0], w[1]
		if k.training {
			channelStats(n, c, hw, lo, hi, x, mean, a)
			m := float64(n * hw)
			for ch := lo; ch < hi; ch++ {
				rmean[ch] = T(k.momentum*float64(rmean[ch]) + (1-k.momentum)*mean[ch-lo])
				rvar[ch] = T(k.momentum*float64(rvar[ch]) + (1-k.momentum)*a[ch-lo]*m/(m-1))
			}
		} else {
			for ch := lo; ch < hi; ch++ {
				mean[ch-lo], a[ch-lo] = float64(rmean[ch]), float64(rvar[ch])
			}
		}
		for ch := lo; ch < hi; ch++ {
			a[ch-lo] = float64(scale[ch]) / math.Sqrt(a[ch-lo]+k.eps)
		}
		for i := 0; i < n; i++ {
			for ch := lo; ch < hi; ch++ {
				o := (i*c + ch) * hw
				yc, mu, ac, b := y[o:o+hw], mean[ch-lo], a[ch-lo], float64(shift[ch])
				if k.relu {
					for j, v := range x[o : o+hw] {
						yc[j] = max(T((float64(v)-mu)*ac+b), 0)
					}
					continue
				}
				for j, v := range x[o : o+hw] {
					yc[j] = T((float64(v)-mu)*ac + b)
				}
			}
		}
	})
}

// sum64 adds up v in float64, in two interleaved sums (see sum).
func sum64[T Float](v []T) float64 {
	var a0, a1 float64
	i := 0
	for ; i+2 <= len(v); i += 2 {
		a0 += float64(v[i])
		a1 += float64(v[i+1])
	}
	if i < len(v) {
		a0 += float64(v[i])
	}
	return a0 + a1
}

// sqDev64 returns the sum of (v - mu)^2 in float64, in two interleaved sums.
func sqDev64[T Float](v []T, mu float64) float64 {
	var a0, a1 float64
	i := 0
	for ; i+2 <= len(v); i += 2 {
		d0, d1 := float64(v[i])-mu, float64(v[i+1])-mu
		a0 += d0 * d0
		a1 += d1 * d1
	}
	if i < len(v) {
		d := float64(v[i]) - mu
		a0 += d * d
	}
	return a0 + a1
}

// gradSums64 returns the sums of dy and of dy*(x - mu) in float64, in two interleaved sums each.
func gradSums64[T Float](dy, x []T, mu float64) (sumDy, sumDyX float64) {
	var a0, a1, b0, b1 float64
	x = x[:len(dy)]
	i := 0
	for ; i+2 <= len(dy); i += 2 {
		g0, g1 := float64(dy[i]), float64(dy[i+1])
		a0 += g0
		a1 += g1
		b0 += g0 * (float64(x[i]) - mu)
		b1 += g1 * (float64(x[i+1]) - mu)
	}
	if i < len(dy) {
		g := float64(dy[i])
		a0 += g
		b0 += g * (float64(x[i]) - mu)
	}
	return a0 + a1, b0 + b1
}

// channelStats sets mean and variance to the mean and the biased variance of channels
// [lo,hi) of x [N,C,HW], accumulated in float64 in two passes.
func channelStats[T Float](n, c, hw, lo, hi int, x []T, mean, variance []float64) {
	clear(mean)
	clear(variance)
	for i := 0; i < n; i++ {
		for ch := lo; ch < hi; ch++ {
			mean[ch-lo] += sum64(x[(i*c+ch)*hw : (i*c+ch+1)*hw])
		}
	}
	m := float64(n * hw)
	for ch := range mean {
		mean[ch] /= m
	}
	for i := 0; i < n; i++ {
		for ch := lo; ch < hi; ch++ {
			variance[ch-lo] += sqDev64(x[(i*c+ch)*hw:(i*c+ch+1)*hw], mean[ch-lo])
		}
	}
	for ch := range variance {
		variance[ch] /= m
	}
}

func (k batchNorm) grads(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	args := gorgonia.Nodes{in[0], in[1], in[3], in[4], grad}
	dx, err := apply(batchNormGrad{k, false}, args...)
	if err != nil {
		return nil, err
	}
	dscale, err := apply(batchNormGrad{k, true}, args...)
	if err != nil {
		return nil, err
	}
	dshift, err := apply(biasGrad{rank: 4}, grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dx, dscale, dshift, nil, nil}, nil
}

// batchNormGrad computes d(loss)/dx, or d(loss)/d(scale) when scale is set, from x, scale,
// running mean, running variance and dy. In training mode, with xhat the normalised input,
// m = N*H*W and the sums over a channel,
//
//	dscale = sum(dy*xhat),  dx = scale/sqrt(var+eps) * (dy - sum(dy)/m - xhat*dscale/m);
//
// in inference mode the statistics are constants and dx = dy*scale/sqrt(var+eps).
type batchNormGrad struct {
	bn    batchNorm
	scale bool
}

func (k batchNormGrad) String() string {
	wrt := "x"
	if k.scale {
		wrt = "scale"
	}
	return fmt.Sprintf("BatchNorm2DGrad(%s, %v)", wrt, k.bn)
}
func (k batchNormGrad) dims() ([]int, int) {
	if k.scale {
		return []int{4, 1, 1, 1, 4}, 1
	}
	return []int{4, 1, 1, 1, 4}, 4
}
func (k batchNormGrad) shape(in ...tensor.Shape) (tensor.Shape, error) {
	x := in[0]
	if len(x) != 4 || !in[4].Eq(x) {
		return nil, fmt.Errorf("input %v and gradient %v: want the same [N,C,H,W] shape", x, in[4])
	}
	if err := channelShapes(x, in[1:4]...); err != nil {
		return nil, err
	}
	if k.scale {
		return tensor.Shape{x[1]}, nil
	}
	return x.Clone(), nil
}
func (k batchNormGrad) do(out gorgonia.Value, in ...gorgonia.Value) error {
	s := in[0].Shape()
	switch out.Dtype() {
	case tensor.Float32:
		bnBackward(k, s, data[float32](in[0]), data[float32](in[1]), data[float32](in[2]), data[float32](in[3]), data[float32](in[4]), data[float32](out))
	case tensor.Float64:
		bnBackward(k, s, data[float64](in[0]), data[float64](in[1]), data[float64](in[2]), data[float64](in[3]), data[float64](in[4]), data[float64](out))
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
	return nil
}

// bnBackward writes dx [N,C,H,W] or, with k.scale, dscale [C]. As in bnForward, the workers
// split the channels and go through them in memory order.
func bnBackward[T Float](k batchNormGrad, s tensor.Shape, x, scale, rmean, rvar, dy, out []T) {
	n, c, hw := s[0], s[1], s[2]*s[3]
	m := float64(n * hw)
	parallel(c, func(_, lo, hi int) {
		buf, w := borrow(hi - lo)
		defer giveBack(buf)
		mean, inv := w[0], w[1]
		if k.bn.training {
			channelStats(n, c, hw, lo, hi, x, mean, inv)
		} else {
			for ch := lo; ch < hi; ch++ {
				mean[ch-lo], inv[ch-lo] = float64(rmean[ch]), float64(rvar[ch])
			}
		}
		for i, v := range inv {
			inv[i] = 1 / math.Sqrt(v+k.bn.eps)
		}
		if !k.scale && !k.bn.training {
			for i := 0; i < n; i++ {
				for ch := lo; ch < hi; ch++ {
					o := (i*c + ch) * hw
					a, dx := float64(scale[ch])*inv[ch-lo], out[o:o+hw]
					for j, g := range dy[o : o+hw] {
						dx[j] = T(float64(g) * a)
					}
				}
			}
			return
		}
		sumDy, sumDyXhat := w[2], w[3]
		for i := 0; i < n; i++ {
			for ch := lo; ch < hi; ch++ {
				o := (i*c + ch) * hw
				s1, s2 := gradSums64(dy[o:o+hw], x[o:o+hw], mean[ch-lo])
				sumDy[ch-lo] += s1
				sumDyXhat[ch-lo] += s2 * inv[ch-lo]
			}
		}
		if k.scale {
			for ch := lo; ch < hi; ch++ {
				out[ch] = T(sumDyXhat[ch-lo])
			}
			return
		}
		for i := 0; i < n; i++ {
			for ch := lo; ch < hi; ch++ {
				o := (i*c + ch) * hw
				xc, dx, mu, iv := x[o:o+hw], out[o:o+hw], mean[ch-lo], inv[ch-lo]
				a, mDy, mDs := float64(scale[ch])*iv, sumDy[ch-lo]/m, sumDyXhat[ch-lo]/m
				for j, g := range dy[o : o+hw] {
					xhat := (float64(xc[j]) - mu) * iv
					dx[j] = T(a * (float64(g) - mDy - xhat*mDs))
				}
			}
		}
	})
}
