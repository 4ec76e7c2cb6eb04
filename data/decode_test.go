package data

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"runtime"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff" // linked into cmd/cnn by the plotting library; registers a decoder
)

// allocated returns the bytes f allocates (TotalAlloc, which counts what is freed too).
func allocated(f func()) uint64 {
	least := uint64(math.MaxUint64)
	for range 2 { // the less of two: the count is the process's, and other goroutines allocate too
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	return least
}

// TestDecodeOnlyDocumentedFormats: a TIFF or BMP is refused although their decoders are
// linked and registered with package image (cmd/cnn links the TIFF one), and so is a
// format that any package registers.
func TestDecodeOnlyDocumentedFormats(t *testing.T) {
	image.RegisterFormat("fake", "FAKE", func(r io.Reader) (image.Image, error) {
		return image.NewGray(image.Rect(0, 0, 4, 4)), nil
	}, func(r io.Reader) (image.Config, error) {
		return image.Config{ColorModel: color.GrayModel, Width: 4, Height: 4}, nil
	})
	img := image.NewGray(image.Rect(0, 0, 16, 16))
	var tf, bf bytes.Buffer
	if err := tiff.Encode(&tf, img, &tiff.Options{Compression: tiff.Deflate}); err != nil {
		t.Fatal(err)
	}
	if err := bmp.Encode(&bf, img); err != nil {
		t.Fatal(err)
	}
	for name, file := range map[string][]byte{"tiff": tf.Bytes(), "bmp": bf.Bytes(), "fake": []byte("FAKE")} {
		if _, _, err := image.Decode(bytes.NewReader(file)); err != nil {
			t.Fatalf("%s: package image does not decode it (%v): the test shows nothing", name, err)
		}
		_, err := DecodeImage(bytes.NewReader(file), "x.img", 32, 32)
		if err == nil || err.Error() != "x.img: not a PNG, JPEG or GIF image" {
			t.Errorf("%s: error %v, want x.img: not a PNG, JPEG or GIF image", name, err)
		}
	}
}

// encodeImage encodes img as PNG (fast compression) or JPEG.
func encodeImage(t *testing.T, format string, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	var err error
	switch format {
	case "png":
		err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&b, img)
	case "jpeg":
		err = jpeg.Encode(&b, img, &jpeg.Options{Quality: 90})
	case "gif":
		err = gif.Encode(&b, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestDecodeImageMemoryBounded: tall, wide, 16-bit and colour images within the limits
// decode and resize to 32x32 allocating at most the estimate the header was checked
// against, which is within MaxImageBytes. Before the bound the 1 x 2^26 PNG (81 KB)
// asked the resizer for 2^26 x 32 x 8 = 17 GB of coefficients and buffers, the tall one
// for 1 GB of intermediate rows, and a 16-bit image allocated 16 bytes a pixel in
// image.At on top of its pixels.
func TestDecodeImageMemoryBounded(t *testing.T) {
	rect := func(w, h int) image.Rectangle { return image.Rect(0, 0, w, h) }
	tests := []struct {
		name   string
		format string
		img    draw.Image
		limit  uint64 // stated bound, below the estimate's sum
	}{
		{"wide 1 x 2^26 grey PNG", "png", image.NewGray(rect(1<<26, 1)), 270 << 20},
		{"tall 2^22 x 1 grey PNG", "png", image.NewGray(rect(1, 1<<22)), 30 << 20},
		{"wide 16-bit grey PNG", "png", image.NewGray16(rect(1<<22, 1)), 40 << 20},
		{"16-bit colour PNG 1024x1024", "png", image.NewRGBA64(rect(1024, 1024)), 12 << 20},
		{"16-bit colour PNG with alpha", "png", image.NewNRGBA64(rect(700, 500)), 6 << 20},
		{"colour JPEG 2048x1024", "jpeg", image.NewRGBA(rect(2048, 1024)), 18 << 20},
		{"grey JPEG 8 x 65535", "jpeg", image.NewGray(rect(8, 65535)), 5 << 20},
		{"GIF 65535 x 16", "gif", image.NewPaletted(rect(65535, 16), color.Palette{color.Black, color.White}), 4 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.img.Bounds()
			tt.img.Set(b.Dx()/2, b.Dy()/2, color.White)
			file := encodeImage(t, tt.format, tt.img)
			cfg, _, err := image.DecodeConfig(bytes.NewReader(file))
			if err != nil {
				t.Fatal(err)
			}
			estimate := decodeBytes(tt.format, cfg, file) + int64(b.Dx()*b.Dy()) + resizeBytes(b.Dy(), b.Dx(), 32, 32)
			var x []float32
			grew := allocated(func() { x, err = DecodeImage(bytes.NewReader(file), "x.img", 32, 32) })
			if err != nil {
				t.Fatal(err)
			}
			if len(x) != 32*32 {
				t.Fatalf("%d values", len(x))
			}
			t.Logf("allocated %d bytes, estimate %d", grew, estimate)
			if grew > tt.limit || int64(grew) > estimate || estimate > MaxImageBytes {
				t.Errorf("allocated %d bytes: want at most %d and at most the estimate %d (limit %d)", grew, tt.limit, estimate, MaxImageBytes)
			}
		})
	}
}

// TestDecodeImageRefusesCostlyHeaders: images within the pixel limit whose decoding would
// take more than MaxImageBytes are refused from the header, allocating almost nothing.
func TestDecodeImageRefusesCostlyHeaders(t *testing.T) {
	rgba64 := encodeImage(t, "png", image.NewRGBA64(image.Rect(0, 0, 3, 2)))
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"16-bit colour PNG 1 x 2^26", pngClaiming(t, rgba64, 1<<26, 1),
			"x.img: png image of 67108864x1 pixels (16-bit colour): decoding and resizing it takes up to 1678785922 bytes, more than the limit of 1073741824"},
		{"interlaced 16-bit colour PNG 8192x8192", pngInterlaced(t, pngClaiming(t, rgba64, 8192, 8192)),
			"x.img: png image of 8192x8192 pixels (16-bit colour): decoding and resizing it takes up to 1144142978 bytes, more than the limit of 1073741824"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			grew := allocated(func() { _, err = DecodeImage(bytes.NewReader(tt.file), "x.img", 32, 32) })
			if err == nil || err.Error() != tt.want {
				t.Errorf("error %v, want %q", err, tt.want)
			}
			if grew > 1<<20 {
				t.Errorf("allocated %d bytes to refuse a %d-byte file", grew, len(tt.file))
			}
		})
	}
}

// pngInterlaced marks a PNG's IHDR as Adam7-interlaced, with a valid CRC.
func pngInterlaced(t testing.TB, file []byte) []byte {
	t.Helper()
	b := bytes.Clone(file)
	b[28] = 1
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

// TestJPEGProgressive: the frame type is read from the segments before the frame header.
func TestJPEGProgressive(t *testing.T) {
	baseline := encodeImage(t, "jpeg", image.NewGray(image.Rect(0, 0, 8, 8)))
	i := bytes.Index(baseline, []byte{0xff, 0xc0})
	progressive := bytes.Clone(baseline)
	progressive[i+1] = 0xc2
	tests := []struct {
		name string
		b    []byte
		want bool
	}{
		{"baseline", baseline, false},
		{"progressive", progressive, true},
		{"cut before the frame", baseline[:i], true},
		{"not segments", []byte("\xff\xd8garbage"), true},
	}
	for _, tt := range tests {
		if got := jpegProgressive(tt.b); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestResizeOrders: the two pass orders agree, and the resizer's buffers follow the
// smaller intermediate image (a tall or wide input costs what its output does).
func TestResizeOrders(t *testing.T) {
	src := make([]uint8, 37*23)
	for i := range src {
		src[i] = uint8(i * 31)
	}
	for _, out := range [][2]int{{5, 9}, {40, 3}, {37, 23}, {80, 50}} {
		a, b := newResizer(37, 23, out[0], out[1]), newResizer(37, 23, out[0], out[1])
		b.rowsFirst = !a.rowsFirst
		b.tmp = make([]float64, max(37*out[1], out[0]*23))
		x, y := make([]float32, out[0]*out[1]), make([]float32, out[0]*out[1])
		resize(a, x, src)
		resize(b, y, src)
		if d := maxDiff(t, x, y); d > 1e-4 {
			t.Errorf("37x23 to %v: the pass orders differ by %g", out, d)
		}
	}
	for _, in := range [][2]int{{1, 1 << 26}, {1 << 26, 1}} {
		grew := allocated(func() { newResizer(in[0], in[1], 32, 32) })
		if grew > 64<<10 {
			t.Errorf("resizer for %dx%d to 32x32 allocated %d bytes", in[0], in[1], grew)
		}
	}
}

func TestGreyLevelsNoAllocationPerPixel(t *testing.T) {
	for _, img := range []image.Image{
		image.NewRGBA64(image.Rect(0, 0, 64, 64)), image.NewNRGBA64(image.Rect(0, 0, 64, 64)),
		image.NewCMYK(image.Rect(0, 0, 64, 64)), image.NewGray16(image.Rect(0, 0, 64, 64)),
		image.NewYCbCr(image.Rect(0, 0, 64, 64), image.YCbCrSubsampleRatio420),
	} {
		if n := testing.AllocsPerRun(5, func() { greyLevels(img) }); n > 1 {
			t.Errorf("%T: %v allocations, want 1", img, n)
		}
	}
	// The pixel-slice readers agree with the colour model's conversion through At.
	for _, img := range []draw.Image{image.NewRGBA64(image.Rect(0, 0, 16, 16)), image.NewNRGBA64(image.Rect(0, 0, 16, 16)), image.NewCMYK(image.Rect(0, 0, 16, 16))} {
		for i := range 256 {
			img.Set(i%16, i/16, color.NRGBA64{uint16(i * 997), uint16(i * 4099), uint16(i * 65521), uint16(i * 257)})
		}
		got := greyLevels(img)
		for i := range got {
			n := color.NRGBAModel.Convert(img.At(i%16, i/16)).(color.NRGBA)
			if want := luma(n.R, n.G, n.B); got[i] != want {
				t.Fatalf("%T pixel %d: %d, want %d", img, i, got[i], want)
			}
		}
	}
}
