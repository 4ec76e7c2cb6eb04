package onnx

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/tensorio/npy"
)

// The references the export tests run when they are installed (scripts/install-onnx-ref.sh
// installs both):
//   - ONNX Runtime's Node.js binding, onnxruntime-node, in CNN_ORT_DIR or else the user's
//     cache folder's cnn/ort (its node_modules), run by testdata/onnx/ortref/run.js;
//   - the onnx Python package, whose checker reads every exported file.

// ortDir returns the folder whose node_modules holds onnxruntime-node, or "" and why not.
func ortDir() (string, string) {
	if _, err := exec.LookPath("node"); err != nil {
		return "", "node is not installed"
	}
	dir := os.Getenv("CNN_ORT_DIR")
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", "no cache folder: " + err.Error()
		}
		dir = filepath.Join(cache, "cnn", "ort")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "onnxruntime-node", "package.json")); err != nil {
		return "", "onnxruntime-node is not in " + dir + " (run scripts/install-onnx-ref.sh, or set CNN_ORT_DIR)"
	}
	return dir, ""
}

// runORT runs model on the batch x [n, shape...] in ONNX Runtime and returns its output.
func runORT(t *testing.T, dir, model string, x []float32, shape []int) ([]int, []float32) {
	t.Helper()
	tmp := t.TempDir()
	in, out := filepath.Join(tmp, "x.npy"), filepath.Join(tmp, "y.npy")
	if err := npy.WriteFloat32(in, shape, x); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs("../testdata/onnx/ortref/run.js")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", script, model, in, out, "1")
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ONNX Runtime on %s: %v: %s", model, err, b)
	}
	ys, y, err := npy.ReadFloat32(out)
	if err != nil {
		t.Fatal(err)
	}
	return ys, y
}

// onnxPython returns a Python interpreter that imports onnx, or "".
func onnxPython() string {
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(py, "-c", "import onnx").Run() == nil {
			return py
		}
	}
	return ""
}

// checkModel runs onnx.checker (with its full check: shape inference included) on a file.
func checkModel(t *testing.T, py, path string) {
	t.Helper()
	code := "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)"
	if b, err := exec.Command(py, "-c", code, path).CombinedOutput(); err != nil {
		t.Errorf("onnx.checker on %s: %v: %s", filepath.Base(path), err, b)
	}
}

// relErr is the largest difference between got and want over the largest magnitude in want.
func relErr(got []float32, want []float64) float64 {
	var diff, scale float64
	for i, w := range want {
		diff = math.Max(diff, math.Abs(float64(got[i])-w))
		scale = math.Max(scale, math.Abs(w))
	}
	return diff / math.Max(scale, 1e-30)
}

// TestExportRunsInORT exports every test model and runs it in ONNX Runtime on a batch of
// three: its logits must be ours within 1e-5 of their largest magnitude, and onnx.checker
// must accept the file.
func TestExportRunsInORT(t *testing.T) {
	exportRunsInORT(t, testModels())
}

// exportRunsInORT exports each model with withWeights' values, has onnx.checker read the
// file and ONNX Runtime run it on a batch of three, and compares the logits with ours.
func exportRunsInORT(t *testing.T, models []graph.Model) {
	t.Helper()
	dir, why := ortDir()
	py := onnxPython()
	if dir == "" && py == "" {
		t.Skipf("no ONNX reference: %s, and no python3 with the onnx package", why)
	}
	if dir == "" {
		t.Logf("ONNX Runtime skipped: %s", why)
	}
	if py == "" {
		t.Log("onnx.checker skipped: no python3 with the onnx package (Debian: python3-onnx)")
	}
	for _, m := range models {
		t.Run(m.Name+fmt.Sprint(m.Input), func(t *testing.T) {
			r, err := withWeights(m, 3)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), m.Name+".onnx")
			if err := ExportFile(path, m, r.Params); err != nil {
				t.Fatal(err)
			}
			if py != "" {
				checkModel(t, py, path)
			}
			if dir == "" {
				return
			}
			const n = 3
			x := batch(m, n, 5)
			want, err := r.Predict(x, n)
			if err != nil {
				t.Fatal(err)
			}
			ys, y := runORT(t, dir, path, x, append([]int{n}, m.Input...))
			if fmt.Sprint(ys) != fmt.Sprint([]int{n, m.Classes}) {
				t.Fatalf("ONNX Runtime gives shape %v, want [%d %d]", ys, n, m.Classes)
			}
			if e := relErr(y, want); e > 1e-5 {
				t.Errorf("ONNX Runtime's logits differ from ours by %.3g of their magnitude, want at most 1e-5", e)
			} else {
				t.Logf("ONNX Runtime's logits within %.2g of ours", e)
			}
			r.Frozen = true // as cnn predict runs the model
			frozen, err := r.Predict(x, n)
			if err != nil {
				t.Fatal(err)
			}
			if e := relErr(y, frozen); e > 1e-5 {
				t.Errorf("ONNX Runtime's logits differ from our frozen program's by %.3g of their magnitude, want at most 1e-5", e)
			}
		})
	}
}

// TestORTHelpers checks that the comparison can fail.
func TestORTHelpers(t *testing.T) {
	if e := relErr([]float32{1, 2}, []float64{1, 2.0001}); e < 1e-5 {
		t.Errorf("relErr of a 5e-5 difference: %g", e)
	}
}
