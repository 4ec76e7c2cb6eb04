package data

import "fmt"

// coeffs holds, for each output position along one axis, the first input index and the
// normalised weights of the inputs it reads.
type coeffs struct {
	first []int
	w     [][]float64
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
	c := coeffs{first: make([]int, out), w: make([][]float64, out)}
	for o := range out {
		center := (float64(o) + 0.5) * scale
		lo := max(int(center-support+0.5), 0)
		hi := min(int(center+support+0.5), in)
		w := make([]float64, hi-lo)
		var sum float64
		for i := range w {
			w[i] = triangle((float64(i+lo) - center + 0.5) / filterScale)
			sum += w[i]
		}
		if sum != 0 {
			for i := range w {
				w[i] /= sum
			}
		}
		c.first[o], c.w[o] = lo, w
	}
	return c
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

// resizer resamples images of one size to another, reusing its coefficients and its
// intermediate buffer.
type resizer struct {
	inH, inW, outH, outW int
	h, v                 coeffs
	tmp                  []float64 // inH x outW after the horizontal pass
}

func newResizer(inH, inW, outH, outW int) *resizer {
	return &resizer{
		inH: inH, inW: inW, outH: outH, outW: outW,
		h:   bilinearCoeffs(inW, outW),
		v:   bilinearCoeffs(inH, outH),
		tmp: make([]float64, inH*outW),
	}
}

// resize writes the resampled src (inH*inW values) into dst (outH*outW values): a
// horizontal pass then a vertical one, in float64 without intermediate rounding.
func (r *resizer) resize(dst []float32, src []float32) {
	for y := range r.inH {
		row := src[y*r.inW : (y+1)*r.inW]
		for x := range r.outW {
			lo := r.h.first[x]
			var acc float64
			for i, w := range r.h.w[x] {
				acc += w * float64(row[lo+i])
			}
			r.tmp[y*r.outW+x] = acc
		}
	}
	for y := range r.outH {
		lo := r.v.first[y]
		for x := range r.outW {
			var acc float64
			for i, w := range r.v.w[y] {
				acc += w * r.tmp[(lo+i)*r.outW+x]
			}
			dst[y*r.outW+x] = float32(acc)
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
	newResizer(inH, inW, outH, outW).resize(dst, src)
	return dst, nil
}

// Normalize maps a pixel value in [0, 255] to [-1, 1] as the chapter does: (v-127.5)/127.5.
func Normalize(v float32) float32 { return (v - 127.5) / 127.5 }

// Denormalize is the inverse of Normalize: it maps [-1, 1] back to [0, 255] (unclamped).
func Denormalize(v float32) float32 { return v*127.5 + 127.5 }
