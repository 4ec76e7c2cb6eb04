package cost

import (
	"fmt"

	"github.com/nndl/cnn/kernels"
)

// Window is the geometry of a convolution or pooling window: kernel, stride, padding and
// dilation per axis, a convolution's groups and a pooling's ceil mode (K, S and P are the
// square shorthand; see kernels.ConvGeom).
type Window = kernels.ConvGeom

// Pair prints a per-axis setting as one number when both axes agree, as HxW otherwise.
func Pair(h, w int) string {
	if h == w {
		return fmt.Sprint(h)
	}
	return fmt.Sprintf("%dx%d", h, w)
}

// windowName prints a window's kernel, and its dilated extent when it is dilated: "5x5",
// "5x5 (3x3 dilated 2)".
func windowName(w Window) string {
	k := fmt.Sprintf("%dx%d", w.KH, w.KW)
	if w.DH == 1 && w.DW == 1 {
		return k
	}
	return fmt.Sprintf("%dx%d (%s dilated %s)", w.EffH(), w.EffW(), k, Pair(w.DH, w.DW))
}

// CheckWindow reports whether window w fits an input [N,C,H,W]: positive kernel, stride and
// dilation, padding not negative, and the dilated window inside the padded input.
func CheckWindow(w Window, in []int) error {
	if len(in) != 4 {
		return fmt.Errorf("input shape %v is not [N,C,H,W]", shape(in))
	}
	w = w.Norm()
	if w.KH < 1 || w.KW < 1 || w.SH < 1 || w.SW < 1 || w.PH < 0 || w.PW < 0 {
		return fmt.Errorf("kernel %s, stride %s, padding %s: want kernel and stride >= 1, padding >= 0",
			Pair(w.KH, w.KW), Pair(w.SH, w.SW), Pair(w.PH, w.PW))
	}
	if w.DH < 1 || w.DW < 1 || w.Groups < 1 {
		return fmt.Errorf("dilation %s, groups %d: want both >= 1", Pair(w.DH, w.DW), w.Groups)
	}
	if in[2]+2*w.PH < w.EffH() || in[3]+2*w.PW < w.EffW() {
		return fmt.Errorf("input %dx%d with padding %s is smaller than the %s window", in[2], in[3], Pair(w.PH, w.PW), windowName(w))
	}
	return nil
}

// grow sets how a window grows the receptive field: by its dilated extent, per axis.
func grow(c *Counts, w Window) {
	c.Window, c.Stride = w.EffH(), w.SH
	if w.EffW() != w.EffH() || w.SW != w.SH {
		c.WindowW, c.StrideW = w.EffW(), w.SW
	}
}

// Conv2D accounts a convolution of out filters over in [N,C,H,W]: each filter sees the
// C/Groups input channels of its group through a KHxKW kernel, its weights [out, C/Groups,
// KH, KW].
func Conv2D(in []int, out int, w Window, bias bool) ([]int, Counts, error) {
	if len(in) != 4 {
		return nil, Counts{}, fmt.Errorf("want a 4-D [N,C,H,W] input")
	}
	w = w.Norm()
	if out < 1 || w.KH < 1 || w.KW < 1 {
		return nil, Counts{}, fmt.Errorf("%d filters of %dx%d: want at least one filter of at least 1x1", out, w.KH, w.KW)
	}
	if err := CheckWindow(w, in); err != nil {
		return nil, Counts{}, err
	}
	if w.Ceil {
		return nil, Counts{}, fmt.Errorf("ceil mode is a pooling's: a convolution rounds its output size down")
	}
	if in[1]%w.Groups != 0 || out%w.Groups != 0 {
		return nil, Counts{}, fmt.Errorf("%d groups do not divide %d input channels into %d filters: want both divisible (weight [%d, %d/%d, %d, %d])",
			w.Groups, in[1], out, out, in[1], w.Groups, w.KH, w.KW)
	}
	shape := []int{in[0], out, w.OutH(in[2]), w.OutW(in[3])}
	b, kk := 0, int64(in[1]/w.Groups*w.KH*w.KW)
	if bias {
		b = 1
	}
	outN := numel(shape)
	macs := outN * kk
	c := Counts{
		Trainable: out*int(kk) + b*out, MACs: macs,
		PaddleFLOPs: outN * (kk + int64(b)), FLOPs: 2*macs + int64(b)*outN,
	}
	grow(&c, w)
	return shape, c, nil
}

// Pool2D accounts a max (avg false) or average pooling over in [N,C,H,W]. paddle.flops
// counts one per output of an average and nothing for a maximum.
func Pool2D(in []int, w Window, avg bool) ([]int, Counts, error) {
	if err := CheckWindow(w, in); err != nil {
		return nil, Counts{}, err
	}
	w = w.Norm()
	if w.DH != 1 || w.DW != 1 || w.Groups != 1 {
		return nil, Counts{}, fmt.Errorf("dilation %s, groups %d: a pooling window has neither", Pair(w.DH, w.DW), w.Groups)
	}
	if w.PH > w.KH/2 || w.PW > w.KW/2 {
		return nil, Counts{}, fmt.Errorf("padding %s is more than half the %dx%d window", Pair(w.PH, w.PW), w.KH, w.KW)
	}
	shape := []int{in[0], in[1], w.OutH(in[2]), w.OutW(in[3])}
	outN, area := numel(shape), int64(w.KH*w.KW)
	c := Counts{FLOPs: outN * (area - 1)}
	if avg {
		c.PaddleFLOPs, c.FLOPs = outN, outN*area
	}
	grow(&c, w)
	return shape, c, nil
}

// AdaptiveAvgPool2D accounts adaptive average pooling of in [N,C,H,W] to [N,C,oh,ow]:
// output row i averages input rows [floor(i*H/oh), ceil((i+1)*H/oh)), columns alike.
// paddle.flops counts out_numel*(kernel_area+1), its kernel (H/oh)x(W/ow) floored; FLOPs
// count each window's sum and division, window by window. The receptive field grows by the
// largest window and a stride of H/oh floored, at least 1.
func AdaptiveAvgPool2D(in []int, oh, ow int) ([]int, Counts, error) {
	if len(in) != 4 {
		return nil, Counts{}, fmt.Errorf("input shape %v is not [N,C,H,W]", shape(in))
	}
	if oh < 1 || ow < 1 {
		return nil, Counts{}, fmt.Errorf("output size %dx%d: want at least 1x1", oh, ow)
	}
	if int64(oh)*int64(ow) > 1<<28 {
		return nil, Counts{}, fmt.Errorf("output size %dx%d is larger than 2^28 elements", oh, ow)
	}
	if in[2] < 1 || in[3] < 1 {
		return nil, Counts{}, fmt.Errorf("input %dx%d is empty", in[2], in[3])
	}
	shape := []int{in[0], in[1], oh, ow}
	outN := numel(shape)
	rows, maxRows := adaptiveSpan(in[2], oh)
	cols, maxCols := adaptiveSpan(in[3], ow)
	kernel := int64(in[2]/oh) * int64(in[3]/ow)
	c := Counts{
		PaddleFLOPs: outN * (kernel + 1), FLOPs: int64(in[0]*in[1]) * rows * cols,
		Window: maxRows, Stride: max(in[2]/oh, 1),
	}
	if maxCols != maxRows || max(in[3]/ow, 1) != c.Stride {
		c.WindowW, c.StrideW = maxCols, max(in[3]/ow, 1)
	}
	return shape, c, nil
}

// adaptiveSpan returns, for adaptive windows over a side of n into o outputs, the sum of
// the windows' lengths and the longest.
func adaptiveSpan(n, o int) (sum int64, longest int) {
	for i := 0; i < o; i++ {
		lo, hi := kernels.AdaptiveBin(i, n, o)
		l := hi - lo
		sum += int64(l)
		longest = max(longest, l)
	}
	return sum, longest
}
