package data

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif"  // register the GIF decoder
	_ "image/jpeg" // register the JPEG decoder
	"image/png"
	"io"
	"math"
	"os"

	"github.com/nndl/cnn/internal/atomicfile"
)

// LoadImage reads a PNG, JPEG or GIF image of any size and colour model and returns it
// preprocessed as the chapter's inputs: converted to grey as PIL's convert("L") does,
// resized to h x w with Resize and normalised with Normalize (h*w values, row-major).
//
// The grey level is PIL's L = R*299/1000 + G*587/1000 + B*114/1000, computed as PIL does
// in 16-bit fixed point: (R*19595 + G*38470 + B*7471 + 0x8000) >> 16. Alpha is ignored,
// as PIL ignores it: a transparent pixel counts with its stored colour. Channels of
// 16-bit images are reduced to their high byte. JPEG files go through Go's decoder, which
// may differ from libjpeg's (used by PIL) by a grey level here and there, mostly in
// colour images (chroma upsampling). MNIST digits are white on black; the image is not
// inverted.
func LoadImage(path string, h, w int) ([]float32, error) {
	if h <= 0 || w <= 0 {
		return nil, fmt.Errorf("%s: output size %dx%d: must be positive", path, h, w)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err // *PathError names the file
	}
	defer f.Close()
	return DecodeImage(f, path, h, w)
}

// MaxImagePixels bounds the width times height an image file may declare: LoadImage and
// DecodeImage refuse a larger one from its header, before the decoder allocates the
// pixels (Go's PNG decoder allocates 10 GB for a 78-byte file declaring 100000x100000).
// 1<<26 is 8192x8192.
const MaxImagePixels = 1 << 26

// maxPixels is MaxImagePixels; the fuzz test lowers it to keep each run small.
var maxPixels = MaxImagePixels

// DecodeImage is LoadImage on an image read from r; name is used in error messages only.
// The header is read first: an image declaring more than MaxImagePixels pixels is refused
// before its pixels are allocated. Every error is one line starting with name.
func DecodeImage(r io.Reader, name string, h, w int) ([]float32, error) {
	if h <= 0 || w <= 0 {
		return nil, fmt.Errorf("%s: output size %dx%d: must be positive", name, h, w)
	}
	// Keep the bytes that DecodeConfig reads, to replay them to Decode.
	var head bytes.Buffer
	cfg, format, err := image.DecodeConfig(io.TeeReader(r, &head))
	if errors.Is(err, image.ErrFormat) {
		return nil, fmt.Errorf("%s: not a PNG, JPEG or GIF image", name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: decoding %s: %s", name, format, oneLine(err.Error()))
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%s: empty %s image", name, format)
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(maxPixels) {
		return nil, fmt.Errorf("%s: %s image of %dx%d pixels: more than the limit of %d pixels", name, format, cfg.Width, cfg.Height, maxPixels)
	}
	img, format, err := image.Decode(io.MultiReader(&head, r))
	if err != nil {
		return nil, fmt.Errorf("%s: decoding %s: %s", name, format, oneLine(err.Error()))
	}
	b := img.Bounds()
	if b.Empty() {
		return nil, fmt.Errorf("%s: empty %s image", name, format)
	}
	if int64(b.Dx())*int64(b.Dy()) > int64(maxPixels) {
		return nil, fmt.Errorf("%s: %s image of %dx%d pixels: more than the limit of %d pixels", name, format, b.Dx(), b.Dy(), maxPixels)
	}
	grey := Grey(img)
	out, err := Resize(grey, b.Dy(), b.Dx(), h, w)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	for i, v := range out {
		out[i] = Normalize(v)
	}
	return out, nil
}

// Grey converts img to grey levels 0..255 as PIL's convert("L") does (see LoadImage),
// returned as float32 values, row-major, Dy() rows of Dx() values.
func Grey(img image.Image) []float32 {
	b := img.Bounds()
	out := make([]float32, 0, b.Dx()*b.Dy())
	switch m := img.(type) {
	case *image.Gray:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for _, v := range m.Pix[m.PixOffset(b.Min.X, y):m.PixOffset(b.Max.X, y)] {
				out = append(out, float32(v))
			}
		}
		return out
	case *image.NRGBA:
		// Colours are stored without alpha premultiplication: read them as they are.
		for y := b.Min.Y; y < b.Max.Y; y++ {
			p := m.Pix[m.PixOffset(b.Min.X, y):m.PixOffset(b.Max.X, y)]
			for i := 0; i < len(p); i += 4 {
				out = append(out, luma(p[i], p[i+1], p[i+2]))
			}
		}
		return out
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			var r, g, bl uint8
			switch c := img.At(x, y).(type) {
			case color.YCbCr:
				r, g, bl = color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
			case color.Gray:
				r, g, bl = c.Y, c.Y, c.Y
			case color.Gray16:
				v := uint8(c.Y >> 8)
				r, g, bl = v, v, v
			default:
				n := color.NRGBAModel.Convert(c).(color.NRGBA)
				r, g, bl = n.R, n.G, n.B
			}
			out = append(out, luma(r, g, bl))
		}
	}
	return out
}

// luma is PIL's RGB to L conversion (ITU-R 601-2 luma in 16-bit fixed point, rounded).
func luma(r, g, b uint8) float32 {
	return float32((uint32(r)*19595 + uint32(g)*38470 + uint32(b)*7471 + 0x8000) >> 16)
}

// WritePNG writes h x w normalised pixels (as LoadImage returns them, in [-1, 1]) as an
// 8-bit grey PNG, mapping them back with Denormalize, rounding and clamping to 0..255.
// It writes a temporary file in the same folder, syncs it and renames it over path, so a
// reader never sees a partial file (see atomicfile.Write; an existing file keeps its mode).
func WritePNG(path string, pixels []float32, h, w int) error {
	if h <= 0 || w <= 0 || len(pixels) != h*w {
		return fmt.Errorf("%s: %d pixels for a %dx%d image, want %d", path, len(pixels), h, w, max(h, 0)*max(w, 0))
	}
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i, v := range pixels {
		p := Denormalize(v) + 0.5
		switch {
		case math.IsNaN(float64(p)) || p < 0:
			img.Pix[i] = 0
		case p >= 255:
			img.Pix[i] = 255
		default:
			img.Pix[i] = uint8(p)
		}
	}
	return atomicfile.Write(path, func(w io.Writer) error { return png.Encode(w, img) })
}
