package reference

// The BatchNorm passes, one value at a time in float64 (see kernels.BatchNorm). NCHW is the
// channel-blocked layout of blocks of one channel: the NCHW passes are the blocked ones with
// b = 1.

// at is where value j of channel q of image i lies in maps of c channels of hw values,
// blocked by b.
func at(c, hw, b, i, q, j int) int { return (i*c+q-q%b)*hw + j*b + q%b }

func (r impl[T]) BatchNormSums(n, c, hw, c0, c1 int, x, dy []T, k, s []float64) {
	r.BatchNormSumsBlocked(n, c, hw, 1, c0, c1, x, dy, k, s)
}

func (r impl[T]) BatchNormApply(n, c, hw, c0, c1 int, x, y []T, p []float64, relu bool) {
	r.BatchNormApplyBlocked(n, c, hw, 1, c0, c1, x, y, p, relu)
}

func (r impl[T]) BatchNormGrad(n, c, hw, c0, c1 int, x, dy, dx []T, p []float64) {
	r.BatchNormGradBlocked(n, c, hw, 1, c0, c1, x, dy, dx, p)
}

func (impl[T]) BatchNormSumsBlocked(n, c, hw, b, c0, c1 int, x, dy []T, k, s []float64) {
	for q := c0; q < c1; q++ {
		clear(s[4*q : 4*q+4])
		for i := 0; i < n; i++ {
			for j := 0; j < hw; j++ {
				o := at(c, hw, b, i, q, j)
				d := float64(x[o]) - k[q]
				s[4*q] += d
				s[4*q+1] += d * d
				if dy != nil {
					s[4*q+2] += float64(dy[o])
					s[4*q+3] += float64(dy[o]) * d
				}
			}
		}
	}
}

func (impl[T]) BatchNormApplyBlocked(n, c, hw, b, c0, c1 int, x, y []T, p []float64, relu bool) {
	for i := 0; i < n; i++ {
		for q := c0; q < c1; q++ {
			for j := 0; j < hw; j++ {
				o := at(c, hw, b, i, q, j)
				v := T((float64(x[o])-p[3*q])*p[3*q+1] + p[3*q+2])
				if relu {
					v = max(v, 0)
				}
				y[o] = v
			}
		}
	}
}

func (impl[T]) BatchNormGradBlocked(n, c, hw, b, c0, c1 int, x, dy, dx []T, p []float64) {
	for i := 0; i < n; i++ {
		for q := c0; q < c1; q++ {
			for j := 0; j < hw; j++ {
				o := at(c, hw, b, i, q, j)
				xhat := (float64(x[o]) - p[5*q]) * p[5*q+1]
				dx[o] = T(p[5*q+2] * (float64(dy[o]) - p[5*q+3] - xhat*p[5*q+4]))
			}
		}
	}
}
