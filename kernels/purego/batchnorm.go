package purego

import "github.com/nndl/cnn/kernels"

// kernels.BatchNormForward, BatchNormGradSums and BatchNormGradX run a BatchNorm layer on the
// fastest BatchNorm passes registered; these below serve where no other implementation does.

// BatchNormSums adds each plane in two interleaved sums of each kind, in float64.
func (impl[T]) BatchNormSums(n, c, hw, c0, c1 int, x, dy []T, k, s []float64) {
	for q := c0; q < c1; q++ {
		var s0, s1, s2, s3 float64
		for i := 0; i < n; i++ {
			o := (i*c + q) * hw
			if dy == nil {
				a, b := shiftedSums(x[o:o+hw], k[q])
				s0, s1 = s0+a, s1+b
				continue
			}
			a, b, g, h := shiftedGradSums(x[o:o+hw], dy[o:o+hw], k[q])
			s0, s1, s2, s3 = s0+a, s1+b, s2+g, s3+h
		}
		s[4*q], s[4*q+1], s[4*q+2], s[4*q+3] = s0, s1, s2, s3
	}
}

// shiftedSums returns the sums of x-k and (x-k)^2 in float64, in two interleaved sums each.
func shiftedSums[T kernels.Float](x []T, k float64) (sum, sq float64) {
	var a0, a1, b0, b1 float64
	i := 0
	for ; i+2 <= len(x); i += 2 {
		d0, d1 := float64(x[i])-k, float64(x[i+1])-k
		a0, a1 = a0+d0, a1+d1
		b0, b1 = b0+d0*d0, b1+d1*d1
	}
	if i < len(x) {
		d := float64(x[i]) - k
		a0, b0 = a0+d, b0+d*d
	}
	return a0 + a1, b0 + b1
}

// shiftedGradSums returns the sums of x-k, (x-k)^2, dy and dy*(x-k) in float64.
func shiftedGradSums[T kernels.Float](x, dy []T, k float64) (sum, sq, sumDy, sumDyX float64) {
	dy = dy[:len(x)]
	for i, v := range x {
		d, g := float64(v)-k, float64(dy[i])
		sum += d
		sq += d * d
		sumDy += g
		sumDyX += g * d
	}
	return sum, sq, sumDy, sumDyX
}

func (impl[T]) BatchNormApply(n, c, hw, c0, c1 int, x, y []T, p []float64, relu bool) {
	for i := 0; i < n; i++ {
		for q := c0; q < c1; q++ {
			o := (i*c + q) * hw
			yc, mu, a, b := y[o:o+hw], p[3*q], p[3*q+1], p[3*q+2]
			if relu {
				for j, v := range x[o : o+hw] {
					yc[j] = max(T((float64(v)-mu)*a+b), 0)
				}
				continue
			}
			for j, v := range x[o : o+hw] {
				yc[j] = T((float64(v)-mu)*a + b)
			}
		}
	}
}

func (impl[T]) BatchNormGrad(n, c, hw, c0, c1 int, x, dy, dx []T, p []float64) {
	for i := 0; i < n; i++ {
		for q := c0; q < c1; q++ {
			o := (i*c + q) * hw
			xc, out := x[o:o+hw], dx[o:o+hw]
			mu, inv, a, mDy, mDs := p[5*q], p[5*q+1], p[5*q+2], p[5*q+3], p[5*q+4]
			for j, g := range dy[o : o+hw] {
				xhat := (float64(xc[j]) - mu) * inv
				out[j] = T(a * (float64(g) - mDy - xhat*mDs))
			}
		}
	}
}
