// Package reproduce runs every experiment of the chapter in order and writes a self-contained
// report: index.html (one page with its stylesheet inline and its figures as PNG and SVG
// files beside it), README.md with the same content, report.json with the numbers, and the
// training metrics of every run as CSV. It is what "cnn reproduce" does.
package reproduce

import (
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nndl/cnn/chapter"
	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/lenet"
	"github.com/nndl/cnn/resnet"
	"github.com/nndl/cnn/trainer"
	"gorgonia.org/tensor"
)

// Options choose where the report goes and how long its experiments run.
type Options struct {
	Dir   string    // output folder, created if needed
	Quick bool      // a short run for tests: 1 epoch of LeNet, ResNet18 at width 8 on 256 images
	Seed  uint64    // seed of every run's initial weights and shuffling (the chapter's 100)
	Log   io.Writer // progress, one line per stage with the elapsed time; nil for none
}

// EdgeFigure is section 5.1.7's result: a grey picture and its feature map under the
// Laplacian, both as grey levels, and how they were made.
type EdgeFigure struct {
	Source  string      // what the picture is, e.g. "the built-in drawing of cnn edge"
	Kernel  string      // the kernel, e.g. "[[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]"
	Padding int         // zero padding on every side
	In, Out *image.Gray // the picture and the feature map
	Lo, Hi  float32     // the range of the response
	Scale   string      // how the response became grey levels
}

// The chapter's recipe (docs/reference.md section 5).
const (
	batchSize   = 64
	logSteps    = 15
	evalSteps   = 15
	fullEpochs  = 5
	quickWidth  = 8   // ResNet18 base width in a quick run
	quickTrainN = 256 // ResNet18 training images in a quick run
	predictIdx  = 1   // the chapter predicts the second image of the first test batch
)

// Stage is one step of the run and how long it took.
type Stage struct {
	Name string  `json:"name"`
	Secs float64 `json:"seconds"`
}

// Run is one training run of the chapter's recipe and its results.
type Run struct {
	Name       string  `json:"name"`  // folder under runs/ and legend label
	Title      string  `json:"title"` // "ResNet18 without residual"
	Model      string  `json:"model"`
	Width      int     `json:"width,omitempty"`
	Residual   *bool   `json:"use_residual,omitempty"`
	Kernels    string  `json:"kernels"`
	LR         float64 `json:"lr"`
	Batch      int     `json:"batch"`
	Epochs     int     `json:"epochs"`
	Steps      int     `json:"steps"`
	Seed       uint64  `json:"seed"`
	TrainN     int     `json:"train_size"`
	DevN       int     `json:"dev_size"`
	TestN      int     `json:"test_size"`
	BestDevAcc float64 `json:"best_dev_accuracy"`
	BestStep   int     `json:"best_step"`
	TestAcc    float64 `json:"test_accuracy"`
	TestLoss   float64 `json:"test_loss"`
	TrainSecs  float64 `json:"train_seconds"`

	history trainer.History
	runner  *trainer.Runner
}

// Speed is the forward time of one LeNet-5 build at one batch size: the median of Runs timed
// runs after Warmup untimed ones.
type Speed struct {
	Impl   string  `json:"impl"`
	Batch  int     `json:"batch"`
	Warmup int     `json:"warmup"`
	Runs   int     `json:"runs"`
	Ms     float64 `json:"median_ms"`
}

// Parity compares LeNet-5 on the hand-written and on the fast operators with the same
// (trained) weights on the first test batch.
type Parity struct {
	Images      int     `json:"images"`
	MaxAbsDiff  float64 `json:"max_abs_logit_difference"`
	MaxAbsLogit float64 `json:"max_abs_logit"`
	SameClass   int     `json:"same_predicted_class"`
	Speeds      []Speed `json:"speeds"`
}

// Prediction is the chapter's 5.3.5: one test image through the trained LeNet-5.
type Prediction struct {
	Index int       `json:"index"`
	True  int       `json:"true_class"`
	Pred  int       `json:"predicted_class"`
	Probs []float64 `json:"probabilities"`
	PNG   string    `json:"png"`
}

// Result is everything the report shows.
type Result struct {
	Quick    bool      `json:"quick"`
	Started  time.Time `json:"started"`
	WallSecs float64   `json:"wall_seconds"`
	Machine  Machine   `json:"machine"`
	Build    Build     `json:"build"` // the binary's module version and commit
	Seed     uint64    `json:"seed"`
	Command  string    `json:"command"` // the command line that made the report
	Stages   []Stage   `json:"stages"`

	Worked []chapter.Worked    `json:"-"`
	Shapes []chapter.ShapeRow  `json:"-"`
	Edges  *EdgeFigure         `json:"-"`
	LeNet  *Account            `json:"-"`
	ResNet *Account            `json:"-"`
	Parity Parity              `json:"lenet_parity"`
	Pred   Prediction          `json:"prediction"`
	Runs   []*Run              `json:"runs"`
	Book   []BookRow           `json:"book_vs_ours"`
	Files  map[string][]string `json:"-"` // figure name -> files
}

// Account is a declared network's accounting at batch 1.
type Account struct {
	Name    string
	Model   graph.Model
	Params  *graph.Params
	Summary graph.Summary
}

func declare(m graph.Model, impl graph.Impl) (*Account, error) {
	params := graph.NewParams(tensor.Float32, 0)
	n, _, _, err := graph.Declare(m, params, impl, 1, false)
	if err != nil {
		return nil, err
	}
	return &Account{Name: m.Name, Model: m, Params: params, Summary: graph.Summarize(n.Layers(), tensor.Float32)}, nil
}

// runner carries the state of one Generate call.
type runner struct {
	o      Options
	start  time.Time
	res    *Result
	splits *splits // the chapter's MNIST subset, loaded on first use
}

func (r *runner) logf(format string, args ...any) {
	if r.o.Log != nil {
		fmt.Fprintf(r.o.Log, "[%6.1fs] %s\n", time.Since(r.start).Seconds(), fmt.Sprintf(format, args...))
	}
}

// stage runs f as one named stage, logging its start and recording its time.
func (r *runner) stage(name string, f func() error) error {
	r.logf("%s", name)
	t := time.Now()
	if err := f(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	r.res.Stages = append(r.res.Stages, Stage{Name: name, Secs: time.Since(t).Seconds()})
	return nil
}

func (r *runner) path(name string) string { return filepath.Join(r.o.Dir, name) }

// Generate runs every experiment of the chapter in order and writes the report into o.Dir.
func Generate(o Options) (*Result, error) {
	if o.Dir == "" {
		return nil, fmt.Errorf("no output folder")
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	r := &runner{o: o, start: time.Now(), res: &Result{Quick: o.Quick, Started: time.Now().UTC(), Machine: ThisMachine(), Build: ThisBuild(), Seed: o.Seed, Files: map[string][]string{}}}
	res := r.res
	res.Command = "cnn reproduce -o " + o.Dir
	if o.Quick {
		res.Command += " --quick"
	}
	if o.Seed != 100 {
		res.Command += fmt.Sprintf(" --seed %d", o.Seed)
	}
	mode := "full"
	if o.Quick {
		mode = "quick (short training; its accuracies are not comparable with the book's)"
	}
	r.logf("cnn reproduce: %s run into %s; %s, %d CPUs, BLAS %s", mode, o.Dir, res.Machine.CPU, res.Machine.CPUs, res.Machine.BLAS)

	steps := []struct {
		name string
		f    func() error
	}{
		{"5.1-5.2 worked examples: convolution, output sizes, multi-channel convolution, pooling", r.worked},
		{"5.1.7 edge detection with the Laplacian kernel", r.edges},
		{"5.1.3, 5.3.2, 5.4.1 counting: parameters, FLOPs and receptive fields of LeNet-5 and ResNet18", r.counting},
		{"5.3 LeNet-5: training", r.lenet},
		{"5.3.2 LeNet-5: hand-written against fast operators (parity and speed)", r.parity},
		{"5.3.5 LeNet-5: predicting one test image", r.predict},
		{"5.4 ResNet18 without and with residual connections: training", r.resnets},
	}
	for _, s := range steps {
		if err := r.stage(s.name, s.f); err != nil {
			return res, err
		}
	}
	res.Book = bookRows(res)
	res.WallSecs = time.Since(r.start).Seconds()
	r.logf("writing the report")
	if err := r.write(); err != nil {
		return res, err
	}
	r.logf("done: %s and %s", r.path("index.html"), r.path("README.md"))
	return res, nil
}

func (r *runner) worked() error {
	c, err := chapter.Conv()
	if err != nil {
		return err
	}
	mc, err := chapter.MultiChannel()
	if err != nil {
		return err
	}
	pools, err := chapter.Pools()
	if err != nil {
		return err
	}
	r.res.Worked = append([]chapter.Worked{c, mc}, pools...)
	r.res.Shapes, err = chapter.Shapes()
	return err
}

// edges runs section 5.1.7: the chapter's Laplacian on the built-in drawing of "cnn edge",
// scaled min-max as the chapter's plt.imshow does.
func (r *runner) edges() error {
	grey, h, w := chapter.BuiltinPicture()
	k := chapter.Laplace8
	resp, err := chapter.EdgeResponse(grey, h, w, k)
	if err != nil {
		return err
	}
	sc, err := chapter.NewEdgeScale("minmax", 0, resp)
	if err != nil {
		return err
	}
	in, out := image.NewGray(image.Rect(0, 0, w, h)), image.NewGray(image.Rect(0, 0, w, h))
	for i := range grey {
		in.Pix[i] = chapter.GreyLevel(float64(grey[i]))
		out.Pix[i] = sc.Pixel(resp[i])
	}
	e := &EdgeFigure{Source: "the built-in drawing of `cnn edge` (a rectangle, a disc, a triangle and a line on a flat background)",
		Kernel: k.String(), Padding: k.Padding(), In: in, Out: out, Lo: sc.Lo, Hi: sc.Hi, Scale: "scaled " + sc.Description}
	r.res.Edges = e
	return r.figure("edges", func(path string) error { return plotEdges(path, e.In, e.Out) })
}

// figure writes a figure as PNG and SVG through draw and records the files.
func (r *runner) figure(name string, draw func(path string) error) error {
	for _, ext := range []string{".png", ".svg"} {
		if err := draw(r.path(name + ext)); err != nil {
			return err
		}
		r.res.Files[name] = append(r.res.Files[name], name+ext)
	}
	return nil
}

func (r *runner) counting() error {
	var err error
	if r.res.LeNet, err = declare(lenet.New(1, 10), graph.Fast); err != nil {
		return err
	}
	if r.res.ResNet, err = declare(resnet.ResNet18(1, 10), graph.Fast); err != nil {
		return err
	}
	input := r.res.LeNet.Model.Input[1]
	lp, rp := rfPoints(r.res.LeNet.Summary.Layers, false), rfPoints(r.res.ResNet.Summary.Layers, true)
	return r.figure("receptive-field", func(path string) error {
		return plotRF(path, input, []string{"LeNet-5", "ResNet18"}, [][]RFPoint{lp, rp})
	})
}

// rfPoints lists the conv and pool layers along the main path (not the shortcut's 1x1
// convs), labelled by name; for a ResNet only the stem's pool and each stage's last conv.
func rfPoints(layers []*graph.Layer, stages bool) []RFPoint {
	var pts []RFPoint
	for i, l := range layers {
		// The shortcut's 1x1 convs are off the main path; a global pool sees everything.
		if strings.Contains(l.Name, "downsample") || l.Type == "GlobalAvgPool2D" || !(strings.Contains(l.Type, "Conv") || strings.Contains(l.Type, "Pool")) {
			continue
		}
		label := l.Name
		if stages {
			label = ""
			stage, _, _ := strings.Cut(l.Name, ".")
			last := true
			for _, m := range layers[i+1:] {
				if strings.HasPrefix(m.Name, stage+".") && m.Type == "Conv2D" && !strings.Contains(m.Name, "downsample") {
					last = false
				}
			}
			if l.Type == "MaxPool2D" || (strings.HasPrefix(stage, "layer") && last) {
				label = stage
			}
		}
		pts = append(pts, RFPoint{Label: label, RF: l.RF})
	}
	return pts
}
