package purego

import (
	"math"

	"github.com/nndl/cnn/kernels"
)

// BatchNorm are a BatchNorm layer's settings.
type BatchNorm struct {
	Training      bool    // normalise with the batch's statistics and update the running ones
	Eps, Momentum float64 // added to the variance; the old running statistics' weight
	ReLU          bool    // apply a ReLU to the output
}

// BatchNormForward normalises x [N,C,H,W] per channel with scale and shift: with the batch's
// statistics in training, updating the running ones rmean and rvar in place, or with the
// running ones in inference. The workers split the channels; each reads
// and writes its channels image by image, in memory order, as deep layers have maps of a
// few values.
func BatchNormForward[T kernels.Float](k BatchNorm, s []int, x, scale, shift, rmean, rvar, y []T) {
	n, c, hw := s[0], s[1], s[2]*s[3]
	kernels.Parallel(c, func(_, lo, hi int) {
		buf, w := kernels.Borrow(hi - lo)
		defer kernels.GiveBack(buf)
		mean, a := w[0], w[1]
		if k.Training {
			channelStats(n, c, hw, lo, hi, x, mean, a)
			m := float64(n * hw)
			for ch := lo; ch < hi; ch++ {
				rmean[ch] = T(k.Momentum*float64(rmean[ch]) + (1-k.Momentum)*mean[ch-lo])
				rvar[ch] = T(k.Momentum*float64(rvar[ch]) + (1-k.Momentum)*a[ch-lo]*m/(m-1))
			}
		} else {
			for ch := lo; ch < hi; ch++ {
				mean[ch-lo], a[ch-lo] = float64(rmean[ch]), float64(rvar[ch])
			}
		}
		for ch := lo; ch < hi; ch++ {
			a[ch-lo] = float64(scale[ch]) / math.Sqrt(a[ch-lo]+k.Eps)
		}
		for i := 0; i < n; i++ {
			for ch := lo; ch < hi; ch++ {
				o := (i*c + ch) * hw
				yc, mu, ac, b := y[o:o+hw], mean[ch-lo], a[ch-lo], float64(shift[ch])
				if k.ReLU {
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
func sum64[T kernels.Float](v []T) float64 {
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
func sqDev64[T kernels.Float](v []T, mu float64) float64 {
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
func gradSums64[T kernels.Float](dy, x []T, mu float64) (sumDy, sumDyX float64) {
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
func channelStats[T kernels.Float](n, c, hw, lo, hi int, x []T, mean, variance []float64) {
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

// BatchNormBackward writes dx [N,C,H,W] or, with wrtScale, dscale [C]. In training mode,
// with xhat the normalised input, m = N*H*W and the sums over a channel,
//
//	dscale = sum(dy*xhat),  dx = scale/sqrt(var+eps) * (dy - sum(dy)/m - xhat*dscale/m);
//
// in inference mode the statistics are constants and dx = dy*scale/sqrt(var+eps). As in
// BatchNormForward, the workers
// split the channels and go through them in memory order.
func BatchNormBackward[T kernels.Float](k BatchNorm, wrtScale bool, s []int, x, scale, rmean, rvar, dy, out []T) {
	n, c, hw := s[0], s[1], s[2]*s[3]
	m := float64(n * hw)
	kernels.Parallel(c, func(_, lo, hi int) {
		buf, w := kernels.Borrow(hi - lo)
		defer kernels.GiveBack(buf)
		mean, inv := w[0], w[1]
		if k.Training {
			channelStats(n, c, hw, lo, hi, x, mean, inv)
		} else {
			for ch := lo; ch < hi; ch++ {
				mean[ch-lo], inv[ch-lo] = float64(rmean[ch]), float64(rvar[ch])
			}
		}
		for i, v := range inv {
			inv[i] = 1 / math.Sqrt(v+k.Eps)
		}
		if !wrtScale && !k.Training {
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
		if wrtScale {
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
