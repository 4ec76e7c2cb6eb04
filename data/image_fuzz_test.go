package data

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/image/tiff"
)

// encoded returns the PNG, JPEG and GIF encodings of small images, the fuzz seeds and the
// bases of the lying headers below.
func encoded(t testing.TB) (pngGrey, pngRGBA, jpg, gf []byte) {
	t.Helper()
	grey := image.NewGray(image.Rect(0, 0, 8, 6))
	for i := range grey.Pix {
		grey.Pix[i] = uint8(i * 5)
	}
	rgba := image.NewNRGBA(image.Rect(0, 0, 5, 7))
	for i := range rgba.Pix {
		rgba.Pix[i] = uint8(i * 3)
	}
	pal := image.NewPaletted(image.Rect(0, 0, 9, 4), color.Palette{color.Gray{200}, color.Black})
	pal.Pix[3] = 1
	var b1, b2, b3, b4 bytes.Buffer
	if err := png.Encode(&b1, grey); err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(&b2, rgba); err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(&b3, rgba, &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	if err := gif.Encode(&b4, pal, nil); err != nil {
		t.Fatal(err)
	}
	return b1.Bytes(), b2.Bytes(), b3.Bytes(), b4.Bytes()
}

// pngClaiming rewrites the IHDR of a PNG to declare w x h pixels, with a valid CRC, so
// that only the pixel data disagrees with the header.
func pngClaiming(t testing.TB, file []byte, w, h uint32) []byte {
	t.Helper()
	b := bytes.Clone(file)
	// 8-byte signature, then the IHDR chunk: length (4), "IHDR", width, height, ...
	if string(b[12:16]) != "IHDR" {
		t.Fatalf("no IHDR at offset 12: %q", b[12:16])
	}
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

// jpegClaiming rewrites the SOF0 marker of a baseline JPEG to declare w x h pixels.
func jpegClaiming(t testing.TB, file []byte, w, h uint16) []byte {
	t.Helper()
	b := bytes.Clone(file)
	i := bytes.Index(b, []byte{0xff, 0xc0})
	if i < 0 {
		t.Fatal("no SOF0 marker")
	}
	// marker (2), length (2), precision (1), height (2), width (2)
	binary.BigEndian.PutUint16(b[i+5:], h)
	binary.BigEndian.PutUint16(b[i+7:], w)
	return b
}

// gifClaiming rewrites a GIF's logical screen size and its first frame's size.
func gifClaiming(t testing.TB, file []byte, w, h uint16) []byte {
	t.Helper()
	b := bytes.Clone(file)
	binary.LittleEndian.PutUint16(b[6:], w)
	binary.LittleEndian.PutUint16(b[8:], h)
	i := bytes.IndexByte(b[13:], 0x2c) // the image descriptor, after the palette
	if i >= 0 {
		i += 13
		binary.LittleEndian.PutUint16(b[i+5:], w)
		binary.LittleEndian.PutUint16(b[i+7:], h)
	}
	return b
}

// TestDecodeImageRefusesHugeClaims: an image whose header declares more than
// MaxImagePixels pixels is refused from its header, without allocating its pixels
// (before the limit, Go's decoders allocated width*height*bytesPerPixel up front: 10 GB
// for the 100000x100000 PNG below, which is 69 bytes long).
func TestDecodeImageRefusesHugeClaims(t *testing.T) {
	pngGrey, _, jpg, gf := encoded(t)
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"png 100000x100000", pngClaiming(t, pngGrey, 100000, 100000), "x.img: png image of 100000x100000 pixels: more than the limit of 67108864 pixels"},
		{"png 2^31-1 x 2", pngClaiming(t, pngGrey, 1<<31-1, 2), "x.img: png image of 2147483647x2 pixels: more than the limit of 67108864 pixels"},
		{"jpeg 65535x65535", jpegClaiming(t, jpg, 65535, 65535), "x.img: jpeg image of 65535x65535 pixels: more than the limit of 67108864 pixels"},
		{"gif 65535x65535", gifClaiming(t, gf, 65535, 65535), "x.img: gif image of 65535x65535 pixels: more than the limit of 67108864 pixels"},
		{"png 8193x8192", pngClaiming(t, pngGrey, 8193, 8192), "x.img: png image of 8193x8192 pixels: more than the limit of 67108864 pixels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := DecodeImage(bytes.NewReader(tt.file), "x.img", 32, 32)
			runtime.ReadMemStats(&after)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error %v, want %q", err, tt.want)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
				t.Errorf("allocated %d bytes for a %d-byte file", grew, len(tt.file))
			}
		})
	}
	// At the limit, a header is not refused for its size: the file fails on its data.
	_, err := DecodeImage(bytes.NewReader(pngClaiming(t, pngGrey, 8192, 8192)), "x.img", 32, 32)
	if err == nil || !strings.HasPrefix(err.Error(), "x.img: decoding png: ") {
		t.Errorf("8192x8192 PNG with 48 pixels of data: error %v, want a decoding error", err)
	}
}

// TestLoadImageFile: LoadImage and DecodeImage agree, and LoadImage names the file.
func TestLoadImageFile(t *testing.T) {
	pngGrey, _, _, _ := encoded(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "g.png")
	if err := os.WriteFile(path, pngGrey, 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := LoadImage(path, 7, 3)
	if err != nil {
		t.Fatal(err)
	}
	b, err := DecodeImage(bytes.NewReader(pngGrey), "g", 7, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 21 || len(b) != 21 {
		t.Fatalf("%d and %d values, want 21", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("value %d: LoadImage %v, DecodeImage %v", i, a[i], b[i])
		}
	}
	huge := filepath.Join(dir, "huge.png")
	if err := os.WriteFile(huge, pngClaiming(t, pngGrey, 100000, 100000), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadImage(huge, 32, 32); err == nil || !strings.HasPrefix(err.Error(), huge+": png image of 100000x100000 pixels") {
		t.Errorf("LoadImage(huge.png) error %v", err)
	}
}

// FuzzDecodeImage checks that no bytes make the image path (decode, grey, resize,
// normalise) panic, that errors are one line naming the input, that the allocation stays
// within the byte limit (lowered here to 40 bytes a pixel of a pixel limit of 2^16, so
// that each run is small), and that an accepted image gives h*w finite values in
// [-1, 1]. The test binary links the TIFF decoder, as cmd/cnn does.
func FuzzDecodeImage(f *testing.F) {
	oldPixels, oldBytes := maxPixels, maxBytes
	maxPixels, maxBytes = 1<<16, 40<<16
	f.Cleanup(func() { maxPixels, maxBytes = oldPixels, oldBytes })

	pngGrey, pngRGBA, jpg, gf := encoded(f)
	for _, b := range [][]byte{pngGrey, pngRGBA, jpg, gf,
		pngClaiming(f, pngGrey, 100000, 100000), pngClaiming(f, pngGrey, 256, 256), jpegClaiming(f, jpg, 300, 300), gifClaiming(f, gf, 1000, 1000),
		pngGrey[:len(pngGrey)/2], []byte("GIF89a"), {0xff, 0xd8}, []byte("\x89PNG\r\n\x1a\n"), nil} {
		f.Add(b, uint8(32), uint8(32))
	}
	// Tall and wide images at the lowered limit, 16-bit ones, a TIFF (whose decoder cmd/cnn
	// links) and headers claiming tall and wide sizes.
	rect := func(w, h int) image.Rectangle { return image.Rect(0, 0, w, h) }
	for _, img := range []image.Image{image.NewGray(rect(1<<16, 1)), image.NewGray(rect(1, 1<<16)),
		image.NewRGBA64(rect(4096, 3)), image.NewGray16(rect(2, 3000)), image.NewNRGBA64(rect(5, 3))} {
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes(), uint8(32), uint8(32))
		f.Add(pngInterlaced(f, b.Bytes()), uint8(3), uint8(200))
	}
	var tf bytes.Buffer
	if err := tiff.Encode(&tf, image.NewGray(rect(16, 16)), &tiff.Options{Compression: tiff.Deflate}); err != nil {
		f.Fatal(err)
	}
	f.Add(tf.Bytes(), uint8(32), uint8(32))
	f.Add(pngClaiming(f, pngGrey, 1<<16, 1), uint8(32), uint8(32))
	f.Add(pngClaiming(f, pngGrey, 1, 1<<16), uint8(32), uint8(32))
	f.Add(jpegClaiming(f, jpg, 65535, 1), uint8(32), uint8(32))
	f.Add(jpegClaiming(f, jpg, 1, 65535), uint8(32), uint8(32))
	f.Add(gifClaiming(f, gf, 65535, 1), uint8(32), uint8(32))
	for _, name := range []string{"rgb.png", "rgba.png", "palette.gif"} {
		b, err := os.ReadFile(filepath.Join(fixtureDir, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(28), uint8(5))
	}
	f.Fuzz(func(t *testing.T, in []byte, h, w uint8) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		x, err := DecodeImage(bytes.NewReader(in), "fuzz", int(h), int(w))
		runtime.ReadMemStats(&after)
		// What the header was checked against (decoder, grey levels, resize buffers).
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 64*uint64(len(in))+uint64(maxBytes)+1<<20 {
			t.Fatalf("allocated %d bytes for a %d-byte input", grew, len(in))
		}
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "fuzz: ") || strings.Contains(msg, "\n") {
				t.Fatalf("error is not one line naming the input: %q", msg)
			}
		}
		if h == 0 || w == 0 {
			if err == nil || !strings.Contains(err.Error(), "output size") {
				t.Fatalf("%dx%d output: error %v, want one about the output size", h, w, err)
			}
			return
		}
		if err != nil {
			return
		}
		if len(x) != int(h)*int(w) {
			t.Fatalf("%d values for %dx%d", len(x), h, w)
		}
		for i, v := range x {
			if math.IsNaN(float64(v)) || v < -1-1e-5 || v > 1+1e-5 {
				t.Fatalf("value %d is %v, outside [-1, 1]", i, v)
			}
		}
	})
}
