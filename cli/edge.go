package cli

import (
	"fmt"
	"image"
	"image/png"
	"io"
	"math"

	"github.com/nndl/cnn/chapter"
	"github.com/nndl/cnn/data"
	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/internal/atomicfile"
)

func init() {
	register("edge", "edge detection with the Laplacian through the project's Conv2D (5.1.7)", cmdEdge)
}

// edgeGap is the width of the white band between input and feature map.
const edgeGap = 8

// loadGrey reads a PNG, JPEG or GIF picture and converts it to grey levels 0..255 with
// data.LoadGrey, refusing one that declares more than chapter.MaxEdgePixels pixels before decoding it.
func loadGrey(path string) (grey []float32, h, w int, err error) {
	return data.LoadGrey(path, chapter.MaxEdgePixels)
}

func cmdEdge(args []string, stdout io.Writer) error {
	fs := newFlags("edge", "[--image PICTURE] [-o edges.png] [--kernel laplace8|laplace4|ROWS] [--raw] [--scale minmax|abs]")
	imagePath := fs.String("image", "", "PNG, JPEG or GIF picture of any size and colour, converted to grey as PIL's convert(\"L\") (default: a built-in drawing of shapes)")
	outPath := fs.String("o", "edges.png", "the PNG to write")
	kernelText := fs.String("kernel", "laplace8", "laplace8 (centre 8, the others -1: the chapter's), laplace4 ([[0,-1,0],[-1,4,-1],[0,-1,0]]), or rows such as \"0,1,0;1,-4,1;0,1,0\" (square, odd side)")
	raw := fs.Bool("raw", false, "write the feature map alone (default: the input and the feature map side by side, as the chapter's figure)")
	scaleMode := fs.String("scale", "minmax", "how the response becomes grey levels: minmax maps its [min, max] to [0, 255], as the chapter's plt.imshow does; abs maps |response| to [0, 255], clipped at --clip")
	clip := fs.Float64("clip", 255, "with --scale abs: the |response| that is white")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q (the picture is given with --image)", pos[0])
	}
	k, err := chapter.ParseKernel(*kernelText)
	if err != nil {
		return fmt.Errorf("--kernel %q: %w", *kernelText, err)
	}
	if *scaleMode != "minmax" && *scaleMode != "abs" {
		return fmt.Errorf("--scale %q: want minmax or abs", *scaleMode)
	}
	if *scaleMode == "abs" && (!(*clip > 0) || math.IsInf(*clip, 0)) {
		return fmt.Errorf("--clip %v: want a positive number", *clip)
	}
	if *outPath == "" {
		return fmt.Errorf("-o: want a file name")
	}
	if *imagePath != "" {
		if err := checkInputFile("--image", *imagePath); err != nil {
			return err
		}
	}
	if err := checkOutput("-o", *outPath, namedPath{"--image", *imagePath}); err != nil {
		return err
	}
	var grey []float32
	var h, w int
	source := "the built-in drawing"
	if *imagePath != "" {
		if grey, h, w, err = loadGrey(*imagePath); err != nil {
			return err
		}
		source = *imagePath
	} else {
		grey, h, w = chapter.BuiltinPicture()
	}
	resp, err := chapter.EdgeResponse(grey, h, w, k)
	if err != nil {
		return err
	}
	sc, err := chapter.NewEdgeScale(*scaleMode, *clip, resp)
	if err != nil {
		return err
	}
	ow := w
	if !*raw {
		ow = 2*w + edgeGap
	}
	img := image.NewGray(image.Rect(0, 0, ow, h))
	for y := range h {
		row := img.Pix[y*img.Stride : y*img.Stride+ow]
		off := 0
		if !*raw {
			for x := range w {
				row[x] = chapter.GreyLevel(float64(grey[y*w+x]))
			}
			for x := w; x < w+edgeGap; x++ {
				row[x] = 255
			}
			off = w + edgeGap
		}
		for x := range w {
			row[off+x] = sc.Pixel(resp[y*w+x])
		}
	}
	if err := atomicfile.Write(*outPath, func(wr io.Writer) error { return png.Encode(wr, img) }); err != nil {
		return err
	}
	layout := "input | feature map"
	if *raw {
		layout = "feature map"
	}
	fmt.Fprintf(stdout, "%s: %dx%d grey, convolved with %s %v (padding %d, %s Conv2D)\n", source, w, h, k.Name, k, k.Padding(), graph.Fast)
	fmt.Fprintf(stdout, "response: min %g, max %g; scaled %s\n", sc.Lo, sc.Hi, sc.Description)
	fmt.Fprintf(stdout, "wrote %s (%s, %dx%d)\n", *outPath, layout, ow, h)
	return nil
}
