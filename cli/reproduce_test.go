package cli

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"html"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nndl/cnn/reproduce"
)

var (
	imgSrc  = regexp.MustCompile(`<img [^>]*src="([^"]+)"`)
	hrefs   = regexp.MustCompile(`<a href="([^"]+)"`)
	mdImage = regexp.MustCompile(`!\[[^\]]*\]\(([^)]+)\)|<img src="([^"]+)"`)
	mdLink  = regexp.MustCompile(`\]\(([^)#][^)]*)\)`)
)

// checkFigure opens a figure file next to the report and checks that it is a valid image.
func checkFigure(t *testing.T, dir, name string) {
	t.Helper()
	if filepath.IsAbs(name) || strings.Contains(name, "://") || strings.HasPrefix(name, "..") {
		t.Errorf("%s: not a relative path inside the report", name)
		return
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Errorf("figure %s: %v", name, err)
		return
	}
	switch filepath.Ext(name) {
	case ".png":
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if img.Bounds().Dx() < 16 || img.Bounds().Dy() < 16 {
			t.Errorf("%s: %v: too small", name, img.Bounds())
		}
	case ".svg":
		d := xml.NewDecoder(bytes.NewReader(b))
		root := ""
		for {
			tok, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Errorf("%s: not well-formed XML: %v", name, err)
				return
			}
			if se, ok := tok.(xml.StartElement); ok && root == "" {
				root = se.Name.Local
			}
		}
		if root != "svg" {
			t.Errorf("%s: root element %q, want svg", name, root)
		}
	case ".csv", ".json", ".md", ".html":
	default:
		t.Errorf("%s: unexpected kind of file", name)
	}
}

// TestReproduceQuick: the quick report holds every section in both forms, its figures exist
// and are valid images, every image and link of index.html and README.md points to a file
// of the report, and the page needs nothing from outside.
func TestReproduceQuick(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "report")
	stdout, errOut, st := cnn("reproduce", "--quick", "-o", dir)
	if st != 0 {
		t.Fatalf("cnn reproduce --quick: status %d: %s", st, errOut)
	}
	for _, want := range []string{"s] 5.1-5.2 worked examples", "s] 5.3 LeNet-5: training", "s] 5.4 ResNet18", "Wrote " + filepath.Join(dir, "index.html")} {
		if !strings.Contains(stdout, want) {
			t.Errorf("progress lacks %q:\n%s", want, stdout)
		}
	}
	page, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range reproduce.Sections() {
		if !regexp.MustCompile(`<h[23] id="` + regexp.QuoteMeta(reproduce.Slug(s)) + `">` + regexp.QuoteMeta(html.EscapeString(s)) + `</h[23]>`).Match(page) {
			t.Errorf("index.html lacks the heading %q", s)
		}
		if !regexp.MustCompile(`(?m)^###? ` + regexp.QuoteMeta(s) + `$`).Match(md) {
			t.Errorf("README.md lacks the heading %q", s)
		}
	}
	for _, want := range []string{"61,706", "423,344", "11,185,034", "35,529,728", "11,165,834", "[[25, 31], [43, 49]]", "[[3.5, 5.5], [11.5, 13.5]]", "quick run", "The true category is"} {
		if !bytes.Contains(page, []byte(html.EscapeString(want))) || !bytes.Contains(md, []byte(want)) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if !bytes.HasPrefix(page, []byte("<!DOCTYPE html>")) || !bytes.Contains(page, []byte("<style>")) {
		t.Errorf("index.html is not a page with its style inline")
	}
	for _, bad := range []string{"<link", "<script", "http://", "https://", "@import", "url("} {
		if bytes.Contains(page, []byte(bad)) {
			t.Errorf("index.html contains %q: it must need nothing from outside", bad)
		}
	}

	figures := map[string]bool{}
	for _, m := range imgSrc.FindAllSubmatch(page, -1) {
		figures[html.UnescapeString(string(m[1]))] = true
	}
	for _, m := range hrefs.FindAllSubmatch(page, -1) {
		if h := html.UnescapeString(string(m[1])); !strings.HasPrefix(h, "#") {
			figures[h] = true
		}
	}
	if len(figures) < 9 {
		t.Errorf("index.html shows or links %d files, want the 5 figures and 4 SVGs: %v", len(figures), figures)
	}
	for f := range figures {
		checkFigure(t, dir, f)
	}
	mdFiles := map[string]bool{}
	for _, m := range mdImage.FindAllSubmatch(md, -1) {
		mdFiles[string(m[1])+string(m[2])] = true
	}
	for _, m := range mdLink.FindAllSubmatch(md, -1) {
		mdFiles[string(m[1])] = true
	}
	for f := range mdFiles {
		if !figures[f] {
			t.Errorf("README.md refers to %s, which index.html does not", f)
		}
		checkFigure(t, dir, f)
	}
	for f := range figures {
		if !mdFiles[f] {
			t.Errorf("index.html refers to %s, which README.md does not", f)
		}
	}
	// Every figure of the report is shown or linked.
	for _, pat := range []string{"*.png", "*.svg"} {
		files, _ := filepath.Glob(filepath.Join(dir, pat))
		for _, f := range files {
			if !figures[filepath.Base(f)] {
				t.Errorf("%s is not shown in the report", filepath.Base(f))
			}
		}
	}

	var res struct {
		Quick bool `json:"quick"`
		Runs  []struct {
			Name    string  `json:"name"`
			TestAcc float64 `json:"test_accuracy"`
			Steps   int     `json:"steps"`
		} `json:"runs"`
		Book  []reproduce.BookRow `json:"book_vs_ours"`
		Build reproduce.Build     `json:"build"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	if !res.Quick || len(res.Runs) != 3 || res.Runs[0].Name != "lenet" || res.Runs[0].Steps != 16 || res.Build != reproduce.ThisBuild() {
		t.Errorf("report.json: %+v", res)
	}
	for _, r := range res.Book {
		if r.Band == "" && !strings.Contains(r.Quantity, "loss") && !strings.Contains(r.Quantity, "accuracy") && !r.Same {
			t.Errorf("the book's %s is %s, ours %s", r.Quantity, r.Book, r.Ours)
		}
	}
	for _, run := range []string{"lenet", "resnet18-nores", "resnet18"} {
		if _, err := os.Stat(filepath.Join(dir, "runs", run, "metrics.csv")); err != nil {
			t.Error(err)
		}
	}
	t.Run("browser", func(t *testing.T) { checkInBrowser(t, dir) })

	// Atomic writes leave no temporary files behind.
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".tmp") {
			t.Errorf("temporary file left: %s", path)
		}
		return nil
	})
}

func TestReproduceBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"reproduce", "extra"}, `unexpected argument "extra"`},
		{[]string{"reproduce", "--epochs", "3"}, "flag provided but not defined"},
	} {
		out, errOut, st := cnn(c.args...)
		if st != 2 || !strings.Contains(errOut, c.want) || out != "" {
			t.Errorf("%v: status %d, stdout %q, stderr %q; want status 2 and %q", c.args, st, out, errOut, c.want)
		}
	}
	// An output folder that cannot be made is one line on stderr.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, st := cnn("reproduce", "--quick", "-o", filepath.Join(file, "report"))
	if st != 2 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, "not a directory") {
		t.Errorf("unwritable folder: status %d, stderr %q", st, errOut)
	}
}

// checkInBrowser opens the report in headless Chromium (scripts/check-report.sh, without
// its screenshot): every image loads, the page has its headings and the browser logs no
// error. Skipped without chromium.
func checkInBrowser(t *testing.T, dir string) {
	if testing.Short() {
		t.Skip("-short: no browser")
	}
	if _, err := exec.LookPath("chromium"); err != nil {
		t.Skip("chromium is not installed (apt-get install -y chromium)")
	}
	out, err := exec.Command("../scripts/check-report.sh", dir, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("check-report.sh: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("OK images=9 headings=%d", len(reproduce.Sections())+1); !strings.Contains(string(out), want) {
		t.Errorf("check-report.sh: want %q:\n%s", want, out)
	}
}
