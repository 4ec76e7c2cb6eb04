package cli

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// stepPicture is 6 rows of 8 pixels: columns 0-3 are 0, columns 4-7 are 100, a vertical
// step edge between columns 3 and 4 (as in package chapter's TestEdgeStepByHand).
func stepPicture() (grey []float32, h, w int) {
	h, w = 6, 8
	grey = make([]float32, h*w)
	for y := range h {
		for x := 4; x < w; x++ {
			grey[y*w+x] = 100
		}
	}
	return grey, h, w
}

// writeGreyPNG writes a grey picture as a PNG.
func writeGreyPNG(t *testing.T, path string, grey []float32, h, w int) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i, v := range grey {
		img.Pix[i] = uint8(v)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readGrey(t *testing.T, path string) *image.Gray {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	g, ok := img.(*image.Gray)
	if !ok {
		t.Fatalf("%s: %T, want a grey PNG", path, img)
	}
	return g
}

// TestEdgeCommand runs cnn edge on the step picture: --raw --scale abs --clip 300 makes the
// edge columns white and the flat regions black; the default layout puts the picture and
// the min-max scaled feature map side by side; a JPEG, a GIF, a colour picture and the
// built-in drawing work too.
func TestEdgeCommand(t *testing.T) {
	dir := t.TempDir()
	grey, h, w := stepPicture()
	in := filepath.Join(dir, "step.png")
	writeGreyPNG(t, in, grey, h, w)

	out := filepath.Join(dir, "raw.png")
	stdout, stderr, st := cnn("edge", "--image", in, "-o", out, "--raw", "--scale", "abs", "--clip", "300")
	if st != 0 {
		t.Fatalf("status %d: %s", st, stderr)
	}
	for _, want := range []string{"8x6 grey", "laplace8 [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]", "padding 1",
		"min -300, max 500", "|response| clipped at 300", "wrote " + out + " (feature map, 8x6)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	g := readGrey(t, out)
	if g.Bounds().Dx() != w || g.Bounds().Dy() != h {
		t.Fatalf("raw map %v, want %dx%d", g.Bounds(), w, h)
	}
	// |r| 300 -> 255, 200 -> 170, 0 -> 0 (rows 1-4 of columns 0-2 and 5-6).
	wantRow := []uint8{0, 0, 0, 255, 255, 0, 0, 255}
	wantEnd := []uint8{0, 0, 0, 170, 255, 255, 255, 255}
	for y := range h {
		want := wantRow
		if y == 0 || y == h-1 {
			want = wantEnd
		}
		if got := g.Pix[y*g.Stride : y*g.Stride+w]; !slices.Equal(got, want) {
			t.Errorf("raw row %d = %v, want %v", y, got, want)
		}
	}

	// Side by side, min-max: [-300, 500] -> [0, 255], so 0 -> 95.6 -> 96, 300 -> 191.25 -> 191.
	out = filepath.Join(dir, "pair.png")
	stdout, stderr, st = cnn("edge", "--image", in, "-o", out, "--kernel", "-1,-1,-1;-1,8,-1;-1,-1,-1")
	if st != 0 {
		t.Fatalf("status %d: %s", st, stderr)
	}
	if !strings.Contains(stdout, "min-max: [-300, 500] -> [0, 255]") || !strings.Contains(stdout, "grey level 96") {
		t.Errorf("stdout lacks the scaling:\n%s", stdout)
	}
	g = readGrey(t, out)
	if g.Bounds().Dx() != 2*w+edgeGap || g.Bounds().Dy() != h {
		t.Fatalf("side by side %v, want %dx%d", g.Bounds(), 2*w+edgeGap, h)
	}
	row := g.Pix[2*g.Stride : 3*g.Stride]
	if want := []uint8{0, 0, 0, 0, 100, 100, 100, 100, 255, 255, 255, 255, 255, 255, 255, 255, 96, 96, 96, 0, 191, 96, 96, 191}; !slices.Equal(row, want) {
		t.Errorf("side-by-side row 2 = %v, want %v", row, want)
	}

	// Other formats and colours: a JPEG, a GIF and an RGBA PNG of a colour step.
	colour := image.NewNRGBA(image.Rect(0, 0, 40, 30))
	for y := range 30 {
		for x := range 40 {
			c := color.NRGBA{R: 200, G: 30, B: 30, A: 255}
			if x >= 20 {
				c = color.NRGBA{R: 10, G: 10, B: 200, A: 255}
			}
			colour.Set(x, y, c)
		}
	}
	encoders := map[string]func(*bytes.Buffer) error{
		"colour.png": func(b *bytes.Buffer) error { return png.Encode(b, colour) },
		"colour.jpg": func(b *bytes.Buffer) error { return jpeg.Encode(b, colour, &jpeg.Options{Quality: 90}) },
		"colour.gif": func(b *bytes.Buffer) error { return gif.Encode(b, colour, &gif.Options{NumColors: 256}) },
	}
	for name, enc := range encoders {
		var b bytes.Buffer
		if err := enc(&b); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		os.WriteFile(p, b.Bytes(), 0o644)
		out := filepath.Join(dir, name+".edges.png")
		if _, stderr, st := cnn("edge", "--image", p, "-o", out); st != 0 {
			t.Errorf("%s: status %d: %s", name, st, stderr)
			continue
		}
		if g := readGrey(t, out); g.Bounds().Dx() != 2*40+edgeGap || g.Bounds().Dy() != 30 {
			t.Errorf("%s: output %v", name, g.Bounds())
		}
	}

	// The built-in drawing.
	out = filepath.Join(dir, "builtin.png")
	stdout, stderr, st = cnn("edge", "-o", out, "--kernel", "laplace4")
	if st != 0 || !strings.Contains(stdout, "the built-in drawing: 256x256 grey") {
		t.Fatalf("built-in: status %d: %s\n%s", st, stderr, stdout)
	}
	if g := readGrey(t, out); g.Bounds().Dx() != 2*256+edgeGap || g.Bounds().Dy() != 256 {
		t.Errorf("built-in: output %v", g.Bounds())
	}
	noTempFiles(t, dir)
}

// TestEdgeBadInput: a file that is not a picture, a missing one and bad --kernel, --scale
// or --clip values are one-line errors with status 2, and nothing is written.
func TestEdgeBadInput(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("not a picture\n"), 0o644)
	truncated := filepath.Join(dir, "cut.png")
	grey, h, w := stepPicture()
	writeGreyPNG(t, truncated, grey, h, w)
	b, _ := os.ReadFile(truncated)
	os.WriteFile(truncated, b[:len(b)/2], 0o644)
	out := filepath.Join(dir, "edges.png")
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--image", text}, []string{text, "not a PNG, JPEG or GIF image"}},
		{[]string{"--image", truncated}, []string{truncated, "decoding png"}},
		{[]string{"--image", filepath.Join(dir, "missing.png")}, []string{"missing.png"}},
		{[]string{"--kernel", "1,2;3"}, []string{`--kernel "1,2;3"`, "row 2 has 1 values", "square"}},
		{[]string{"--kernel", "1,2;3,4"}, []string{"2x2 kernel", "odd"}},
		{[]string{"--kernel", "0,1,0;1,x,1;0,1,0"}, []string{`row 2, value 2: "x" is not a finite number`}},
		{[]string{"--kernel", "0,1,0;1,NaN,1;0,1,0"}, []string{"not a finite number"}},
		{[]string{"--kernel", "sobel"}, []string{`--kernel "sobel"`, "laplace8, laplace4"}},
		{[]string{"--kernel", ""}, []string{`--kernel ""`}},
		{[]string{"--scale", "log"}, []string{`--scale "log"`}},
		{[]string{"--scale", "abs", "--clip", "0"}, []string{"--clip 0"}},
		{[]string{"photo.png"}, []string{`unexpected argument "photo.png"`, "--image"}},
	} {
		args := append([]string{"edge", "-o", out}, c.args...)
		stdout, stderr, st := cnn(args...)
		oneLineError(t, args, stdout, stderr, st, c.want...)
		t.Logf("%s", strings.TrimSpace(stderr))
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("%s was written", out)
	}
	noTempFiles(t, dir)
}
