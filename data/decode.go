package data

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
)

// MaxImageBytes bounds what decoding one image and preparing it as a model input may
// allocate: the decoder's pixels and row buffers, the grey levels and the resize buffers,
// estimated from the header (see decodeBytes) before any of them is allocated. Within
// the pixel limit, 1 GiB takes every GIF, every baseline JPEG, progressive grey JPEGs,
// progressive colour ones up to about 53 million pixels (7300x7300), and every PNG but
// interlaced 16-bit colour ones of more than 63 million pixels.
const MaxImageBytes = 1 << 30

// maxBytes is MaxImageBytes; the fuzz test lowers it with maxPixels.
var maxBytes int64 = MaxImageBytes

// imageFormat is one of the formats the tool reads. They are sniffed and decoded here
// rather than through image.Decode, whose registry holds whatever decoder any linked
// package registers (the plotting library links a TIFF decoder).
type imageFormat struct {
	name   string
	magic  []string
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}

var imageFormats = []imageFormat{
	{"png", []string{"\x89PNG\r\n\x1a\n"}, png.DecodeConfig, png.Decode},
	{"jpeg", []string{"\xff\xd8"}, jpeg.DecodeConfig, jpeg.Decode},
	{"gif", []string{"GIF87a", "GIF89a"}, gif.DecodeConfig, gif.Decode},
}

// sniff returns the format whose magic bytes start r, or nil.
func sniff(r *bufio.Reader) *imageFormat {
	head, _ := r.Peek(8)
	for i := range imageFormats {
		for _, m := range imageFormats[i].magic {
			if bytes.HasPrefix(head, []byte(m)) {
				return &imageFormats[i]
			}
		}
	}
	return nil
}

// decodeLimited decodes a PNG, JPEG or GIF image from r. It reads the header first and
// refuses, before the pixels are allocated, an image of more than maxPix pixels or one
// whose decoding plus after(height, width) bytes (what the caller allocates next) would
// exceed maxBytes. Every error is one line starting with name.
func decodeLimited(r io.Reader, name string, maxPix int, after func(h, w int) int64) (image.Image, string, error) {
	br := bufio.NewReader(r)
	f := sniff(br)
	if f == nil {
		return nil, "", fmt.Errorf("%s: not a PNG, JPEG or GIF image", name)
	}
	// Keep the bytes that the header reader consumes, to replay them to the decoder.
	var head bytes.Buffer
	cfg, err := f.config(io.TeeReader(br, &head))
	if err != nil {
		return nil, f.name, fmt.Errorf("%s: decoding %s: %s", name, f.name, oneLine(err.Error()))
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, f.name, fmt.Errorf("%s: empty %s image", name, f.name)
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(maxPix) {
		return nil, f.name, fmt.Errorf("%s: %s image of %dx%d pixels: more than the limit of %d pixels", name, f.name, cfg.Width, cfg.Height, maxPix)
	}
	need := decodeBytes(f.name, cfg, head.Bytes()) + 2*int64(head.Cap()) + after(cfg.Height, cfg.Width)
	if need > maxBytes {
		return nil, f.name, fmt.Errorf("%s: %s image of %dx%d pixels (%s): decoding and resizing it takes up to %d bytes, more than the limit of %d",
			name, f.name, cfg.Width, cfg.Height, modelName(cfg.ColorModel), need, maxBytes)
	}
	img, err := f.decode(io.MultiReader(&head, br))
	if err != nil {
		return nil, f.name, fmt.Errorf("%s: decoding %s: %s", name, f.name, oneLine(err.Error()))
	}
	b := img.Bounds()
	if b.Empty() {
		return nil, f.name, fmt.Errorf("%s: empty %s image", name, f.name)
	}
	if b.Dx() > cfg.Width || b.Dy() > cfg.Height {
		return nil, f.name, fmt.Errorf("%s: %s image of %dx%d pixels, its header says %dx%d", name, f.name, b.Dx(), b.Dy(), cfg.Width, cfg.Height)
	}
	return img, f.name, nil
}

// decoderSlack covers what a decoder allocates whatever the image's size: its state,
// Huffman or LZW tables, the inflater's window and the buffered readers.
const decoderSlack = 1 << 20

// decodeBytes is an upper bound on what Go's decoder allocates for an image with the
// header cfg (head: the bytes the header was read from), from the decoders' sources:
//   - PNG: the image (1, 2, 4 or 8 bytes a pixel by colour model), two rows of raw data
//     and, when interlaced, an image per pass (together the size of the image);
//   - JPEG: planes padded to whole blocks of up to 32x32 pixels: 1 byte a pixel for grey,
//     3 for YCbCr plus 4 for an Adobe RGB conversion, 8 for CMYK, and when progressive
//     4 bytes a pixel per component of coefficients;
//   - GIF: the first frame, 1 byte a pixel, and a copy of it when interlaced.
func decodeBytes(format string, cfg image.Config, head []byte) int64 {
	w, h := int64(cfg.Width), int64(cfg.Height)
	switch format {
	case "png":
		bpp := int64(pixelBytes(cfg.ColorModel))
		n := bpp*w*h + 2*(bpp*w+1)
		if len(head) > 28 && head[28] != 0 { // IHDR's interlace method
			n += bpp * w * h
		}
		return n + decoderSlack
	case "jpeg":
		area := (w + 31) * (h + 31)
		per, comps := int64(7), int64(3)
		switch cfg.ColorModel {
		case color.GrayModel:
			per, comps = 1, 1
		case color.CMYKModel:
			per, comps = 8, 4
		}
		if jpegProgressive(head) {
			per += 4 * comps
		}
		return per*area + decoderSlack
	default: // gif
		return 2*w*h + decoderSlack
	}
}

// pixelBytes is the bytes a pixel takes in the image type PNG decodes to for model m.
func pixelBytes(m color.Model) int {
	switch m {
	case color.GrayModel:
		return 1
	case color.Gray16Model:
		return 2
	case color.RGBAModel, color.NRGBAModel:
		return 4
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	}
	return 1 // a palette
}

// modelName names a colour model in error messages.
func modelName(m color.Model) string {
	switch m {
	case color.GrayModel:
		return "8-bit grey"
	case color.Gray16Model:
		return "16-bit grey"
	case color.RGBAModel, color.NRGBAModel:
		return "8-bit colour"
	case color.RGBA64Model, color.NRGBA64Model:
		return "16-bit colour"
	case color.YCbCrModel:
		return "YCbCr"
	case color.CMYKModel:
		return "CMYK"
	}
	return "palette"
}

// jpegProgressive reports whether the JPEG segments in b reach a progressive (or any
// other non-baseline) frame header before a baseline one; bytes it cannot follow count
// as progressive, the costlier case.
func jpegProgressive(b []byte) bool {
	for i := 2; i+3 < len(b); {
		if b[i] != 0xff {
			return true
		}
		switch m := b[i+1]; {
		case m == 0xff: // fill byte
			i++
		case m == 0xc0 || m == 0xc1: // baseline or extended sequential DCT
			return false
		case m >= 0xc2 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc:
			return true
		case m == 0x01 || m >= 0xd0 && m <= 0xd8: // markers without a length
			i += 2
		default:
			i += 2 + (int(b[i+2])<<8 | int(b[i+3]))
		}
	}
	return true
}
