package data

import "fmt"

// coeffs holds, for each output position along one axis, the first input index and the
// number of inputs it reads, with what their weights are computed from (see weight), so
// that the coefficients take 32 bytes an output however long the input is.
type coeffs struct {
	filterScale float64
	first, n    []int
	center, sum []float64
}

// bilinearCoeffs computes the weights of PIL's BILINEAR resample along one axis of in
// samples resized to out samples: a triangle filter centred on the output pixel's centre
// mapped into the input ((o+0.5)*in/out), its support widened by in/out when
// downscaling (antialiasing), the weights of each output normalised to sum to one. For
// upscaling this is bilinear interpolation with half-pixel centres and edge clamping,
// the same as PyTorch's bilinear mode with align_corners=False.
func bilinearCoeffs(in, out int) coeffs {
	scale := float64(in) / float64(out)
	filterScale := max(scale, 1)
	support := 1.0 * filterScale // the triangle's support is 1
	c := coeffs{filterScale: filterScale, first: make([]int, out), n: make([]int, out),
		center: make([]float64, out), sum: make([]float64, out)}
	for o := range out {
		center := (float64(o) + 0.5) * scale
		lo := max(int(center-support+0.5), 0)
		hi := min(int(center+support+0.5), in)
		var sum float64
		for i := lo; i < hi; i++ {
			sum += triangle((float64(i) - center + 0.5) / filterScale)
		}
		c.first[o], c.n[o], c.center[o], c.sum[o] = lo, hi-lo, center, sum
	}
	return c
}

// weight returns the normalised weight of input c.first[o]+i in output o.
func (c *coeffs) weight(o, i int) float64 {
	w := triangle((float64(c.first[o]+i) - c.center[o] + 0.5) / c.filterScale)
	if c.sum[o] != 0 {
		w /= c.sum[o]
	}
	return w
}

// triangle is the bilinear filter: 1-|x| on (-1, 1), 0 elsewhere.
func triangle(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}

// resizer resamples images of one size to another, reusing its coefficients and buffers.
// It runs the two passes in the order whose intermediate image is the smaller, so that
// its buffers never exceed the larger of the input and the output (see resizeBytes).
type resizer struct {
	inH, inW, outH, outW int
	h, v                 coeffs
	rowsFirst            bool      // the horizontal pass first
	tmp                  []float64 // inH x outW (rows first) or outH x inW
	acc                  []float64 // outH x outW
}

func newResizer(inH, inW, outH, outW int) *resizer {
	r := &resizer{
		inH: inH, inW: inW, outH: outH, outW: outW,
		h:         bilinearCoeffs(inW, outW),
		v:         bilinearCoeffs(inH, outH),
		rowsFirst: int64(inH)*int64(outW) <= int64(outH)*int64(inW),
		acc:       make([]float64, outH*outW),
	}
	if r.rowsFirst {
		r.tmp = make([]float64, inH*outW)
	} else {
		r.tmp = make([]float64, outH*inW)
	}
	return r
}

// resizeBytes bounds what newResizer allocates plus the float32 output (Resize's, or the
// caller's): 8 bytes for each value of the smaller intermediate image and of the output
// in float64, 4 for the output, 32 for each output row and column's coefficients.
func resizeBytes(inH, inW, outH, outW int) int64 {
	ih, iw, oh, ow := int64(inH), int64(inW), int64(outH), int64(outW)
	return 8*min(ih*ow, oh*iw) + 12*oh*ow + 32*(oh+ow) + 1024
}

// resize writes the resampled src (inH*inW values) into dst (outH*outW values): one pass
// along each axis, in float64 without intermediate rounding.
func resize[T uint8 | float32](r *resizer, dst []float32, src []T) {
	clear(r.tmp)
	clear(r.acc)
	if r.rowsFirst {
		pass(r.tmp, src, &r.h, r.inH, r.inW, 1, r.outW, 1)     // along each input row
		pass(r.acc, r.tmp, &r.v, r.outW, 1, r.outW, 1, r.outW) // down each column
	} else {
		pass(r.tmp, src, &r.v, r.inW, 1, r.inW, 1, r.inW)     // down each input column
		pass(r.acc, r.tmp, &r.h, r.outH, r.inW, 1, r.outW, 1) // along each row
	}
	for i, v := range r.acc {
		dst[i] = float32(v)
	}
}

// pass resamples src along one axis with the weights c, for each of lines lines: it adds
// to dst[l*dLine + o*dStep] the weighted inputs src[l*sLine + k*sStep] of output o, for
// every input k that output o reads. Each weight is computed once per pass.
func pass[T uint8 | float32 | float64](dst []float64, src []T, c *coeffs, lines, sLine, sStep, dLine, dStep int) {
	for o, first := range c.first {
		for i := range c.n[o] {
			w := c.weight(o, i)
			s, d := (first+i)*sStep, o*dStep
			for range lines {
				dst[d] += w * float64(src[s])
				s += sLine
				d += dLine
			}
		}
	}
}

// Resize resamples a grey image of inH x inW values (row-major) to outH x outW as PIL's
// Image.resize with the BILINEAR filter does on a float ("F") image: a separable triangle
// filter on half-pixel centres, widened by in/out when shrinking (so downscaling
// antialiases), weights normalised, no rounding in between. For upscaling it equals
// PyTorch's F.interpolate(mode="bilinear", align_corners=False). It returns a new slice.
func Resize(src []float32, inH, inW, outH, outW int) ([]float32, error) {
	if inH <= 0 || inW <= 0 || outH <= 0 || outW <= 0 {
		return nil, fmt.Errorf("data: resize %dx%d to %dx%d: sizes must be positive", inH, inW, outH, outW)
	}
	if len(src) != inH*inW {
		return nil, fmt.Errorf("data: resize: image has %d values, want %dx%d = %d", len(src), inH, inW, inH*inW)
	}
	dst := make([]float32, outH*outW)
	resize(newResizer(inH, inW, outH, outW), dst, src)
	return dst, nil
}

// Normalize maps a pixel value in [0, 255] to [-1, 1] as the chapter does: (v-127.5)/127.5.
func Normalize(v float32) float32 { return (v - 127.5) / 127.5 }

// Denormalize is the inverse of Normalize: it maps [-1, 1] back to [0, 255] (unclamped).
func Denormalize(v float32) float32 { return v*127.5 + 127.5 }
