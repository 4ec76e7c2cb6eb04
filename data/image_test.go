package data

import (
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func decodeFile(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestGreyMatchesPIL compares Grey with PIL's convert("L") on an RGB PNG, an RGBA PNG
// (alpha ignored, a fully transparent row included) and a palette GIF.
func TestGreyMatchesPIL(t *testing.T) {
	f := loadFixture(t)
	tests := []struct {
		file string
		want []float32
	}{
		{f.RGB.File, f.RGB.Grey},
		{f.RGBA.File, f.RGBA.Grey},
		{f.GIF.File, f.GIF.Grey},
	}
	for _, tt := range tests {
		got := Grey(decodeFile(t, filepath.Join(fixtureDir, tt.file)))
		if d := maxDiff(t, got, tt.want); d != 0 {
			t.Errorf("%s: grey levels differ from PIL's by up to %g", tt.file, d)
		}
	}
}

func TestLuma(t *testing.T) {
	// PIL: L = (R*19595 + G*38470 + B*7471 + 0x8000) >> 16.
	tests := []struct {
		r, g, b uint8
		want    uint8
	}{
		{0, 0, 0, 0}, {255, 255, 255, 255}, {255, 0, 0, 76}, {0, 255, 0, 150}, {0, 0, 255, 29}, {10, 20, 30, 18},
	}
	for _, tt := range tests {
		if got := luma(tt.r, tt.g, tt.b); got != tt.want {
			t.Errorf("luma(%d, %d, %d) = %d, want %d", tt.r, tt.g, tt.b, got, tt.want)
		}
	}
}

func TestLoadImageMatchesPIL(t *testing.T) {
	f := loadFixture(t)
	got, err := LoadImage(filepath.Join(fixtureDir, f.RGB.File), f.RGB.H, f.RGB.W)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(t, got, f.RGB.X); d > 1e-5 {
		t.Errorf("LoadImage differs from PIL convert(L) + resize by %g", d)
	}
}

// writeImage encodes img to dir/name with enc.
func writeImage(t *testing.T, dir, name string, enc func(f *os.File) error) string {
	t.Helper()
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := enc(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return path
}

func TestLoadImageFormats(t *testing.T) {
	dir := t.TempDir()
	// A 28x28 grey image, constant 200, in each format: the result is constant too.
	grey := image.NewGray(image.Rect(0, 0, 28, 28))
	for i := range grey.Pix {
		grey.Pix[i] = 200
	}
	rgba := image.NewNRGBA(image.Rect(0, 0, 20, 30))
	for i := 0; i < len(rgba.Pix); i += 4 {
		rgba.Pix[i], rgba.Pix[i+1], rgba.Pix[i+2], rgba.Pix[i+3] = 200, 200, 200, uint8(i)
	}
	pal := image.NewPaletted(image.Rect(0, 0, 9, 9), color.Palette{color.Gray{200}, color.Black})
	tests := []struct {
		name string
		enc  func(f *os.File) error
		tol  float64
	}{
		{"grey.png", func(f *os.File) error { return png.Encode(f, grey) }, 1e-6},
		{"alpha.png", func(f *os.File) error { return png.Encode(f, rgba) }, 1e-6},
		{"grey.jpg", func(f *os.File) error { return jpeg.Encode(f, grey, &jpeg.Options{Quality: 95}) }, 2.0 / 127.5},
		{"pal.gif", func(f *os.File) error { return gif.Encode(f, pal, nil) }, 1e-6},
	}
	want := Normalize(200)
	for _, tt := range tests {
		path := writeImage(t, dir, tt.name, tt.enc)
		x, err := LoadImage(path, 32, 32)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if len(x) != 32*32 {
			t.Fatalf("%s: %d values, want 1024", tt.name, len(x))
		}
		for i, v := range x {
			if d := float64(v - want); d > tt.tol || d < -tt.tol {
				t.Fatalf("%s: value %d is %g, want %g", tt.name, i, v, want)
			}
		}
	}
}

func TestLoadImageErrors(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("not an image\n"), 0o644)
	cut := filepath.Join(dir, "cut.png")
	full := writeImage(t, dir, "full.png", func(f *os.File) error { return png.Encode(f, image.NewGray(image.Rect(0, 0, 8, 8))) })
	b, _ := os.ReadFile(full)
	os.WriteFile(cut, b[:len(b)/2], 0o644)
	tests := []struct {
		path    string
		h, w    int
		wantErr string
	}{
		{text, 32, 32, text + ": not a PNG, JPEG or GIF image"},
		{cut, 32, 32, cut + ": decoding png: "},
		{filepath.Join(dir, "missing.png"), 32, 32, "missing.png"},
		{full, 0, 32, full + ": output size 0x32: must be positive"},
	}
	for _, tt := range tests {
		_, err := LoadImage(tt.path, tt.h, tt.w)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
			t.Errorf("LoadImage(%s) error %v, want one line with %q", filepath.Base(tt.path), err, tt.wantErr)
		}
	}
}

func TestWritePNG(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "digit.png")
	// Values across the normalised range, and beyond it (clamped).
	px := []float32{-1, 1, 0, Normalize(100), -2, 3}
	want := []uint8{0, 255, 128, 100, 0, 255}
	if err := WritePNG(path, px, 2, 3); err != nil {
		t.Fatal(err)
	}
	img := decodeFile(t, path)
	g, ok := img.(*image.Gray)
	if !ok || g.Bounds().Dx() != 3 || g.Bounds().Dy() != 2 {
		t.Fatalf("wrote %T of %v, want a 3x2 grey image", img, img.Bounds())
	}
	for i, w := range want {
		if g.Pix[i] != w {
			t.Errorf("pixel %d is %d, want %d", i, g.Pix[i], w)
		}
	}
	// Overwriting works and leaves no temporary file behind.
	if err := WritePNG(path, px, 2, 3); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries after two writes, want 1", len(entries))
	}
	// Round trip through LoadImage at the same size.
	back, err := LoadImage(path, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		if back[i] != Normalize(float32(w)) {
			t.Errorf("round trip pixel %d is %g, want %g", i, back[i], Normalize(float32(w)))
		}
	}
	if err := WritePNG(path, px, 3, 3); err == nil {
		t.Error("WritePNG with 6 pixels for 3x3: no error")
	}
	if err := WritePNG(filepath.Join(dir, "no", "such", "dir.png"), px, 2, 3); err == nil {
		t.Error("WritePNG into a missing folder: no error")
	}
}
