package data

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"

	"github.com/nndl/cnn/internal/atomicfile"
	"github.com/nndl/cnn/internal/fileio"
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
	f, _, err := fileio.Open(path)
	if err != nil {
		return nil, err // names the file
	}
	defer f.Close()
	return DecodeImage(f, path, h, w)
}

// MaxImagePixels bounds the width times height an image file may declare: LoadImage and
// DecodeImage refuse a larger one from its header, before the decoder allocates the
// pixels (Go's PNG decoder allocates 10 GB for a 78-byte file declaring 100000x100000).
// 1<<26 is 8192x8192. MaxImageBytes bounds the memory as well.
const MaxImagePixels = 1 << 26

// maxPixels is MaxImagePixels; the fuzz test lowers it to keep each run small.
var maxPixels = MaxImagePixels

// DecodeImage is LoadImage on an image read from r; name is used in error messages only.
// The header is read first: an image declaring more than MaxImagePixels pixels, or whose
// decoding, grey levels and resizing would allocate more than MaxImageBytes, is refused
// before its pixels are allocated. Every error is one line starting with name.
func DecodeImage(r io.Reader, name string, h, w int) ([]float32, error) {
	if h <= 0 || w <= 0 {
		return nil, fmt.Errorf("%s: output size %dx%d: must be positive", name, h, w)
	}
	img, _, err := decodeLimited(r, name, maxPixels, func(ih, iw int) int64 {
		return int64(ih)*int64(iw) + resizeBytes(ih, iw, h, w)
	})
	if err != nil {
		return nil, err
	}
	b := img.Bounds()
	grey := greyLevels(img)
	img = nil // let the collector take the decoded pixels while resizing
	out := make([]float32, h*w)
	resize(newResizer(b.Dy(), b.Dx(), h, w), out, grey)
	for i, v := range out {
		out[i] = Normalize(v)
	}
	return out, nil
}

// LoadGrey reads a PNG, JPEG or GIF picture of at most maxPix pixels and returns its
// grey levels 0..255 (as Grey does), row-major, with its height and width. As in
// DecodeImage, the header is checked against maxPix and MaxImageBytes before decoding.
func LoadGrey(path string, maxPix int) (grey []float32, h, w int, err error) {
	f, _, err := fileio.Open(path)
	if err != nil {
		return nil, 0, 0, err // names the file
	}
	defer f.Close()
	img, _, err := decodeLimited(f, path, maxPix, func(ih, iw int) int64 { return 5 * int64(ih) * int64(iw) })
	if err != nil {
		return nil, 0, 0, err
	}
	b := img.Bounds()
	return Grey(img), b.Dy(), b.Dx(), nil
}

// Grey converts img to grey levels 0..255 as PIL's convert("L") does (see LoadImage),
// returned as float32 values, row-major, Dy() rows of Dx() values.
func Grey(img image.Image) []float32 {
	g := greyLevels(img)
	out := make([]float32, len(g))
	for i, v := range g {
		out[i] = float32(v)
	}
	return out
}

// greyLevels is Grey with one byte a pixel. The image types Go's decoders return are read
// from their pixel slices, without the allocation per pixel of image.At.
func greyLevels(img image.Image) []uint8 {
	b := img.Bounds()
	out := make([]uint8, 0, b.Dx()*b.Dy())
	switch m := img.(type) {
	case *image.Gray:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			out = append(out, m.Pix[m.PixOffset(b.Min.X, y):m.PixOffset(b.Max.X, y)]...)
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
	case *image.YCbCr:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl := color.YCbCrToRGB(m.Y[m.YOffset(x, y)], m.Cb[m.COffset(x, y)], m.Cr[m.COffset(x, y)])
				out = append(out, luma(r, g, bl))
			}
		}
		return out
	case *image.Paletted:
		var levels [256]uint8
		for i, c := range m.Palette[:min(len(m.Palette), 256)] {
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			levels[i] = luma(n.R, n.G, n.B)
		}
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for _, v := range m.Pix[m.PixOffset(b.Min.X, y):m.PixOffset(b.Max.X, y)] {
				out = append(out, levels[v]) // an index past the palette reads black
			}
		}
		return out
	case image.RGBA64Image:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := m.RGBA64At(x, y)
				out = append(out, luma(unpremultiply(c.R, c.G, c.B, c.A)))
			}
		}
		return out
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			n := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			out = append(out, luma(n.R, n.G, n.B))
		}
	}
	return out
}

// unpremultiply is color.NRGBAModel's conversion of a premultiplied 16-bit colour,
// returning 8-bit red, green and blue.
func unpremultiply(r16, g16, b16, a16 uint16) (r, g, b uint8) {
	cr, cg, cb, a := uint32(r16), uint32(g16), uint32(b16), uint32(a16)
	switch a {
	case 0xffff:
		return uint8(cr >> 8), uint8(cg >> 8), uint8(cb >> 8)
	case 0:
		return 0, 0, 0
	}
	return uint8(cr * 0xffff / a >> 8), uint8(cg * 0xffff / a >> 8), uint8(cb * 0xffff / a >> 8)
}

// luma is PIL's RGB to L conversion (ITU-R 601-2 luma in 16-bit fixed point, rounded).
func luma(r, g, b uint8) uint8 {
	return uint8((uint32(r)*19595 + uint32(g)*38470 + uint32(b)*7471 + 0x8000) >> 16)
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
