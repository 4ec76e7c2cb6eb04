package trainer

import (
	"fmt"
	"github.com/nndl/cnn/tensorio"
	"math"

	"github.com/nndl/cnn/tensorio/safetensors"
)

// historyTensors returns the history as the checkpoint's two float64 tensors: [steps, 2]
// of (epoch, loss) and [evaluations, 4] of (step, epoch, loss, accuracy). The step of a
// training row is its index.
func historyTensors(h History) (train, dev safetensors.Tensor) {
	tv := make([]float64, 0, 2*len(h.Train))
	for _, s := range h.Train {
		tv = append(tv, float64(s.Epoch), s.Loss)
	}
	dv := make([]float64, 0, 4*len(h.Dev))
	for _, e := range h.Dev {
		dv = append(dv, float64(e.Step), float64(e.Epoch), e.Loss, e.Acc)
	}
	return tensorio.NewFloat64([]int{len(h.Train), 2}, tv), tensorio.NewFloat64([]int{len(h.Dev), 4}, dv)
}

// historyFromTensors reads the history back from historyTensors' tensors, refusing rows
// that a run cannot have written: counts that are not whole numbers, epochs that go back,
// losses that are not finite, accuracies outside [0, 1], evaluations out of order.
func historyFromTensors(train, dev safetensors.Tensor) (History, error) {
	var h History
	if train.DType != safetensors.F64 || len(train.Shape) != 2 || train.Shape[1] != 2 {
		return h, fmt.Errorf("history.train is %s %v, want F64 [steps, 2]", train.DType, train.Shape)
	}
	if dev.DType != safetensors.F64 || len(dev.Shape) != 2 || dev.Shape[1] != 4 {
		return h, fmt.Errorf("history.dev is %s %v, want F64 [evaluations, 4]", dev.DType, dev.Shape)
	}
	whole := func(v float64) bool { return v >= 0 && v <= 1<<53 && v == math.Trunc(v) }
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	h.Train = make([]StepLoss, train.Shape[0])
	for i := range h.Train {
		epoch, loss := train.F64[2*i], train.F64[2*i+1]
		if !whole(epoch) || !finite(loss) || (i > 0 && int(epoch) < h.Train[i-1].Epoch) {
			return History{}, fmt.Errorf("history.train row %d: epoch %v, loss %v", i, epoch, loss)
		}
		h.Train[i] = StepLoss{Step: i, Epoch: int(epoch), Loss: loss}
	}
	h.Dev = make([]Eval, dev.Shape[0])
	for i := range h.Dev {
		r := dev.F64[4*i : 4*i+4]
		ok := whole(r[0]) && whole(r[1]) && finite(r[2]) && r[3] >= 0 && r[3] <= 1 && int(r[0]) < len(h.Train) &&
			(i == 0 || int(r[0]) > h.Dev[i-1].Step)
		if !ok || h.Train[int(r[0])].Epoch != int(r[1]) {
			return History{}, fmt.Errorf("history.dev row %d: step %v, epoch %v, loss %v, accuracy %v", i, r[0], r[1], r[2], r[3])
		}
		h.Dev[i] = Eval{Step: int(r[0]), Epoch: int(r[1]), Loss: r[2], Acc: r[3]}
	}
	if len(h.Train) == 0 {
		h.Train = nil
	}
	if len(h.Dev) == 0 {
		h.Dev = nil
	}
	return h, nil
}

// checkState refuses a training state that no run writes: steps done other than the
// history's, a best step outside the steps done or not an evaluation, a best accuracy
// outside [0, 1], a best other than the evaluations' best by the metric.
func checkState(st trainState, h History, m Metric) error {
	if st.StepsDone < 0 || st.StepsDone != len(h.Train) {
		return fmt.Errorf("%d steps done, %d in the history", st.StepsDone, len(h.Train))
	}
	if n := len(h.Train); (n == 0 && st.Epoch != -1) || (n > 0 && st.Epoch != h.Train[n-1].Epoch) {
		return fmt.Errorf("epoch %d after %d steps", st.Epoch, n)
	}
	if !(st.BestAcc >= 0 && st.BestAcc <= 1) {
		return fmt.Errorf("best dev accuracy %v, want a fraction from 0 to 1", st.BestAcc)
	}
	if st.BestStep < -1 || st.BestStep >= st.StepsDone {
		return fmt.Errorf("best step %d of %d steps done", st.BestStep, st.StepsDone)
	}
	// Train records a new best when an evaluation beats the best so far (see
	// Metric.better): the best step is the first of the best evaluations.
	best, bestAcc := -1, 0.0
	if i := m.bestOf(h.Dev); i >= 0 {
		best, bestAcc = h.Dev[i].Step, h.Dev[i].Acc
	}
	if st.BestStep != best || st.BestAcc != bestAcc {
		return fmt.Errorf("best dev accuracy %v at step %d, the evaluations' best by %v is %v at step %d", st.BestAcc, st.BestStep, m, bestAcc, best)
	}
	return nil
}
