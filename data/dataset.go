package data

import "fmt"

// Raw is a set of grey 8-bit images of one size with their labels, as stored in MNIST.
type Raw struct {
	H, W   int
	Pix    []uint8 // N*H*W values, image after image, row-major
	Labels []int   // N labels
}

// N returns the number of images.
func (r *Raw) N() int { return len(r.Labels) }

// Image returns the pixels of image i (a view, not a copy).
func (r *Raw) Image(i int) []uint8 { return r.Pix[i*r.H*r.W : (i+1)*r.H*r.W] }

// Dataset preprocesses the images as the chapter does: each is resized to h x w with
// Resize (no resizing when the size is already h x w) and normalised with Normalize.
func (r *Raw) Dataset(h, w int) *Dataset {
	d := &Dataset{C: 1, H: h, W: w, X: make([]float32, r.N()*h*w), Y: append([]int(nil), r.Labels...)}
	var rs *resizer
	if h != r.H || w != r.W {
		rs = newResizer(r.H, r.W, h, w)
	}
	for i := range r.N() {
		dst := d.X[i*h*w : (i+1)*h*w]
		if rs != nil {
			resize(rs, dst, r.Image(i))
		} else {
			for j, p := range r.Image(i) {
				dst[j] = float32(p)
			}
		}
		for j, v := range dst {
			dst[j] = Normalize(v)
		}
	}
	return d
}

// Dataset holds preprocessed images as one flat float32 slice of shape [N, C, H, W] and
// their integer labels.
type Dataset struct {
	C, H, W int
	X       []float32 // N*C*H*W values
	Y       []int     // N labels
}

// NewDataset wraps x (N*c*h*w values) and labels y (N values) without copying them.
func NewDataset(x []float32, y []int, c, h, w int) (*Dataset, error) {
	if c <= 0 || h <= 0 || w <= 0 {
		return nil, fmt.Errorf("data: sample shape %dx%dx%d: sizes must be positive", c, h, w)
	}
	if len(x) != len(y)*c*h*w {
		return nil, fmt.Errorf("data: %d values for %d samples of %dx%dx%d, want %d", len(x), len(y), c, h, w, len(y)*c*h*w)
	}
	return &Dataset{C: c, H: h, W: w, X: x, Y: y}, nil
}

// N returns the number of samples.
func (d *Dataset) N() int { return len(d.Y) }

// Shape returns the shape of one sample: [C, H, W].
func (d *Dataset) Shape() []int { return []int{d.C, d.H, d.W} }

// SampleSize returns the number of values in one sample, C*H*W.
func (d *Dataset) SampleSize() int { return d.C * d.H * d.W }

// Sample returns the values of sample i (a view, not a copy).
func (d *Dataset) Sample(i int) []float32 {
	n := d.SampleSize()
	return d.X[i*n : (i+1)*n]
}

// CopyBatch copies the samples at the given indices into x (len(idx)*SampleSize values,
// shape [len(idx), C, H, W]) and their labels into y (len(idx) values). The buffers must
// be exactly that long, so that a buffer bound to a fixed batch shape is never filled
// with a batch of another size. It allocates nothing.
func (d *Dataset) CopyBatch(x []float32, y []int, idx []int) error {
	n := d.SampleSize()
	if len(x) != len(idx)*n || len(y) != len(idx) {
		return fmt.Errorf("data: batch of %d samples of %d values needs buffers of %d and %d values, got %d and %d",
			len(idx), n, len(idx)*n, len(idx), len(x), len(y))
	}
	for k, i := range idx {
		if i < 0 || i >= d.N() {
			return fmt.Errorf("data: batch index %d out of range [0, %d)", i, d.N())
		}
		copy(x[k*n:(k+1)*n], d.X[i*n:(i+1)*n])
		y[k] = d.Y[i]
	}
	return nil
}
