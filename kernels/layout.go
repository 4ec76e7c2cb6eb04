package kernels

import "math"

// The channel-blocked layout of a batch of maps [N][C][H][W], for a block of b channels:
// [N][C/b][H][W][b], value (n, c, p) (p a position in the map) at ((n*C/b + c/b)*HW + p)*b +
// c%b. C must be a multiple of b. It holds the same values as NCHW, in another order; oneDNN
// calls it nChw16c (b = 16) and nChw8c (b = 8).

// blockedAt is where map i (image i/c, channel i%c) of c channels of hw positions starts in
// the blocked layout of block b: its position p is p*b further on.
func blockedAt(i, c, hw, b int) int {
	img, ch := i/c, i%c
	return (img*c+ch/b*b)*hw + ch%b
}

// ToBlocked writes the maps x [n][c][hw] into dst in the blocked layout of block b.
func ToBlocked[T Float](x, dst []T, n, c, hw, b int) {
	for i := range n * c {
		base := blockedAt(i, c, hw, b)
		for p, v := range x[i*hw : (i+1)*hw] {
			dst[base+p*b] = v
		}
	}
}

// FromBlocked writes the maps xb [n][c/b][hw][b] into dst [n][c][hw].
func FromBlocked[T Float](xb, dst []T, n, c, hw, b int) {
	for i := range n * c {
		base := blockedAt(i, c, hw, b)
		d := dst[i*hw : (i+1)*hw]
		for p := range d {
			d[p] = xb[base+p*b]
		}
	}
}

// MeanPlanesBlocked is global average pooling of the maps xb [n][c/b][hw][b], blocked, into
// y [n][c]: y's layout is the same in both. Each channel's values are summed in the order of
// their positions, as in NCHW.
func MeanPlanesBlocked[T Float](xb, y []T, n, c, hw, b int) {
	for i := range y[:n*c] {
		base := blockedAt(i, c, hw, b)
		var sum T
		for p := range hw {
			sum += xb[base+p*b]
		}
		y[i] = sum / T(hw)
	}
}

// MaxPoolBlockedGo is max pooling d of the maps x, blocked by b channels, into y (see
// BlockedMaxPool): each channel's maximum over its window, as Go's max has it (+0 over -0,
// NaN if any value is), the windows clipped to the input as PoolDims.Window has them.
func MaxPoolBlockedGo[T Float](d PoolDims, b int, x, y []T) {
	in, out := d.H*d.W*b, d.OH*d.OW*b
	for pl := range d.Planes / b {
		xp, yp := x[pl*in:(pl+1)*in], y[pl*out:(pl+1)*out]
		for i := range d.OH {
			for j := range d.OW {
				r0, r1, c0, c1, _ := d.Window(i, j)
				m := yp[(i*d.OW+j)*b : (i*d.OW+j+1)*b]
				for l := range m {
					m[l] = T(math.Inf(-1))
				}
				for r := r0; r < r1; r++ {
					for c := c0; c < c1; c++ {
						for l, v := range xp[(r*d.W+c)*b : (r*d.W+c+1)*b] {
							m[l] = max(m[l], v)
						}
					}
				}
			}
		}
	}
}
