package reproduce

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nndl/cnn/chapter"
	"github.com/nndl/cnn/graph"
)

// Section titles: the test of the report looks for each of them.
const (
	SecKey       = "Key numbers"
	Sec51        = "5.1 Convolution"
	Sec52        = "5.2 Multi-channel convolution and pooling"
	Sec53        = "5.3 LeNet-5 on MNIST"
	Sec54        = "5.4 ResNet18 without and with residual connections"
	SecBook      = "Every number the book prints, beside ours"
	SecMachine   = "Machine, versions and timings"
	Title        = "Chapter 5 reproduced: convolutional neural networks"
	SubWorked    = "5.1.2 The worked example"
	SubCounting  = "5.1.3 Parameters and FLOPs of a convolution layer"
	SubRF        = "5.1.4 Receptive field and depth"
	SubShapes    = "5.1.6 Stride and zero padding"
	SubEdges     = "5.1.7 Edge detection with the Laplacian kernel"
	SubMulti     = "5.2.1 Multi-channel convolution layer"
	SubPooling   = "5.2.2 Pooling"
	SubLeNetSum  = "5.3.2 LeNet-5: summary"
	SubLeNetOps  = "5.3.2 LeNet-5: FLOPs in three units"
	SubParity    = "5.3.2 Hand-written against fast operators"
	SubLeNetRun  = "5.3.3 LeNet-5: training"
	SubLeNetTest = "5.3.4 LeNet-5: test"
	SubPredict   = "5.3.5 LeNet-5: predicting one test image"
	SubResSum    = "5.4.1 ResNet18: summary"
	SubResRun    = "5.4.3 ResNet18: training without and with residual connections"
)

// Sections lists the report's section and subsection titles in order.
func Sections() []string {
	return []string{SecKey, Sec51, SubWorked, SubCounting, SubRF, SubShapes, SubEdges, Sec52, SubMulti, SubPooling,
		Sec53, SubLeNetSum, SubLeNetOps, SubParity, SubLeNetRun, SubLeNetTest, SubPredict, Sec54, SubResSum, SubResRun,
		SecBook, SecMachine}
}

func comma(v int) string { return graph.Comma(int64(v)) }

func shape(s []int) string {
	p := make([]string, len(s))
	for i, d := range s {
		p[i] = strconv.Itoa(d)
	}
	return "[" + strings.Join(p, ", ") + "]"
}

func code(s string) string { return "`" + s + "`" }

// plural writes "1 epoch" or "5 epochs".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func secs(v float64) string {
	if v < 10 {
		return fmt.Sprintf("%.2f s", v)
	}
	return fmt.Sprintf("%.1f s", v)
}

// doc collects blocks.
type doc struct{ Doc }

func (d *doc) h2(t string) { d.Blocks = append(d.Blocks, Heading{2, t}) }
func (d *doc) h3(t string) { d.Blocks = append(d.Blocks, Heading{3, t}) }
func (d *doc) p(format string, a ...any) {
	d.Blocks = append(d.Blocks, Para{fmt.Sprintf(format, a...)})
}
func (d *doc) list(items ...string) { d.Blocks = append(d.Blocks, List{items}) }
func (d *doc) table(t Table)        { d.Blocks = append(d.Blocks, t) }
func (d *doc) fig(caption string, im ...Image) {
	d.Blocks = append(d.Blocks, Figure{Images: im, Caption: caption})
}

// plotImage is a figure written as PNG (shown) and SVG (linked).
func plotImage(res *Result, name, alt string) Image {
	files := res.Files[name]
	im := Image{Alt: alt}
	for _, f := range files {
		if strings.HasSuffix(f, ".png") && im.Src == "" {
			im.Src = f
		} else {
			im.Also = append(im.Also, f)
		}
	}
	return im
}

func runByName(res *Result, name string) *Run {
	for _, r := range res.Runs {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// compose lays out the report.
func compose(res *Result) *Doc {
	d := &doc{Doc{Title: Title}}
	mode := "A full run"
	if res.Quick {
		mode = "**A quick run** (`--quick`: LeNet-5 trains 1 epoch, each ResNet18 1 epoch at width 8 on the first 256 training images, fewer timing runs; its accuracies and times are not comparable with the book's)"
	}
	d.p("%s of every experiment of chapter 5 of the Neural Networks and Deep Learning (NNDL) practice book, made by `cnn reproduce` on %s in %s. "+
		"Every number below was computed by this run: the worked examples by the layers' real operators, the counts by the same accounting (`graph.Summarize`) that `cnn summary` prints, the accuracies by training with the chapter's recipe.",
		mode, res.Started.Format("2006-01-02 15:04 MST"), secs(res.WallSecs))
	var toc []string
	for _, s := range []string{SecKey, Sec51, Sec52, Sec53, Sec54, SecBook, SecMachine} {
		toc = append(toc, fmt.Sprintf("[%s](#%s)", s, Slug(s)))
	}
	d.list(toc...)

	keyNumbers(d, res)
	section51(d, res)
	section52(d, res)
	section53(d, res)
	section54(d, res)

	d.h2(SecBook)
	d.p("The left columns are what the book prints (docs/reference.md in the repository); the difference is ours minus the book's. Accuracies depend on the seed: the last column is the range the same recipe reaches in PyTorch 1.13 over several seeds, and whether ours lies in it.")
	t := Table{Head: []string{"section", "quantity", "book", "ours", "difference", "PyTorch over seeds"}, Align: "llrrrl"}
	for _, r := range res.Book {
		book, ours := r.Book, r.Ours
		if strings.HasPrefix(book, "[[") {
			book, ours = code(book), code(ours)
		}
		t.Rows = append(t.Rows, []string{r.Section, r.Quantity, book, ours, r.Diff, r.Band})
	}
	d.table(t)

	machine(d, res)
	return &d.Doc
}

// KeyRows are the key table's rows: what the README quotes.
func KeyRows(res *Result) [][]string {
	var rows [][]string
	find := func(q string) *BookRow {
		for i := range res.Book {
			if res.Book[i].Quantity == q {
				return &res.Book[i]
			}
		}
		return nil
	}
	for _, q := range []string{"LeNet-5 total parameters", "LeNet-5 total FLOPs (paddle.flops)", "ResNet18 total parameters", "ResNet18 FLOPs (paddle.flops)"} {
		if r := find(q); r != nil {
			rows = append(rows, []string{q, r.Book, r.Ours, "", ""})
		}
	}
	for _, run := range res.Runs {
		b, ok := bookRuns[run.Name]
		if !ok {
			continue
		}
		bandNote := band(b) + " (" + where(run.TestAcc, b.lo, b.hi) + ")"
		if res.Quick {
			bandNote = band(b) + " (not comparable: quick run)"
		}
		rows = append(rows, []string{run.Title + " test accuracy / loss", fmt.Sprintf("%.4f / %.4f", b.acc, b.loss),
			fmt.Sprintf("%.4f / %.4f", run.TestAcc, run.TestLoss), bandNote, secs(run.TrainSecs)})
	}
	return rows
}

// KeyHead is the key table's header.
var KeyHead = []string{"", "book", "ours", "PyTorch test accuracy over seeds", "training time"}

func keyNumbers(d *doc, res *Result) {
	d.h2(SecKey)
	d.table(Table{Head: KeyHead, Rows: KeyRows(res), Align: "lrrlr"})
	same, total := 0, 0
	for _, r := range res.Book {
		if r.Band == "" && !strings.Contains(r.Quantity, "loss") && !strings.Contains(r.Quantity, "accuracy") {
			total++
			if r.Same {
				same++
			}
		}
	}
	d.p("Of the %d counts and worked-example outputs the book prints, %d are reproduced exactly (the full list is in [%s](#%s)).", total, same, SecBook, Slug(SecBook))
}

func workedTable(w chapter.Worked) Table {
	t := Table{Head: []string{"operator", "output"}, Align: "ll"}
	t.Rows = [][]string{{"hand-written (nested loops)", code(chapter.Matrices(w.Naive))}, {"fast (graph.Fast)", code(chapter.Matrices(w.Fast))}}
	if w.Book != "" {
		t.Rows = append(t.Rows, []string{"the chapter prints", code(w.Book)})
	}
	return t
}

func agreeText(w chapter.Worked) string {
	if w.Agree() {
		return "The two implementations agree bit for bit"
	}
	return "**The two implementations differ**"
}

func section51(d *doc, res *Result) {
	d.h2(Sec51)
	d.h3(SubWorked)
	if len(res.Worked) > 0 {
		w := res.Worked[0]
		d.p("Convolution as the chapter defines it is cross-correlation, `y[i,j] = sum_u sum_v w[u,v] * x[i+u, j+v]`. A one-channel `Conv2D` without bias, %s:", w.Setup)
		d.table(workedTable(w))
		d.p("%s.", agreeText(w))
	}

	d.h3(SubCounting)
	d.p("A convolution layer with P output channels, D input channels and U x V kernels has `P*D*U*V + P` parameters (weights and biases). On an M' x N' output it does `M'*N'*P*D*U*V` multiply-adds, plus `M'*N'*P` bias additions: the chapter counts `M'N'PDUV + M'N'P` FLOPs (paddle.flops' convention, one multiply-add is one FLOP). " +
		"For LeNet-5's layers, the formula's numbers (from each layer's weight shape and output shape) beside the counts of the layer accounting, `graph.Summarize`, which every table of this report reads; a linear layer of I inputs and O outputs has `I*O + O` parameters and, in paddle.flops' rules, `I*O` FLOPs.")
	t := Table{Head: []string{"layer", "P", "D", "U x V", "M' x N'", "`P*D*U*V + P`", "params (Summarize)", "`M'N'PDUV + M'N'P`", "FLOPs (Summarize)", "book params / FLOPs"}, Align: "lrrrrrrrrr"}
	if a := res.LeNet; a != nil {
		bookP, bookF := map[string]int64{}, map[string]int64{}
		for _, b := range bookLeNetParams {
			bookP[b.layer] = b.v
		}
		for _, b := range bookLeNetFLOPs {
			bookF[b.layer] = b.v
		}
		for _, l := range a.Summary.Layers {
			w := a.Params.Get(l.Name + ".weight")
			if w == nil {
				continue
			}
			bias := a.Params.Get(l.Name+".bias") != nil
			ws := w.Value.Shape()
			b := 0
			if bias {
				b = 1
			}
			bk := fmt.Sprintf("%s / %s", graph.Comma(bookP[l.Name]), graph.Comma(bookF[l.Name]))
			switch l.Type {
			case "Conv2D":
				P, D, U, V := ws[0], ws[1], ws[2], ws[3]
				M, N := l.OutShape[2], l.OutShape[3]
				t.Rows = append(t.Rows, []string{l.Name, comma(P), comma(D), fmt.Sprintf("%d x %d", U, V), fmt.Sprintf("%d x %d", M, N),
					comma(P*D*U*V + b*P), comma(l.Params()), comma(M*N*P*D*U*V + b*M*N*P), graph.Comma(l.PaddleFLOPs), bk})
			case "Linear":
				O, I := ws[0], ws[1]
				t.Rows = append(t.Rows, []string{l.Name + " (linear)", comma(O), comma(I), "", "", comma(I*O + b*O), comma(l.Params()), comma(I * O), graph.Comma(l.PaddleFLOPs), bk})
			}
		}
	}
	d.table(t)

	d.h3(SubRF)
	d.p("The receptive field of a layer is the side of the input window that one of its output values sees. A k x k window with stride s on a layer whose outputs are j input pixels apart grows it by `(k-1)*j`; striding multiplies j by s. These are the `RF` column of `cnn summary`, computed when each layer is declared (`graph.Layer.RF`).")
	if a := res.LeNet; a != nil {
		t := Table{Head: []string{"LeNet-5 layer", "type", "output shape", "receptive field"}, Align: "llrr"}
		for _, l := range a.Summary.Layers {
			if strings.Contains(l.Type, "Conv") || strings.Contains(l.Type, "Pool") {
				t.Rows = append(t.Rows, []string{l.Name, l.Type, shape(l.OutShape), fmt.Sprintf("%d x %d", l.RF, l.RF)})
			}
		}
		d.table(t)
	}
	if a := res.ResNet; a != nil {
		t := Table{Head: []string{"ResNet18 block", "last layer", "output shape", "receptive field"}, Align: "llrr"}
		for _, g := range blocks(a.Summary.Layers) {
			last := g.layers[len(g.layers)-1]
			t.Rows = append(t.Rows, []string{g.name, last.Name, shape(last.OutShape), fmt.Sprintf("%d x %d", last.RF, last.RF)})
		}
		d.table(t)
	}
	d.fig("Receptive field of each conv and pool layer along the main path, against depth. LeNet-5's last convolution sees the whole 32 x 32 input; ResNet18's stages reach far past it (their outer rings see only zero padding).",
		plotImage(res, "receptive-field", "receptive field against depth for LeNet-5 and ResNet18"))

	d.h3(SubShapes)
	d.p("With P zeros of padding on every side and stride S, an M x M input and a U x U kernel give an output of side `M' = (M + 2P - U)/S + 1` (rounded down). Each row is a `Conv2D` declared on that input; the output size is its static shape.")
	t = Table{Head: []string{"input", "kernel", "padding", "stride", "output", "the chapter prints"}, Align: "rrrrrr"}
	for _, s := range res.Shapes {
		t.Rows = append(t.Rows, []string{fmt.Sprintf("%dx%d", s.Input, s.Input), strconv.Itoa(s.Kernel), strconv.Itoa(s.Padding), strconv.Itoa(s.Stride), s.Out(), s.Book})
	}
	d.table(t)

	d.h3(SubEdges)
	e := res.Edges
	d.p("The chapter convolves a grey picture with the 3 x 3 Laplacian kernel, 8 in the centre and -1 around it (`%s`), and shows the picture and the output feature map side by side. "+
		"Here the picture is %s, %d x %d pixels, and the convolution is one `Conv2D` with that kernel, no bias and zero padding %d, evaluated with `build.Evaluate`: what `cnn edge` runs. "+
		"The response ranges from %g to %g; it is shown %s. Flat areas give 0 and the outlines stand out.",
		e.Kernel, e.Source, e.In.Bounds().Dx(), e.In.Bounds().Dy(), e.Padding, e.Lo, e.Hi, e.Scale)
	d.fig("Section 5.1.7: the input picture and the Laplacian's output feature map.", plotImage(res, "edges", "input picture and Laplacian output"))
}

// group is a run of layers of one ResNet block.
type group struct {
	name   string
	layers []*graph.Layer
}

// blocks groups ResNet layers into the stem, each residual block and the head.
func blocks(layers []*graph.Layer) []group {
	var gs []group
	for _, l := range layers {
		name := "stem"
		if parts := strings.Split(l.Name, "."); strings.HasPrefix(l.Name, "layer") && len(parts) >= 2 {
			name = parts[0] + "." + parts[1]
		} else if len(gs) > 0 && gs[len(gs)-1].name != "stem" {
			name = "head"
		}
		if len(gs) == 0 || gs[len(gs)-1].name != name {
			gs = append(gs, group{name: name})
		}
		gs[len(gs)-1].layers = append(gs[len(gs)-1].layers, l)
	}
	return gs
}

func section52(d *doc, res *Result) {
	d.h2(Sec52)
	d.h3(SubMulti)
	if len(res.Worked) > 1 {
		w := res.Worked[1]
		d.p("A layer with D input and P output channels sums, for each output channel p, the convolutions of every input channel with its own kernel: `Z^p = sum_d W^{p,d} * X^d + b^p`. The chapter's check: %s.", w.Setup)
		d.table(workedTable(w))
		d.p("%s; each output channel is the same sum of both input channels' 2 x 2 windows.", agreeText(w))
	}
	d.h3(SubPooling)
	t := Table{Head: []string{"pooling", "hand-written", "fast", "the chapter prints", "same"}, Align: "lllll"}
	for _, w := range res.Worked {
		if !strings.Contains(w.Name, "pooling") {
			continue
		}
		ok := "yes"
		if !w.Agree() || !w.Matches() {
			ok = "**no**"
		}
		t.Rows = append(t.Rows, []string{w.Name, code(chapter.Matrices(w.Naive)), code(chapter.Matrices(w.Fast)), code(w.Book), ok})
	}
	d.p("2 x 2 windows with stride 2 on `[[1..16]]` as a 4 x 4 map: max pooling keeps the largest value of each window, average pooling their mean.")
	d.table(t)
}

// summaryTable is the per-layer table of cnn summary.
func summaryTable(s graph.Summary) Table {
	t := Table{Head: []string{"layer (type)", "input shape", "output shape", "params", "FLOPs (paddle)", "RF"}, Align: "lrrrrr"}
	for _, l := range s.Layers {
		t.Rows = append(t.Rows, []string{fmt.Sprintf("%s (%s)", l.Name, l.Type), shape(l.InShape), shape(l.OutShape), comma(l.Params()), graph.Comma(l.PaddleFLOPs), strconv.Itoa(l.RF)})
	}
	return t
}

func totals(s graph.Summary) Table {
	return Table{Head: []string{"total", "value"}, Align: "lr", Rows: [][]string{
		{"parameters", comma(s.TotalParams)},
		{"trainable (weights, biases, BatchNorm scale and shift)", comma(s.TrainableParams)},
		{"non-trainable (BatchNorm running statistics)", comma(s.BufferParams)},
		{"FLOPs, paddle.flops' convention", graph.Comma(s.PaddleFLOPs)},
		{"multiply-accumulates (MACs: torchinfo, ptflops, thop)", graph.Comma(s.MACs)},
		{"FLOPs, 2 per MAC plus element-wise work", graph.Comma(s.FLOPs)},
		{"parameter memory (float32)", fmt.Sprintf("%.2f MiB", float64(s.ParamBytes)/(1<<20))},
		{"activations of one forward pass (float32)", fmt.Sprintf("%.2f MiB", float64(s.ActivationBytes)/(1<<20))},
	}}
}

func section53(d *doc, res *Result) {
	d.h2(Sec53)
	d.h3(SubLeNetSum)
	if a := res.LeNet; a != nil {
		d.p("LeNet-5 for a 1 x 32 x 32 input at batch 1, as `cnn summary lenet` prints it: every shape, count and receptive field is known once the graph is declared, before any data.")
		d.table(summaryTable(a.Summary))
		d.table(totals(a.Summary))
		d.h3(SubLeNetOps)
		d.p("The same layers counted in the three units `cnn flops --unit` knows. paddle.flops counts one multiply-add as one FLOP, adds the conv bias and one per output of average pooling, and nothing for the linear bias; MACs count the multiply-accumulates of convolutions and linear layers only; FLOPs count 2 per multiply-accumulate plus every element-wise operation. A FLOPs number means nothing without its unit.")
		t := Table{Head: []string{"layer (type)", "output shape", "paddle", "MACs", "FLOPs"}, Align: "lrrrr"}
		for _, l := range a.Summary.Layers {
			t.Rows = append(t.Rows, []string{fmt.Sprintf("%s (%s)", l.Name, l.Type), shape(l.OutShape), graph.Comma(l.PaddleFLOPs), graph.Comma(l.MACs), graph.Comma(l.FLOPs)})
		}
		t.Rows = append(t.Rows, []string{"**total**", "", graph.Comma(a.Summary.PaddleFLOPs), graph.Comma(a.Summary.MACs), graph.Comma(a.Summary.FLOPs)})
		d.table(t)
	}

	d.h3(SubParity)
	par := res.Parity
	d.p("The chapter builds LeNet-5 twice: on its own nested-loop Conv2D and Pool2D operators and on the framework's. Here one declaration compiles on the hand-written operators (`graph.Naive`) and on the fast ones (`graph.Fast`: %s), sharing the trained weights. "+
		"On the first %d test images the largest absolute difference between their logits is **%.3g** (the largest logit is %.3g in magnitude), and they predict the same class for %d of %d.",
		res.Machine.FastConv, par.Images, par.MaxAbsDiff, par.MaxAbsLogit, par.SameClass, par.Images)
	t := Table{Head: []string{"batch", "hand-written forward", "fast forward", "speed-up", "timed runs"}, Align: "rrrrr"}
	for i := 0; i+1 < len(par.Speeds); i += 2 {
		n, f := par.Speeds[i], par.Speeds[i+1]
		t.Rows = append(t.Rows, []string{strconv.Itoa(n.Batch), fmt.Sprintf("%.3f ms", n.Ms), fmt.Sprintf("%.3f ms", f.Ms), fmt.Sprintf("%.1fx", n.Ms/f.Ms), fmt.Sprintf("median of %d after %d warm-up", n.Runs, n.Warmup)})
	}
	d.p("Forward time, the chapter's speed test (it times 50 forward passes of one image after 10 warm-up runs), on GOMAXPROCS=%d:", res.Machine.GoMaxProcs)
	d.table(t)

	run := runByName(res, "lenet")
	d.h3(SubLeNetRun)
	if run != nil {
		d.p("The chapter's recipe, as `cnn train lenet` runs it with `trainer.Runner`: %d training images in batches of %d (shuffled, the last partial batch kept: %d steps an epoch), %s, SGD with learning rate %g, initial weights and shuffling from seed %d; "+
			"the training loss every %d steps, the dev set (%d images) evaluated every %d steps and at the last step, the weights with the best dev accuracy kept. It trained in %s.",
			run.TrainN, run.Batch, run.Steps/run.Epochs, plural(run.Epochs, "epoch"), run.LR, run.Seed, logSteps, run.DevN, evalSteps, secs(run.TrainSecs))
		d.fig("LeNet-5: training loss per step and dev loss (left), dev accuracy (right). The numbers are in [runs/lenet/metrics.csv](runs/lenet/metrics.csv).", plotImage(res, "lenet-curves", "LeNet-5 training curves"))
		t := Table{Head: []string{"step", "epoch", "dev accuracy", "dev loss"}, Align: "rrrr"}
		for _, e := range run.history.Dev {
			t.Rows = append(t.Rows, []string{strconv.Itoa(e.Step), strconv.Itoa(e.Epoch), fmt.Sprintf("%.5f", e.Acc), fmt.Sprintf("%.5f", e.Loss)})
		}
		d.table(t)
		d.h3(SubLeNetTest)
		b := bookRuns["lenet"]
		d.p("The best weights (dev accuracy %.4f at step %d) on the %d test images: **[Test] accuracy/loss: %.4f/%.4f**. The book prints %.4f/%.4f; the same recipe in PyTorch reaches %s test accuracy over seeds.",
			run.BestDevAcc, run.BestStep, run.TestN, run.TestAcc, run.TestLoss, b.acc, b.loss, band(b))
	}

	d.h3(SubPredict)
	p := res.Pred
	if len(p.Probs) > 0 {
		d.p("Test image %d (the second of the first test batch, as the chapter takes it), as the network sees it (32 x 32, resized and normalised): **The true category is %d and the predicted category is %d**, with probability %.4f.", p.Index, p.True, p.Pred, p.Probs[p.Pred])
		d.fig(fmt.Sprintf("Test image %d, true class %d, predicted %d (digit.png, shown 4x).", p.Index, p.True, p.Pred), Image{Src: p.PNG, Alt: fmt.Sprintf("test digit %d", p.True), Width: 128})
		t := Table{Head: []string{"class", "probability", ""}, Align: "rrl"}
		for i, v := range p.Probs {
			mark := ""
			if i == p.Pred {
				mark = "predicted"
			}
			if i == p.True {
				mark = strings.TrimPrefix(mark+", true", ", ")
			}
			t.Rows = append(t.Rows, []string{strconv.Itoa(i), fmt.Sprintf("%.4f", v), mark})
		}
		d.table(t)
	}
}

func section54(d *doc, res *Result) {
	d.h2(Sec54)
	d.h3(SubResSum)
	if a := res.ResNet; a != nil {
		d.p("ResNet18 as the chapter builds it: 1 input channel, 10 classes, the 7 x 7 stem convolution with a bias, four stages of two residual blocks (64, 128, 256, 512 channels). The %d layers grouped by block (`cnn summary resnet18` lists each):", len(a.Summary.Layers))
		t := Table{Head: []string{"block", "layers", "output shape", "params", "FLOPs (paddle)", "MACs", "RF"}, Align: "lrrrrrr"}
		for _, g := range blocks(a.Summary.Layers) {
			var params int
			var fl, macs int64
			for _, l := range g.layers {
				params += l.Params()
				fl += l.PaddleFLOPs
				macs += l.MACs
			}
			last := g.layers[len(g.layers)-1]
			t.Rows = append(t.Rows, []string{g.name, strconv.Itoa(len(g.layers)), shape(last.OutShape), comma(params), graph.Comma(fl), graph.Comma(macs), strconv.Itoa(last.RF)})
		}
		d.table(t)
		bn := bnTrainable(a.Summary)
		d.table(totals(a.Summary))
		d.p("paddle.summary lists BatchNorm's scale and shift as non-trainable: in its convention %s trainable and %s non-trainable (%s + %s running statistics), the book's numbers.",
			comma(a.Summary.TrainableParams-bn), comma(a.Summary.BufferParams+bn), comma(bn), comma(a.Summary.BufferParams))
	}

	d.h3(SubResRun)
	nores, with := runByName(res, "resnet18-nores"), runByName(res, "resnet18")
	if nores != nil && with != nil {
		width := fmt.Sprintf("width %d", with.Width)
		if with.Width == 64 {
			width = "full width (64)"
		}
		d.p("The same recipe (%d training images, batch %d, %s, seed %d) for ResNet18 at %s, without the residual connections (the chapter's `use_residual=False`, SGD learning rate %g) and with them (learning rate %g), as `cnn train resnet18 --no-residual --lr 0.005` and `cnn train resnet18 --lr 0.01` run it; both curves in one figure as `cnn compare` draws them.",
			with.TrainN, with.Batch, plural(with.Epochs, "epoch"), with.Seed, width, nores.LR, with.LR)
		d.fig("ResNet18 without (resnet18-nores) and with (resnet18) residual connections: training and dev loss (left), dev accuracy (right). The numbers are in [runs/resnet18-nores/metrics.csv](runs/resnet18-nores/metrics.csv) and [runs/resnet18/metrics.csv](runs/resnet18/metrics.csv).", plotImage(res, "resnet18-curves", "ResNet18 training curves without and with residual connections"))
		t := Table{Head: []string{"run", "lr", "best dev acc", "best step", "test acc", "test loss", "train time", "book test acc / loss", "PyTorch test acc over seeds"}, Align: "lrrrrrrrl"}
		for _, run := range []*Run{nores, with} {
			b := bookRuns[run.Name]
			in := band(b) + " (" + where(run.TestAcc, b.lo, b.hi) + ")"
			if res.Quick {
				in = band(b) + " (not comparable: quick run)"
			}
			t.Rows = append(t.Rows, []string{run.Title, fmt.Sprintf("%g", run.LR), fmt.Sprintf("%.4f", run.BestDevAcc), strconv.Itoa(run.BestStep), fmt.Sprintf("%.4f", run.TestAcc), fmt.Sprintf("%.4f", run.TestLoss), secs(run.TrainSecs), fmt.Sprintf("%.4f / %.4f", b.acc, b.loss), in})
		}
		d.table(t)
	}
}

func machine(d *doc, res *Result) {
	d.h2(SecMachine)
	m := res.Machine
	d.list(
		"CPU: "+m.CPU,
		fmt.Sprintf("logical CPUs: %d; GOMAXPROCS: %d; load average when the run started: %s (other work on the machine slows the timings)", m.CPUs, m.GoMaxProcs, m.Load),
		"operating system: "+m.OS,
		"Go: "+m.Go,
		"Gorgonia: "+m.Gorgonia+"; tensor: "+m.Tensor+"; gonum: "+m.Gonum,
		"BLAS for the fast operators: "+m.BLAS,
		fmt.Sprintf("seed of every training run (initial weights and shuffling): %d", res.Seed),
		"made with: `"+res.Command+"`",
	)
	t := Table{Head: []string{"stage", "wall time"}, Align: "lr"}
	for _, s := range res.Stages {
		t.Rows = append(t.Rows, []string{s.Name, secs(s.Secs)})
	}
	for _, r := range res.Runs {
		t.Rows = append(t.Rows, []string{fmt.Sprintf("of which training %s (%d steps)", r.Title, r.Steps), secs(r.TrainSecs)})
	}
	t.Rows = append(t.Rows, []string{"**total**", secs(res.WallSecs)})
	d.table(t)
	d.p("Files: index.html and README.md (this report), [report.json](report.json) (its numbers), the figures as PNG and SVG, `runs/*/metrics.csv` (every training loss and dev evaluation).")
}
