package reproduce

import (
	"strings"
	"testing"
)

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"5.1 Convolution": "51-convolution",
		"Every number the book prints, beside ours": "every-number-the-book-prints-beside-ours",
		"5.3.2 LeNet-5: summary":                    "532-lenet-5-summary",
		"Machine, versions and timings":             "machine-versions-and-timings",
	} {
		if got := Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestInlineHTML(t *testing.T) {
	for in, want := range map[string]string{
		"a `x<y` b":              "a <code>x&lt;y</code> b",
		"**bold** & plain":       "<strong>bold</strong> &amp; plain",
		"see [the table](#t).":   `see <a href="#t">the table</a>.`,
		"P*D*U*V + P, [1, 2]":    "P*D*U*V + P, [1, 2]",
		"unclosed `tick and **x": "unclosed `tick and **x",
		`"quoted" <b>`:           "&#34;quoted&#34; &lt;b&gt;",
	} {
		if got := inlineHTML(in); got != want {
			t.Errorf("inlineHTML(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDocRendering(t *testing.T) {
	d := &Doc{Title: "T <1>", Blocks: []Block{
		Heading{2, "5.1 Convolution"},
		Para{"text with `code`"},
		Table{Head: []string{"a", "b"}, Rows: [][]string{{"x|y", "1"}}, Align: "lr"},
		Figure{Images: []Image{{Src: "f.png", Alt: "fig", Also: []string{"f.svg"}}}, Caption: "cap"},
		Figure{Images: []Image{{Src: "d.png", Alt: "digit", Width: 128}}},
		List{[]string{"one", "two"}},
		Pre{"pre <text>\n"},
	}}
	md := d.Markdown()
	for _, want := range []string{"# T <1>\n", "## 5.1 Convolution\n", "| a | b |\n|---|---:|\n| x\\|y | 1 |\n", "![fig](f.png)", "*cap* ([svg](f.svg))", `<img src="d.png" alt="digit" width="128">`, "- one\n- two\n", "```\npre <text>\n```"} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
	page := d.HTML()
	for _, want := range []string{"<title>T &lt;1&gt;</title>", `<h2 id="51-convolution">5.1 Convolution</h2>`, `<td class="l">x|y</td><td class="r">1</td>`,
		`<img src="f.png" alt="fig">`, `(<a href="f.svg">svg</a>)`, `<img class="pixels" src="d.png" alt="digit" width="128">`, "<pre>pre &lt;text&gt;</pre>", "</html>\n"} {
		if !strings.Contains(page, want) {
			t.Errorf("HTML lacks %q:\n%s", want, page)
		}
	}
}

func TestBand(t *testing.T) {
	if got := band(bookRuns["lenet"]); got != "0.745-0.85" {
		t.Errorf("lenet band %q", got)
	}
	if got := band(bookRuns["resnet18-nores"]); got != "0.82" {
		t.Errorf("resnet18-nores band %q", got)
	}
	for _, c := range []struct {
		v    float64
		want string
	}{{0.70, "below"}, {0.745, "inside"}, {0.85, "inside"}, {0.855, "above"}} {
		if got := where(c.v, 0.745, 0.85); got != c.want {
			t.Errorf("where(%g) = %s, want %s", c.v, got, c.want)
		}
	}
}
