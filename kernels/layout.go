package kernels

import "math"

// The channel-blocked layout of a batch of maps [N][C][H][W], for a block of b channels:
// [N][C/b][H][W][b], value (n, c, p) (p a position in the map) at ((n*C/b + c/b)*HW + p)*b +
// c%b. C must be a multiple of b. It holds the same values as NCHW, in another order; oneDNN
// calls it nChw16c (b = 16) and nChw8c (b = 8).

// ChannelsLast, as a layout's block, is the layout [N][H][W][C] (NHWC): the blocked layout
// whose block is all of a map's channels (BlockOf), the one oneDNN's brgemm-based inference
// kernels compute in.
const ChannelsLast = -1

// BlockOf is the block of channels of c-channel maps in the layout of block b: c for
// ChannelsLast, else b.
func BlockOf(b, c int) int {
	if b == ChannelsLast {
		return c
	}
	return b
}

// FitsBlocks reports whether c channels are whole blocks of the layout of block b (always,
// channels last; never, for no block).
func FitsBlocks(c, b int) bool { return b != 0 && c%BlockOf(b, c) == 0 }

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
// their positions, as in NCHW, eight channels side by side whose sums do not wait on each
// other (on 16 images of 512 channels of 7x7, a channel at a time took 0.25 ms).
func MeanPlanesBlocked[T Float](xb, y []T, n, c, hw, b int) {
	for i := 0; i < n*c; i += b { // a block of b channels
		block := xb[i*hw : (i+b)*hw]
		q := 0
		for ; q+8 <= b; q += 8 {
			var s0, s1, s2, s3, s4, s5, s6, s7 T
			for p := q; p < len(block); p += b {
				v := block[p : p+8 : p+8]
				s0, s1, s2, s3 = s0+v[0], s1+v[1], s2+v[2], s3+v[3]
				s4, s5, s6, s7 = s4+v[4], s5+v[5], s6+v[6], s7+v[7]
			}
			m := T(hw)
			y[i+q], y[i+q+1], y[i+q+2], y[i+q+3] = s0/m, s1/m, s2/m, s3/m
			y[i+q+4], y[i+q+5], y[i+q+6], y[i+q+7] = s4/m, s5/m, s6/m, s7/m
		}
		for ; q < b; q++ {
			var sum T
			for p := q; p < len(block); p += b {
				sum += block[p]
			}
			y[i+q] = sum / T(hw)
		}
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
