package purego

import (
	"fmt"
	"math"

	"github.com/nndl/cnn/kernels"
)

// CrossEntropy returns the mean softmax cross-entropy of logits [n,k] against the class
// indices labels [n] (stored as floats), computed stably (log-softmax subtracts each row's
// maximum); with d != nil it also writes d(loss)/d(logits)
// scaled by g: g*(softmax - onehot)/N.
func CrossEntropy[T kernels.Float](n, k int, logits, labels, d []T, g T) (T, error) {
	var total float64
	for i := 0; i < n; i++ {
		row := logits[i*k : (i+1)*k]
		y := int(labels[i])
		if y < 0 || y >= k || T(y) != labels[i] {
			return 0, fmt.Errorf("label %v of sample %d is not a class in [0,%d)", labels[i], i, k)
		}
		m := row[0]
		for _, v := range row {
			m = max(m, v)
		}
		var sum float64
		for _, v := range row {
			sum += math.Exp(float64(v - m))
		}
		lse := float64(m) + math.Log(sum)
		total += lse - float64(row[y])
		if d != nil {
			dr := d[i*k : (i+1)*k]
			for j, v := range row {
				dr[j] = T(math.Exp(float64(v)-lse)) * g / T(n)
			}
			dr[y] -= g / T(n)
		}
	}
	return T(total / float64(n)), nil
}
