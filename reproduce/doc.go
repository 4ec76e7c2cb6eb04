package reproduce

import (
	"fmt"
	"html"
	"strings"
)

// Doc is a report as a list of blocks, rendered both as Markdown (README.md) and as one
// self-contained HTML page (index.html) with the same content.
type Doc struct {
	Title  string
	Blocks []Block
}

// Block is one element of a Doc.
type Block interface {
	markdown(b *strings.Builder)
	html(b *strings.Builder)
}

// Heading is a section title; level 2 for sections, 3 for subsections. Its anchor is
// Slug(Text), the one GitHub gives a Markdown heading.
type Heading struct {
	Level int
	Text  string
}

// Para is a paragraph of inline text: `code`, **bold** and [text](link) are recognised.
type Para struct{ Text string }

// List is a bulleted list of inline texts.
type List struct{ Items []string }

// Pre is preformatted text.
type Pre struct{ Text string }

// Table is a table with a header row; Align holds one letter per column, 'l' or 'r'
// (missing letters mean left). Cells are inline text.
type Table struct {
	Head  []string
	Rows  [][]string
	Align string
}

// Image is one picture of a Figure: a file next to the report, shown Width pixels wide when
// Width > 0 (small pictures are scaled up without smoothing), and other renderings of the
// same figure (SVG) as links.
type Image struct {
	Src   string
	Alt   string
	Width int
	Also  []string
}

// Figure is one or more images side by side with a caption.
type Figure struct {
	Images  []Image
	Caption string
}

// Slug is the anchor GitHub gives a Markdown heading: lower case, punctuation other than
// '-' and '_' dropped, spaces turned into '-'.
func Slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (h Heading) markdown(b *strings.Builder) {
	fmt.Fprintf(b, "%s %s\n\n", strings.Repeat("#", h.Level), h.Text)
}

func (h Heading) html(b *strings.Builder) {
	fmt.Fprintf(b, "<h%d id=\"%s\">%s</h%d>\n", h.Level, html.EscapeString(Slug(h.Text)), inlineHTML(h.Text), h.Level)
}

func (p Para) markdown(b *strings.Builder) { fmt.Fprintf(b, "%s\n\n", p.Text) }
func (p Para) html(b *strings.Builder)     { fmt.Fprintf(b, "<p>%s</p>\n", inlineHTML(p.Text)) }

func (l List) markdown(b *strings.Builder) {
	for _, it := range l.Items {
		fmt.Fprintf(b, "- %s\n", it)
	}
	b.WriteString("\n")
}

func (l List) html(b *strings.Builder) {
	b.WriteString("<ul>\n")
	for _, it := range l.Items {
		fmt.Fprintf(b, "<li>%s</li>\n", inlineHTML(it))
	}
	b.WriteString("</ul>\n")
}

func (p Pre) markdown(b *strings.Builder) {
	fmt.Fprintf(b, "```\n%s\n```\n\n", strings.TrimRight(p.Text, "\n"))
}

func (p Pre) html(b *strings.Builder) {
	fmt.Fprintf(b, "<pre>%s</pre>\n", html.EscapeString(strings.TrimRight(p.Text, "\n")))
}

func (t Table) align(i int) byte {
	if i < len(t.Align) && t.Align[i] == 'r' {
		return 'r'
	}
	return 'l'
}

func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func (t Table) markdown(b *strings.Builder) {
	row := func(cells []string) {
		b.WriteString("|")
		for i := range t.Head {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			fmt.Fprintf(b, " %s |", mdCell(c))
		}
		b.WriteString("\n")
	}
	row(t.Head)
	b.WriteString("|")
	for i := range t.Head {
		if t.align(i) == 'r' {
			b.WriteString("---:|")
		} else {
			b.WriteString("---|")
		}
	}
	b.WriteString("\n")
	for _, r := range t.Rows {
		row(r)
	}
	b.WriteString("\n")
}

func (t Table) html(b *strings.Builder) {
	b.WriteString("<div class=\"scroll\"><table>\n<thead><tr>")
	for i, h := range t.Head {
		fmt.Fprintf(b, "<th class=\"%c\">%s</th>", t.align(i), inlineHTML(h))
	}
	b.WriteString("</tr></thead>\n<tbody>\n")
	for _, r := range t.Rows {
		b.WriteString("<tr>")
		for i := range t.Head {
			c := ""
			if i < len(r) {
				c = r[i]
			}
			fmt.Fprintf(b, "<td class=\"%c\">%s</td>", t.align(i), inlineHTML(c))
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</tbody>\n</table></div>\n")
}

func (f Figure) markdown(b *strings.Builder) {
	for i, im := range f.Images {
		if i > 0 {
			b.WriteString(" ")
		}
		if im.Width > 0 {
			fmt.Fprintf(b, `<img src="%s" alt="%s" width="%d">`, im.Src, html.EscapeString(im.Alt), im.Width)
		} else {
			fmt.Fprintf(b, "![%s](%s)", im.Alt, im.Src)
		}
	}
	b.WriteString("\n\n")
	if f.Caption != "" || hasAlso(f) {
		b.WriteString("*" + f.Caption + "*")
		for _, im := range f.Images {
			for _, a := range im.Also {
				fmt.Fprintf(b, " ([%s](%s))", strings.TrimPrefix(extOf(a), "."), a)
			}
		}
		b.WriteString("\n\n")
	}
}

func (f Figure) html(b *strings.Builder) {
	b.WriteString("<figure>\n")
	for _, im := range f.Images {
		if im.Width > 0 {
			fmt.Fprintf(b, "<img class=\"pixels\" src=\"%s\" alt=\"%s\" width=\"%d\">\n", html.EscapeString(im.Src), html.EscapeString(im.Alt), im.Width)
		} else {
			fmt.Fprintf(b, "<img src=\"%s\" alt=\"%s\">\n", html.EscapeString(im.Src), html.EscapeString(im.Alt))
		}
	}
	if f.Caption != "" || hasAlso(f) {
		fmt.Fprintf(b, "<figcaption>%s", inlineHTML(f.Caption))
		for _, im := range f.Images {
			for _, a := range im.Also {
				fmt.Fprintf(b, " (<a href=\"%s\">%s</a>)", html.EscapeString(a), html.EscapeString(strings.TrimPrefix(extOf(a), ".")))
			}
		}
		b.WriteString("</figcaption>\n")
	}
	b.WriteString("</figure>\n")
}

func hasAlso(f Figure) bool {
	for _, im := range f.Images {
		if len(im.Also) > 0 {
			return true
		}
	}
	return false
}

func extOf(p string) string {
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[i:]
	}
	return ""
}

// inlineHTML escapes s and turns `code`, **bold** and [text](link) into HTML.
func inlineHTML(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		switch {
		case s[0] == '`':
			if end := strings.IndexByte(s[1:], '`'); end >= 0 {
				fmt.Fprintf(&b, "<code>%s</code>", html.EscapeString(s[1:1+end]))
				s = s[2+end:]
				continue
			}
		case strings.HasPrefix(s, "**"):
			if end := strings.Index(s[2:], "**"); end >= 0 {
				fmt.Fprintf(&b, "<strong>%s</strong>", inlineHTML(s[2:2+end]))
				s = s[4+end:]
				continue
			}
		case s[0] == '[':
			if mid := strings.Index(s, "]("); mid > 0 {
				if end := strings.IndexByte(s[mid:], ')'); end > 0 {
					fmt.Fprintf(&b, "<a href=\"%s\">%s</a>", html.EscapeString(s[mid+2:mid+end]), inlineHTML(s[1:mid]))
					s = s[mid+end+1:]
					continue
				}
			}
		}
		// Copy up to the next special character.
		next := strings.IndexAny(s[1:], "`*[")
		if next < 0 {
			b.WriteString(html.EscapeString(s))
			break
		}
		b.WriteString(html.EscapeString(s[:1+next]))
		s = s[1+next:]
	}
	return b.String()
}

// Markdown renders the document as GitHub-flavoured Markdown.
func (d *Doc) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", d.Title)
	for _, bl := range d.Blocks {
		bl.markdown(&b)
	}
	return b.String()
}

// style is the page's whole stylesheet: the page needs no other file but its figures.
const style = `
body { font-family: -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif; line-height: 1.45; color: #1f2328; background: #fff; margin: 0; }
main { max-width: 1120px; margin: 0 auto; padding: 1.5em 2em 4em; }
h1 { font-size: 1.9em; border-bottom: 1px solid #d0d7de; padding-bottom: .3em; }
h2 { font-size: 1.45em; border-bottom: 1px solid #d0d7de; padding-bottom: .25em; margin-top: 2em; }
h3 { font-size: 1.15em; margin-top: 1.6em; }
code, pre { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .88em; background: #f6f8fa; border-radius: 4px; }
code { padding: .1em .3em; }
td code { white-space: nowrap; }
pre { padding: .8em 1em; overflow-x: auto; }
.scroll { overflow-x: auto; margin: .8em 0 1.2em; }
table { border-collapse: collapse; font-size: .9em; }
th, td { border: 1px solid #d0d7de; padding: .28em .6em; vertical-align: top; }
th { background: #f6f8fa; }
tbody tr:nth-child(even) { background: #fafbfc; }
td.r, th.r { text-align: right; font-variant-numeric: tabular-nums; }
td.l, th.l { text-align: left; }
figure { margin: 1em 0 1.6em; }
figure img { max-width: 100%; height: auto; border: 1px solid #eaeef2; margin-right: .6em; vertical-align: top; }
img.pixels { image-rendering: pixelated; }
figcaption { color: #57606a; font-size: .9em; margin-top: .3em; }
`

// HTML renders the document as one HTML page with its stylesheet inline; images are the
// relative paths the blocks name.
func (d *Doc) HTML() string {
	var b strings.Builder
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n<main>\n<h1>%s</h1>\n",
		html.EscapeString(d.Title), style, inlineHTML(d.Title))
	for _, bl := range d.Blocks {
		bl.html(&b)
	}
	b.WriteString("</main>\n</body>\n</html>\n")
	return b.String()
}
