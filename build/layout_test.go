package build

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/resnet"
)

// TestBlockedLayout: a frozen program whose maps stay in the convolutions' channel-blocked
// layout computes exactly what the same program laid out in NCHW computes, down to every
// value a caller reads (in NCHW), and keeps some maps blocked: a ResNet of 16 to 128
// channels on 8 images, on oneDNN's kernels, the max pooling after the stem in NCHW. At
// 64x64 the last stage's 2x2 maps run elsewhere, in NCHW; at 128x128 its 4x4 maps stay
// blocked into the global average pooling.
func TestBlockedLayout(t *testing.T) {
	for _, size := range []int{64, 128} {
		t.Run(fmt.Sprintf("%dx%d", size, size), func(t *testing.T) { testBlockedLayout(t, size) })
	}
}

func testBlockedLayout(t *testing.T, size int) {
	m := resnet.New(resnet.Config{InChannels: 3, Classes: 10, Width: 16, Residual: true})
	m.Input = []int{3, size, size}
	plainP, blockedP := compileBoth(t, m, Options{Batch: 8, Frozen: true})
	relaid, pools := 0, 0
	for _, s := range blockedP.vm.steps {
		if strings.Contains(graph.OpKind(s.op)+s.op.String(), "channel blocks") {
			relaid++
			if strings.HasPrefix(graph.OpKind(s.op), "Pool2D") {
				pools++
			}
		}
	}
	if relaid == 0 || pools != 1 {
		t.Fatalf("values are blocked but %d steps read or write them blocked, %d of them the max pooling (want 1)", relaid, pools)
	}
	rng := rand.New(rand.NewPCG(4, 5))
	x := make([]float32, 8*3*size*size)
	for i := range x {
		x[i] = float32(rng.Float64()*2 - 1)
	}
	for _, p := range []*Program{plainP, blockedP} {
		if err := p.Feed(x, nil); err != nil {
			t.Fatal(err)
		}
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
	}
	want, got := plainP.LogitsValue(), blockedP.LogitsValue()
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("logit %d: %v blocked, %v in NCHW", i, got[i], want[i])
		}
	}
	for v := range blockedP.vm.blocked {
		n, pn := blockedP.vm.nodes[v], plainP.vm.nodes[v]
		if n.Name() != pn.Name() {
			t.Fatalf("the two programs' nodes differ at %d: %s and %s", v, n.Name(), pn.Name())
		}
		av, bv := blockedP.vm.value(n), plainP.vm.value(pn)
		if av == nil || bv == nil {
			if av != nil || bv != nil {
				t.Fatalf("node %s is formed in one program only", n.Name())
			}
			continue // not formed: a ReLU moved past the pooling that reads it
		}
		a, b := av.Data().([]float32), bv.Data().([]float32)
		for i := range b {
			if a[i] != b[i] {
				t.Fatalf("node %s %v, element %d: %v read from the blocked program, %v in NCHW", n.Name(), n.Shape(), i, a[i], b[i])
			}
		}
	}
	t.Logf("%d of %d values blocked, %d steps relaid", len(blockedP.vm.blocked), len(blockedP.vm.nodes), relaid)
}

// compileBoth compiles m with opts twice, on parameters alike: laid out in NCHW, and with the
// layout pass; it skips the test where no value is blocked.
func compileBoth(t *testing.T, m graph.Model, opts Options) (plain, blocked *Program) {
	t.Helper()
	compile := func(block bool) *Program {
		t.Helper()
		defer func(was bool) { blockLayouts = was }(blockLayouts)
		blockLayouts = block
		p, err := Compile(m, graph.NewParams(tensor.Float32, 3), opts)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	plain, blocked = compile(false), compile(true)
	if len(blocked.vm.blocked) == 0 {
		t.Skip("no convolution kernel of this build takes a blocked layout (oneDNN: -tags dnnl)")
	}
	return plain, blocked
}

// TestBlockedTraining: a training program whose maps, and their gradients, stay in the
// convolutions' channel-blocked layout computes what the same program laid out in NCHW
// computes, over two batches: the loss and the logits to the bit, every parameter's gradient
// to a millionth of its largest value. (The blocked BatchNorm's gradient pass sums in another
// order, in float64: the low parts of its statistics may differ in their last bits, and a
// few gradients by an ulp.) A ResNet of 16 to 128 channels on 8 images, on oneDNN's
// kernels: every map from the stem's output on is blocked, the max pooling and its gradient
// included.
func TestBlockedTraining(t *testing.T) {
	m := resnet.New(resnet.Config{InChannels: 3, Classes: 10, Width: 16, Residual: true})
	m.Input = []int{3, 128, 128} // the last stage's 4x4 maps run on oneDNN too
	plainP, blockedP := compileBoth(t, m, Options{Batch: 8, Train: true})
	kinds := map[string]int{}
	for _, s := range blockedP.vm.steps {
		if strings.Contains(s.op.String(), "channel blocks") {
			kinds[graph.OpKind(s.op)]++
		}
	}
	for _, k := range []string{"Conv2D", "Conv2DGradX", "Conv2DGradW", "BatchNorm2D", "BatchNorm2DGrad", "Pool2D", "Pool2DGrad+ReLUGrad", "GlobalAvgPool2D", "GlobalAvgPool2DGrad"} {
		if kinds[k] == 0 {
			t.Errorf("no %s step reads or writes blocked maps (steps relaid: %v)", k, kinds)
		}
	}
	rng := rand.New(rand.NewPCG(6, 7))
	x := make([]float32, 8*3*128*128)
	labels := make([]int, 8)
	for step := range 2 {
		for i := range x {
			x[i] = float32(rng.Float64()*2 - 1)
		}
		for i := range labels {
			labels[i] = rng.IntN(10)
		}
		for _, p := range []*Program{plainP, blockedP} {
			if err := p.Feed(x, labels); err != nil {
				t.Fatal(err)
			}
			if err := p.Run(); err != nil {
				t.Fatal(err)
			}
		}
		tol := 0.0 // the forward pass to the bit
		same := func(what string, a, b []float32) {
			t.Helper()
			scale, worst, diff := 0.0, 0.0, 0
			for i := range b {
				scale = max(scale, math.Abs(float64(b[i])))
			}
			for i := range b {
				if a[i] != b[i] {
					diff++
					worst = max(worst, math.Abs(float64(a[i]-b[i]))/scale)
				}
			}
			if diff > 0 {
				t.Logf("step %d, %s: %d of %d differ, by %.2g of its largest", step, what, diff, len(b), worst)
			}
			if worst > tol {
				t.Fatalf("step %d, %s: blocked and NCHW differ by %.2g of its largest value (want at most %g)", step, what, worst, tol)
			}
		}
		same("logits", blockedP.vm.value(blockedP.Logits).Data().([]float32), plainP.vm.value(plainP.Logits).Data().([]float32))
		same("loss", []float32{blockedP.vm.value(blockedP.Loss).Data().(float32)}, []float32{plainP.vm.value(plainP.Loss).Data().(float32)})
		tol = 1e-6
		for i, g := range plainP.Grads {
			a := blockedP.vm.value(blockedP.Grads[i].Node).Data().([]float32)
			same("gradient of "+g.Node.Name(), a, plainP.vm.value(g.Node).Data().([]float32))
		}
	}
	t.Logf("%d of %d values blocked; steps relaid: %v", len(blockedP.vm.blocked), len(blockedP.vm.nodes), kinds)
}
