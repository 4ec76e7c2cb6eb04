package kernels

import "slices"

// Prepared convolutions: the forward pass of a frozen inference program, whose weights,
// bias and epilogue are fixed once. An implementation can then lay the weights out for its
// kernel once (oneDNN's blocked layout, only the taps a small map reads) instead of at every
// call.

// PreparedConv is a convolution's forward pass with its weights, bias and epilogue fixed
// when it was prepared.
type PreparedConv[T Float] interface {
	// Forward computes y = conv(x, w) (+ b), then the epilogue, with the prepared w, b and
	// epilogue. Calls may run at the same time.
	Forward(ws *Scratch, x, y []T) error
}

// ConvPreparer is a Conv that lays a convolution's weights out once for many forward
// passes.
type ConvPreparer[T Float] interface {
	// AcceptsPreparedConv reports whether PrepareConv takes convolution d: every shape
	// AcceptsConv takes, and maybe others that only the prepared pass runs.
	AcceptsPreparedConv(d ConvDims) bool
	// PrepareConv returns convolution d's forward pass with w, b (nil: no bias) and ep
	// (nil: none) fixed; it keeps no reference to them.
	PrepareConv(d ConvDims, w, b []T, ep *Epilogue) (PreparedConv[T], error)
}

// PrepareConv returns the forward pass of convolution d with the weights w, bias b (nil:
// none) and epilogue ep (nil: none) as they are now: later changes to them do not reach it.
// It runs on the first enabled implementation, highest priority first, whose prepared pass
// takes d (a ConvPreparer, which lays the weights out in its own layout) or, lacking one,
// whose Conv does (the prepared pass then runs its ConvForward on copies); else on the
// fallback.
func PrepareConv[T Float](d ConvDims, w, b []T, ep *Epilogue) (PreparedConv[T], error) {
	for _, e := range setOf[T]().conv {
		if !e.m.enabled() {
			continue
		}
		if p, ok := e.k.(ConvPreparer[T]); ok && p.AcceptsPreparedConv(d) {
			e.m.mark()
			return p.PrepareConv(d, w, b, ep)
		}
		if e.k.AcceptsConv(d) {
			e.m.mark()
			return CopiedConv(e.k, d, w, b, ep), nil
		}
	}
	k := ConvFor[T](d) // the fallback
	if p, ok := k.(ConvPreparer[T]); ok {
		return p.PrepareConv(d, w, b, ep)
	}
	return CopiedConv(k, d, w, b, ep), nil
}

// CopiedConv returns the forward pass of convolution d on kernel k with copies of w, b and
// ep: the preparation of a kernel that has no layout of its own to prepare.
func CopiedConv[T Float](k Conv[T], d ConvDims, w, b []T, ep *Epilogue) PreparedConv[T] {
	c := copiedConv[T]{k: k, d: d, w: slices.Clone(w), b: slices.Clone(b)}
	if ep != nil {
		c.ep = &Epilogue{Mean: slices.Clone(ep.Mean), A: slices.Clone(ep.A), Shift: slices.Clone(ep.Shift), ReLU: ep.ReLU}
	}
	return c
}

type copiedConv[T Float] struct {
	k    Conv[T]
	d    ConvDims
	w, b []T
	ep   *Epilogue
}

func (c copiedConv[T]) Forward(ws *Scratch, x, y []T) error {
	return c.k.ConvForward(ws, c.d, x, c.w, c.b, y, c.ep)
}

// FoldEpilogue folds the inference BatchNorm of ep, if any, into the weights w [P, K] and
// bias b (nil: none) of convolution d: (conv(x, w) + b - mean)*a + shift = conv(x, w*a) +
// (b - mean)*a + shift. It returns new weights and bias (the bias nil only when b is nil and
// ep has no BatchNorm) and whether a ReLU follows; w and b are not changed.
func FoldEpilogue[T Float](d ConvDims, w, b []T, ep *Epilogue) (fw, fb []T, relu bool) {
	if ep == nil || ep.Mean == nil {
		return slices.Clone(w), slices.Clone(b), ep != nil && ep.ReLU
	}
	fw, fb = make([]T, len(w)), make([]T, d.P)
	per := len(w) / d.P
	for q := range d.P {
		for i := q * per; i < (q+1)*per; i++ {
			fw[i] = T(float64(w[i]) * ep.A[q])
		}
	}
	FoldedBias(b, ep, fb)
	return fw, fb, ep.ReLU
}

// FoldedBias writes into fb the bias of a convolution with bias b (nil: none) once the
// inference BatchNorm of ep is folded into it: (b - mean)*a + shift, per channel.
func FoldedBias[T Float](b []T, ep *Epilogue, fb []T) {
	for q := range fb {
		var bq float64
		if b != nil {
			bq = float64(b[q])
		}
		fb[q] = T((bq-ep.Mean[q])*ep.A[q] + ep.Shift[q])
	}
}

// BlockedConv is a prepared convolution that can also read its input or write its output in
// its kernels' channel-blocked layout (see Blocked), so that consecutive convolutions of a
// frozen program pass their maps on as their kernels lay them out rather than reorder them
// at every call.
type BlockedConv[T Float] interface {
	PreparedConv[T]
	// ChannelBlock is the block of channels of the layout, ChannelsLast for NHWC, or 0 if
	// there is none.
	ChannelBlock() int
	// Blocked returns the pass reading its input (in) and writing its output (out) in the
	// blocked layout where set, else as they lie; the maps so laid out must have a multiple
	// of ChannelBlock channels (BlockOf).
	Blocked(in, out bool) (PreparedConv[T], error)
}

// ResidualConv is a prepared convolution followed by a residual sum and, with relu, a ReLU:
// y = relu(conv(x) + r), where r is laid out as y (a ResNet block's second convolution and
// its shortcut).
type ResidualConv[T Float] interface {
	ForwardResidual(ws *Scratch, x, r, y []T) error
}

// ResidualPreparer is a PreparedConv whose kernels can add the residual as they write the
// output.
type ResidualPreparer[T Float] interface {
	// Residual returns the pass adding a residual, then the ReLU with relu; the pass itself
	// was prepared without a ReLU.
	Residual(relu bool) ResidualConv[T]
}

// Residual returns p's pass (prepared without a ReLU) followed by the residual sum and, with
// relu, the ReLU: on p's own kernels where they add it as they write (a ResidualPreparer),
// else as p's pass, then ApplyAdd.
func Residual[T Float](p PreparedConv[T], relu bool) ResidualConv[T] {
	if r, ok := p.(ResidualPreparer[T]); ok {
		return r.Residual(relu)
	}
	return addAfter[T]{p, relu}
}

type addAfter[T Float] struct {
	p    PreparedConv[T]
	relu bool
}

func (a addAfter[T]) ForwardResidual(ws *Scratch, x, r, y []T) error {
	if err := a.p.Forward(ws, x, y); err != nil {
		return err
	}
	ApplyAdd(y, r, y, a.relu)
	return nil
}
