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

// The blocked passes take a block of b channels at a time, whose values lie in rows of b, a
// row per position, each image's rows one after the other: lane l of each row is the block's
// channel l.

// BatchNormSumsBlocked adds each block's lanes over its images and positions in s itself,
// four sums a channel, in float64.
func (impl[T]) BatchNormSumsBlocked(n, c, hw, b, c0, c1 int, x, dy []T, k, s []float64) {
	clear(s[4*c0 : 4*c1])
	for q0 := c0; q0 < c1; q0 += b {
		ks, acc := k[q0:q0+b], s[4*q0:4*(q0+b)]
		for i := 0; i < n; i++ {
			o := (i*c + q0) * hw
			if dy == nil {
				laneSums(x[o:o+hw*b], ks, acc)
				continue
			}
			laneGradSums(x[o:o+hw*b], dy[o:o+hw*b], ks, acc)
		}
	}
}

// laneSums adds to acc[4l] and acc[4l+1] the sums of x-k[l] and (x-k[l])^2 over lane l of the
// rows of x, each of len(k) values.
func laneSums[T kernels.Float](x []T, k, acc []float64) {
	b := len(k)
	for r := 0; r+b <= len(x); r += b {
		for l, v := range x[r : r+b] {
			d := float64(v) - k[l]
			a := acc[4*l : 4*l+2 : 4*l+2]
			a[0] += d
			a[1] += d * d
		}
	}
}

// laneGradSums adds to acc[4l..4l+3] the sums of x-k[l], (x-k[l])^2, dy and dy*(x-k[l]) over
// lane l of the rows of x and dy, each of len(k) values.
func laneGradSums[T kernels.Float](x, dy []T, k, acc []float64) {
	b := len(k)
	dy = dy[:len(x)]
	for r := 0; r+b <= len(x); r += b {
		g := dy[r : r+b]
		for l, v := range x[r : r+b] {
			d, e := float64(v)-k[l], float64(g[l])
			a := acc[4*l : 4*l+4 : 4*l+4]
			a[0] += d
			a[1] += d * d
			a[2] += e
			a[3] += e * d
		}
	}
}

func (impl[T]) BatchNormApplyBlocked(n, c, hw, b, c0, c1 int, x, y []T, p []float64, relu bool) {
	for i := 0; i < n; i++ {
		for q0 := c0; q0 < c1; q0 += b {
			o, pb := (i*c+q0)*hw, p[3*q0:3*(q0+b)]
			for r := o; r < o+hw*b; r += b {
				yr := y[r : r+b]
				for l, v := range x[r : r+b] {
					t := pb[3*l : 3*l+3 : 3*l+3]
					yr[l] = T((float64(v)-t[0])*t[1] + t[2])
					if relu {
						yr[l] = max(yr[l], 0)
					}
				}
			}
		}
	}
}

func (impl[T]) BatchNormGradBlocked(n, c, hw, b, c0, c1 int, x, dy, dx []T, p []float64) {
	for i := 0; i < n; i++ {
		for q0 := c0; q0 < c1; q0 += b {
			o, pb := (i*c+q0)*hw, p[5*q0:5*(q0+b)]
			for r := o; r < o+hw*b; r += b {
				xr, out := x[r:r+b], dx[r:r+b]
				for l, g := range dy[r : r+b] {
					t := pb[5*l : 5*l+5 : 5*l+5]
					xhat := (float64(xr[l]) - t[0]) * t[1]
					out[l] = T(t[2] * (float64(g) - t[3] - xhat*t[4]))
				}
			}
		}
	}
}
